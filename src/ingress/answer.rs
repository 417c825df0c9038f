//! The last step of a webhook: its HTTP answer, its metrics, and its one log line.
//!
//! A 2xx says where the record is (200) or that it became a dead letter (202); a
//! refusal is answered by the [`Reject`] table. Every request then counts once in
//! `hookbridge_http_requests_total` and `hookbridge_http_request_duration_seconds`, and
//! logs one line: `webhook published` at info, or `webhook refused` at the level the
//! table gives (refusal lines within the [`LogBudget`](crate::log_budget::LogBudget)
//! of their reason). The line never holds a secret, a header value or the body.

use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;
use tracing::Level;
use uuid::Uuid;

use super::pipeline::Webhook;
use super::reject::{Reject, json_response};
use crate::app::Answer;
use crate::envelope::Reason;
use crate::trace;

/// Set on the answer to a copy of an event answered before (or in flight): the body is
/// the first copy's, and no second record was written.
pub const DEDUPLICATED: HeaderName = HeaderName::from_static("hookbridge-deduplicated");

/// The longest request path a 404's log line shows; longer ones are cut (and say so).
const MAX_LOGGED_PATH: usize = 256;

#[derive(Serialize)]
struct Published<'a> {
    id: &'a str,
    topic: &'a str,
    partition: i32,
    offset: i64,
}

#[derive(Serialize)]
struct DeadLettered<'a> {
    id: &'a str,
    topic: &'a str,
    reason: &'a str,
}

/// A record on the spool's disk, not yet on Kafka (a dead letter keeps its reason).
#[derive(Serialize)]
struct Spooled<'a> {
    id: &'a str,
    topic: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    spooled: bool,
}

impl Webhook<'_> {
    /// The HTTP answer to `result`, counted and logged.
    pub(super) fn answer(mut self, result: Result<Answer, Reject>) -> Response<Full<Bytes>> {
        let response = match &result {
            Ok(answer) => response(answer),
            Err(reject) => reject.response(),
        };
        let status = response.status();
        if let Some(span) = self.span.take() {
            span.end(&self.outcome(status, &result));
        }
        let elapsed = self.started.elapsed();
        let series = self.app.event_series(self.event);
        match status {
            StatusCode::OK => series.ok.inc(),
            StatusCode::ACCEPTED => series.accepted.inc(),
            other => {
                let metric = &self.state.metrics.http_requests;
                metric
                    .with_label_values(&[series.label, other.as_str()])
                    .inc();
            }
        }
        series.duration.observe(elapsed.as_secs_f64());
        // Whole microseconds as milliseconds: `0.127`, not `0.12654800000000002`.
        let duration_ms = elapsed.as_micros() as f64 / 1e3;
        match &result {
            Ok(answer) => self.log_published(status, duration_ms, answer),
            Err(reject) => self.log_refused(status, duration_ms, reject),
        }
        response
    }

    /// What the server span says of the answer.
    fn outcome(&self, status: StatusCode, result: &Result<Answer, Reject>) -> trace::Outcome<'_> {
        let answer = result.as_ref().ok();
        trace::Outcome {
            status: status.as_u16(),
            credential: self.credential.map(|c| c.name.as_str()),
            id: answer.map(|a| a.id),
            deduplicated: answer.is_some_and(|a| a.deduplicated),
            dead_letter: answer.and_then(|a| a.dead_letter).map(Reason::as_str),
            refusal: result.as_ref().err().map(Reject::reason),
        }
    }

    fn log_published(&self, status: StatusCode, duration_ms: f64, a: &Answer) {
        let mut id = Uuid::encode_buffer();
        tracing::info!(
            event = self.app.event_series(self.event).label,
            method = self.method.as_str(),
            status = status.as_u16(),
            credential = self.credential.map_or("", |c| c.name.as_str()),
            duration_ms,
            id = &*a.id.hyphenated().encode_lower(&mut id),
            topic = &*a.topic,
            partition = a.delivery.map(|d| d.partition),
            offset = a.delivery.map(|d| d.offset),
            spooled = a.delivery.is_none().then_some(true),
            deadletter = a.dead_letter.map(Reason::as_str),
            deduplicated = a.deduplicated,
            "webhook published"
        );
    }

    fn log_refused(&self, status: StatusCode, duration_ms: f64, r: &Reject) {
        let reason = r.reason();
        let second = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let Some(suppressed) = self.state.refusal_log.admit(reason, second) else {
            return;
        };
        macro_rules! refused {
            ($level:expr) => {
                tracing::event!(
                    $level,
                    event = self.app.event_series(self.event).label,
                    method = self.method.as_str(),
                    status = status.as_u16(),
                    credential = self.credential.map_or("", |c| c.name.as_str()),
                    duration_ms,
                    reason,
                    detail = r.detail(),
                    path = self.unrouted.as_deref(),
                    headers = self.header_names.as_deref(),
                    suppressed,
                    "webhook refused"
                )
            };
        }
        match r.level() {
            Level::ERROR => refused!(Level::ERROR),
            Level::WARN => refused!(Level::WARN),
            _ => refused!(Level::INFO),
        }
    }
}

