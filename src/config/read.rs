//! A strict walker over a parsed TOML table that collects every error with its key path.
//!
//! serde stops at the first error; an operator fixing a config file wants all of them at
//! once. So the file is parsed to a `toml::Table` and read key by key: each getter
//! records what it consumed, type errors and bad values are pushed to one list, and
//! [`Section::finish`] reports the keys nobody asked for as unknown.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::{Table, Value};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::{ConfigError, Secrets};
use crate::auth::{Secret, SecretSet};
use crate::limit::Rate;

/// Where secrets come from: injected so that tests never touch the process environment.
pub(super) struct Ctx<'e> {
    errors: RefCell<Vec<ConfigError>>,
    env: &'e dyn Fn(&str) -> Option<String>,
    base_dir: PathBuf,
    secrets: Secrets,
    files: RefCell<Vec<(PathBuf, [u8; 32])>>,
}

impl<'e> Ctx<'e> {
    pub(super) fn new(
        env: &'e dyn Fn(&str) -> Option<String>,
        base_dir: &Path,
        secrets: Secrets,
    ) -> Self {
        Ctx {
            errors: RefCell::new(Vec::new()),
            env,
            base_dir: base_dir.to_path_buf(),
            secrets,
            files: RefCell::new(Vec::new()),
        }
    }

    pub(super) fn error(&self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.borrow_mut().push(ConfigError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// The directory relative paths in the config are resolved against.
    pub(super) fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// The errors so far, and the secret files that were read with the digests of
    /// their content.
    pub(super) fn into_parts(self) -> (Vec<ConfigError>, Vec<(PathBuf, [u8; 32])>) {
        (self.errors.into_inner(), self.files.into_inner())
    }

    /// Resolves a secret reference: a string, `{ env = "VAR" }`, `{ file = "path" }`,
    /// or an array of those (every value accepted, for rotation). `whose` (a
    /// credential's name, or empty) is named in errors beside the key path.
    pub(super) fn secret_set(&self, path: &str, value: &Value, whose: &str) -> Option<SecretSet> {
        match value {
            Value::Array(items) => {
                if items.is_empty() {
                    self.error(path, "needs at least one value");
                    return None;
                }
                let mut secrets = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    if item.is_array() {
                        self.error(item_path, "nested arrays are not allowed");
                    } else if let Some(s) = self.secret(&item_path, item, whose) {
                        secrets.push(s);
                    }
                }
                (secrets.len() == items.len())
                    .then(|| SecretSet::new(secrets))
                    .flatten()
            }
            single => self.secret(path, single, whose).map(SecretSet::single),
        }
    }

    /// Resolves one secret reference (not an array); `whose` as for
    /// [`Ctx::secret_set`].
    pub(super) fn secret(&self, path: &str, value: &Value, whose: &str) -> Option<Secret> {
        let of = if whose.is_empty() {
            String::new()
        } else {
            format!(" (credential {whose:?})")
        };
        let (bytes, source) = match value {
            Value::String(s) => (s.clone().into_bytes(), "the value".to_string()),
            Value::Table(t) => self.secret_from_table(path, t, &of)?,
            other => {
                self.error(
                    path,
                    format!(
                        "expected a string, {{ env = \"VAR\" }}, {{ file = \"path\" }} or an array of those, found {}",
                        other.type_str()
                    ),
                );
                return None;
            }
        };
        if bytes.is_empty() {
            self.error(path, format!("is empty: {source}{of}"));
            return None;
        }
        Some(Secret::new(bytes))
    }

    /// The bytes of an `env` or `file` secret, and where they came from (for errors).
    fn secret_from_table(&self, path: &str, table: &Table, of: &str) -> Option<(Vec<u8>, String)> {
        let mut keys = table.keys();
        let (Some(kind), None) = (keys.next(), keys.next()) else {
            self.error(path, "a secret table takes exactly one of `env` or `file`");
            return None;
        };
        let Some(name) = table[kind].as_str() else {
            self.error(format!("{path}.{kind}"), "expected a string");
            return None;
        };
        match kind.as_str() {
            "env" | "file" if self.secrets == Secrets::Skip => {
                Some((placeholder(kind, name), String::new()))
            }
            "env" => match (self.env)(name) {
                Some(v) => Some((v.into_bytes(), format!("environment variable {name}"))),
                None => {
                    self.error(path, format!("environment variable {name} is not set{of}"));
                    None
                }
            },
            "file" => {
                let file = self.base_dir.join(name);
                let read = std::fs::read(&file);
                let digest = super::origin::file_digest(read.as_deref().ok());
                self.files.borrow_mut().push((file.clone(), digest));
                match read {
                    Ok(mut bytes) => {
                        if bytes.last() == Some(&b'\n') {
                            bytes.pop();
                            if bytes.last() == Some(&b'\r') {
                                bytes.pop();
                            }
                        }
                        Some((bytes, format!("file {}", file.display())))
                    }
                    Err(e) => {
                        let message = format!("cannot read {}: {e}{of}", file.display());
                        self.error(path, message);
                        None
                    }
                }
            }
            other => {
                self.error(
                    format!("{path}.{other}"),
                    "unknown key (a secret table takes `env` or `file`)",
                );
                None
            }
        }
    }
}

/// The value a secret reference stands for when secrets are not read: distinct per
/// reference (so two references never look like one secret), and of a form every
/// scheme accepts (a Standard Webhooks `whsec_` key is the strictest).
fn placeholder(kind: &str, name: &str) -> Vec<u8> {
    let digest = Sha256::new()
        .chain_update(kind)
        .chain_update([0])
        .chain_update(name)
        .finalize();
    format!("whsec_{}", STANDARD.encode(digest)).into_bytes()
}

/// One table of the config file, read key by key.
pub(super) struct Section<'a, 'c, 'e> {
    pub(super) path: String,
    /// `None` when the table is absent from the file: every key reads as absent.
    table: Option<&'a Table>,
    used: Vec<&'a str>,
    pub(super) ctx: &'c Ctx<'e>,
}

