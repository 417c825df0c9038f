//! The standard `OTEL_*` environment variables, read through an injected lookup into
//! [`Settings`], with every problem reported by variable name.
//!
//! Tracing is off unless the environment asks for it: an OTLP endpoint
//! (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or
//! `OTEL_TRACES_EXPORTER=otlp` turns it on; `OTEL_TRACES_EXPORTER=none` and
//! `OTEL_SDK_DISABLED=true` keep it off whatever else is set. When it is off no other
//! variable is read, so a stray one cannot stop a deployment that does not trace. What
//! the values mean is the OpenTelemetry specification's ("Environment Variable
//! Specification" and "OTLP Exporter Configuration"); only the OTLP/HTTP protobuf
//! protocol is offered. Header values and key files are secrets: neither is ever
//! shown in an error or a log line.

use std::fmt;
use std::time::Duration;

use percent_encoding::percent_decode_str;

/// How a variable is looked up (the process environment in `main`, a map in tests).
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Where the traces go when only `OTEL_TRACES_EXPORTER=otlp` is set: a collector on
/// this host, as the specification's default.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4318/v1/traces";

/// The resource's `service.name` unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES`
/// names it.
pub const DEFAULT_SERVICE_NAME: &str = "hookbridge";

/// What the trace exporter is configured with.
#[derive(Clone, PartialEq)]
pub struct Settings {
    /// The full URL spans are posted to (`…/v1/traces`).
    pub endpoint: String,
    /// Extra request headers (e.g. an API key): values are secrets.
    pub headers: Vec<(String, String)>,
    /// How long one export request may take.
    pub timeout: Duration,
    /// Compress request bodies with gzip.
    pub gzip: bool,
    /// PEM file contents of the CA certificates that verify the collector's TLS
    /// certificate (besides the system's).
    pub certificate: Option<Vec<u8>>,
    /// PEM certificate chain and PKCS#8 key for mutual TLS: the key is a secret.
    pub client_identity: Option<(Vec<u8>, Vec<u8>)>,
    /// The resource's `service.name`.
    pub service_name: String,
    /// Further resource attributes (`OTEL_RESOURCE_ATTRIBUTES`), `service.name` excluded.
    pub resource: Vec<(String, String)>,
    /// Which traces are recorded.
    pub sampler: Sampler,
    /// How finished spans are queued and batched.
    pub batch: Batch,
}

/// `OTEL_TRACES_SAMPLER` with its `OTEL_TRACES_SAMPLER_ARG`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    /// `always_on`.
    AlwaysOn,
    /// `always_off`.
    AlwaysOff,
    /// `traceidratio`: this fraction of traces, by trace id.
    Ratio(f64),
    /// `parentbased_*`: the caller's decision when a `traceparent` came with the request,
    /// else the inner sampler's.
    ParentBased(Root),
}

/// The sampler of a trace hookbridge starts (no caller's `traceparent`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Root {
    /// `parentbased_always_on` (the default).
    AlwaysOn,
    /// `parentbased_always_off`.
    AlwaysOff,
    /// `parentbased_traceidratio`.
    Ratio(f64),
}

/// `OTEL_BSP_*`: the batch span processor's queue and schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// Finished spans waiting for export; beyond it, new spans are dropped.
    pub max_queue_size: usize,
    /// The pause between two exports.
    pub schedule_delay: Duration,
    /// Spans per export request (at most `max_queue_size`).
    pub max_export_batch_size: usize,
    /// How long one export may take, retries included.
    pub export_timeout: Duration,
}

impl Default for Batch {
    fn default() -> Batch {
        Batch {
            max_queue_size: 2048,
            schedule_delay: Duration::from_millis(5000),
            max_export_batch_size: 512,
            export_timeout: Duration::from_millis(30_000),
        }
    }
}

/// One variable with a value hookbridge cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The variable's name.
    pub variable: &'static str,
    /// What is wrong (never the value of a secret).
    pub message: String,
}

/// Every problem found in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} error{} in the OTEL_* environment",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.0 {
            write!(f, "\n  {}: {}", p.variable, p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Settings")
            .field("endpoint", &self.endpoint)
            .field("headers", &names)
            .field("timeout", &self.timeout)
            .field("gzip", &self.gzip)
            .field("certificate", &self.certificate.is_some())
            .field("client_identity", &self.client_identity.is_some())
            .field("service_name", &self.service_name)
            .field("resource", &self.resource)
            .field("sampler", &self.sampler)
            .field("batch", &self.batch)
            .finish()
    }
}