/// 200 with where the record is, 202 for a dead letter, or 202 `spooled` for a record
/// on the spool's disk.
pub fn response(answer: &Answer) -> Response<Full<Bytes>> {
    let mut id = Uuid::encode_buffer();
    let id = &*answer.id.hyphenated().encode_lower(&mut id);
    let (status, body) = match (answer.delivery, answer.dead_letter) {
        (None, reason) => (
            StatusCode::ACCEPTED,
            serde_json::to_vec(&Spooled {
                id,
                topic: &answer.topic,
                reason: reason.map(Reason::as_str),
                spooled: true,
            }),
        ),
        (Some(delivery), None) => (
            StatusCode::OK,
            serde_json::to_vec(&Published {
                id,
                topic: &answer.topic,
                partition: delivery.partition,
                offset: delivery.offset,
            }),
        ),
        (Some(_), Some(reason)) => (
            StatusCode::ACCEPTED,
            serde_json::to_vec(&DeadLettered {
                id,
                topic: &answer.topic,
                reason: reason.as_str(),
            }),
        ),
    };
    // Serialising these plain structs cannot fail.
    let mut response = json_response(status, Bytes::from(body.unwrap_or_default()));
    if answer.deduplicated {
        response
            .headers_mut()
            .insert(DEDUPLICATED, HeaderValue::from_static("true"));
    }
    response
}

/// A request path as a 404's log line shows it: at most [`MAX_LOGGED_PATH`] bytes
/// (cut at a character boundary, marked with `…`). The query string is never kept.
pub(super) fn loggable_path(path: &str) -> Box<str> {
    if path.len() <= MAX_LOGGED_PATH {
        return path.into();
    }
    let mut end = MAX_LOGGED_PATH;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &path[..end]).into()
}

/// The names of `headers`, in the order received, comma-separated, each once: what a
/// refused request's log line shows so that an operator can see which headers a
/// sender used (never their values, which may be secrets).
pub(super) fn header_names(headers: &HeaderMap) -> Box<str> {
    let mut names = String::new();
    for name in headers.keys() {
        if !names.is_empty() {
            names.push(',');
        }
        names.push_str(name.as_str());
    }
    names.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_are_cut_at_a_character_boundary() {
        assert_eq!(&*loggable_path("/everbright/nope"), "/everbright/nope");
        let long = format!("/{}", "é".repeat(200));
        let cut = loggable_path(&long);
        assert!(cut.ends_with('…'));
        assert!(cut.len() <= MAX_LOGGED_PATH + '…'.len_utf8());
    }

    #[test]
    fn header_names_are_listed_once_without_values() {
        let mut headers = HeaderMap::new();
        headers.insert("x-signature", HeaderValue::from_static("s3cr3t"));
        headers.append("x-tenant", HeaderValue::from_static("a"));
        headers.append("x-tenant", HeaderValue::from_static("b"));
        let names = header_names(&headers);
        assert_eq!(&*names, "x-signature,x-tenant");
        assert!(!names.contains("s3cr3t"));
    }
}
