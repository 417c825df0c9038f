//! One dead letter, read back from its record and run through today's conversion and
//! site lookup. Pure: no I/O, the time of the redrive passed in.
//!
//! A dead letter holds everything its webhook's record needs: the raw body (it was
//! authenticated on arrival, so it is not authenticated again), the event, the
//! credential and environment it matched, its CloudEvents `id` and `time`. Records of
//! either binding mode are read, whatever `kafka.envelope` is today; the republished
//! record is written in today's mode, with the same `id` and `time` and a `redriven`
//! attribute. The topic, the consumer group and the acknowledgements are the caller's.

use std::borrow::Cow;
use std::fmt;
use std::time::SystemTime;

use bytes::Bytes;
use serde::Deserialize;
use uuid::Uuid;

use crate::body::Body;
use crate::config::Config;
use crate::envelope::{Envelope, Incoming, Mode, Reason, STRUCTURED_CONTENT_TYPE, Settings};
use crate::everbright::{Environment, Event};
use crate::publish::Record;
use crate::trace;

/// The attribute that marks a republished record: when it was redriven.
pub const REDRIVEN: &str = "redriven";

/// A dead letter, as hookbridge wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    /// The CloudEvents `id`, kept by the republished record.
    pub id: Uuid,
    /// The event the webhook was sent as (`type`).
    pub event: Event,
    /// The matched credential's environment.
    pub environment: Environment,
    /// The matched credential's name.
    pub credential: String,
    /// The matched credential's organization label.
    pub organization: Option<String>,
    /// The request's `Content-Type`, if it had one.
    pub content_type: Option<String>,
    /// When the webhook was received (`time`), kept by the republished record.
    pub received: SystemTime,
    /// Why it became a dead letter.
    pub reason: Reason,
    /// The raw body.
    pub body: Vec<u8>,
    /// Request headers captured onto the record (`payload.capture_headers`).
    pub captured: Vec<(String, Vec<u8>)>,
    /// The trace context of the webhook's record, when it was traced: the republished
    /// record carries it again.
    pub trace: Option<trace::Context>,
}

/// Why a record on a dead-letter topic is not a dead letter hookbridge can redrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// Neither a structured CloudEvent nor a binary-mode one.
    NotCloudEvent,
    /// A CloudEvent without `deadletterreason`, or with one hookbridge does not know.
    NotDeadLetter,
    /// An attribute is missing or has a value hookbridge never writes.
    Attribute(&'static str),
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreadable::NotCloudEvent => f.write_str("not a CloudEvent"),
            Unreadable::NotDeadLetter => f.write_str("not a dead letter"),
            Unreadable::Attribute(name) => write!(f, "attribute {name} missing or invalid"),
        }
    }
}

/// What becomes of a dead letter under today's config.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// It now makes an event: this record, for its event topic.
    Republish(Record),
    /// It would still be a dead letter, for this reason.
    StillFailing(Reason),
}

/// The attributes read from a structured dead letter.
#[derive(Deserialize)]
struct Structured {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    time: Option<String>,
    environment: Option<String>,
    credential: Option<String>,
    organization: Option<String>,
    datacontenttype: Option<String>,
    deadletterreason: Option<String>,
    data_base64: Option<String>,
}

impl Letter {
    /// Reads a record of a dead-letter topic: its value and headers.
    pub fn read(value: &[u8], headers: &[(String, Vec<u8>)]) -> Result<Letter, Unreadable> {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        let carried = |k: &str| {
            ["content-type", trace::TRACEPARENT, trace::TRACESTATE]
                .iter()
                .any(|name| k.eq_ignore_ascii_case(name))
        };
        let captured = headers
            .iter()
            .filter(|(k, _)| !carried(k) && !k.starts_with("ce_"))
            .cloned()
            .collect();
        let trace = header(trace::TRACEPARENT).and_then(|parent| {
            trace::Context::parse(&parent, header(trace::TRACESTATE).as_deref())
        });
        let structured = header("content-type").is_some_and(|ct| {
            ct.starts_with(STRUCTURED_CONTENT_TYPE.split(';').next().unwrap_or(""))
        });
        let fields = if structured {
            let parsed: Structured =
                serde_json::from_slice(value).map_err(|_| Unreadable::NotCloudEvent)?;
            let body = parsed.data_base64.as_deref().map(decode_base64);
            let body = body.ok_or(Unreadable::Attribute("data_base64"))??;
            Fields {
                body,
                ..Fields::from(parsed)
            }
        } else if header("ce_specversion").is_some() {
            Fields {
                id: header("ce_id"),
                kind: header("ce_type"),
                time: header("ce_time"),
                environment: header("ce_environment"),
                credential: header("ce_credential"),
                organization: header("ce_organization"),
                content_type: header("content-type"),
                reason: header("ce_deadletterreason"),
                body: value.to_vec(),
            }
        } else {
            return Err(Unreadable::NotCloudEvent);
        };
        let letter = fields.into_letter(captured)?;
        Ok(Letter { trace, ..letter })
    }