impl Settings {
    /// Reads the environment through `lookup`: `Ok(None)` when tracing is off.
    pub fn from_env(lookup: Lookup<'_>) -> Result<Option<Settings>, Problems> {
        let mut env = Env {
            lookup,
            problems: Vec::new(),
        };
        if !env.enabled() {
            return if env.problems.is_empty() {
                Ok(None)
            } else {
                Err(Problems(env.problems))
            };
        }
        let (service_name, resource) = env.resource();
        let settings = Settings {
            endpoint: env.endpoint(),
            headers: env.headers(),
            timeout: env
                .millis(&[
                    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                    "OTEL_EXPORTER_OTLP_TIMEOUT",
                ])
                .unwrap_or(Duration::from_secs(10)),
            gzip: env.gzip(),
            certificate: env.file(&[
                "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
            ]),
            client_identity: env.client_identity(),
            service_name,
            resource,
            sampler: env.sampler(),
            batch: env.batch(),
        };
        env.protocol();
        if env.problems.is_empty() {
            Ok(Some(settings))
        } else {
            Err(Problems(env.problems))
        }
    }

    /// The endpoint without user information, for logs: `scheme://host[:port]/path`.
    pub fn shown_endpoint(&self) -> String {
        match self.endpoint.parse::<http::Uri>() {
            Ok(uri) => format!(
                "{}://{}{}{}",
                uri.scheme_str().unwrap_or("http"),
                uri.host().unwrap_or(""),
                uri.port().map_or(String::new(), |p| format!(":{p}")),
                uri.path()
            ),
            Err(_) => String::new(),
        }
    }
}

/// The lookup, and the problems found so far.
struct Env<'a> {
    lookup: Lookup<'a>,
    problems: Vec<Problem>,
}

