//! JSON Schema 2020-12 of a record value in structured mode (one CloudEvents JSON
//! document), per event and for dead letters, and of the headers in binary mode.
//!
//! The schemas use only keywords that mean the same in draft-07 (no `$ref` beside other
//! keywords), so tools that only know draft-07 read them the same way, if less
//! strictly (`prefixItems` is then ignored).

use serde_json::{Map, Value, json};

use super::attributes::{self, Presence, Records};
use super::data::Catalog;
use crate::envelope::Pointer;
use crate::everbright::Event;

/// The dialect of every schema file.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The schema of `event`'s records: its attributes, and `data` as JSON or, when
/// `originalcontenttype` says the body was converted, in its converted form.
pub fn event(catalog: &Catalog, event: Event, pointers: &[Pointer]) -> Value {
    let kind = Records::Event(event);
    let (mut required, mut properties) = attributes(kind);
    required.push("data".into());
    properties.insert(
        "data".into(),
        json!({"description": "The payload: the JSON received, or converted from XML or form (see $defs)."}),
    );
    json!({
        "$schema": DIALECT,
        "title": event.cloudevents_type(),
        "description": format!(
            "A hookbridge record of EverBright's {} event, in structured mode: the Kafka record value, a CloudEvents 1.0 JSON document. Its key is the site UUID (subject). Attributes not listed here may be added; consumers ignore what they do not know.",
            event.slug()
        ),
        "type": "object",
        "required": required,
        "properties": properties,
        "if": {"required": ["originalcontenttype"]},
        "then": {"properties": {"data": {"$ref": "#/$defs/converted-data"}}},
        "else": {"properties": {"data": {"$ref": "#/$defs/data"}}},
        "$defs": {
            "data": catalog.json(event, pointers),
            "converted-data": catalog.converted(event, pointers),
        },
    })
}

/// The schema of dead letters: the attributes, and the raw body in base64.
pub fn dead_letter() -> Value {
    let (mut required, mut properties) = attributes(Records::DeadLetter);
    required.push("data_base64".into());
    properties.insert(
        "data_base64".into(),
        json!({"type": "string", "contentEncoding": "base64", "description": "The raw body, exactly as received."}),
    );
    json!({
        "$schema": DIALECT,
        "title": "hookbridge dead letter",
        "description": "A webhook hookbridge authenticated but could not turn into an event (see deadletterreason), in structured mode: the Kafka record value, a CloudEvents 1.0 JSON document with the raw body. It has no key. hookbridge redrive republishes the ones a fixed config can read.",
        "type": "object",
        "required": required,
        "properties": properties,
        "not": {"anyOf": [{"required": ["data"]}, {"required": ["subject"]}]},
    })
}

/// The headers of a binary-mode record of `kind`: every attribute as a `ce_` header
/// (strings), `datacontenttype` as `content-type`.
pub fn binary_headers(kind: Records, captured: &[String]) -> Value {
    let mut required = Vec::new();
    let mut properties = Map::new();
    for attribute in attributes::all(kind) {
        let header = attribute.header();
        let presence = attribute.presence(kind);
        if presence == Presence::Absent {
            continue;
        }
        if presence == Presence::Required {
            required.push(Value::String(header.clone()));
        }
        let mut schema = attribute.schema;
        if schema["type"] == "boolean" {
            schema =
                json!({"type": "string", "const": "true", "description": schema["description"]});
        }
        properties.insert(header, schema);
    }
    with_captured(required, properties, captured)
}

/// The headers of a structured-mode record.
pub fn structured_headers(captured: &[String]) -> Value {
    let mut properties = Map::new();
    properties.insert(
        "content-type".into(),
        json!({"type": "string", "const": crate::envelope::STRUCTURED_CONTENT_TYPE}),
    );
    with_captured(vec![json!("content-type")], properties, captured)
}

/// The headers every record may have (the trace context, when traced), then the
/// captured ones.
fn with_captured(
    required: Vec<Value>,
    mut properties: Map<String, Value>,
    captured: &[String],
) -> Value {
    properties.insert(crate::trace::TRACEPARENT.into(), attributes::traceparent());
    properties.insert(crate::trace::TRACESTATE.into(), attributes::tracestate());
    for header in captured {
        properties.insert(
            header.clone(),
            json!({"type": "string", "description": "Copied from the webhook request, when it had this header (payload.capture_headers)."}),
        );
    }
    json!({"type": "object", "required": required, "properties": properties})
}

/// The required names and the property schemas of the attributes `kind` has.
fn attributes(kind: Records) -> (Vec<String>, Map<String, Value>) {
    let mut required = Vec::new();
    let mut properties = Map::new();
    for attribute in attributes::all(kind) {
        match attribute.presence(kind) {
            Presence::Absent => continue,
            Presence::Required => required.push(attribute.name.to_string()),
            Presence::Optional => {}
        }
        properties.insert(attribute.name.to_string(), attribute.schema);
    }
    (required, properties)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_schema_requires_the_site_attributes_and_fixes_the_type() {
        let pointers = [Pointer::parse("/site").unwrap()];
        let schema = event(&Catalog::load(), Event::SiteArchived, &pointers);
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for name in [
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "siteid",
            "data",
        ] {
            assert!(required.contains(&name), "{name}");
        }
        assert!(!required.contains(&"quoteid"));
        assert_eq!(
            schema["properties"]["type"]["const"],
            "everbright.site-archived"
        );
        assert!(schema["properties"].get("deadletterreason").is_none());
    }

    #[test]
    fn a_dead_letter_has_no_site_and_any_event_type() {
        let schema = dead_letter();
        assert!(schema["properties"].get("subject").is_none());
        assert_eq!(
            schema["properties"]["type"]["enum"]
                .as_array()
                .unwrap()
                .len(),
            13
        );
        assert_eq!(
            schema["properties"]["deadletterreason"]["enum"],
            json!([
                "invalid-json",
                "invalid-xml",
                "invalid-form",
                "missing-site",
                "invalid-site",
                "converted-too-large"
            ])
        );
    }

    #[test]
    fn binary_headers_are_ce_strings_and_content_type() {
        let headers = binary_headers(Records::Event(Event::StageTransition), &["x-tenant".into()]);
        let properties = &headers["properties"];
        assert_eq!(
            properties["ce_type"]["const"],
            "everbright.stage-transition"
        );
        assert_eq!(properties["content-type"]["const"], "application/json");
        assert_eq!(properties["ce_normalized"]["const"], "true");
        assert!(properties.get("ce_datacontenttype").is_none());
        assert!(properties.get("x-tenant").is_some());
        assert!(
            headers["required"]
                .as_array()
                .unwrap()
                .contains(&json!("ce_subject"))
        );
    }
}
