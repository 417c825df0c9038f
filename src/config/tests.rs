use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::auth::Scheme;
use crate::everbright::EventSet;

const MINIMAL: &str = r#"
[kafka]
brokers = "localhost:9092"

[[credentials]]
name = "engine"
scheme = "token"
value = "s3cret"
"#;

fn env() -> impl Fn(&str) -> Option<String> {
    let vars: HashMap<&str, &str> = [("HB_TOKEN", "from-env"), ("HB_SASL", "sasl-pw")].into();
    move |k| vars.get(k).map(|v| v.to_string())
}

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(text, Path::new("/nonexistent"), &env())
}

fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("config unexpectedly valid:\n{text}"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

fn assert_has(errors: &[String], needle: &str) {
    assert!(
        errors.iter().any(|e| e.contains(needle)),
        "no error contains {needle:?}; errors: {errors:#?}"
    );
}

#[test]
fn minimal_config_gets_the_documented_defaults() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.server.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(c.server.admin_listen.to_string(), "0.0.0.0:9090");
    assert_eq!(c.server.path_prefix, "/everbright");
    assert_eq!(c.server.max_body_bytes, 1_048_576);
    assert_eq!(c.server.request_timeout, Duration::from_secs(15));
    assert_eq!(c.server.read_timeout, Duration::from_secs(4));
    assert_eq!(c.server.shutdown_grace, Duration::from_secs(20));
    assert_eq!(c.server.max_inflight, 4096);
    assert_eq!(c.server.max_connections, 8192);
    assert_eq!(c.kafka.ack_timeout, Duration::from_secs(5));
    assert_eq!(c.kafka.delivery_timeout, Duration::from_secs(120));
    assert_eq!(c.kafka.envelope, envelope::Mode::Structured);
    assert_eq!(c.dedup.window, Duration::from_secs(600));
    assert_eq!(c.dedup.capacity, 100_000);
    assert!(c.payload.lenient_literals);
    assert!(c.payload.form_json_fields);
    assert!(!c.payload.xml_infer_types);
    assert_eq!(
        c.topic(Environment::Production, Event::MilestoneStatusChange),
        "everbright.production.milestone-status-change"
    );
    assert_eq!(
        c.deadletter_topic(Environment::Test, Event::SiteArchived),
        "everbright.test.deadletter"
    );
    let cred = &c.credentials[0];
    assert_eq!(cred.environment, Environment::Production);
    assert_eq!(cred.events, EventSet::ALL);
    let Scheme::Token(t) = &cred.scheme else {
        panic!("token expected")
    };
    assert_eq!(t.header, http::header::AUTHORIZATION);
    assert_eq!(t.prefix, "Bearer ");
    assert!(t.verify(b"Bearer s3cret"));
}

#[test]
fn every_error_is_reported_with_its_key_path() {
    let errs = errors(
        r#"
[server]
listen = "nowhere"
max_body_bytes = 0
request_timeout = "soon"
bogus = 1

[kafka]
topic_template = "events.{environment}.{evnt}"
envelope = "fancy"
[kafka.properties]
acks = "1"
"compression.type" = "lz4"

[payload]
capture_headers = ["Authorization", "bad header"]

[[credentials]]
name = "Bad Name"
scheme = "header"
environment = "staging"
events = ["milestone-status-change", "no-such-event"]

[[credentials]]
name = "b"
scheme = "magic"
"#,
    );
    for needle in [
        "server.listen: invalid socket address \"nowhere\"",
        "server.max_body_bytes: must be between 1 and",
        "server.request_timeout: invalid duration \"soon\"",
        "server.bogus: unknown key",
        "kafka.brokers: is required",
        "kafka.topic_template: only the placeholders",
        "kafka.envelope: expected \"structured\" or \"binary\"",
        "kafka.properties.acks: is set by hookbridge",
        "payload.capture_headers[1]: invalid header name",
        "credentials[0].name: \"Bad Name\" must be",
        "credentials[0].environment: expected \"production\" or \"test\"",
        "credentials[0].events[1]: unknown event \"no-such-event\"",
        "credentials[0].header: is required",
        "credentials[0].value: is required",
        "credentials[1].scheme: unknown scheme \"magic\"",
    ] {
        assert_has(&errs, needle);
    }
}

