//! From a verified webhook body to a Kafka record: the body's format (JSON, or XML
//! and form-urlencoded converted to JSON), lenient JSON, the site UUID, and the
//! CloudEvents envelope. Pure: no I/O, no clock (the receive time is passed in).
//!
//! A body that cannot be used — not JSON, or without a valid site UUID — still becomes
//! a record: a dead letter carrying the raw bytes, so that nothing an authenticated
//! sender delivered is lost.

pub mod cloudevents;
mod lenient;
mod site;

pub use hookbridge_convert::{form, format, xml};

use std::borrow::Cow;
use std::time::SystemTime;

use bytes::Bytes;
use uuid::Uuid;

pub use cloudevents::{Attributes, Data, STRUCTURED_CONTENT_TYPE};
pub use format::Format;
use site::JSON_WHITESPACE;
pub use site::{Document, Found, Pointer, PointerError, SitePointers};

use crate::body::Body;
use crate::everbright::{Environment, Event};

/// The CloudEvents Kafka binding mode (`kafka.envelope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The record value is a CloudEvents JSON document.
    Structured,
    /// The record value is the payload; attributes are `ce_` headers.
    Binary,
}

/// Why a body went to the dead-letter topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Not JSON (even after rewriting Python literals, when enabled).
    InvalidJson,
    /// Declared or sniffed as XML, but not convertible.
    InvalidXml,
    /// Declared or sniffed as form-urlencoded, but not convertible.
    InvalidForm,
    /// No site pointer leads to a string.
    MissingSite,
    /// The site pointer leads to a string that is not a UUID.
    InvalidSite,
    /// Converted to JSON (XML, form, Python literals), the body would be larger than
    /// [`data_limit`] allows: it is kept as it came.
    ConvertedTooLarge,
}

impl Reason {
    /// Every reason, for pre-registering metric series.
    pub const ALL: [Reason; 6] = [
        Reason::InvalidJson,
        Reason::InvalidXml,
        Reason::InvalidForm,
        Reason::MissingSite,
        Reason::InvalidSite,
        Reason::ConvertedTooLarge,
    ];

    /// The `deadletterreason` attribute and metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidJson => "invalid-json",
            Reason::InvalidXml => "invalid-xml",
            Reason::InvalidForm => "invalid-form",
            Reason::MissingSite => "missing-site",
            Reason::InvalidSite => "invalid-site",
            Reason::ConvertedTooLarge => "converted-too-large",
        }
    }
}

/// The largest `data` (or `data_base64`) a body of `max_body_bytes` can make: the
/// base64 of a dead letter. Converted bodies larger than this become dead letters.
pub const fn data_limit(max_body_bytes: usize) -> usize {
    max_body_bytes.div_ceil(3).saturating_mul(4)
}

/// What a record adds to its data, at most: the CloudEvents attributes (those taken
/// from the payload are capped, see [`MAX_STATUS_BYTES`]) and the values taken from
/// the request head (`datacontenttype`, captured headers), which the webhook listener
/// bounds at 64 KiB and JSON escaping may double.
pub const RECORD_OVERHEAD_BYTES: usize = 192 * 1024;

/// The largest record value plus headers a body of `max_body_bytes` can make: what
/// librdkafka's `message.max.bytes` and the topics' `max.message.bytes` must allow.
pub const fn record_limit(max_body_bytes: usize) -> usize {
    data_limit(max_body_bytes).saturating_add(RECORD_OVERHEAD_BYTES)
}

/// The longest payload `status` copied into the `status` attribute; a longer one is
/// left out (statuses are short words such as `APPROVED`).
pub const MAX_STATUS_BYTES: usize = 256;
/// How bodies are read (from `[payload]` and `kafka.envelope`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Structured or binary records.
    pub mode: Mode,
    /// Rewrite Python `True`/`False`/`None` outside strings.
    pub lenient_literals: bool,
    /// Where the site UUID is looked for, per event.
    pub site_pointers: SitePointers,
    /// How XML bodies become JSON.
    pub xml: xml::XmlOptions,
    /// How form-urlencoded bodies become JSON.
    pub form: form::FormOptions,
    /// The largest converted body kept as JSON: [`data_limit`] of `max_body_bytes`.
    pub max_data_bytes: usize,
}

