//! The config file: TOML in, a validated [`Config`] of domain types out.
//!
//! Reading happens in two steps. `read` walks the TOML table key by key, so that
//! *every* problem is reported with its key path (`credentials[1].scheme: …`), not just
//! the first, and unknown keys are errors. Then cross-field rules (timeouts that must
//! nest, credentials that would be ambiguous, topic names Kafka would refuse) are
//! checked on the result. Nothing here touches the process environment: lookups of
//! `{ env = "VAR" }` go through the function the caller passes in.
//!
//! This module does not decide how the values are used; the domain types it fills in
//! belong to the modules that use them (`auth`, `envelope`, `publish`).

mod credentials;
mod origin;
mod read;
mod sections;
mod spool;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;

use crate::auth::{Credential, Secret};
use crate::envelope::{self, SitePointers};
use crate::everbright::{Environment, Event};
use crate::limit::{Network, Rate};
pub use origin::Origin;
use read::{Ctx, Section};

/// How `{ env = "VAR" }` secrets are looked up: injected, so that tests never touch
/// the process environment.
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Whether `{ env = … }` and `{ file = … }` secret references are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// Read every referenced variable and file (serving, reloading).
    Read,
    /// Check only the form of the references, reading none of them: each stands for a
    /// distinct placeholder value. For checking a config away from the machine that
    /// holds its secrets (`check-config --skip-secrets`).
    Skip,
}

/// The whole validated configuration.
#[derive(Debug)]
pub struct Config {
    /// `[server]`: listeners, limits and timeouts.
    pub server: Server,
    /// `[kafka]`: where and how records are published.
    pub kafka: Kafka,
    /// `[routes]`: exact URL paths mapped to events, besides `{path_prefix}/{event}`.
    pub routes: Vec<(String, Event)>,
    /// `[payload]`: how bodies are read.
    pub payload: Payload,
    /// `[dedup]`: how long, and for how many events, an answer is remembered.
    pub dedup: Dedup,
    /// `[spool]`: where records Kafka could not take in time are kept; `None`: off.
    pub spool: Option<Spool>,
    /// `[[credentials]]`: who may send webhooks; at least one.
    pub credentials: Vec<Credential>,
    /// `rate_limit` of the credentials that have one, by credential name.
    pub rate_limits: Vec<(String, Rate)>,
    /// The secret files the config read (`{ file = … }`), watched for live reload.
    pub secret_files: Vec<PathBuf>,
    /// Where the config was read from (`None` when parsed from a string): what a
    /// live reload reads again.
    pub origin: Option<Origin>,
}

/// `[server]`.
#[derive(Debug, Clone)]
pub struct Server {
    /// The webhook listener.
    pub listen: SocketAddr,
    /// The admin listener: `/metrics`, `/livez`, `/readyz`.
    pub admin_listen: SocketAddr,
    /// Webhooks arrive at `{path_prefix}/{event slug}`; `""` when configured as `/`.
    pub path_prefix: String,
    /// Larger bodies get 413 before any authentication work.
    pub max_body_bytes: usize,
    /// The budget of a whole request, including the Kafka ack.
    pub request_timeout: Duration,
    /// Time to receive the request headers, and again the body (408 when exceeded).
    pub read_timeout: Duration,
    /// Drain time after SIGTERM.
    pub shutdown_grace: Duration,
    /// Concurrent requests; beyond it, 503 at once.
    pub max_inflight: usize,
    /// Open connections; further connections wait in the listen backlog.
    pub max_connections: usize,
    /// Failed authentications per client address before it gets 429 for the rest of
    /// the window; `None`: no limit.
    pub failed_auth_limit: Option<Rate>,
    /// How many leading bits of an IPv6 client address `failed_auth_limit` counts as
    /// one client (64: a /64, what one host or household usually gets).
    pub failed_auth_ipv6_prefix: u8,
    /// How many clients `failed_auth_limit` remembers at once (about 64 bytes each);
    /// beyond it, one with few failures is forgotten to make room.
    pub failed_auth_max_clients: usize,
    /// Peers whose `X-Forwarded-For` names the client (load balancers, ingress).
    pub trusted_proxies: Vec<Network>,
}

