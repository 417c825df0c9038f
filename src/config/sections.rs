//! The `[server]`, `[kafka]`, `[routes]`, `[payload]` and `[dedup]` tables, and the
//! rules that span them.

use std::time::Duration;

use http::HeaderName;
use toml::Value;

use super::read::{Ctx, Section};
use super::{Config, Dedup, Kafka, OWNED_KAFKA_PROPERTIES, Payload, PropertyValue, Server};
use crate::envelope::{self, Pointer, SitePointers};
use crate::everbright::{Environment, Event};
use crate::limit::Network;

/// The largest body hookbridge agrees to buffer (64 MiB): above it, memory per request
/// stops being a sensible trade for a webhook.
const MAX_BODY_BYTES_LIMIT: u64 = 64 << 20;

pub(super) fn server(mut s: Section<'_, '_, '_>) -> Option<Server> {
    let listen = s.socket_addr("listen", "0.0.0.0:8080");
    let admin_listen = s.socket_addr("admin_listen", "0.0.0.0:9090");
    let path_prefix = s.string("path_prefix").unwrap_or("/everbright");
    if !path_prefix.starts_with('/') || path_prefix.contains(['?', '#', ' ']) {
        s.error("path_prefix", "must be a URL path starting with '/'");
    }
    let path_prefix = path_prefix.trim_end_matches('/').to_string();
    let max_body_bytes = s.integer("max_body_bytes", 1 << 20, 1, MAX_BODY_BYTES_LIMIT);
    let request_timeout = s.duration("request_timeout", Duration::from_secs(15));
    let read_timeout = s.duration("read_timeout", Duration::from_secs(4));
    let shutdown_grace = s.duration("shutdown_grace", Duration::from_secs(20));
    let max_inflight = s.integer("max_inflight", 4096, 1, 1 << 20);
    let max_connections = s.integer("max_connections", 8192, 1, 1 << 20);
    let failed_auth_limit = s.rate("failed_auth_limit");
    let failed_auth_ipv6_prefix = s.integer("failed_auth_ipv6_prefix", 64, 32, 128);
    let failed_auth_max_clients = s.integer("failed_auth_max_clients", 100_000, 1, 10_000_000);
    let trusted_proxies = s
        .strings("trusted_proxies")
        .into_iter()
        .filter_map(|(path, text)| {
            text.parse::<Network>()
                .map_err(|e| s.ctx.error(path, e))
                .ok()
        })
        .collect();
    s.finish();
    Some(Server {
        listen: listen?,
        admin_listen: admin_listen?,
        path_prefix,
        max_body_bytes: usize::try_from(max_body_bytes).ok()?,
        request_timeout,
        read_timeout,
        shutdown_grace,
        max_inflight: usize::try_from(max_inflight).ok()?,
        max_connections: usize::try_from(max_connections).ok()?,
        failed_auth_limit,
        failed_auth_ipv6_prefix: u8::try_from(failed_auth_ipv6_prefix).ok()?,
        failed_auth_max_clients: usize::try_from(failed_auth_max_clients).ok()?,
        trusted_proxies,
    })
}

/// The longest `dedup.window`: a day of answers is already more than any sender's
/// retry schedule needs.
const MAX_DEDUP_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// The default `kafka.delivery_timeout` (2 min, the Java producer's
/// `delivery.timeout.ms`): long enough for a broker restart or a leader election, short
/// enough that an event in doubt does not hold its key and in-flight slot for long.
const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);

/// The longest `kafka.delivery_timeout`: every record in doubt holds a slot of
/// `server.max_inflight` until its fate is known.
const MAX_DELIVERY_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// The most `dedup.capacity` entries (each about 300 bytes: ~3 GiB at this limit).
const MAX_DEDUP_CAPACITY: u64 = 10_000_000;

pub(super) fn dedup(mut s: Section<'_, '_, '_>) -> Option<Dedup> {
    let window = s.duration("window", Duration::from_secs(10 * 60));
    if window > MAX_DEDUP_WINDOW {
        s.error("window", "must be at most 24h");
    }
    let capacity = s.integer("capacity", 100_000, 1, MAX_DEDUP_CAPACITY);
    s.finish();
    Some(Dedup {
        window,
        capacity: usize::try_from(capacity).ok()?,
    })
}