impl Env<'_> {
    /// The first of `names` that is set and not empty, with its name.
    fn first(&self, names: &[&'static str]) -> Option<(&'static str, String)> {
        names.iter().find_map(|name| {
            (self.lookup)(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (*name, v.trim().to_string()))
        })
    }

    fn problem(&mut self, variable: &'static str, message: impl Into<String>) {
        self.problems.push(Problem {
            variable,
            message: message.into(),
        });
    }

    /// Whether traces are exported at all.
    fn enabled(&mut self) -> bool {
        if let Some((name, value)) = self.first(&["OTEL_SDK_DISABLED"]) {
            match value.to_ascii_lowercase().as_str() {
                "true" => return false,
                "false" => {}
                _ => self.problem(name, "must be true or false"),
            }
        }
        let endpoint = self
            .first(&[
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ])
            .is_some();
        match self.first(&["OTEL_TRACES_EXPORTER"]) {
            None => endpoint,
            Some((_, value)) if value == "otlp" => true,
            Some((_, value)) if value == "none" => false,
            Some((name, value)) => {
                self.problem(
                    name,
                    format!("{value:?} is not supported: use otlp (or none to turn traces off)"),
                );
                false
            }
        }
    }

    /// The traces URL: the signal's own variable as it is, else the base endpoint with
    /// `/v1/traces` appended, else the default.
    fn endpoint(&mut self) -> String {
        let (name, url) = match self.first(&["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]) {
            Some(found) => found,
            None => match self.first(&["OTEL_EXPORTER_OTLP_ENDPOINT"]) {
                Some((name, base)) => (name, format!("{}/v1/traces", base.trim_end_matches('/'))),
                None => return DEFAULT_ENDPOINT.to_string(),
            },
        };
        let valid = url.parse::<http::Uri>().is_ok_and(|uri| {
            matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some()
        });
        if !valid {
            self.problem(name, "must be an http:// or https:// URL");
        }
        url
    }

    /// Only OTLP over HTTP with protobuf bodies is offered.
    fn protocol(&mut self) {
        let names = [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ];
        if let Some((name, value)) = self.first(&names)
            && value != "http/protobuf"
        {
            self.problem(
                name,
                format!(
                    "{value:?} is not supported: hookbridge exports http/protobuf (a collector's port 4318)"
                ),
            );
        }
    }

    /// `key=value` pairs, comma-separated, values percent-encoded; never echoed.
    fn headers(&mut self) -> Vec<(String, String)> {
        let names = [
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ];
        let Some((name, value)) = self.first(&names) else {
            return Vec::new();
        };
        let pairs = pairs(&value);
        let valid = pairs.as_ref().is_some_and(|pairs| {
            pairs.iter().all(|(k, v)| {
                http::HeaderName::from_bytes(k.as_bytes()).is_ok()
                    && http::HeaderValue::from_str(v).is_ok()
            })
        });
        if !valid {
            self.problem(
                name,
                "must be name=value pairs separated by commas, with valid header names and values",
            );
        }
        pairs.unwrap_or_default()
    }

    fn gzip(&mut self) -> bool {
        let names = [
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
        ];
        match self.first(&names) {
            None => false,
            Some((_, value)) if value == "gzip" => true,
            Some((_, value)) if value == "none" => false,
            Some((name, _)) => {
                self.problem(name, "must be gzip or none");
                false
            }
        }
    }

    /// Milliseconds, as the first of `names` that is set says.
    fn millis(&mut self, names: &[&'static str]) -> Option<Duration> {
        let (name, value) = self.first(names)?;
        match value.parse::<u64>() {
            Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
            _ => {
                self.problem(name, "must be a positive number of milliseconds");
                None
            }
        }
    }

    /// A positive count.
    fn count(&mut self, name: &'static str) -> Option<usize> {
        let (name, value) = self.first(&[name])?;
        match value.parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                self.problem(name, "must be a positive whole number");
                None
            }
        }
    }

    /// The contents of the file the first of `names` that is set points to.
    fn file(&mut self, names: &[&'static str]) -> Option<Vec<u8>> {
        let (name, path) = self.first(names)?;
        match std::fs::read(&path) {
            Ok(contents) => Some(contents),
            Err(e) => {
                self.problem(name, format!("cannot read {path}: {e}"));
                None
            }
        }
    }

    /// The client certificate and key for mutual TLS: both or neither.
    fn client_identity(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        let certificate = self.file(&[
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        ]);
        let key = self.file(&[
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        ]);
        match (certificate, key) {
            (Some(certificate), Some(key)) => Some((certificate, key)),
            (None, None) => None,
            (Some(_), None) => {
                self.problem(
                    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                    "a client certificate needs its key",
                );
                None
            }
            (None, Some(_)) => {
                self.problem(
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                    "a client key needs its certificate",
                );
                None
            }
        }
    }

    /// `service.name` and the other resource attributes.
    fn resource(&mut self) -> (String, Vec<(String, String)>) {
        let mut attributes = match self.first(&["OTEL_RESOURCE_ATTRIBUTES"]) {
            None => Vec::new(),
            Some((name, value)) => pairs(&value).unwrap_or_else(|| {
                self.problem(name, "must be key=value pairs separated by commas");
                Vec::new()
            }),
        };
        let named = attributes
            .iter()
            .position(|(k, _)| k == "service.name")
            .map(|i| attributes.remove(i).1);
        let service_name = self
            .first(&["OTEL_SERVICE_NAME"])
            .map(|(_, v)| v)
            .or(named)
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_string());
        (service_name, attributes)
    }

    fn sampler(&mut self) -> Sampler {
        let Some((name, value)) = self.first(&["OTEL_TRACES_SAMPLER"]) else {
            return Sampler::ParentBased(Root::AlwaysOn);
        };
        match value.as_str() {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::Ratio(self.ratio()),
            "parentbased_always_on" => Sampler::ParentBased(Root::AlwaysOn),
            "parentbased_always_off" => Sampler::ParentBased(Root::AlwaysOff),
            "parentbased_traceidratio" => Sampler::ParentBased(Root::Ratio(self.ratio())),
            other => {
                self.problem(
                    name,
                    format!(
                        "{other:?} is not supported: use always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio"
                    ),
                );
                Sampler::AlwaysOff
            }
        }
    }

    /// `OTEL_TRACES_SAMPLER_ARG` for the ratio samplers: 1.0 when unset.
    fn ratio(&mut self) -> f64 {
        let Some((name, value)) = self.first(&["OTEL_TRACES_SAMPLER_ARG"]) else {
            return 1.0;
        };
        match value.parse::<f64>() {
            Ok(ratio) if (0.0..=1.0).contains(&ratio) => ratio,
            _ => {
                self.problem(name, "must be a number from 0 to 1");
                1.0
            }
        }
    }

    fn batch(&mut self) -> Batch {
        let default = Batch::default();
        let max_queue_size = self
            .count("OTEL_BSP_MAX_QUEUE_SIZE")
            .unwrap_or(default.max_queue_size);
        Batch {
            max_queue_size,
            schedule_delay: self
                .millis(&["OTEL_BSP_SCHEDULE_DELAY"])
                .unwrap_or(default.schedule_delay),
            max_export_batch_size: self
                .count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
                .unwrap_or(default.max_export_batch_size)
                .min(max_queue_size),
            export_timeout: self
                .millis(&["OTEL_BSP_EXPORT_TIMEOUT"])
                .unwrap_or(default.export_timeout),
        }
    }
}

/// `key=value,key=value` with percent-encoded values (W3C Baggage's form, which
/// `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS` use); `None` when an
/// entry is not of that form.
fn pairs(text: &str) -> Option<Vec<(String, String)>> {
    text.split(',')
        .filter(|entry| !entry.trim().is_empty())
        .map(|entry| {
            let (key, value) = entry.split_once('=')?;
            let key = key.trim();
            let value = percent_decode_str(value.trim()).decode_utf8().ok()?;
            (!key.is_empty()).then(|| (key.to_string(), value.into_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests;
