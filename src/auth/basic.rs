//! The `basic` scheme: HTTP Basic authentication (RFC 7617).
//!
//! The username picks the credential (usernames are unique across `basic`
//! credentials); the password is then compared in constant time against every value
//! the credential accepts.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::SecretSet;

/// Settings of a `basic` credential.
#[derive(Debug, Clone)]
pub struct BasicSettings {
    /// The expected username (not secret: it selects the credential).
    pub username: String,
    /// The accepted passwords.
    pub password: SecretSet,
}

impl BasicSettings {
    /// Whether `password` is accepted, compared in constant time.
    pub fn verify(&self, password: &[u8]) -> bool {
        self.password.matches(password)
    }
}

/// Username and password from an `Authorization` value; `None` when the value is not
/// `Basic <base64 of user:password>`.
pub fn parse(authorization: &[u8]) -> Option<(String, Vec<u8>)> {
    let (scheme, encoded) = authorization.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim_ascii()).ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let username = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((username, decoded[colon + 1..].to_vec()))
}

/// The `Authorization` value for `username` and `password` (for `hookbridge sign`).
pub fn encode(username: &str, password: &[u8]) -> String {
    let mut raw = Vec::with_capacity(username.len() + 1 + password.len());
    raw.extend_from_slice(username.as_bytes());
    raw.push(b':');
    raw.extend_from_slice(password);
    format!("Basic {}", STANDARD.encode(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_encodes() {
        let header = encode("everbright", b"p:ss word");
        assert_eq!(
            parse(header.as_bytes()),
            Some(("everbright".to_string(), b"p:ss word".to_vec()))
        );
        assert_eq!(
            parse(b"basic ZXZlcmJyaWdodDpwdw==").unwrap().0,
            "everbright"
        );
    }

    #[test]
    fn refuses_what_is_not_basic() {
        assert_eq!(parse(b"Bearer abc"), None);
        assert_eq!(parse(b"Basic !!!"), None);
        assert_eq!(parse(b"Basic bm9jb2xvbg=="), None); // "nocolon"
        assert_eq!(parse(b"Basic"), None);
    }
}