#[test]
fn syntax_errors_and_missing_credentials() {
    assert_has(&errors("[server"), "invalid TOML");
    assert_has(
        &errors("[kafka]\nbrokers = \"b:9092\"\n"),
        "credentials: at least one [[credentials]] table is required",
    );
}

#[test]
fn the_dedup_window_and_capacity_are_bounded() {
    let with = |dedup: &str| MINIMAL.replace("[kafka]", &format!("[dedup]\n{dedup}\n[kafka]"));
    let c = parse(&with("window = \"1h\"\ncapacity = 5000")).unwrap();
    assert_eq!(
        (c.dedup.window, c.dedup.capacity),
        (Duration::from_secs(3600), 5000)
    );
    assert_has(
        &errors(&with("window = \"0s\"")),
        "dedup.window: must be greater than zero",
    );
    assert_has(
        &errors(&with("window = \"25h\"")),
        "dedup.window: must be at most 24h",
    );
    assert_has(
        &errors(&with("capacity = 0")),
        "dedup.capacity: must be between 1 and 10000000, found 0",
    );
    assert_has(
        &errors(&with("capacity = 100")),
        "dedup.capacity: must be at least server.max_inflight (4096): every request in flight holds an entry",
    );
    assert_has(&errors(&with("ttl = \"1m\"")), "dedup.ttl");
}

#[test]
fn timeouts_must_nest() {
    let text = MINIMAL.replace(
        "[kafka]",
        "[server]\nrequest_timeout = \"5s\"\nread_timeout = \"6s\"\n[kafka]\nack_timeout = \"5s\"",
    );
    let errs = errors(&text);
    assert_has(
        &errs,
        "server.read_timeout: must be shorter than kafka.ack_timeout (5s)",
    );
    assert_has(
        &errs,
        "kafka.ack_timeout: must be shorter than server.request_timeout (5s)",
    );
    let kafka = |lines: &str| errors(&MINIMAL.replace("[kafka]", &format!("[kafka]\n{lines}")));
    assert_has(
        &kafka("ack_timeout = \"5s\"\ndelivery_timeout = \"5s\""),
        "kafka.delivery_timeout: must be longer than kafka.ack_timeout (5s): a record answered 503 is delivered until then",
    );
    assert_has(
        &kafka("delivery_timeout = \"2h\""),
        "kafka.delivery_timeout: must be at most 1h",
    );
}

#[test]
fn secrets_come_from_literals_env_files_and_arrays() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "from-file\n").unwrap();
    let text = r#"
[kafka]
brokers = "b:9092"
[kafka.properties]
"sasl.password" = { env = "HB_SASL" }
"linger.ms" = 10

[[credentials]]
name = "rotating"
scheme = "header"
header = "X-Api-Key"
value = ["lit-secret-1", { env = "HB_TOKEN" }, { file = "pw" }]
"#;
    let c = Config::parse(text, dir.path(), &env()).unwrap();
    let Scheme::Header(h) = &c.credentials[0].scheme else {
        panic!()
    };
    for accepted in ["lit-secret-1", "from-env", "from-file"] {
        assert!(h.verify(accepted.as_bytes()), "{accepted}");
    }
    assert!(!h.verify(b"from-file\n"));
    assert_eq!(c.secret_files, vec![dir.path().join("pw")]);
    let printed = format!("{c:?}");
    for secret in ["lit-secret-1", "from-env", "from-file", "sasl-pw"] {
        assert!(!printed.contains(secret), "Debug output leaks {secret}");
    }
    let prop = |key: &str| {
        c.kafka
            .properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    };
    assert!(
        matches!(prop("sasl.password"), Some(PropertyValue::Secret(s)) if s.expose() == b"sasl-pw")
    );
    assert!(matches!(prop("linger.ms"), Some(PropertyValue::Plain(v)) if v == "10"));
}

