//! Credentials as configured: who may send webhooks, how they prove it, and what in a
//! request picks each one ([`Selector`]). Pure data; verification lives in the
//! scheme modules and the [`Authenticator`](super::Authenticator).

use http::{HeaderName, header::AUTHORIZATION};

use super::basic::BasicSettings;
use super::header::HeaderSettings;
use super::hmac::Hmac;
use super::sigv4::SigV4;
use crate::everbright::{Environment, EventSet};

/// A configured credential: who may send webhooks, and how they prove it.
#[derive(Debug)]
pub struct Credential {
    /// Unique name (`[a-z0-9-]`), used in envelopes and metrics.
    pub name: String,
    /// Which EverBright environment sends with it; picks the topic.
    pub environment: Environment,
    /// Optional label copied into the envelope.
    pub organization: Option<String>,
    /// The events this credential may deliver.
    pub events: EventSet,
    /// How requests prove they come from this credential.
    pub scheme: Scheme,
}

/// An authentication scheme with its settings.
#[derive(Debug)]
pub enum Scheme {
    /// No authentication: matches requests without any credential material.
    None,
    /// A secret in a configured header.
    Header(HeaderSettings),
    /// A secret in a header after a prefix (`Authorization: Bearer …`).
    Token(HeaderSettings),
    /// HTTP Basic.
    Basic(BasicSettings),
    /// HMAC-SHA256 over the raw body (optionally with a timestamp, or a preset).
    Hmac(Hmac),
    /// AWS Signature Version 4.
    SigV4(SigV4),
}

impl Scheme {
    /// The scheme's config name.
    pub fn name(&self) -> &'static str {
        match self {
            Scheme::None => "none",
            Scheme::Header(_) => "header",
            Scheme::Token(_) => "token",
            Scheme::Basic(_) => "basic",
            Scheme::Hmac(_) => "hmac-sha256",
            Scheme::SigV4(_) => "aws-sigv4",
        }
    }
}

/// What picks a credential for a request. Two credentials with the same selector must
/// not share an event (the config refuses it), so a lookup finds at most one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selector {
    /// A request without any credential material.
    Anonymous,
    /// The SHA-256 of a whole header value (`header`, `token`).
    HeaderValue(HeaderName, [u8; 32]),
    /// A Basic username.
    Username(String),
    /// An HMAC client id in its header.
    ClientId(HeaderName, Vec<u8>),
    /// An HMAC signature header, for credentials without a client id.
    Signature(HeaderName),
    /// A SigV4 access key id.
    AccessKey(String),
}

impl Credential {
    /// Every selector that picks this credential (several while a secret rotates).
    pub fn selectors(&self) -> Vec<Selector> {
        match &self.scheme {
            Scheme::None => vec![Selector::Anonymous],
            Scheme::Header(h) | Scheme::Token(h) => h
                .digests()
                .map(|d| Selector::HeaderValue(h.header.clone(), d))
                .collect(),
            Scheme::Basic(b) => vec![Selector::Username(b.username.clone())],
            Scheme::Hmac(h) => vec![match h.client_id() {
                Some((header, id)) => Selector::ClientId(header.clone(), id.to_vec()),
                None => Selector::Signature(h.selector_header().clone()),
            }],
            Scheme::SigV4(v) => vec![Selector::AccessKey(v.access_key_id().to_string())],
        }
    }

    /// The request headers this credential reads: they are never copied onto records,
    /// and their presence means a request carries credential material.
    pub fn auth_headers(&self) -> Vec<HeaderName> {
        match &self.scheme {
            Scheme::None => Vec::new(),
            Scheme::Header(h) | Scheme::Token(h) => vec![h.header.clone()],
            Scheme::Basic(_) => vec![AUTHORIZATION],
            Scheme::Hmac(h) => h.headers(),
            Scheme::SigV4(_) => SigV4::headers().to_vec(),
        }
    }
}
