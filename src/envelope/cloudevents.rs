//! CloudEvents 1.0 encoding for Kafka: structured (one JSON document) and binary
//! (attributes as `ce_` headers), per the CloudEvents Kafka protocol binding.
//!
//! Both modes walk the same attribute list ([`Attributes::each`]), so they cannot drift
//! apart. The payload is embedded as the bytes received (after literal normalisation),
//! never re-serialised.

use std::borrow::Cow;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use uuid::Uuid;

use super::{Incoming, Reason};
use crate::everbright::{Environment, Event};
use crate::json_text;

/// `content-type` of a structured record.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json; charset=utf-8";

/// The attributes of one event.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    /// `id`: derived from the event (see `dedup::EventKey`), also returned to the sender.
    pub id: Uuid,
    /// Gives `type`.
    pub event: Event,
    /// Gives `source` and `environment`.
    pub environment: Environment,
    /// The matched credential's name: `source` and `credential`.
    pub credential: &'a str,
    /// `organization`, when configured.
    pub organization: Option<&'a str>,
    /// `time`: when the request was received.
    pub time: SystemTime,
    /// `bodysha256`: of the raw body as received.
    pub body_sha256: [u8; 32],
    /// `subject` and `siteid` (absent on dead letters).
    pub site: Option<&'a str>,
    /// `quoteid`, when found.
    pub quote: Option<&'a str>,
    /// `status`: the payload's top-level status string.
    pub status: Option<&'a str>,
    /// `normalized`: present (true) only when Python literals were rewritten.
    pub normalized: bool,
    /// `originalcontenttype`: only when an XML or form body was converted.
    pub original_content_type: Option<&'a str>,
    /// `deadletterreason`, on dead letters.
    pub dead_letter: Option<Reason>,
    /// `datacontenttype`: `application/json`, or as sent on dead letters.
    pub data_content_type: Option<&'a str>,
    /// `traceparent` and `tracestate` (the distributed-tracing extension), when traced.
    pub trace: Option<&'a crate::trace::Context>,
}

impl<'a> Attributes<'a> {
    /// The attributes every record of `incoming` has, before its body is looked at:
    /// an accepted event's `datacontenttype`, no site yet.
    pub fn received(incoming: &Incoming<'a>) -> Self {
        Attributes {
            id: incoming.id,
            event: incoming.event,
            environment: incoming.environment,
            credential: incoming.credential,
            organization: incoming.organization,
            time: incoming.received,
            body_sha256: *incoming.body.sha256(),
            site: None,
            quote: None,
            status: None,
            normalized: false,
            original_content_type: None,
            dead_letter: None,
            data_content_type: Some("application/json"),
            trace: incoming.trace,
        }
    }
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// A string attribute.
    Str(Cow<'a, str>),
    /// A boolean attribute.
    Bool(bool),
}

/// The payload of a record.
#[derive(Debug, Clone, Copy)]
pub enum Data<'a> {
    /// JSON text, embedded as-is under `data`.
    Json(&'a str),
    /// Raw bytes (dead letters), base64 under `data_base64`.
    Bytes(&'a [u8]),
}

impl Attributes<'_> {
    /// Every attribute present, in a fixed order, `datacontenttype` included.
    pub fn each(&self, mut f: impl FnMut(&'static str, Value<'_>)) {
        let owned = |v: String| Value::Str(Cow::Owned(v));
        f("specversion", text("1.0"));
        let mut id = Uuid::encode_buffer();
        f("id", text(self.id.hyphenated().encode_lower(&mut id)));
        f(
            "source",
            owned(format!(
                "/everbright/{}/{}",
                self.environment, self.credential
            )),
        );
        f("type", text(self.event.cloudevents_type()));
        if let Some(site) = self.site {
            f("subject", text(site));
        }
        f(
            "time",
            owned(humantime::format_rfc3339_micros(self.time).to_string()),
        );
        if let Some(ct) = self.data_content_type {
            f("datacontenttype", text(ct));
        }
        if let Some(site) = self.site {
            f("siteid", text(site));
        }
        if let Some(quote) = self.quote {
            f("quoteid", text(quote));
        }
        if let Some(status) = self.status {
            f("status", text(status));
        }
        f("environment", text(self.environment.as_str()));
        f("credential", text(self.credential));
        if let Some(org) = self.organization {
            f("organization", text(org));
        }
        let mut sha = [0u8; 64];
        f("bodysha256", text(hex_str(&self.body_sha256, &mut sha)));
        if self.normalized {
            f("normalized", Value::Bool(true));
        }
        if let Some(ct) = self.original_content_type {
            f("originalcontenttype", text(ct));
        }
        if let Some(reason) = self.dead_letter {
            f("deadletterreason", text(reason.as_str()));
        }
        if let Some(trace) = self.trace {
            f("traceparent", text(&trace.traceparent));
            if let Some(state) = &trace.tracestate {
                f("tracestate", text(state));
            }
        }
    }

    /// A structured-mode record value: one CloudEvents JSON document.
    pub fn structured(&self, data: Data<'_>) -> Vec<u8> {
        let size = match data {
            Data::Json(j) => j.len(),
            Data::Bytes(b) => b.len() * 4 / 3 + 4,
        };
        let mut out = String::with_capacity(size + 640);
        out.push('{');
        self.each(|name, value| {
            json_text::push_str(&mut out, name);
            out.push(':');
            match value {
                Value::Str(v) => json_text::push_str(&mut out, &v),
                Value::Bool(v) => out.push_str(if v { "true" } else { "false" }),
            }
            out.push(',');
        });
        match data {
            Data::Json(json) => {
                out.push_str("\"data\":");
                out.push_str(json);
            }
            Data::Bytes(bytes) => {
                out.push_str("\"data_base64\":\"");
                STANDARD.encode_string(bytes, &mut out);
                out.push('"');
            }
        }
        out.push('}');
        out.into_bytes()
    }

    /// Binary-mode record headers: `ce_` attributes, and `content-type` for
    /// `datacontenttype`.
    pub fn binary_headers(&self) -> Vec<(Cow<'static, str>, Vec<u8>)> {
        let mut headers = Vec::with_capacity(16);
        self.each(|name, value| {
            let bytes = match value {
                Value::Str(v) => v.into_owned().into_bytes(),
                Value::Bool(v) => v.to_string().into_bytes(),
            };
            let name = if name == "datacontenttype" {
                Cow::Borrowed("content-type")
            } else {
                Cow::Owned(format!("ce_{name}"))
            };
            headers.push((name, bytes));
        });
        headers
    }
}

/// `bytes` in lowercase hex, written into `out`.
fn hex_str<'o>(bytes: &[u8; 32], out: &'o mut [u8; 64]) -> &'o str {
    // 64 bytes is exactly the hex of 32, and hex digits are ASCII: neither can fail.
    let _ = hex::encode_to_slice(bytes, out);
    std::str::from_utf8(out).unwrap_or_default()
}

fn text(v: &str) -> Value<'_> {
    Value::Str(Cow::Borrowed(v))
}