#[test]
fn unresolvable_secrets_are_errors() {
    let text = r#"
[kafka]
brokers = "b:9092"
[[credentials]]
name = "a"
scheme = "basic"
username = "u"
password = [{ env = "NOPE" }, { file = "missing" }, { vault = "x" }, ""]
"#;
    let errs = errors(text);
    assert_has(
        &errs,
        "credentials[0].password[0]: environment variable NOPE is not set",
    );
    assert_has(
        &errs,
        "credentials[0].password[1]: cannot read /nonexistent/missing",
    );
    assert_has(&errs, "credentials[0].password[2].vault: unknown key");
    assert_has(
        &errs,
        "credentials[0].password[3]: is empty: the value (credential \"a\")",
    );
    assert!(!errs.iter().any(|e| e.contains("basic") && e.contains("u:")));
}

#[test]
fn credentials_a_request_could_not_tell_apart_are_refused() {
    let text = r#"
[kafka]
brokers = "b:9092"
[[credentials]]
name = "a"
scheme = "none"
events = ["site-archived", "stage-transition"]
[[credentials]]
name = "b"
scheme = "none"
events = ["stage-transition"]
[[credentials]]
name = "c"
scheme = "none"
events = ["proposal-action"]
[[credentials]]
name = "d"
scheme = "basic"
username = "everbright"
password = "x"
[[credentials]]
name = "a"
scheme = "basic"
username = "everbright"
password = "y"
environment = "test"
"#;
    let errs = errors(text);
    assert_has(
        &errs,
        "credentials[1]: cannot be told apart from credentials[0] (\"a\")",
    );
    assert_has(
        &errs,
        "credentials[4]: cannot be told apart from credentials[3] (\"d\")",
    );
    assert_has(
        &errs,
        "credentials[4].name: \"a\" is already used by credentials[0]",
    );
    assert!(
        !errs.iter().any(|e| e.starts_with("credentials[2]")),
        "{errs:#?}"
    );
}

#[test]
fn same_header_different_values_is_fine_and_same_value_is_not() {
    let text = |second: &str| {
        format!(
            r#"
[kafka]
brokers = "b:9092"
[[credentials]]
name = "prod"
scheme = "header"
header = "X-Api-Key"
value = "one"
[[credentials]]
name = "test"
environment = "test"
scheme = "header"
header = "X-Api-Key"
value = "{second}"
"#
        )
    };
    assert!(parse(&text("two")).is_ok());
    assert_has(
        &errors(&text("one")),
        "credentials[1]: cannot be told apart",
    );
}

#[test]
fn credential_headers_cannot_be_captured() {
    let text = r#"
[kafka]
brokers = "b:9092"
[payload]
capture_headers = ["X-Tenant", "X-Api-Key", "cookie"]
[[credentials]]
name = "a"
scheme = "header"
header = "x-api-key"
value = "v"
"#;
    let errs = errors(text);
    assert_has(
        &errs,
        "payload.capture_headers[1]: x-api-key carries credentials",
    );
    assert_has(
        &errs,
        "payload.capture_headers[2]: cookie carries credentials",
    );
    assert!(!errs.iter().any(|e| e.contains("[0]")));
}

#[test]
fn routes_and_site_pointers() {
    let text = MINIMAL.replace(
        "[kafka]",
        r#"[routes]
"/hooks/sighten/milestones" = "milestone-status-change"
"/everbright/site-archived" = "site-archived"
"/x" = "nope"
"relative" = "stage-transition"
[payload.site_pointers]
milestone-status-change = ["/job/site"]
site-archived = ["site"]
bogus = ["/a"]
[kafka]"#,
    );
    let errs = errors(&text);
    assert_has(
        &errs,
        "routes.\"/everbright/site-archived\": collides with the built-in route",
    );
    assert_has(&errs, "routes.\"/x\": unknown event \"nope\"");
    assert_has(&errs, "routes.relative: a route is an exact URL path");
    assert_has(
        &errs,
        "payload.site_pointers.site-archived[0]: invalid JSON pointer \"site\"",
    );
    assert_has(&errs, "payload.site_pointers.bogus: unknown event");

    let ok = MINIMAL.replace(
        "[kafka]",
        "[routes]\n\"/hooks/m\" = \"milestone-status-change\"\n[payload.site_pointers]\nmilestone-status-change = [\"/job/site\"]\n[kafka]",
    );
    let c = parse(&ok).unwrap();
    assert_eq!(
        c.routes,
        vec![("/hooks/m".to_string(), Event::MilestoneStatusChange)]
    );
    let pointers = c.payload.site_pointers.get(Event::MilestoneStatusChange);
    assert_eq!(
        pointers.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        ["/job/site"]
    );
    assert_eq!(
        c.payload
            .site_pointers
            .get(Event::SiteArchived)
            .last()
            .unwrap()
            .as_str(),
        "/uuid"
    );
}