    /// The webhook as the envelope sees it, with its body as `body`.
    fn incoming<'a>(&'a self, body: &'a Body) -> Incoming<'a> {
        Incoming {
            id: self.id,
            event: self.event,
            environment: self.environment,
            credential: &self.credential,
            organization: self.organization.as_deref(),
            content_type: self.content_type.as_deref(),
            body,
            received: self.received,
            trace: self.trace.as_ref(),
        }
    }

    /// Converts the body and looks up its site with `settings` (today's config): the
    /// event's record for `config`'s topic, marked redriven at `now`, or why it would
    /// still be a dead letter.
    pub fn retry(&self, config: &Config, settings: &Settings, now: SystemTime) -> Verdict {
        let body = Body::new(Bytes::copy_from_slice(&self.body));
        let envelope = settings.build(&self.incoming(&body));
        if let Some(reason) = envelope.dead_letter {
            return Verdict::StillFailing(reason);
        }
        let Envelope {
            key,
            value,
            mut headers,
            ..
        } = envelope;
        let redriven = humantime::format_rfc3339_micros(now).to_string();
        let value = match settings.mode {
            Mode::Structured => Bytes::from(mark(&value, &redriven)),
            Mode::Binary => {
                headers.push((Cow::Owned(format!("ce_{REDRIVEN}")), redriven.into_bytes()));
                value
            }
        };
        headers.extend(
            self.captured
                .iter()
                .map(|(k, v)| (Cow::Owned(k.clone()), v.clone())),
        );
        Verdict::Republish(Record {
            topic: config.topic(self.environment, self.event).into(),
            key,
            value,
            headers,
            timestamp: now,
        })
    }
}

/// The attributes of either mode, before they are checked.
struct Fields {
    id: Option<String>,
    kind: Option<String>,
    time: Option<String>,
    environment: Option<String>,
    credential: Option<String>,
    organization: Option<String>,
    content_type: Option<String>,
    reason: Option<String>,
    body: Vec<u8>,
}

impl From<Structured> for Fields {
    fn from(s: Structured) -> Fields {
        Fields {
            id: s.id,
            kind: s.kind,
            time: s.time,
            environment: s.environment,
            credential: s.credential,
            organization: s.organization,
            content_type: s.datacontenttype,
            reason: s.deadletterreason,
            body: Vec::new(),
        }
    }
}

impl Fields {
    fn into_letter(self, captured: Vec<(String, Vec<u8>)>) -> Result<Letter, Unreadable> {
        let reason = self.reason.ok_or(Unreadable::NotDeadLetter)?;
        let reason = Reason::ALL
            .into_iter()
            .find(|r| r.as_str() == reason)
            .ok_or(Unreadable::NotDeadLetter)?;
        let id = self
            .id
            .and_then(|id| Uuid::try_parse(&id).ok())
            .ok_or(Unreadable::Attribute("id"))?;
        let event = self
            .kind
            .as_deref()
            .and_then(|t| t.strip_prefix("everbright."))
            .and_then(Event::from_slug)
            .ok_or(Unreadable::Attribute("type"))?;
        let received = self
            .time
            .and_then(|t| humantime::parse_rfc3339(&t).ok())
            .ok_or(Unreadable::Attribute("time"))?;
        let environment = self
            .environment
            .as_deref()
            .and_then(Environment::from_name)
            .ok_or(Unreadable::Attribute("environment"))?;
        let credential = self
            .credential
            .filter(|c| !c.is_empty())
            .ok_or(Unreadable::Attribute("credential"))?;
        Ok(Letter {
            id,
            event,
            environment,
            credential,
            organization: self.organization,
            content_type: self.content_type,
            received,
            reason,
            body: self.body,
            captured,
            trace: None,
        })
    }
}

fn decode_base64(text: &str) -> Result<Vec<u8>, Unreadable> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| Unreadable::Attribute("data_base64"))
}

/// A structured record with the `redriven` attribute added after the others, before
/// `data`. The envelope writes `,"data":` once, after the attributes: a JSON string
/// never holds `,"` unescaped, so the first occurrence is the member itself. Should the
/// envelope ever write its members otherwise, the attribute goes first instead: the
/// record is marked either way.
fn mark(value: &[u8], redriven: &str) -> Vec<u8> {
    const DATA: &[u8] = b",\"data\":";
    let attribute = format!("\"{REDRIVEN}\":\"{redriven}\"");
    let (at, member) = match value.windows(DATA.len()).position(|w| w == DATA) {
        Some(at) => (at, format!(",{attribute}")),
        None => (1.min(value.len()), format!("{attribute},")),
    };
    let mut out = Vec::with_capacity(value.len() + member.len());
    out.extend_from_slice(&value[..at]);
    out.extend_from_slice(member.as_bytes());
    out.extend_from_slice(&value[at..]);
    out
}

#[cfg(test)]
mod tests;
