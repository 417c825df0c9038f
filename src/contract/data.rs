//! What a record's `data` holds for each event: the fields EverBright's documentation
//! and hookbridge's realistic samples show (`everbright.json` beside this file),
//! as JSON Schema, plus where this config finds the site.
//!
//! Two forms of each: `data` as EverBright sent it in JSON, and `data` converted from
//! an XML or form body, where every scalar may arrive as text (`"18"`, `"True"`) or
//! empty (`null`, `""`), and empty lists and objects may be missing, `null` or `""` (see
//! docs/reference.md, "Body formats"); the converted form keeps the structure and
//! loosens the scalars. Neither form is closed: EverBright adds fields, so every
//! property is optional and unknown ones are allowed. The one thing both require is
//! the site, at one of the config's site pointers: without it the body would have
//! been a dead letter.

use serde_json::{Map, Value, json};

use crate::envelope::Pointer;
use crate::everbright::Event;

/// The descriptions, as written: `$defs` of shared shapes and one schema per event.
const DESCRIPTIONS: &str = include_str!("everbright.json");

/// A site UUID in any form hookbridge reads: hyphenated or not, braced, as a URN, in
/// either case (hookbridge writes it to `subject` lowercase and hyphenated).
const ANY_UUID: &str = "^(?:[0-9A-Fa-f]{32}|(?:urn:uuid:)?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|\\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\\})$";

/// The data schemas of every event, read once per contract.
pub struct Catalog {
    defs: Map<String, Value>,
    events: Map<String, Value>,
}

impl Catalog {
    /// Reads `everbright.json` (compiled in; a unit test parses it).
    pub fn load() -> Catalog {
        let mut doc: Value = serde_json::from_str(DESCRIPTIONS).unwrap_or_default();
        let mut take = |key: &str| match doc.get_mut(key).map(Value::take) {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        Catalog {
            defs: take("$defs"),
            events: take("events"),
        }
    }

    /// `data` of `event` as sent in JSON, with the site required at one of `pointers`.
    pub fn json(&self, event: Event, pointers: &[Pointer]) -> Value {
        let described = self.inline(self.events.get(event.slug()).unwrap_or(&Value::Null));
        with_site(described, pointers)
    }

    /// `data` of `event` converted from XML or form-urlencoded.
    pub fn converted(&self, event: Event, pointers: &[Pointer]) -> Value {
        let described = self.inline(self.events.get(event.slug()).unwrap_or(&Value::Null));
        with_site(loosen(described), pointers)
    }

    /// `schema` with every `{"$ref": "#/$defs/NAME"}` replaced by that definition, so
    /// that each generated file stands alone and can be loosened as a whole.
    fn inline(&self, schema: &Value) -> Value {
        match schema {
            Value::Object(map) => {
                let target = map
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .and_then(|name| self.defs.get(name));
                match target {
                    Some(def) => self.inline(def),
                    None => Value::Object(
                        map.iter()
                            .map(|(k, v)| (k.clone(), self.inline(v)))
                            .collect(),
                    ),
                }
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.inline(v)).collect()),
            other => other.clone(),
        }
    }

    /// Every event described, for tests.
    #[cfg(test)]
    fn described(&self) -> Vec<&str> {
        self.events.keys().map(String::as_str).collect()
    }
}

/// The form of `schema` that XML and form bodies take: objects and arrays keep their
/// members but may be `null` (XML) or `""` (form) where JSON had `null`; scalars may
/// be any scalar, their formats and patterns dropped (text is not checked as a number
/// or a date).
fn loosen(schema: Value) -> Value {
    let Value::Object(mut map) = schema else {
        return schema;
    };
    if let Some(types) = map.remove("type") {
        let named = |t: &str| match &types {
            Value::String(s) => s == t,
            Value::Array(list) => list.iter().any(|v| v == t),
            _ => false,
        };
        let mut loose = Vec::new();
        for container in ["object", "array"] {
            if named(container) {
                loose.push(container);
            }
        }
        let scalar = ["string", "number", "integer", "boolean"]
            .iter()
            .any(|t| named(t));
        if scalar {
            loose.extend(["string", "number", "boolean"]);
            for keyword in ["format", "pattern", "enum", "const", "examples"] {
                map.remove(keyword);
            }
        } else {
            // A form body writes an empty value, `""`, where JSON had `null`.
            loose.push("string");
        }
        loose.push("null");
        map.insert("type".into(), json!(loose));
    }
    for (keyword, value) in map.iter_mut() {
        match keyword.as_str() {
            "properties" => {
                if let Value::Object(properties) = value {
                    for property in properties.values_mut() {
                        *property = loosen(property.take());
                    }
                }
            }
            "items" => *value = loosen(value.take()),
            _ => {}
        }
    }
    Value::Object(map)
}