#[test]
fn topic_templates_must_render_valid_names() {
    let errs = errors(&MINIMAL.replace(
        "brokers = \"localhost:9092\"",
        "brokers = \"b:9092\"\ntopic_template = \"everbright/{environment}\"\ndeadletter_topic_template = \"dl {event}\"",
    ));
    assert_has(&errs, "kafka.topic_template: must contain {event}");
    assert_has(
        &errs,
        "kafka.deadletter_topic_template: renders the invalid topic name \"dl contract-recipient-status-change\"",
    );
}

#[test]
fn every_scheme_field_is_checked() {
    let text = r#"
[kafka]
brokers = "b:9092"
[[credentials]]
name = "n"
scheme = "none"
value = "stray"
[[credentials]]
name = "b"
scheme = "basic"
username = "a:b"
"#;
    let errs = errors(text);
    assert_has(&errs, "credentials[0].value: unknown key");
    assert_has(
        &errs,
        "credentials[1].username: must be non-empty and must not contain ':'",
    );
    assert_has(&errs, "credentials[1].password: is required");
}

#[test]
fn signed_schemes_parse_with_their_defaults() {
    let text = r#"
[kafka]
brokers = "b:9092"
[[credentials]]
name = "engine-hmac"
scheme = "hmac-sha256"
client_id = "everbright-prod"
client_secret = ["new-secret", "old-secret"]
timestamp_header = "X-Timestamp"
[[credentials]]
name = "sw"
scheme = "hmac-sha256"
preset = "standard-webhooks"
client_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
[[credentials]]
name = "aws"
scheme = "aws-sigv4"
access_key_id = "AKIDEXAMPLE"
secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
region = "us-east-1"
service = "execute-api"
tolerance = "2m"
"#;
    let c = parse(text).unwrap();
    let Scheme::Hmac(h) = &c.credentials[0].scheme else {
        panic!("hmac expected")
    };
    assert_eq!(h.tolerance(), Duration::from_secs(300));
    let (header, id) = h.client_id().unwrap();
    assert_eq!(
        (header.as_str(), id),
        ("x-client-id", &b"everbright-prod"[..])
    );
    assert_eq!(h.selector_header().as_str(), "x-signature");
    let Scheme::Hmac(sw) = &c.credentials[1].scheme else {
        panic!()
    };
    assert_eq!(sw.selector_header().as_str(), "webhook-signature");
    let Scheme::SigV4(v) = &c.credentials[2].scheme else {
        panic!()
    };
    assert_eq!(v.access_key_id(), "AKIDEXAMPLE");
    assert_eq!(v.tolerance(), Duration::from_secs(120));
}

