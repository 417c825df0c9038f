//! A stand-in for EverBright: builds, and optionally sends, a webhook request that a
//! hookbridge with the same config accepts, for any credential and scheme.
//!
//! `hookbridge sign` prints the request as a `curl` command; `hookbridge send` performs
//! it over plain HTTP and returns the answer. Both exist so that an operator can test a
//! deployment end to end without EverBright. For `header`, `token` and `basic`
//! credentials the printed request necessarily contains the secret itself.

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};

use crate::auth::{Credential, Scheme, basic};
use crate::config::Config;
use crate::everbright::Event;

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// POST, PUT or PATCH.
    pub method: Method,
    /// The absolute URL.
    pub url: Uri,
    /// Every header, credentials included.
    pub headers: HeaderMap,
    /// The body, exactly as signed.
    pub body: Bytes,
}

/// The arguments of `hookbridge sign` and `hookbridge send`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The credential to send as (its `name`).
    #[arg(long)]
    pub credential: String,
    /// The event slug, e.g. milestone-status-change.
    #[arg(long)]
    pub event: String,
    /// POST, PUT or PATCH.
    #[arg(long, default_value = "POST")]
    pub method: Method,
    /// Target URL (default: server.listen and the event's route).
    #[arg(long)]
    pub url: Option<String>,
    /// The body's Content-Type.
    #[arg(long, default_value = "application/json")]
    pub content_type: String,
    /// File holding the body.
    pub body: PathBuf,
}

/// Runs `hookbridge sign` (`send = false`: the curl command) or `hookbridge send` (the
/// answer's status line and body). Returns what to print and whether it succeeded.
pub async fn command(
    config: &Config,
    args: Args,
    send: bool,
) -> Result<(String, bool), SenderError> {
    let event = Event::from_slug(&args.event)
        .ok_or_else(|| SenderError::UnknownEvent(args.event.clone()))?;
    let body = std::fs::read(&args.body)
        .map_err(|e| SenderError::BodyFile(format!("{}: {e}", args.body.display())))?;
    let draft = Draft {
        credential: &args.credential,
        event,
        method: args.method,
        url: args.url.as_deref(),
        content_type: &args.content_type,
        body: body.into(),
    };
    let outgoing = build(config, draft, SystemTime::now())?;
    if !send {
        return Ok((outgoing.curl(&args.body.display().to_string()), true));
    }
    let (status, answer) = outgoing.send().await?;
    Ok((
        format!("{status}\n{}", String::from_utf8_lossy(&answer)),
        status.is_success(),
    ))
}

/// Why a request could not be built or sent.
#[derive(Debug)]
pub enum SenderError {
    /// No event has that slug.
    UnknownEvent(String),
    /// The body file cannot be read.
    BodyFile(String),
    /// No credential has that name.
    UnknownCredential(String),
    /// The credential may not deliver that event.
    EventNotAllowed,
    /// The URL is not an absolute `http://` or `https://` URL.
    InvalidUrl(String),
    /// `send` speaks plain HTTP only.
    HttpsNotSupported,
    /// A configured secret cannot travel in an HTTP header.
    SecretNotHeaderSafe,
    /// The request failed on the network.
    Http(String),
}

impl fmt::Display for SenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SenderError::UnknownEvent(slug) => write!(f, "unknown event {slug:?}"),
            SenderError::BodyFile(e) => write!(f, "cannot read the body: {e}"),
            SenderError::UnknownCredential(name) => write!(f, "no credential named {name:?} in the config"),
            SenderError::EventNotAllowed => f.write_str("that credential may not deliver this event (see its `events`)"),
            SenderError::InvalidUrl(url) => write!(f, "invalid URL {url:?}: expected http://host:port/path"),
            SenderError::HttpsNotSupported => {
                f.write_str("send speaks plain HTTP; for https use `hookbridge sign` and run the printed curl command")
            }
            SenderError::SecretNotHeaderSafe => f.write_str("the credential's secret is not a valid HTTP header value"),
            SenderError::Http(e) => write!(f, "request failed: {e}"),
        }
    }
}

impl std::error::Error for SenderError {}

