//! The settings of an AWS4 credential as the config layer hands them over, and their
//! validation: key id, region and service must be tokens, secrets non-empty.

use std::fmt;
use std::time::Duration;

use crate::auth::SecretSet;

/// Validated settings, built by the config layer.
#[derive(Clone, Debug)]
pub struct SigV4Settings {
    /// The access key id requests must name in their credential scope.
    pub access_key_id: String,
    /// One or several secret keys (rotation): a signature by any one passes.
    pub secret_access_key: SecretSet,
    /// The region requests must be scoped to.
    pub region: String,
    /// The service requests must be scoped to; `s3` switches to S3's path rules.
    pub service: String,
    /// How far the signed request time may be from the verifier's clock, either way.
    pub tolerance: Duration,
}

/// Why settings cannot make a verifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SigV4SettingsError {
    /// The access key id is empty or holds characters other than `A-Z a-z 0-9 . _ -`.
    InvalidAccessKeyId,
    /// The region is empty or holds characters other than `A-Z a-z 0-9 . _ -`.
    InvalidRegion,
    /// The service is empty or holds characters other than `A-Z a-z 0-9 . _ -`.
    InvalidService,
    /// The secret at this position of `secret_access_key` is empty.
    EmptySecret {
        /// The secret's position in the array.
        index: usize,
    },
}

impl SigV4SettingsError {
    /// Stable kebab-case label.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidAccessKeyId => "invalid-access-key-id",
            Self::InvalidRegion => "invalid-region",
            Self::InvalidService => "invalid-service",
            Self::EmptySecret { .. } => "empty-secret",
        }
    }
}

impl fmt::Display for SigV4SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let allowed = "must be non-empty letters, digits, '.', '_' or '-'";
        match self {
            Self::InvalidAccessKeyId => write!(f, "access_key_id {allowed}"),
            Self::InvalidRegion => write!(f, "region {allowed}"),
            Self::InvalidService => write!(f, "service {allowed}"),
            Self::EmptySecret { index } => write!(f, "secret_access_key[{index}] is empty"),
        }
    }
}

impl std::error::Error for SigV4SettingsError {}

impl SigV4Settings {
    /// Checks the settings [`SigV4::new`](super::SigV4::new) relies on.
    pub(super) fn validate(&self) -> Result<(), SigV4SettingsError> {
        // Tokens can neither break the `Authorization` syntax nor make `sign` produce an
        // invalid header value.
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        };
        if !token(&self.access_key_id) {
            return Err(SigV4SettingsError::InvalidAccessKeyId);
        }
        if !token(&self.region) {
            return Err(SigV4SettingsError::InvalidRegion);
        }
        if !token(&self.service) {
            return Err(SigV4SettingsError::InvalidService);
        }
        match self
            .secret_access_key
            .iter()
            .position(|s| s.expose().is_empty())
        {
            Some(index) => Err(SigV4SettingsError::EmptySecret { index }),
            None => Ok(()),
        }
    }
}
