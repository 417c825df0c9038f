use std::borrow::Cow;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::*;
use crate::envelope::Reason;
use crate::publish::{Delivery, ErrorKind, Readiness, Record};

/// Acknowledges every record, except those for `refuse` topics, which fail with the
/// error given; remembers what it was handed.
#[derive(Default)]
struct Fake {
    refuse: Vec<(&'static str, PublishError)>,
    seen: Mutex<Vec<String>>,
}

impl Publish for Fake {
    fn publish(&self, record: &Record, _deadline: tokio::time::Instant) -> Publishing<'_> {
        self.seen.lock().unwrap().push(record.topic.to_string());
        let refused = self
            .refuse
            .iter()
            .find(|(topic, _)| **topic == *record.topic)
            .map(|(_, e)| e.clone());
        Box::pin(async move {
            tokio::task::yield_now().await;
            let result = match refused {
                Some(e) => Err(e),
                None => Ok(Delivery {
                    partition: 0,
                    offset: 0,
                }),
            };
            result.into()
        })
    }

    fn readiness(&self) -> Readiness {
        Readiness::Ready
    }

    fn flush(&self, _: Duration) {}
}

fn at(partition: i32, offset: i64) -> Position {
    Position {
        topic: "dl".into(),
        partition,
        offset,
    }
}

fn republish(topic: &str) -> Result<(Uuid, Verdict), Unreadable> {
    Ok((
        Uuid::nil(),
        Verdict::Republish(Record {
            topic: topic.into(),
            key: Some("k".into()),
            value: bytes::Bytes::from_static(b"{}"),
            headers: vec![(Cow::Borrowed("content-type"), b"x".to_vec())],
            timestamp: SystemTime::UNIX_EPOCH,
        }),
    ))
}

fn still_failing() -> Result<(Uuid, Verdict), Unreadable> {
    Ok((Uuid::nil(), Verdict::StillFailing(Reason::InvalidJson)))
}

#[tokio::test]
async fn settled_records_are_committable_up_to_the_last_of_each_partition() {
    let fake = Fake::default();
    let mut window = Window::new(Some(&fake), Duration::from_secs(5), Report::default());
    window.push(at(0, 5), republish("events")).await;
    window.push(at(1, 9), still_failing()).await;
    window.push(at(0, 6), Err(Unreadable::NotCloudEvent)).await;
    assert!(window.take_commits().is_none(), "nothing settled yet");
    window.drain().await;
    let commits = window.take_commits().unwrap();
    assert_eq!(commits[&("dl".into(), 0)], 7);
    assert_eq!(commits[&("dl".into(), 1)], 10);
    assert!(window.take_commits().is_none(), "nothing changed since");
    let (report, failure) = window.finish();
    assert!(failure.is_none());
    let total = report.total();
    assert_eq!(
        (total.examined, total.republished, total.unreadable),
        (3, 1, 1)
    );
    assert_eq!(total.still_failing["invalid-json"], 1);
    assert_eq!(*fake.seen.lock().unwrap(), ["events"]);
}

#[tokio::test]
async fn a_record_the_brokers_did_not_take_blocks_its_partition_and_stops_the_run() {
    let fake = Fake {
        refuse: vec![("down", PublishError::TimedOut)],
        ..Fake::default()
    };
    let mut window = Window::new(Some(&fake), Duration::from_secs(5), Report::default());
    window.push(at(0, 1), republish("events")).await;
    window.push(at(0, 2), republish("down")).await;
    window.push(at(0, 3), republish("events")).await;
    window.push(at(1, 1), still_failing()).await;
    window.drain().await;
    assert!(window.failed());
    let commits = window.take_commits().unwrap();
    assert_eq!(
        commits[&("dl".into(), 0)],
        2,
        "not past the record that failed"
    );
    assert_eq!(commits[&("dl".into(), 1)], 2, "other partitions go on");
    let (report, failure) = window.finish();
    let failure = failure.unwrap();
    assert_eq!(failure.topic, "down");
    assert_eq!(failure.error, PublishError::TimedOut);
    assert_eq!(report.total().republished, 2);
}

#[tokio::test]
async fn a_record_too_large_for_its_topic_stays_a_dead_letter() {
    let fake = Fake {
        refuse: vec![("small", PublishError::MessageTooLarge)],
        ..Fake::default()
    };
    let mut window = Window::new(Some(&fake), Duration::from_secs(5), Report::default());
    window.push(at(0, 0), republish("small")).await;
    window.drain().await;
    assert!(!window.failed());
    assert_eq!(window.take_commits().unwrap()[&("dl".into(), 0)], 1);
    let too_large = ErrorKind::MessageTooLarge.as_str();
    assert_eq!(window.report().total().still_failing[too_large], 1);
}

#[tokio::test]
async fn a_dry_run_publishes_nothing() {
    let mut window = Window::new(None, Duration::from_secs(5), Report::default());
    window.push(at(0, 0), republish("events")).await;
    window.drain().await;
    let total = window.report().total();
    assert_eq!((total.examined, total.republished), (1, 1));
}

#[tokio::test]
async fn at_most_max_records_are_in_flight() {
    let fake = Fake::default();
    let mut window = Window::new(Some(&fake), Duration::from_secs(5), Report::default());
    for offset in 0..(MAX_RECORDS as i64 + 10) {
        window.push(at(0, offset), republish("events")).await;
        assert!(window.entries.len() <= MAX_RECORDS);
    }
    assert_eq!(window.report().total().examined, 10);
}