/// A verified webhook, as the envelope needs it.
#[derive(Debug, Clone)]
pub struct Incoming<'a> {
    /// The event's id, derived from the event itself.
    pub id: Uuid,
    /// The event, from the route.
    pub event: Event,
    /// From the matched credential.
    pub environment: Environment,
    /// The matched credential's name.
    pub credential: &'a str,
    /// The matched credential's organization label.
    pub organization: Option<&'a str>,
    /// The request's `Content-Type`, if any.
    pub content_type: Option<&'a str>,
    /// The raw body, with its digest.
    pub body: &'a Body,
    /// When the request was received.
    pub received: SystemTime,
    /// The trace context the record carries (`traceparent`, `tracestate`), when traced.
    pub trace: Option<&'a crate::trace::Context>,
}

/// A Kafka record, minus its topic (which depends on the outcome).
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The site UUID, or `None` for dead letters.
    pub key: Option<String>,
    /// The record value: in binary mode, the body's own bytes when it was used as
    /// received (shared, not copied).
    pub value: Bytes,
    /// The record headers.
    pub headers: Vec<(Cow<'static, str>, Vec<u8>)>,
    /// `None` when accepted, or why it is a dead letter.
    pub dead_letter: Option<Reason>,
}

/// A body decoded to JSON text: borrowed from the body, or held by the caller's
/// storage when it was rewritten or converted.
struct Json<'s> {
    text: &'s str,
    doc: Document<'s>,
    /// Python literals were rewritten.
    normalized: bool,
    /// The media type of an XML or form body that was converted.
    original_content_type: Option<&'s str>,
    /// `text` is a slice of the body itself (neither rewritten nor converted).
    borrowed: bool,
}

/// What the envelope takes from the payload besides its text.
struct Located<'s> {
    json: Json<'s>,
    site: String,
    quote: Option<String>,
    status: Option<Cow<'s, str>>,
}

impl Settings {
    /// Builds the record for `incoming`: decode the body to JSON, locate the site in
    /// it, encode the event — or, where a step finds the body unusable, a dead letter.
    /// A traced record also carries its trace context as Kafka headers, whatever the
    /// mode (`traceparent`, and `tracestate` when there is vendor state).
    pub fn build(&self, incoming: &Incoming<'_>) -> Envelope {
        let attributes = Attributes::received(incoming);
        let mut storage = None;
        let located = self
            .decode(incoming, &mut storage)
            .and_then(|json| self.within_limit(json))
            .and_then(|json| self.locate(incoming.event, json));
        let mut envelope = match located {
            Ok(located) => self.encode(attributes, &located, incoming.body),
            Err(reason) => self.dead_letter(attributes, incoming, reason),
        };
        if let Some(trace) = incoming.trace {
            envelope.headers.extend(trace.headers());
        }
        envelope
    }

