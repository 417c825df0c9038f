//! Steady load for the failure tests: senders posting distinct events as fast as
//! answers come, a `/readyz` watcher, and the count of what reached the topic.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::task::JoinHandle;

use super::{Cluster, get, post};

/// One answer: when it came, its status, and the record id of a 200.
pub type Sent = (Instant, StatusCode, Option<String>);

/// Posts a distinct payload (`n`) and returns the answer's status and its id when 200.
pub async fn post_numbered(url: &str, n: usize) -> (StatusCode, Option<String>) {
    let answer = post(url, &[], super::numbered_payload(n)).await;
    let id = (answer.status == StatusCode::OK)
        .then(|| answer.json()["id"].as_str().expect("id").to_string());
    (answer.status, id)
}

/// Posts distinct events (numbered from `first`) until `count` are answered 200,
/// failing when another status than 503 comes or `within` passes; returns their ids.
pub async fn until_acked(url: &str, count: usize, first: usize, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut ids = Vec::new();
    let mut n = first;
    while ids.len() < count {
        let (status, id) = post_numbered(url, n).await;
        n += 1;
        match id {
            Some(id) => ids.push(id),
            None => {
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
                assert!(
                    Instant::now() < deadline,
                    "fewer than {count} 200s within {within:?}"
                );
            }
        }
    }
    ids
}

/// Senders and a readiness watcher, running until [`Load::stop`].
pub struct Load {
    stop: Arc<AtomicBool>,
    senders: Vec<JoinHandle<Vec<Sent>>>,
    watcher: JoinHandle<Vec<(Instant, StatusCode, String)>>,
}

/// What a load saw.
pub struct Seen {
    /// Every answer, in no particular order.
    pub answers: Vec<Sent>,
    /// `/readyz` every 100 ms: when, the status and the first line.
    pub readiness: Vec<(Instant, StatusCode, String)>,
}

impl Load {
    /// `senders` tasks posting distinct events to `url` (numbered from `first`), pausing
    /// 50 ms after an answer that is not 200; and a watcher of `readyz`.
    pub fn start(url: &str, readyz: &str, senders: usize, first: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let counter = Arc::new(AtomicUsize::new(first));
        let senders = (0..senders)
            .map(|_| {
                let (url, stop, counter) = (url.to_string(), stop.clone(), counter.clone());
                tokio::spawn(async move {
                    let mut answers = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        let n = counter.fetch_add(1, Ordering::SeqCst);
                        let (status, id) = post_numbered(&url, n).await;
                        answers.push((Instant::now(), status, id));
                        if status != StatusCode::OK {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                    answers
                })
            })
            .collect();
        let (readyz, watch_stop) = (readyz.to_string(), stop.clone());
        let watcher = tokio::spawn(async move {
            let mut seen = Vec::new();
            while !watch_stop.load(Ordering::SeqCst) {
                let answer = get(&readyz).await;
                let first = String::from_utf8_lossy(&answer.body)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                seen.push((Instant::now(), answer.status, first));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            seen
        });
        Load {
            stop,
            senders,
            watcher,
        }
    }

    /// Stops the senders and the watcher, and returns what they saw.
    pub async fn stop(self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        let mut answers = Vec::new();
        for sender in self.senders {
            answers.extend(sender.await.expect("sender"));
        }
        Seen {
            answers,
            readiness: self.watcher.await.expect("watcher"),
        }
    }
}

impl Seen {
    /// The ids answered 200.
    pub fn acked(&self) -> Vec<String> {
        self.answers
            .iter()
            .filter_map(|(_, _, id)| id.clone())
            .collect()
    }

    /// How many answers had `status`.
    pub fn count(&self, status: StatusCode) -> usize {
        self.answers.iter().filter(|(_, s, _)| *s == status).count()
    }

    /// Asserts that every answer was 200 or 503: an outage may delay, never fail
    /// otherwise.
    pub fn assert_only_200_or_503(&self) {
        for (_, status, _) in &self.answers {
            assert!(
                *status == StatusCode::OK || *status == StatusCode::SERVICE_UNAVAILABLE,
                "unexpected {status}"
            );
        }
    }

    /// The longest time after `from` without a 200: how long the outage cost senders.
    pub fn longest_gap_after(&self, from: Instant) -> Duration {
        let mut oks: Vec<Instant> = self
            .answers
            .iter()
            .filter(|(at, s, _)| *s == StatusCode::OK && *at > from)
            .map(|(at, _, _)| *at)
            .collect();
        oks.sort();
        let mut gap = Duration::ZERO;
        let mut previous = from;
        for at in oks {
            gap = gap.max(at - previous);
            previous = at;
        }
        gap
    }

    /// The first 200 answered after `from`.
    pub fn first_200_after(&self, from: Instant) -> Option<Instant> {
        self.answers
            .iter()
            .filter(|(at, s, _)| *s == StatusCode::OK && *at > from)
            .map(|(at, _, _)| *at)
            .min()
    }
}

/// What consuming `topic` found for `acked`: every id answered 200 must be there
/// exactly once (acked-but-lost and duplicates are both failures). Returns how many
/// records the topic holds in all (503'd records that landed anyway included).
pub async fn assert_each_once(broker: &impl Cluster, topic: &str, acked: &[String]) -> usize {
    let records = super::consume(broker, topic, acked.len()).await;
    let mut seen = HashMap::<String, usize>::new();
    for record in &records {
        let id = record.json()["id"].as_str().expect("record id").to_string();
        *seen.entry(id).or_default() += 1;
    }
    let lost: Vec<&String> = acked.iter().filter(|id| !seen.contains_key(*id)).collect();
    let doubled: Vec<(&String, &usize)> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        lost.is_empty(),
        "{} records answered 200 are not on {topic}: {lost:?}",
        lost.len()
    );
    assert!(
        doubled.is_empty(),
        "records on {topic} more than once: {doubled:?}"
    );
    records.len()
}
