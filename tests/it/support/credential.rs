//! `[[credentials]]` tables for test configs, one constructor per scheme, so a test
//! names what differs (name, secret, events) and the rest is written once.
//!
//! ```text
//! credential::all([
//!     credential::header("engine", ["new-key", "old-key"]).events(["stage-transition"]),
//!     credential::none("open"),
//! ])
//! ```

use std::fmt;

/// A TOML value, already written out: a literal string, a list, or a secret reference.
#[derive(Clone, Debug)]
pub struct Value(String);

impl From<&str> for Value {
    fn from(literal: &str) -> Value {
        // Debug quoting is TOML basic-string quoting for the plain text tests use.
        Value(format!("{literal:?}"))
    }
}

impl<T: Into<Value>, const N: usize> From<[T; N]> for Value {
    fn from(items: [T; N]) -> Value {
        let items: Vec<String> = items.into_iter().map(|v| v.into().0).collect();
        Value(format!("[{}]", items.join(", ")))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret read from a file (relative paths resolve against the config's folder).
pub fn file(path: &str) -> Value {
    Value(format!("{{ file = {path:?} }}"))
}

/// A secret read from an environment variable.
pub fn env(name: &str) -> Value {
    Value(format!("{{ env = {name:?} }}"))
}

/// One `[[credentials]]` table.
#[derive(Clone, Debug)]
pub struct Credential {
    keys: Vec<(&'static str, Value)>,
}

impl Credential {
    fn new(name: &str, scheme: &str) -> Credential {
        Credential {
            keys: vec![("name", name.into()), ("scheme", scheme.into())],
        }
    }

    /// Sets (or adds) `key`.
    pub fn set(mut self, key: &'static str, value: impl Into<Value>) -> Credential {
        let value = value.into();
        match self.keys.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.keys.push((key, value)),
        }
        self
    }

    /// Accepts only these event slugs.
    pub fn events<const N: usize>(self, slugs: [&str; N]) -> Credential {
        self.set("events", slugs)
    }
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "[[credentials]]")?;
        for (key, value) in &self.keys {
            writeln!(f, "{key} = {value}")?;
        }
        Ok(())
    }
}

/// Several credentials, in order, as config text.
pub fn all<const N: usize>(credentials: [Credential; N]) -> String {
    credentials.iter().map(Credential::to_string).collect()
}

/// `scheme = "none"`: every request is accepted.
pub fn none(name: &str) -> Credential {
    Credential::new(name, "none")
}

/// `scheme = "header"` with the key in `X-Api-Key`.
pub fn header(name: &str, value: impl Into<Value>) -> Credential {
    Credential::new(name, "header")
        .set("header", "X-Api-Key")
        .set("value", value)
}

/// `scheme = "token"`: `Authorization: Bearer <value>`.
pub fn token(name: &str, value: impl Into<Value>) -> Credential {
    Credential::new(name, "token").set("value", value)
}

/// `scheme = "basic"`.
pub fn basic(name: &str, username: &str, password: impl Into<Value>) -> Credential {
    Credential::new(name, "basic")
        .set("username", username)
        .set("password", password)
}

/// `scheme = "hmac-sha256"` with its default headers (see `preset`, `client_id`…).
pub fn hmac(name: &str, client_secret: impl Into<Value>) -> Credential {
    Credential::new(name, "hmac-sha256").set("client_secret", client_secret)
}

/// `scheme = "aws-sigv4"` for API Gateway (`service = "execute-api"`).
pub fn aws(name: &str, access_key_id: &str, secret: impl Into<Value>, region: &str) -> Credential {
    Credential::new(name, "aws-sigv4")
        .set("access_key_id", access_key_id)
        .set("secret_access_key", secret)
        .set("region", region)
        .set("service", "execute-api")
}