/// `data` with the site required: a UUID at one of `pointers` (any one: the schema
/// does not repeat hookbridge's rule that the first string found decides).
fn with_site(described: Value, pointers: &[Pointer]) -> Value {
    let at: Vec<Value> = pointers
        .iter()
        .map(|p| at_pointer(p.segments(), site_uuid()))
        .collect();
    let places = pointers
        .iter()
        .map(Pointer::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    json!({
        "description": format!("The webhook body as EverBright sent it. The site UUID is at one of: {places}."),
        "allOf": [described, {"anyOf": at}],
    })
}

fn site_uuid() -> Value {
    json!({"type": "string", "pattern": ANY_UUID})
}

/// A schema that holds when `leaf` holds at the JSON pointer `segments`. A numeric
/// segment may name an object member or an array index, as in RFC 6901.
fn at_pointer(segments: &[String], leaf: Value) -> Value {
    let Some((first, rest)) = segments.split_first() else {
        return leaf;
    };
    let inner = at_pointer(rest, leaf);
    let member =
        json!({"type": "object", "required": [first], "properties": {first.as_str(): inner}});
    match first.parse::<usize>() {
        Ok(index) if first == "0" || !first.starts_with('0') => {
            let mut prefix = vec![json!({}); index];
            prefix.push(inner);
            json!({"anyOf": [member, {"type": "array", "minItems": index + 1, "prefixItems": prefix}]})
        }
        _ => member,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointers(texts: &[&str]) -> Vec<Pointer> {
        texts.iter().map(|t| Pointer::parse(t).unwrap()).collect()
    }

    #[test]
    fn every_event_is_described_and_every_reference_resolves() {
        let catalog = Catalog::load();
        let mut described = catalog.described();
        described.sort_unstable();
        let mut slugs: Vec<&str> = Event::ALL.iter().map(|e| e.slug()).collect();
        slugs.sort_unstable();
        assert_eq!(described, slugs);
        for event in Event::ALL {
            let text = catalog.json(event, &pointers(&["/site"])).to_string();
            assert!(!text.contains("$ref"), "{event}: {text}");
            assert!(text.contains("\"properties\""), "{event}");
        }
    }

    #[test]
    fn the_site_is_required_at_one_of_the_pointers() {
        let site = at_pointer(&["site".into(), "uuid".into()], json!(true));
        assert_eq!(
            site,
            json!({"type": "object", "required": ["site"], "properties": {"site":
                {"type": "object", "required": ["uuid"], "properties": {"uuid": true}}}})
        );
        let indexed = at_pointer(&["2".into()], json!(true));
        assert_eq!(indexed["anyOf"][1]["prefixItems"], json!([{}, {}, true]));
        assert_eq!(indexed["anyOf"][1]["minItems"], 3);
        let data = Catalog::load().json(Event::ProposalAction, &pointers(&["/site", "/site_id"]));
        assert_eq!(data["allOf"][1]["anyOf"].as_array().unwrap().len(), 2);
        assert!(
            data["description"]
                .as_str()
                .unwrap()
                .ends_with("/site, /site_id.")
        );
    }

    #[test]
    fn converted_data_keeps_the_structure_and_loosens_the_scalars() {
        let loose = loosen(json!({
            "type": "object",
            "properties": {
                "n": {"type": "integer", "description": "d"},
                "when": {"type": ["string", "null"], "format": "date-time"},
                "tasks": {"type": "array", "items": {"type": "object", "properties": {"ok": {"type": "boolean"}}}},
                "data": {"type": ["object", "boolean", "null"]}
            }
        }));
        let any = json!(["string", "number", "boolean", "null"]);
        assert_eq!(loose["type"], json!(["object", "string", "null"]));
        assert_eq!(
            loose["properties"]["n"],
            json!({"type": any, "description": "d"})
        );
        assert_eq!(loose["properties"]["when"], json!({"type": any}));
        assert_eq!(
            loose["properties"]["tasks"]["type"],
            json!(["array", "string", "null"])
        );
        assert_eq!(
            loose["properties"]["tasks"]["items"]["properties"]["ok"],
            json!({"type": any})
        );
        assert_eq!(
            loose["properties"]["data"]["type"],
            json!(["object", "string", "number", "boolean", "null"])
        );
    }
}