impl<'a, 'c, 'e> Section<'a, 'c, 'e> {
    pub(super) fn new(ctx: &'c Ctx<'e>, path: impl Into<String>, table: Option<&'a Table>) -> Self {
        Section {
            path: path.into(),
            table,
            used: Vec::new(),
            ctx,
        }
    }

    /// The full key path of `key` in this section, for error messages.
    pub(super) fn key(&self, key: &str) -> String {
        let bare = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let key = if bare {
            key.to_string()
        } else {
            format!("{key:?}")
        };
        if self.path.is_empty() {
            key
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(super) fn error(&self, key: &str, message: impl Into<String>) {
        self.ctx.error(self.key(key), message);
    }

    /// The raw value of `key`, marking it as known.
    pub(super) fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        let (k, v) = self.table?.get_key_value(key)?;
        self.used.push(k.as_str());
        Some(v)
    }

    fn typed<T>(
        &mut self,
        key: &'static str,
        what: &str,
        pick: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Option<T> {
        let value = self.get(key)?;
        let picked = pick(value);
        if picked.is_none() {
            self.error(key, format!("expected {what}, found {}", value.type_str()));
        }
        picked
    }

    pub(super) fn string(&mut self, key: &'static str) -> Option<&'a str> {
        self.typed(key, "a string", Value::as_str)
    }

    pub(super) fn required_string(&mut self, key: &'static str) -> Option<&'a str> {
        if self.table.is_none_or(|t| !t.contains_key(key)) {
            self.error(key, "is required");
        }
        self.string(key)
    }

    pub(super) fn bool(&mut self, key: &'static str, default: bool) -> bool {
        self.typed(key, "a boolean", Value::as_bool)
            .unwrap_or(default)
    }

    /// An integer in `min..=max`.
    pub(super) fn integer(&mut self, key: &'static str, default: u64, min: u64, max: u64) -> u64 {
        let Some(n) = self.typed(key, "an integer", Value::as_integer) else {
            return default;
        };
        match u64::try_from(n) {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                self.error(key, format!("must be between {min} and {max}, found {n}"));
                default
            }
        }
    }

    /// A positive duration such as `"15s"`, `"250ms"` or `"5m"`.
    pub(super) fn duration(&mut self, key: &'static str, default: Duration) -> Duration {
        let Some(text) = self.string(key) else {
            return default;
        };
        match humantime::parse_duration(text) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.error(key, "must be greater than zero");
                default
            }
            Err(e) => {
                self.error(
                    key,
                    format!("invalid duration {text:?} ({e}); use e.g. \"15s\", \"500ms\", \"5m\""),
                );
                default
            }
        }
    }

    /// A rate such as `"20/s"` or `"5/m"`; absent is `None`.
    pub(super) fn rate(&mut self, key: &'static str) -> Option<Rate> {
        let text = self.string(key)?;
        text.parse().map_err(|e: String| self.error(key, e)).ok()
    }

    pub(super) fn socket_addr(&mut self, key: &'static str, default: &str) -> Option<SocketAddr> {
        let text = self.string(key).unwrap_or(default);
        match text.parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.error(
                    key,
                    format!(
                        "invalid socket address {text:?}; use host:port, e.g. \"0.0.0.0:8080\""
                    ),
                );
                None
            }
        }
    }

    /// An array of strings (an absent key is an empty list).
    pub(super) fn strings(&mut self, key: &'static str) -> Vec<(String, &'a str)> {
        let Some(items) = self.typed(key, "an array of strings", Value::as_array) else {
            return Vec::new();
        };
        let base = self.key(key);
        items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let path = format!("{base}[{i}]");
                match v.as_str() {
                    Some(s) => Some((path, s)),
                    None => {
                        self.ctx
                            .error(path, format!("expected a string, found {}", v.type_str()));
                        None
                    }
                }
            })
            .collect()
    }

    /// A sub-table; an absent key reads as an empty table.
    pub(super) fn table(&mut self, key: &'static str) -> Section<'a, 'c, 'e> {
        let path = self.key(key);
        let table = self.typed(key, "a table", Value::as_table);
        Section::new(self.ctx, path, table)
    }

    /// The entries of this table that no getter consumed, as `(key path, key, value)`;
    /// they are marked as known. For free-form tables such as `[routes]`.
    pub(super) fn rest(&mut self) -> Vec<(String, &'a str, &'a Value)> {
        let rest: Vec<_> = self
            .table
            .into_iter()
            .flatten()
            .filter(|(k, _)| !self.used.contains(&k.as_str()))
            .map(|(k, v)| (self.key(k), k.as_str(), v))
            .collect();
        self.used.extend(rest.iter().map(|(_, k, _)| *k));
        rest
    }

    /// Reports every key of this table that was not read.
    pub(super) fn finish(self) {
        for key in self.table.into_iter().flat_map(Table::keys) {
            if !self.used.contains(&key.as_str()) {
                self.ctx.error(self.key(key), "unknown key");
            }
        }
    }
}