pub(super) fn kafka(mut s: Section<'_, '_, '_>) -> Option<Kafka> {
    let brokers = s.required_string("brokers").map(str::to_string);
    if let Some(brokers) = brokers.as_deref() {
        broker_list_rules(&s, brokers);
    }
    let topic_template = s
        .string("topic_template")
        .unwrap_or("everbright.{environment}.{event}")
        .to_string();
    let deadletter_topic_template = s
        .string("deadletter_topic_template")
        .unwrap_or("everbright.{environment}.deadletter")
        .to_string();
    topic_rules(&s, "topic_template", &topic_template, true);
    topic_rules(
        &s,
        "deadletter_topic_template",
        &deadletter_topic_template,
        false,
    );
    let ack_timeout = s.duration("ack_timeout", Duration::from_secs(5));
    let delivery_timeout = s.duration("delivery_timeout", DEFAULT_DELIVERY_TIMEOUT);
    if delivery_timeout <= ack_timeout {
        s.error(
            "delivery_timeout",
            format!(
                "must be longer than kafka.ack_timeout ({}): a record answered 503 is delivered until then",
                humantime::format_duration(ack_timeout)
            ),
        );
    } else if delivery_timeout > MAX_DELIVERY_TIMEOUT {
        s.error("delivery_timeout", "must be at most 1h");
    }
    let envelope = match s.string("envelope").unwrap_or("structured") {
        "structured" => envelope::Mode::Structured,
        "binary" => envelope::Mode::Binary,
        other => {
            s.error(
                "envelope",
                format!("expected \"structured\" or \"binary\", found {other:?}"),
            );
            envelope::Mode::Structured
        }
    };
    let properties = properties(s.table("properties"));
    let heartbeat_topic = s.string("heartbeat_topic").map(str::to_string);
    if let Some(topic) = &heartbeat_topic {
        topic_rules(&s, "heartbeat_topic", topic, false);
    }
    let heartbeat_interval = s.duration("heartbeat_interval", Duration::from_secs(5));
    if heartbeat_interval < Duration::from_secs(1) {
        s.error("heartbeat_interval", "must be at least 1s");
    }
    s.finish();
    Some(Kafka {
        brokers: brokers?,
        topic_template,
        deadletter_topic_template,
        ack_timeout,
        delivery_timeout,
        envelope,
        properties,
        heartbeat_topic,
        heartbeat_interval,
        // Known once `[server]` is read.
        max_record_bytes: 0,
    })
}

/// Checks `kafka.brokers`: a comma-separated list of `host:port` (librdkafka's
/// optional `protocol://` prefix allowed), so that a forgotten port is reported here
/// rather than becoming a silent connection to librdkafka's default 9092.
fn broker_list_rules(s: &Section<'_, '_, '_>, brokers: &str) {
    if brokers.trim().is_empty() {
        s.error("brokers", "must list at least one host:port");
        return;
    }
    for entry in brokers.split(',').map(str::trim) {
        let address = entry.split_once("://").map_or(entry, |(_, rest)| rest);
        let valid = address.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !valid {
            s.error(
                "brokers",
                format!("{entry:?} is not host:port (e.g. \"kafka-0.kafka:9092\")"),
            );
        }
    }
}