/// `[kafka]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Kafka {
    /// The bootstrap broker list.
    pub brokers: String,
    /// Topic of accepted events, with `{environment}` and `{event}`.
    pub topic_template: String,
    /// Topic of dead letters, with `{environment}` and optionally `{event}`.
    pub deadletter_topic_template: String,
    /// No broker ack by then: 503 (the record is then in doubt until its fate is known).
    pub ack_timeout: Duration,
    /// How long librdkafka keeps delivering a record (`message.timeout.ms`): longer than
    /// `ack_timeout`, so a record answered 503 is still retried idempotently, and its
    /// fate known by then.
    pub delivery_timeout: Duration,
    /// CloudEvents Kafka binding mode.
    pub envelope: envelope::Mode,
    /// Passed to librdkafka as-is (values may be secrets).
    pub properties: Vec<(String, PropertyValue)>,
    /// A topic of hookbridge's own for a small record every `heartbeat_interval`, so that
    /// readiness and producer recovery follow the cluster even when no webhook arrives
    /// (`None`: off).
    pub heartbeat_topic: Option<String>,
    /// How often the heartbeat record is sent.
    pub heartbeat_interval: Duration,
    /// The largest record a body of `server.max_body_bytes` can make
    /// ([`envelope::record_limit`]): librdkafka's `message.max.bytes` unless
    /// `kafka.properties` sets it (check-config refuses a smaller value).
    pub max_record_bytes: usize,
}

/// A `[kafka.properties]` value: plain, or a secret resolved from env or file.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyValue {
    /// A value that may be logged.
    Plain(String),
    /// `{ env = … }` or `{ file = … }`: never logged.
    Secret(Secret),
}

/// `[payload]`.
#[derive(Debug, Clone)]
pub struct Payload {
    /// Accept Python-style `True`/`False`/`None` outside strings.
    pub lenient_literals: bool,
    /// Request headers copied onto the Kafka record (lowercase names).
    pub capture_headers: Vec<HeaderName>,
    /// XML text such as `true` or `12` becomes a JSON scalar.
    pub xml_infer_types: bool,
    /// A form field holding a JSON object or array is parsed.
    pub form_json_fields: bool,
    /// JSON pointers tried in order to find the site UUID, per event.
    pub site_pointers: SitePointers,
}

/// `[dedup]`: every copy of an event within the window gets the first copy's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dedup {
    /// How long an acknowledged event's answer is remembered (a signed request's is
    /// kept at least until its signature stops verifying).
    pub window: Duration,
    /// The most events remembered at once; at least `server.max_inflight`.
    pub capacity: usize,
}

/// `[spool]`: the crash-safe spool's directory and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spool {
    /// The directory holding the spool (created if missing; relative paths are
    /// resolved against the config file's directory). One process at a time.
    pub dir: PathBuf,
    /// The bytes of disk the spool may use; beyond it, appends are refused.
    pub max_bytes: u64,
    /// A segment file is closed and a new one started past this size; a segment is
    /// deleted once all its records are forwarded.
    pub segment_bytes: u64,
    /// At shutdown, once the requests in flight are answered, how long the forwarder
    /// may keep forwarding what is left before hookbridge exits anyway.
    pub drain_timeout: Duration,
}

/// Keys hookbridge sets itself; `kafka.properties` may not override them.
pub const OWNED_KAFKA_PROPERTIES: [&str; 6] = [
    "acks",
    "enable.idempotence",
    "bootstrap.servers",
    "metadata.broker.list",
    "message.timeout.ms",
    "delivery.timeout.ms",
];

