//! Finding the site UUID (and the quote UUID) in a JSON payload.
//!
//! The payload is validated once while its top-level members are indexed as slices of
//! its text ([`scan`], by hand: this is the one full reading of every body); a JSON
//! pointer then only re-reads the (small) member it descends into, so no tree of the
//! whole document is built. Where a key appears twice, the last one counts, as in most
//! JSON parsers downstream.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use uuid::Uuid;

use scan::Member;

use crate::everbright::Event;

mod scan;

/// A parsed JSON pointer (RFC 6901), e.g. `/site/uuid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    text: String,
    segments: Vec<String>,
}

/// A JSON pointer that is not `""` and does not start with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointerError(String);

impl fmt::Display for PointerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid JSON pointer {:?}: it must start with '/' (e.g. \"/site/uuid\")",
            self.0
        )
    }
}

impl Pointer {
    /// Parses a pointer, unescaping `~1` to `/` and `~0` to `~`.
    pub fn parse(text: &str) -> Result<Pointer, PointerError> {
        let Some(rest) = text.strip_prefix('/') else {
            return Err(PointerError(text.to_string()));
        };
        if rest.split('/').any(|s| {
            s.match_indices('~')
                .any(|(i, _)| !matches!(s.as_bytes().get(i + 1), Some(b'0' | b'1')))
        }) {
            return Err(PointerError(text.to_string()));
        }
        let segments = rest
            .split('/')
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        Ok(Pointer {
            text: text.to_string(),
            segments,
        })
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The reference tokens, unescaped: `/site/uuid` is `["site", "uuid"]`.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    fn from_static(text: &str) -> Pointer {
        // Invariant: only called with the literal defaults below, which all start with '/'.
        Pointer::parse(text).unwrap_or_else(|_| unreachable!("default pointers are valid"))
    }
}

/// The pointers tried, in order, to find the site UUID of each event (and the quote
/// UUID, whose pointers are fixed since it is only informative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitePointers {
    site: Vec<Vec<Pointer>>,
    quote: Vec<Pointer>,
}

impl Default for SitePointers {
    /// `/site`, `/site/uuid`, `/site_id`, `/site_uuid` for every event; `site-archived`
    /// (whose payload is the site itself) also tries `/uuid`, last.
    fn default() -> Self {
        let common = ["/site", "/site/uuid", "/site_id", "/site_uuid"];
        let site = Event::ALL
            .iter()
            .map(|&event| {
                let extra = (event == Event::SiteArchived).then_some("/uuid");
                common
                    .iter()
                    .copied()
                    .chain(extra)
                    .map(Pointer::from_static)
                    .collect()
            })
            .collect();
        let quote = ["/quote", "/quote/uuid", "/quote_id", "/quote_uuid"]
            .into_iter()
            .map(Pointer::from_static)
            .collect();
        SitePointers { site, quote }
    }
}

impl SitePointers {
    /// Replaces the list for `event`.
    pub fn set(&mut self, event: Event, pointers: Vec<Pointer>) {
        self.site[event as usize] = pointers;
    }

    /// The list for `event`.
    pub fn get(&self, event: Event) -> &[Pointer] {
        &self.site[event as usize]
    }

    /// The quote pointers: `/quote`, `/quote/uuid`, `/quote_id`, `/quote_uuid`.
    pub fn quote(&self) -> &[Pointer] {
        &self.quote
    }
}

/// A validated JSON document with its top-level members indexed.
pub struct Document<'a> {
    /// The top-level members when the document is an object.
    members: Vec<Member<'a>>,
}

/// The outcome of looking for a UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A UUID, lowercase and hyphenated.
    Uuid(String),
    /// A string was there, but it is not a UUID (or is the nil UUID).
    Invalid,
    /// No pointer leads to a string.
    Missing,
}

impl<'a> Document<'a> {
    /// Validates `json` (the whole text must be one JSON value) and indexes it.
    pub fn parse(json: &'a str) -> Result<Document<'a>, serde_json::Error> {
        let members = match json.trim_start_matches(JSON_WHITESPACE).as_bytes().first() {
            Some(b'{') => scan::object(json)?,
            // Not an object, so without members (and without a site): only validated.
            _ => {
                let mut de = serde_json::Deserializer::from_str(json);
                de.deserialize_any(NotAnObject)?;
                de.end()?;
                Vec::new()
            }
        };
        Ok(Document { members })
    }

    /// Follows `pointer` to the JSON text of a value; `None` when it leads nowhere.
    pub fn get(&self, pointer: &Pointer) -> Option<&'a str> {
        let (first, rest) = pointer.segments.split_first()?;
        let mut value = last_member(&self.members, first)?;
        for segment in rest {
            value = child(value, segment)?;
        }
        Some(value)
    }

    /// The string at `pointer`, unescaped.
    pub fn string(&self, pointer: &Pointer) -> Option<Cow<'a, str>> {
        string(self.get(pointer)?)
    }

    /// The first string among `pointers`, judged as a UUID. A pointer leading to a
    /// non-string (e.g. `/site` holding an object) is skipped; a string that is not a
    /// UUID makes the result `Invalid` unless a later pointer finds a UUID.
    pub fn uuid<'p>(&self, pointers: impl IntoIterator<Item = &'p Pointer>) -> Found {
        let mut found = Found::Missing;
        for p in pointers {
            if let Some(text) = self.string(p) {
                match Uuid::try_parse(&text) {
                    Ok(u) if !u.is_nil() => {
                        let mut buffer = Uuid::encode_buffer();
                        return Found::Uuid(u.hyphenated().encode_lower(&mut buffer).to_owned());
                    }
                    _ => found = Found::Invalid,
                }
            }
        }
        found
    }

    /// The top-level `status`, when it is a string.
    pub fn status(&self) -> Option<Cow<'a, str>> {
        string(last_member(&self.members, "status")?)
    }
}

/// The four bytes JSON allows around and between its tokens.
pub(super) const JSON_WHITESPACE: [char; 4] = [' ', '\t', '\n', '\r'];

/// The value of the last member named `key` (where a key appears twice, the last one
/// counts).
fn last_member<'a>(members: &[Member<'a>], key: &str) -> Option<&'a str> {
    members
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| *v)
}

/// The member `segment` of an object, or the element at index `segment` of an array.
fn child<'a>(value: &'a str, segment: &str) -> Option<&'a str> {
    match value.as_bytes().first()? {
        b'{' => last_member(&scan::object(value).ok()?, segment),
        b'[' => {
            let index: usize = segment
                .parse()
                .ok()
                .filter(|_| segment == "0" || !segment.starts_with('0'))?;
            scan::element(value, index)
        }
        _ => None,
    }
}

/// The JSON text `value` as a string, when it is one: borrowed unless it holds an
/// escape, and `None` for an escape that is no character (an unpaired surrogate).
fn string(value: &str) -> Option<Cow<'_, str>> {
    let inside = value.strip_prefix('"')?.strip_suffix('"')?;
    if !inside.contains('\\') {
        return Some(Cow::Borrowed(inside));
    }
    serde_json::from_str::<String>(value).ok().map(Cow::Owned)
}

/// Validates a document that is not an object, as `serde_json` reads it.
struct NotAnObject;

impl<'de> Visitor<'de> for NotAnObject {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