    /// `json`, unless converting made it larger than a record may hold.
    fn within_limit<'s>(&self, json: Json<'s>) -> Result<Json<'s>, Reason> {
        if json.text.len() > self.max_data_bytes {
            return Err(Reason::ConvertedTooLarge);
        }
        Ok(json)
    }

    /// The body as JSON text, by its format; `storage` holds text that is not the
    /// body's own bytes.
    fn decode<'s>(
        &self,
        incoming: &Incoming<'s>,
        storage: &'s mut Option<String>,
    ) -> Result<Json<'s>, Reason> {
        let body = incoming.body;
        match format::detect(incoming.content_type, body) {
            Format::Json => self.decode_json(body, storage),
            Format::Xml => {
                let converted = xml::to_json(body, &self.xml).ok();
                let original = incoming.content_type.unwrap_or("application/xml");
                converted_json(converted, original, storage).ok_or(Reason::InvalidXml)
            }
            Format::Form => {
                let converted = form::to_json(body, &self.form).ok();
                let original = incoming
                    .content_type
                    .unwrap_or("application/x-www-form-urlencoded");
                converted_json(converted, original, storage).ok_or(Reason::InvalidForm)
            }
        }
    }

    /// A JSON body as received (a BOM tolerated), or with Python literals rewritten
    /// when it does not parse as it is.
    fn decode_json<'s>(
        &self,
        body: &'s [u8],
        storage: &'s mut Option<String>,
    ) -> Result<Json<'s>, Reason> {
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let text = std::str::from_utf8(body).map_err(|_| Reason::InvalidJson)?;
        if let Ok(doc) = Document::parse(text) {
            return Ok(Json {
                text,
                doc,
                normalized: false,
                original_content_type: None,
                borrowed: true,
            });
        }
        // Valid JSON cannot hold a Python literal outside a string, so the rewrite is
        // only tried on bodies that failed to parse.
        let rewritten = self
            .lenient_literals
            .then(|| lenient::rewrite(body))
            .flatten()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(Reason::InvalidJson)?;
        let text = storage.insert(rewritten).as_str();
        let doc = Document::parse(text).map_err(|_| Reason::InvalidJson)?;
        Ok(Json {
            text,
            doc,
            normalized: true,
            original_content_type: None,
            borrowed: false,
        })
    }

    /// The site (required), quote and status of a decoded payload.
    fn locate<'s>(&self, event: Event, json: Json<'s>) -> Result<Located<'s>, Reason> {
        let site = match json.doc.uuid(self.site_pointers.get(event)) {
            Found::Uuid(site) => site,
            Found::Invalid => return Err(Reason::InvalidSite),
            Found::Missing => return Err(Reason::MissingSite),
        };
        let quote = match json.doc.uuid(self.site_pointers.quote()) {
            Found::Uuid(quote) => Some(quote),
            Found::Invalid | Found::Missing => None,
        };
        let status = json
            .doc
            .status()
            .filter(|status| status.len() <= MAX_STATUS_BYTES);
        Ok(Located {
            json,
            site,
            quote,
            status,
        })
    }

    /// The event's record, keyed by its site.
    fn encode(&self, attributes: Attributes<'_>, located: &Located<'_>, body: &Body) -> Envelope {
        let json = &located.json;
        let attributes = Attributes {
            site: Some(&located.site),
            quote: located.quote.as_deref(),
            status: located.status.as_deref(),
            normalized: json.normalized,
            original_content_type: json.original_content_type,
            ..attributes
        };
        let data = json.text.trim_matches(JSON_WHITESPACE);
        let (value, headers) = match self.mode {
            Mode::Structured => (
                Bytes::from(attributes.structured(Data::Json(data))),
                vec![structured_content_type()],
            ),
            Mode::Binary if json.borrowed => (
                body.bytes().slice_ref(data.as_bytes()),
                attributes.binary_headers(),
            ),
            Mode::Binary => (
                Bytes::copy_from_slice(data.as_bytes()),
                attributes.binary_headers(),
            ),
        };
        Envelope {
            key: Some(located.site.clone()),
            value,
            headers,
            dead_letter: None,
        }
    }

    fn dead_letter(
        &self,
        attributes: Attributes<'_>,
        incoming: &Incoming<'_>,
        reason: Reason,
    ) -> Envelope {
        let attributes = Attributes {
            dead_letter: Some(reason),
            data_content_type: incoming.content_type,
            ..attributes
        };
        let (value, headers) = match self.mode {
            Mode::Structured => (
                Bytes::from(attributes.structured(Data::Bytes(incoming.body))),
                vec![structured_content_type()],
            ),
            Mode::Binary => (incoming.body.bytes().clone(), attributes.binary_headers()),
        };
        Envelope {
            key: None,
            value,
            headers,
            dead_letter: Some(reason),
        }
    }
}

/// A converted XML or form body, kept in `storage`, as JSON.
fn converted_json<'s>(
    converted: Option<Vec<u8>>,
    original_content_type: &'s str,
    storage: &'s mut Option<String>,
) -> Option<Json<'s>> {
    let text = storage.insert(String::from_utf8(converted?).ok()?).as_str();
    let doc = Document::parse(text).ok()?;
    Some(Json {
        text,
        doc,
        normalized: false,
        original_content_type: Some(original_content_type),
        borrowed: false,
    })
}

fn structured_content_type() -> (Cow<'static, str>, Vec<u8>) {
    (
        Cow::Borrowed("content-type"),
        STRUCTURED_CONTENT_TYPE.as_bytes().to_vec(),
    )
}

#[cfg(test)]
mod tests;