/// Checks a topic template: only known placeholders, and every topic it can produce is
/// a name Kafka accepts (1–249 of `[a-zA-Z0-9._-]`).
fn topic_rules(s: &Section<'_, '_, '_>, key: &str, template: &str, needs_event: bool) {
    let stripped = template.replace("{environment}", "").replace("{event}", "");
    if stripped.contains(['{', '}']) {
        s.error(
            key,
            "only the placeholders {environment} and {event} are allowed",
        );
        return;
    }
    if needs_event && !template.contains("{event}") {
        s.error(
            key,
            "must contain {event}: each event has a topic of its own",
        );
    }
    let valid = |name: &str| {
        (1..=249).contains(&name.len())
            && name != "."
            && name != ".."
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    for environment in Environment::ALL {
        for event in Event::ALL {
            let topic = super::render_topic(template, environment, event);
            if !valid(&topic) {
                s.error(
                    key,
                    format!("renders the invalid topic name {topic:?} (allowed: 1-249 of a-z A-Z 0-9 . _ -)"),
                );
                return;
            }
        }
    }
}

/// A `message.max.bytes` in `kafka.properties` must let through the largest record a
/// body within `server.max_body_bytes` can make, or such a body would get 413.
fn record_size_rule(ctx: &Ctx<'_>, config: &Config) {
    let needed = config.kafka.max_record_bytes;
    let set = config
        .kafka
        .properties
        .iter()
        .find(|(key, _)| key == "message.max.bytes");
    let Some((_, PropertyValue::Plain(value))) = set else {
        return;
    };
    match value.parse::<u64>() {
        Ok(bytes) if bytes >= needed as u64 => {}
        Ok(bytes) => ctx.error(
            "kafka.properties.message.max.bytes",
            format!(
                "{bytes} is below the largest record a body of server.max_body_bytes ({}) can make ({needed} bytes: a dead letter's base64 plus attributes and headers); raise it, lower server.max_body_bytes, or leave it out and hookbridge sets it",
                config.server.max_body_bytes
            ),
        ),
        Err(_) => ctx.error(
            "kafka.properties.message.max.bytes",
            format!("expected a whole number of bytes, found {value:?}"),
        ),
    }
}

fn properties(mut s: Section<'_, '_, '_>) -> Vec<(String, PropertyValue)> {
    let mut out = Vec::new();
    for (path, key, value) in s.rest() {
        if OWNED_KAFKA_PROPERTIES.contains(&key) {
            s.ctx.error(
                path,
                "is set by hookbridge (acks=all, idempotence on, brokers from kafka.brokers, timeouts from kafka.delivery_timeout) and cannot be overridden",
            );
            continue;
        }
        let value = match value {
            Value::String(v) => PropertyValue::Plain(v.clone()),
            Value::Integer(n) => PropertyValue::Plain(n.to_string()),
            Value::Boolean(b) => PropertyValue::Plain(b.to_string()),
            Value::Float(f) => PropertyValue::Plain(f.to_string()),
            Value::Table(_) => match s.ctx.secret(&path, value, "") {
                Some(secret) => PropertyValue::Secret(secret),
                None => continue,
            },
            other => {
                s.ctx.error(
                    path,
                    format!(
                        "expected a string, number, boolean or {{ env/file }} secret, found {}",
                        other.type_str()
                    ),
                );
                continue;
            }
        };
        out.push((key.to_string(), value));
    }
    s.finish();
    out
}

pub(super) fn routes(mut s: Section<'_, '_, '_>) -> Vec<(String, Event)> {
    let mut out = Vec::new();
    for (path, route, value) in s.rest() {
        let Some(slug) = value.as_str() else {
            s.ctx.error(path, "expected an event slug string");
            continue;
        };
        let Some(event) = Event::from_slug(slug) else {
            s.ctx.error(path, unknown_event(slug));
            continue;
        };
        if !route.starts_with('/') || route.contains(['?', '#']) {
            s.ctx.error(
                path,
                "a route is an exact URL path starting with '/', without query",
            );
            continue;
        }
        out.push((route.to_string(), event));
    }
    s.finish();
    out
}

pub(super) fn unknown_event(slug: &str) -> String {
    let known: Vec<_> = Event::ALL.iter().map(|e| e.slug()).collect();
    format!(
        "unknown event {slug:?}; expected one of: {}",
        known.join(", ")
    )
}

pub(super) fn payload(mut s: Section<'_, '_, '_>) -> Option<Payload> {
    let lenient_literals = s.bool("lenient_literals", true);
    let capture_headers = s
        .strings("capture_headers")
        .into_iter()
        .filter_map(|(path, name)| match HeaderName::try_from(name) {
            Ok(h) => Some(h),
            Err(_) => {
                s.ctx.error(path, format!("invalid header name {name:?}"));
                None
            }
        })
        .collect();
    let xml_infer_types = s.bool("xml_infer_types", false);
    let form_json_fields = s.bool("form_json_fields", true);
    let site_pointers = site_pointers(s.table("site_pointers"));
    s.finish();
    Some(Payload {
        lenient_literals,
        capture_headers,
        xml_infer_types,
        form_json_fields,
        site_pointers,
    })
}

fn site_pointers(mut s: Section<'_, '_, '_>) -> SitePointers {
    let mut pointers = SitePointers::default();
    for (path, slug, value) in s.rest() {
        let Some(event) = Event::from_slug(slug) else {
            s.ctx.error(path, unknown_event(slug));
            continue;
        };
        let Some(items) = value.as_array().filter(|a| !a.is_empty()) else {
            s.ctx.error(
                path,
                "expected a non-empty array of JSON pointers, e.g. [\"/site\"]",
            );
            continue;
        };
        let mut list = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.as_str().map(Pointer::parse) {
                Some(Ok(p)) => list.push(p),
                Some(Err(e)) => s.ctx.error(format!("{path}[{i}]"), e.to_string()),
                None => s.ctx.error(format!("{path}[{i}]"), "expected a string"),
            }
        }
        pointers.set(event, list);
    }
    s.finish();
    pointers
}

/// Rules between sections: nesting timeouts, route collisions.
pub(super) fn cross_check(ctx: &Ctx<'_>, config: &Config) {
    let server = &config.server;
    let ack = config.kafka.ack_timeout;
    if server.read_timeout >= ack {
        ctx.error(
            "server.read_timeout",
            format!(
                "must be shorter than kafka.ack_timeout ({}): the timeouts nest",
                humantime::format_duration(ack)
            ),
        );
    }
    if ack >= server.request_timeout {
        ctx.error(
            "kafka.ack_timeout",
            format!(
                "must be shorter than server.request_timeout ({}): the timeouts nest",
                humantime::format_duration(server.request_timeout)
            ),
        );
    }
    record_size_rule(ctx, config);
    if config.dedup.capacity < server.max_inflight {
        ctx.error(
            "dedup.capacity",
            format!(
                "must be at least server.max_inflight ({}): every request in flight holds an entry",
                server.max_inflight
            ),
        );
    }
    // Port 0 asks the system for a free port: two of those never collide.
    if server.listen == server.admin_listen && server.listen.port() != 0 {
        ctx.error("server.admin_listen", "must differ from server.listen");
    }
    for (route, _) in &config.routes {
        let shadowed = route
            .strip_prefix(&server.path_prefix)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(Event::from_slug);
        if let Some(event) = shadowed {
            ctx.error(
                format!("routes.{route:?}"),
                format!("collides with the built-in route for {event} under server.path_prefix"),
            );
        }
    }
}
