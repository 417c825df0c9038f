//! The CloudEvents attributes of hookbridge's records, each with its JSON Schema and
//! which records carry it: one table for the structured-mode value schemas and the
//! binary-mode header schemas, so the two cannot disagree. The table follows
//! docs/reference.md ("Kafka records"); the envelope module writes the records.

use serde_json::{Value, json};

use crate::envelope::{MAX_STATUS_BYTES, Reason};
use crate::everbright::Event;

/// Whether a kind of record has an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Always there.
    Required,
    /// There when it applies.
    Optional,
    /// Never there.
    Absent,
}

/// One attribute.
pub struct Attribute {
    /// The attribute's name (`ce_` + name in binary mode).
    pub name: &'static str,
    /// On event records.
    pub event: Presence,
    /// On dead letters.
    pub dead_letter: Presence,
    /// Its value's schema, in structured mode (binary headers are strings).
    pub schema: Value,
}

/// What records of which event a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Records {
    /// Records of one event on its event topic.
    Event(Event),
    /// Dead letters of any event.
    DeadLetter,
}

impl Attribute {
    /// Whether records of `kind` have this attribute.
    pub fn presence(&self, kind: Records) -> Presence {
        match kind {
            Records::Event(_) => self.event,
            Records::DeadLetter => self.dead_letter,
        }
    }

    /// The header that carries it in binary mode.
    pub fn header(&self) -> String {
        if self.name == "datacontenttype" {
            "content-type".into()
        } else {
            format!("ce_{}", self.name)
        }
    }
}

/// RFC 3339 UTC with microseconds, as hookbridge writes times.
const TIME: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$";

/// A lowercase, hyphenated UUID, as hookbridge writes them.
pub const UUID: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

fn uuid(description: &str) -> Value {
    json!({"type": "string", "format": "uuid", "pattern": UUID, "description": description})
}

/// A W3C trace context `traceparent` (version 00), as hookbridge writes it.
const TRACEPARENT: &str = "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$";

/// The schema of the trace context's `traceparent` (attribute and Kafka header).
pub fn traceparent() -> Value {
    json!({"type": "string", "pattern": TRACEPARENT, "description": "W3C trace context of the span that produced the record (CloudEvents distributed-tracing extension), when hookbridge exports traces: a consumer's span continues the trace as a child of it. Absent when traces are off."})
}

/// The schema of the trace context's `tracestate` (attribute and Kafka header).
pub fn tracestate() -> Value {
    text("W3C trace context vendor state, when the trace has any (with traceparent).")
}

fn text(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn time(description: &str) -> Value {
    json!({"type": "string", "format": "date-time", "pattern": TIME, "description": description})
}

/// Every attribute, in the order records carry them.
pub fn all(kind: Records) -> Vec<Attribute> {
    use Presence::{Absent, Optional, Required};
    let attribute = |name, event, dead_letter, schema| Attribute {
        name,
        event,
        dead_letter,
        schema,
    };
    let types: Vec<String> = Event::ALL
        .iter()
        .map(|e| e.cloudevents_type().to_string())
        .collect();
    let type_schema = match kind {
        Records::Event(event) => {
            json!({"type": "string", "const": event.cloudevents_type(), "description": "everbright.{event slug}."})
        }
        Records::DeadLetter => {
            json!({"type": "string", "enum": types, "description": "The event the webhook was sent as."})
        }
    };
    let content_type = match kind {
        Records::Event(_) => {
            json!({"type": "string", "const": "application/json", "description": "data is JSON, whatever the body's format was."})
        }
        Records::DeadLetter => text("The request's Content-Type as sent; absent when it had none."),
    };
    let reasons: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    vec![
        attribute(
            "specversion",
            Required,
            Required,
            json!({"type": "string", "const": "1.0", "description": "CloudEvents 1.0."}),
        ),
        attribute(
            "id",
            Required,
            Required,
            uuid(
                "Derived from the event, so every copy and retry of an event has the same id (also returned to the sender). Deduplicate by source + id.",
            ),
        ),
        attribute(
            "source",
            Required,
            Required,
            json!({"type": "string", "pattern": "^/everbright/(production|test)/[a-z0-9-]{1,63}$", "description": "/everbright/{environment}/{credential name}."}),
        ),
        attribute("type", Required, Required, type_schema),
        attribute(
            "subject",
            Required,
            Absent,
            uuid("The site UUID (also the record key)."),
        ),
        attribute(
            "time",
            Required,
            Required,
            time(
                "When hookbridge received the webhook (a redriven record keeps its dead letter's).",
            ),
        ),
        attribute("datacontenttype", Required, Optional, content_type),
        attribute("siteid", Required, Absent, uuid("The site UUID.")),
        attribute(
            "quoteid",
            Optional,
            Absent,
            uuid("The quote UUID, when the payload has one."),
        ),
        attribute(
            "status",
            Optional,
            Absent,
            json!({"type": "string", "maxLength": MAX_STATUS_BYTES, "description": "The payload's top-level status, when it is a short string (e.g. SIGN, APPROVED): filter on it without parsing data."}),
        ),
        attribute(
            "environment",
            Required,
            Required,
            json!({"type": "string", "enum": ["production", "test"], "description": "The environment of the credential the webhook matched."}),
        ),
        attribute(
            "credential",
            Required,
            Required,
            json!({"type": "string", "pattern": "^[a-z0-9-]{1,63}$", "description": "The name of the credential the webhook matched."}),
        ),
        attribute(
            "organization",
            Optional,
            Optional,
            text("The matched credential's organization label, when configured."),
        ),
        attribute(
            "bodysha256",
            Required,
            Required,
            json!({"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "Hex SHA-256 of the raw body as received."}),
        ),
        attribute(
            "normalized",
            Optional,
            Absent,
            json!({"type": "boolean", "const": true, "description": "Present when Python literals (True, False, None) were rewritten to JSON."}),
        ),
        attribute(
            "originalcontenttype",
            Optional,
            Absent,
            text(
                "The Content-Type of an XML or form body that was converted to JSON; absent for JSON bodies.",
            ),
        ),
        attribute(
            "deadletterreason",
            Absent,
            Required,
            json!({"type": "string", "enum": reasons, "description": "Why the body could not become an event."}),
        ),
        attribute(
            crate::redrive::REDRIVEN,
            Optional,
            Absent,
            time(
                "When hookbridge redrive republished this event from its dead letter; absent on records published on arrival.",
            ),
        ),
        attribute("traceparent", Optional, Optional, traceparent()),
        attribute("tracestate", Optional, Optional, tracestate()),
    ]
}