#[test]
fn signed_scheme_errors_name_their_keys() {
    let text = r#"
[kafka]
brokers = "b:9092"
[[credentials]]
name = "a"
scheme = "hmac-sha256"
preset = "standard-webhooks"
client_secret = "not-whsec"
encoding = "base64"
[[credentials]]
name = "b"
scheme = "hmac-sha256"
client_secret = "s"
encoding = "base32"
preset = "gitlab"
[[credentials]]
name = "c"
scheme = "aws-sigv4"
access_key_id = "AKID EXAMPLE"
secret_access_key = "s"
region = "us-east-1"
[[credentials]]
name = "d"
scheme = "hmac-sha256"
"#;
    let errs = errors(text);
    assert_has(
        &errs,
        "credentials[0].encoding: cannot be combined with `preset`",
    );
    assert_has(
        &errs,
        "credentials[1].encoding: expected \"hex\" or \"base64\"",
    );
    assert_has(
        &errs,
        "credentials[1].preset: expected \"standard-webhooks\" or \"github\"",
    );
    assert_has(&errs, "credentials[2].service: is required");
    assert_has(&errs, "credentials[3].client_secret: is required");

    let whsec = errors(
        "[kafka]\nbrokers = \"b:9092\"\n[[credentials]]\nname = \"a\"\nscheme = \"hmac-sha256\"\npreset = \"standard-webhooks\"\nclient_secret = \"not-whsec\"\n",
    );
    assert_has(&whsec, "credentials[0].client_secret:");
    let akid = errors(
        "[kafka]\nbrokers = \"b:9092\"\n[[credentials]]\nname = \"c\"\nscheme = \"aws-sigv4\"\naccess_key_id = \"AKID EXAMPLE\"\nsecret_access_key = \"s\"\nregion = \"us-east-1\"\nservice = \"execute-api\"\n",
    );
    assert_has(&akid, "credentials[0].access_key_id:");
}

#[test]
fn org_specific_hmac_credentials_are_told_apart_by_client_id() {
    let cred = |name: &str, id: Option<&str>| {
        let id = id
            .map(|i| format!("client_id = \"{i}\"\n"))
            .unwrap_or_default();
        format!(
            "[[credentials]]\nname = \"{name}\"\nscheme = \"hmac-sha256\"\n{id}client_secret = \"s-{name}\"\n"
        )
    };
    let base = "[kafka]\nbrokers = \"b:9092\"\n";
    assert!(
        parse(&format!(
            "{base}{}{}",
            cred("acme", Some("acme")),
            cred("sunco", Some("sunco"))
        ))
        .is_ok()
    );
    assert_has(
        &errors(&format!(
            "{base}{}{}",
            cred("acme", Some("same")),
            cred("sunco", Some("same"))
        )),
        "credentials[1]: cannot be told apart from credentials[0] (\"acme\") for some events: give them different client ids",
    );
    assert_has(
        &errors(&format!(
            "{base}{}{}",
            cred("acme", None),
            cred("sunco", None)
        )),
        "credentials[1]: cannot be told apart",
    );
}

#[test]
fn skipped_secrets_are_checked_for_form_but_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookbridge.toml");
    let text = r#"
[kafka]
brokers = "b:9092"
[[credentials]]
name = "sw"
scheme = "hmac-sha256"
preset = "standard-webhooks"
client_secret = { file = "/var/run/secrets/absent" }
[[credentials]]
name = "one"
scheme = "header"
header = "X-Api-Key"
value = { env = "UNSET_ONE" }
[[credentials]]
name = "two"
scheme = "header"
header = "X-Api-Key"
value = { env = "UNSET_TWO" }
"#;
    std::fs::write(&path, text).unwrap();
    let looked_up = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = looked_up.clone();
    let env: Env = Arc::new(move |name: &str| {
        seen.lock().unwrap().push(name.to_string());
        None
    });
    let read = Config::load_with(&path, env.clone(), Secrets::Read).unwrap_err();
    assert_eq!(read.0.len(), 3, "{read}");
    looked_up.lock().unwrap().clear();
    let skipped = Config::load_with(&path, env, Secrets::Skip).unwrap();
    assert_eq!(skipped.credentials.len(), 3);
    assert!(looked_up.lock().unwrap().is_empty(), "an env var was read");
    assert!(skipped.secret_files.is_empty(), "a secret file was read");

    let malformed = text.replace(
        r#"{ env = "UNSET_ONE" }"#,
        r#"{ env = "UNSET_ONE", file = "x" }"#,
    );
    std::fs::write(&path, malformed).unwrap();
    let errors = Config::load_with(&path, Arc::new(|_: &str| None), Secrets::Skip).unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors}");
    assert_eq!(errors.0[0].path, "credentials[1].value");
}