/// What to send: everything but the credential material.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    /// The name of the credential to send as.
    pub credential: &'a str,
    /// The event (picks the route).
    pub event: Event,
    /// POST, PUT or PATCH.
    pub method: Method,
    /// Where to send it; by default `server.listen` (with `0.0.0.0` read as
    /// `127.0.0.1`) and the event's route.
    pub url: Option<&'a str>,
    /// The body's `Content-Type`.
    pub content_type: &'a str,
    /// The body.
    pub body: Bytes,
}

/// Builds the request `draft.credential` would send, signed at `now`.
pub fn build(config: &Config, draft: Draft<'_>, now: SystemTime) -> Result<Outgoing, SenderError> {
    let Draft {
        credential,
        event,
        method,
        url,
        content_type,
        body,
    } = draft;
    let c: &Credential = config
        .credentials
        .iter()
        .find(|c| c.name == credential)
        .ok_or_else(|| SenderError::UnknownCredential(credential.to_string()))?;
    if !c.events.contains(event) {
        return Err(SenderError::EventNotAllowed);
    }
    let url = match url {
        Some(u) => u.to_string(),
        None => {
            let mut addr = config.server.listen;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!(
                "http://{addr}{}/{}",
                config.server.path_prefix,
                event.slug()
            )
        }
    };
    let uri: Uri = url
        .parse()
        .map_err(|_| SenderError::InvalidUrl(url.clone()))?;
    let authority = uri
        .authority()
        .ok_or_else(|| SenderError::InvalidUrl(url.clone()))?;
    let mut headers = HeaderMap::new();
    headers.insert(
        HOST,
        HeaderValue::from_str(authority.as_str())
            .map_err(|_| SenderError::InvalidUrl(url.clone()))?,
    );
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(content_type).map_err(|_| SenderError::InvalidUrl(url.clone()))?,
    );
    let added = credentials(&c.scheme, &method, &uri, &headers, &body, now)?;
    for (name, value) in added {
        headers.insert(name, value);
    }
    Ok(Outgoing {
        method,
        url: uri,
        headers,
        body,
    })
}

fn credentials(
    scheme: &Scheme,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<Vec<(HeaderName, HeaderValue)>, SenderError> {
    let value = |bytes: Vec<u8>| {
        HeaderValue::from_bytes(&bytes).map_err(|_| SenderError::SecretNotHeaderSafe)
    };
    Ok(match scheme {
        Scheme::None => Vec::new(),
        Scheme::Header(h) | Scheme::Token(h) => {
            let mut v = h.prefix.as_bytes().to_vec();
            v.extend_from_slice(h.value.primary().expose());
            vec![(h.header.clone(), value(v)?)]
        }
        Scheme::Basic(b) => {
            let encoded = basic::encode(&b.username, b.password.primary().expose());
            vec![(http::header::AUTHORIZATION, value(encoded.into_bytes())?)]
        }
        Scheme::Hmac(h) => h.sign(body, now),
        Scheme::SigV4(v) => v.sign(method, uri, headers, body, now),
    })
}

impl Outgoing {
    /// The request as a `curl` command reading the body from `body_file`.
    pub fn curl(&self, body_file: &str) -> String {
        let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let mut out = format!(
            "curl -sS -X {} {}",
            self.method,
            quote(&self.url.to_string())
        );
        for (name, value) in &self.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            out.push_str(&format!(" \\\n  -H {}", quote(&format!("{name}: {value}"))));
        }
        out.push_str(&format!(" \\\n  --data-binary @{}", quote(body_file)));
        out
    }

    /// Sends the request over plain HTTP; the status and body of the answer.
    pub async fn send(self) -> Result<(StatusCode, Bytes), SenderError> {
        if self.url.scheme_str() != Some("http") {
            return Err(SenderError::HttpsNotSupported);
        }
        let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let mut request = Request::new(Full::new(self.body));
        *request.method_mut() = self.method;
        *request.uri_mut() = self.url;
        *request.headers_mut() = self.headers;
        let response = client
            .request(request)
            .await
            .map_err(|e| SenderError::Http(e.to_string()))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| SenderError::Http(e.to_string()))?
            .to_bytes();
        Ok((status, body))
    }
}
