//! The AsyncAPI servers of a config: one per bootstrap broker of `kafka.brokers`, and
//! the security scheme its `[kafka.properties]` use, when AsyncAPI has a name for it.
//! Only plain property values are read: a secret never reaches the contract.

use serde_json::{Map, Value, json};

use super::asyncapi::reference;
use crate::config::{Config, PropertyValue};

/// The servers, and the security scheme they share (its name and object).
pub fn servers(config: &Config) -> (Map<String, Value>, Option<(String, Value)>) {
    let security = security(config);
    let servers = brokers(&config.kafka.brokers)
        .iter()
        .enumerate()
        .map(|(i, host)| (format!("broker-{}", i + 1), server(host, config, &security)))
        .collect();
    (servers, security)
}

/// `host:port` of each bootstrap broker, without librdkafka's `protocol://` prefix.
fn brokers(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(|b| b.rsplit_once("://").map_or(b, |(_, rest)| rest).to_string())
        .collect()
}

fn server(host: &str, config: &Config, security: &Option<(String, Value)>) -> Value {
    let protocol = match plain_property(config, "security.protocol")
        .map(|p| p.to_ascii_uppercase())
        .as_deref()
    {
        Some("SSL" | "SASL_SSL") => "kafka-secure",
        _ => "kafka",
    };
    let mut server = json!({
        "host": host,
        "protocol": protocol,
        "description": "A bootstrap broker of kafka.brokers.",
    });
    if let Some((name, _)) = security {
        server["security"] = json!([reference(&format!("#/components/securitySchemes/{name}"))]);
    }
    server
}

/// The security scheme `[kafka.properties]` configure, when AsyncAPI has a name for
/// it: SASL PLAIN, SCRAM or GSSAPI, or TLS with a client certificate. Only the
/// mechanism is described, never a value: consumers log in as themselves.
fn security(config: &Config) -> Option<(String, Value)> {
    let protocol = plain_property(config, "security.protocol")?.to_ascii_uppercase();
    let tls = if protocol.ends_with("SSL") {
        " over TLS"
    } else {
        ""
    };
    if protocol.starts_with("SASL") {
        let mechanism = plain_property(config, "sasl.mechanisms")
            .or_else(|| plain_property(config, "sasl.mechanism"))
            .unwrap_or_else(|| "GSSAPI".into())
            .to_ascii_uppercase();
        let kind = match mechanism.as_str() {
            "PLAIN" => "plain",
            "SCRAM-SHA-256" => "scramSha256",
            "SCRAM-SHA-512" => "scramSha512",
            "GSSAPI" => "gssapi",
            _ => return None,
        };
        let description =
            format!("SASL/{mechanism}{tls}: each consumer logs in with credentials of its own.");
        return Some((
            kind.to_string(),
            json!({"type": kind, "description": description}),
        ));
    }
    let client_certificate = [
        "ssl.certificate.location",
        "ssl.certificate.pem",
        "ssl.keystore.location",
    ]
    .iter()
    .any(|key| config.kafka.properties.iter().any(|(k, _)| k == key));
    (protocol == "SSL" && client_certificate).then(|| {
        (
            "X509".to_string(),
            json!({"type": "X509", "description": "TLS with client certificates: each consumer presents a certificate of its own."}),
        )
    })
}

/// A `[kafka.properties]` value that is not a secret.
fn plain_property(config: &Config, key: &str) -> Option<String> {
    config.kafka.properties.iter().find_map(|(k, v)| match v {
        PropertyValue::Plain(value) if k == key => Some(value.clone()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use crate::contract::asyncapi::document;
    use crate::contract::asyncapi::tests::config;

    #[test]
    fn servers_and_security_come_from_the_kafka_section_without_secrets() {
        let doc = document(&config(
            "[kafka.properties]\n\"security.protocol\" = \"SASL_SSL\"\n\"sasl.mechanism\" = \"SCRAM-SHA-512\"\n\"sasl.username\" = \"hookbridge\"\n\"sasl.password\" = \"s3cret-value\"\n",
        ));
        assert_eq!(doc["servers"]["broker-1"]["host"], "b1:9093");
        assert_eq!(doc["servers"]["broker-2"]["host"], "b2:9093");
        assert_eq!(doc["servers"]["broker-2"]["protocol"], "kafka-secure");
        assert_eq!(
            doc["components"]["securitySchemes"]["scramSha512"]["type"],
            "scramSha512"
        );
        assert_eq!(
            doc["servers"]["broker-1"]["security"][0]["$ref"],
            "#/components/securitySchemes/scramSha512"
        );
        let text = doc.to_string();
        assert!(!text.contains("s3cret-value") && !text.contains("\"hookbridge\""));
        let open = document(&config(""));
        assert_eq!(open["servers"]["broker-1"]["protocol"], "kafka");
        assert!(open["components"].get("securitySchemes").is_none());
    }
}