#[test]
fn every_broker_needs_a_host_and_a_port() {
    let with = |brokers: &str| MINIMAL.replace("localhost:9092", brokers);
    for good in [
        "kafka:9092",
        "a:9092, b:9093",
        "10.0.0.1:9092",
        "[::1]:9092",
        "SSL://kafka:9093",
    ] {
        assert!(parse(&with(good)).is_ok(), "{good}");
    }
    for bad in [
        "localhost",
        "kafka:",
        ":9092",
        "a:9092,b",
        "kafka:0",
        "kafka:99999",
        " ",
    ] {
        let errors = errors(&with(bad));
        assert_has(&errors, "kafka.brokers:");
    }
}

#[test]
fn message_max_bytes_follows_max_body_bytes_and_refuses_a_smaller_one() {
    let c = parse(MINIMAL).unwrap();
    // The default body limit: a 1 MiB dead letter in base64 is 1,398,104 bytes.
    assert_eq!(c.kafka.max_record_bytes, envelope::record_limit(1_048_576));
    assert!(c.kafka.max_record_bytes > 1_398_104);
    let small = MINIMAL.replace(
        "brokers = \"localhost:9092\"",
        "brokers = \"localhost:9092\"\n[kafka.properties]\n\"message.max.bytes\" = 1000000",
    );
    assert_has(
        &errors(&small),
        "kafka.properties.message.max.bytes: 1000000 is below the largest record a body of server.max_body_bytes (1048576) can make",
    );
    let fitting = small.replace("[kafka]", "[server]\nmax_body_bytes = 500000\n[kafka]");
    assert!(parse(&fitting).is_ok());
    let words = small.replace("1000000", "\"lots\"");
    assert_has(&errors(&words), "expected a whole number of bytes");
}

#[test]
fn rate_limits_and_trusted_proxies_are_read_and_checked() {
    let text = MINIMAL
        .replace(
            "[kafka]",
            "[server]\nfailed_auth_limit = \"20/m\"\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.1\"]\n[kafka]",
        )
        .replace("scheme = \"token\"", "rate_limit = \"50/s\"\nscheme = \"token\"");
    let c = parse(&text).unwrap();
    assert_eq!(
        c.server.failed_auth_limit.map(|r| r.to_string()),
        Some("20/m".into())
    );
    assert_eq!(c.server.trusted_proxies.len(), 2);
    assert_eq!(c.rate_limits.len(), 1);
    assert_eq!(c.rate_limits[0].0, "engine");
    assert_eq!(c.rate_limits[0].1.to_string(), "50/s");
    let defaults = parse(MINIMAL).unwrap();
    assert_eq!(defaults.server.failed_auth_limit, None);
    assert!(defaults.server.trusted_proxies.is_empty() && defaults.rate_limits.is_empty());

    let wrong = text
        .replace("\"20/m\"", "\"20/h\"")
        .replace("\"192.0.2.1\"", "\"192.0.2.1/40\"")
        .replace("\"50/s\"", "\"fast\"");
    let errs = errors(&wrong);
    assert_has(
        &errs,
        "server.failed_auth_limit: expected \"N/s\" or \"N/m\"",
    );
    assert_has(
        &errs,
        "server.trusted_proxies[1]: expected an IP address or CIDR block",
    );
    assert_has(
        &errs,
        "credentials[0].rate_limit: expected \"N/s\" or \"N/m\"",
    );
}

#[test]
fn a_secret_error_names_the_credential_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "\n").unwrap();
    let text = r#"
[kafka]
brokers = "b:9092"
[[credentials]]
name = "engine-header"
scheme = "header"
header = "X-Api-Key"
value = { file = "token" }
"#;
    let errs: Vec<String> = Config::parse(text, dir.path(), &|_| None)
        .unwrap_err()
        .0
        .iter()
        .map(ToString::to_string)
        .collect();
    let file = dir.path().join("token");
    let expected = format!(
        "credentials[0].value: is empty: file {} (credential \"engine-header\")",
        file.display()
    );
    assert!(errs.contains(&expected), "{errs:?}");
}
