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

use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use cloudevents::{Attributes, Data, STRUCTURED_CONTENT_TYPE};
pub use format::Format;
pub use site::{Document, Found, Pointer, PointerError, SitePointers};

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
}

impl Reason {
    /// Every reason, for pre-registering metric series.
    pub const ALL: [Reason; 5] = [
        Reason::InvalidJson,
        Reason::InvalidXml,
        Reason::InvalidForm,
        Reason::MissingSite,
        Reason::InvalidSite,
    ];

    /// The `deadletterreason` attribute and metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidJson => "invalid-json",
            Reason::InvalidXml => "invalid-xml",
            Reason::InvalidForm => "invalid-form",
            Reason::MissingSite => "missing-site",
            Reason::InvalidSite => "invalid-site",
        }
    }
}

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
}

/// A verified webhook, as the envelope needs it.
#[derive(Debug, Clone)]
pub struct Incoming<'a> {
    /// The new event id.
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
    /// The raw body.
    pub body: &'a [u8],
    /// When the request was received.
    pub received: SystemTime,
}

/// A Kafka record, minus its topic (which depends on the outcome).
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The site UUID, or `None` for dead letters.
    pub key: Option<String>,
    /// The record value.
    pub value: Vec<u8>,
    /// The record headers.
    pub headers: Vec<(Cow<'static, str>, Vec<u8>)>,
    /// `None` when accepted, or why it is a dead letter.
    pub dead_letter: Option<Reason>,
}

impl Settings {
    /// Builds the record for `incoming`.
    pub fn build(&self, incoming: &Incoming<'_>) -> Envelope {
        let body_sha256: [u8; 32] = Sha256::digest(incoming.body).into();
        let attributes = Attributes {
            id: incoming.id,
            event: incoming.event,
            environment: incoming.environment,
            credential: incoming.credential,
            organization: incoming.organization,
            time: incoming.received,
            body_sha256,
            site: None,
            quote: None,
            status: None,
            normalized: false,
            original_content_type: None,
            dead_letter: None,
            data_content_type: Some("application/json"),
        };
        let body = incoming.body;
        let converted: Option<String>;
        let (text, doc, normalized, original_content_type) =
            match format::detect(incoming.content_type, body) {
                Format::Json => {
                    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
                    let Ok(text) = std::str::from_utf8(body) else {
                        return self.dead_letter(attributes, incoming, Reason::InvalidJson);
                    };
                    match Document::parse(text) {
                        Ok(doc) => (text, doc, false, None),
                        Err(_) => {
                            // Valid JSON cannot hold a Python literal outside a string,
                            // so the rewrite is only tried on bodies that failed to parse.
                            converted = self
                                .lenient_literals
                                .then(|| lenient::rewrite(body))
                                .flatten()
                                .and_then(|bytes| String::from_utf8(bytes).ok());
                            match converted.as_deref().map(|t| (t, Document::parse(t))) {
                                Some((text, Ok(doc))) => (text, doc, true, None),
                                _ => {
                                    return self.dead_letter(
                                        attributes,
                                        incoming,
                                        Reason::InvalidJson,
                                    );
                                }
                            }
                        }
                    }
                }
                format @ (Format::Xml | Format::Form) => {
                    let (json, reason, media_type) = match format {
                        Format::Xml => (
                            xml::to_json(body, &self.xml).ok(),
                            Reason::InvalidXml,
                            "application/xml",
                        ),
                        _ => (
                            form::to_json(body, &self.form).ok(),
                            Reason::InvalidForm,
                            "application/x-www-form-urlencoded",
                        ),
                    };
                    converted = json.and_then(|bytes| String::from_utf8(bytes).ok());
                    match converted.as_deref().map(|t| (t, Document::parse(t))) {
                        Some((text, Ok(doc))) => (
                            text,
                            doc,
                            false,
                            Some(incoming.content_type.unwrap_or(media_type)),
                        ),
                        _ => return self.dead_letter(attributes, incoming, reason),
                    }
                }
            };
        let site = match doc.uuid(self.site_pointers.get(incoming.event)) {
            Found::Uuid(site) => site,
            Found::Invalid => return self.dead_letter(attributes, incoming, Reason::InvalidSite),
            Found::Missing => return self.dead_letter(attributes, incoming, Reason::MissingSite),
        };
        let quote = match doc.uuid(self.site_pointers.quote()) {
            Found::Uuid(quote) => Some(quote),
            Found::Invalid | Found::Missing => None,
        };
        let status = doc.status();
        let attributes = Attributes {
            site: Some(&site),
            quote: quote.as_deref(),
            status: status.as_deref(),
            normalized,
            original_content_type,
            ..attributes
        };
        let data = text.trim_matches(JSON_WHITESPACE);
        let (value, headers) = match self.mode {
            Mode::Structured => (
                attributes.structured(Data::Json(data)),
                vec![structured_content_type()],
            ),
            Mode::Binary => (data.as_bytes().to_vec(), attributes.binary_headers()),
        };
        Envelope {
            key: Some(site.clone()),
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
                attributes.structured(Data::Bytes(incoming.body)),
                vec![structured_content_type()],
            ),
            Mode::Binary => (incoming.body.to_vec(), attributes.binary_headers()),
        };
        Envelope {
            key: None,
            value,
            headers,
            dead_letter: Some(reason),
        }
    }
}

const JSON_WHITESPACE: [char; 4] = [' ', '\t', '\n', '\r'];

fn structured_content_type() -> (Cow<'static, str>, Vec<u8>) {
    (
        Cow::Borrowed("content-type"),
        STRUCTURED_CONTENT_TYPE.as_bytes().to_vec(),
    )
}

#[cfg(test)]
mod tests;