/// One problem in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key path, e.g. `credentials[0].password`.
    pub path: String,
    /// What is wrong, never including a secret value.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a config file.
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} error{} in config", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Reads and validates the file at `path`. Relative `{ file = … }` paths are
    /// resolved against the file's directory; `env` looks up `{ env = … }` variables.
    /// The config remembers both, for live reload.
    pub fn load(path: &Path, env: Env) -> Result<Config, ConfigErrors> {
        Config::load_with(path, env, Secrets::Read)
    }

    /// [`Config::load`], reading secret references or only checking their form.
    pub fn load_with(path: &Path, env: Env, secrets: Secrets) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                path: String::new(),
                message: format!("cannot read {}: {e}", path.display()),
            }])
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let (config, digests) = Config::parse_with_digests(&text, dir, &*env, secrets)?;
        let fingerprint = origin::combine(
            std::iter::once(origin::file_digest(Some(text.as_bytes()))).chain(digests),
        );
        Ok(Config {
            origin: Some(Origin {
                path: path.to_path_buf(),
                env,
                fingerprint,
            }),
            ..config
        })
    }

    /// Parses and validates config text.
    pub fn parse(
        text: &str,
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigErrors> {
        Config::parse_with_digests(text, base_dir, env, Secrets::Read).map(|(config, _)| config)
    }

    /// [`Config::parse`], also returning the digests of the secret files as read.
    fn parse_with_digests(
        text: &str,
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        secrets: Secrets,
    ) -> Result<(Config, Vec<[u8; 32]>), ConfigErrors> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigErrors(vec![ConfigError {
                path: String::new(),
                message: format!("invalid TOML: {}", e.to_string().trim_end()),
            }])
        })?;
        let ctx = Ctx::new(env, base_dir, secrets);
        let mut root = Section::new(&ctx, "", Some(&table));
        let server = sections::server(root.table("server"));
        let kafka = sections::kafka(root.table("kafka"));
        let routes = sections::routes(root.table("routes"));
        let payload = sections::payload(root.table("payload"));
        let dedup = sections::dedup(root.table("dedup"));
        let spool = table
            .contains_key("spool")
            .then(|| spool::read(root.table("spool")));
        let (credentials, rate_limits) = credentials::read(&mut root);
        root.finish();

        // Cross-field rules run even when some keys had errors, so that one run reports
        // as much as possible; values that failed to parse fall back to their defaults.
        // `Some(None)`: `[spool]` is there but invalid.
        let config = match (server, kafka, payload, dedup, spool) {
            (
                Some(server),
                Some(mut kafka),
                Some(payload),
                Some(dedup),
                spool @ (None | Some(Some(_))),
            ) => {
                kafka.max_record_bytes = envelope::record_limit(server.max_body_bytes);
                let config = Config {
                    server,
                    kafka,
                    routes,
                    payload,
                    dedup,
                    spool: spool.flatten(),
                    credentials,
                    rate_limits,
                    secret_files: Vec::new(),
                    origin: None,
                };
                sections::cross_check(&ctx, &config);
                spool::cross_check(&ctx, &config);
                credentials::cross_check(&ctx, &config);
                Some(config)
            }
            _ => None,
        };
        let (errors, files) = ctx.into_parts();
        match config {
            Some(config) if errors.is_empty() => {
                let (secret_files, digests) = files.into_iter().unzip();
                Ok((
                    Config {
                        secret_files,
                        ..config
                    },
                    digests,
                ))
            }
            _ => Err(ConfigErrors(errors)),
        }
    }

    /// The topic of accepted events for `environment` and `event`.
    pub fn topic(&self, environment: Environment, event: Event) -> String {
        render_topic(&self.kafka.topic_template, environment, event)
    }

    /// The dead-letter topic for `environment` (and `event`, when the template uses it).
    pub fn deadletter_topic(&self, environment: Environment, event: Event) -> String {
        render_topic(&self.kafka.deadletter_topic_template, environment, event)
    }

    /// Every (environment, event) some credential may deliver: each credential's
    /// events on its environment; sorted, without repeats.
    pub fn deliverable(&self) -> Vec<(Environment, Event)> {
        let mut pairs: Vec<(Environment, Event)> = self
            .credentials
            .iter()
            .flat_map(|c| c.events.iter().map(|e| (c.environment, e)))
            .collect();
        pairs.sort_by_key(|(environment, event)| (*environment as usize, *event));
        pairs.dedup();
        pairs
    }

    /// The dead-letter topics of [`Config::deliverable`]; sorted, without repeats.
    pub fn deadletter_topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self
            .deliverable()
            .into_iter()
            .map(|(environment, event)| self.deadletter_topic(environment, event))
            .collect();
        topics.sort();
        topics.dedup();
        topics
    }

    /// Every topic this config can write to: each credential's events on its
    /// environment's event and dead-letter topics, then the heartbeat topic; sorted,
    /// without repeats.
    pub fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self
            .deliverable()
            .into_iter()
            .map(|(environment, event)| self.topic(environment, event))
            .chain(self.deadletter_topics())
            .chain(self.kafka.heartbeat_topic.clone())
            .collect();
        topics.sort();
        topics.dedup();
        topics
    }

    /// How this config turns bodies into records (`[payload]`, `kafka.envelope` and
    /// the data limit of `server.max_body_bytes`).
    pub fn envelope_settings(&self) -> envelope::Settings {
        envelope::Settings {
            mode: self.kafka.envelope,
            lenient_literals: self.payload.lenient_literals,
            site_pointers: self.payload.site_pointers.clone(),
            xml: envelope::xml::XmlOptions {
                infer_types: self.payload.xml_infer_types,
            },
            form: envelope::form::FormOptions {
                json_fields: self.payload.form_json_fields,
            },
            max_data_bytes: envelope::data_limit(self.server.max_body_bytes),
        }
    }
}

fn render_topic(template: &str, environment: Environment, event: Event) -> String {
    template
        .replace("{environment}", environment.as_str())
        .replace("{event}", event.slug())
}

#[cfg(test)]
mod tests;
