//! The one place where failures become HTTP answers.
//!
//! Every way a webhook can fail is a [`Reject`]; [`Reject::status`] and
//! [`Reject::response`] are the whole mapping, pinned by a table test. Bodies are
//! fixed JSON strings: a sender learns the status class and nothing about why
//! authentication failed or what the broker said. The detail goes to the log, at the
//! level [`Reject::level`] gives it; errors stay typed until they are logged.

use std::error::Error as StdError;
use std::fmt::Display;

use bytes::Bytes;
use http::header::{ALLOW, CONNECTION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use tracing::Level;

use crate::auth::Failure;
use crate::publish::{Class, PublishError};
use crate::spool::AppendError;

/// Why a 503 was answered; every one is worth retrying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// More than `server.max_inflight` requests at once.
    Overloaded,
    /// Shutting down: the sender should go to another instance.
    Draining,
    /// No broker acknowledgement within `kafka.ack_timeout`.
    AckTimeout,
    /// The whole request exceeded `server.request_timeout`.
    RequestTimeout,
    /// The producer refused the record for now (queue full, timed out, closing).
    Producer(PublishError),
    /// Kafka did not take the record in time and the spool did not either (full, a
    /// failed write, broken by a failed sync).
    Spool(AppendError),
}

/// A webhook that is not answered with 2xx.
#[derive(Debug)]
pub enum Reject {
    /// No route for the path.
    NotFound,
    /// A method other than POST, PUT or PATCH.
    MethodNotAllowed,
    /// The body exceeds `server.max_body_bytes` (or the record exceeds Kafka's limit).
    PayloadTooLarge,
    /// The body did not arrive within `server.read_timeout`.
    BodyTimeout,
    /// The body could not be read (broken chunked encoding, connection error).
    BadBody(Box<dyn StdError + Send + Sync>),
    /// A `Transfer-Encoding` other than `chunked` (e.g. `gzip, chunked`): the body
    /// would arrive still encoded.
    TransferCoding,
    /// No credential matched.
    Unauthorized {
        /// Why, for the log and the metric only.
        failure: Failure,
        /// Whether to answer `WWW-Authenticate: Basic`.
        offer_basic: bool,
    },
    /// The credential's `rate_limit` is used up; a token is back after this long.
    RateLimited(std::time::Duration),
    /// The client's address failed authentication `server.failed_auth_limit` times in
    /// the current window, which ends after this long. Credentials are not evaluated.
    LockedOut(std::time::Duration),
    /// Try again later.
    Unavailable(Unavailable),
    /// A broker error that retrying will not fix (e.g. topic authorization).
    Internal(PublishError),
}

/// The methods a webhook may use.
pub const ALLOWED_METHODS: &str = "POST, PUT, PATCH";

impl Reject {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Reject::NotFound => StatusCode::NOT_FOUND,
            Reject::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Reject::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Reject::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Reject::BadBody(_) => StatusCode::BAD_REQUEST,
            Reject::TransferCoding => StatusCode::NOT_IMPLEMENTED,
            Reject::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Reject::RateLimited(_) | Reject::LockedOut(_) => StatusCode::TOO_MANY_REQUESTS,
            Reject::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Reject::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The fixed response body.
    fn body(&self) -> &'static str {
        match self {
            Reject::NotFound => r#"{"error":"not found"}"#,
            Reject::MethodNotAllowed => r#"{"error":"method not allowed"}"#,
            Reject::PayloadTooLarge => r#"{"error":"payload too large"}"#,
            Reject::BodyTimeout => r#"{"error":"request timeout"}"#,
            Reject::BadBody(_) => r#"{"error":"bad request"}"#,
            Reject::TransferCoding => r#"{"error":"transfer coding not implemented"}"#,
            Reject::Unauthorized { .. } => r#"{"error":"unauthorized"}"#,
            Reject::RateLimited(_) | Reject::LockedOut(_) => r#"{"error":"too many requests"}"#,
            Reject::Unavailable(_) => r#"{"error":"unavailable"}"#,
            Reject::Internal(_) => r#"{"error":"internal error"}"#,
        }
    }

    /// Seconds to put in `Retry-After`: short when capacity frees up quickly, longer
    /// when the broker or this instance is the problem.
    fn retry_after(&self) -> Option<&'static str> {
        match self {
            Reject::Unavailable(
                Unavailable::Overloaded | Unavailable::Producer(PublishError::QueueFull),
            ) => Some("1"),
            Reject::Unavailable(_) => Some("5"),
            _ => None,
        }
    }

    /// A short, stable label for the log line (never secret).
    pub fn reason(&self) -> &'static str {
        match self {
            Reject::NotFound => "not-found",
            Reject::MethodNotAllowed => "method-not-allowed",
            Reject::PayloadTooLarge => "payload-too-large",
            Reject::BodyTimeout => "body-timeout",
            Reject::BadBody(_) => "bad-body",
            Reject::TransferCoding => "transfer-coding",
            Reject::Unauthorized { failure, .. } => failure.reason(),
            Reject::RateLimited(_) => "rate-limited",
            Reject::LockedOut(_) => "failed-auth-limit",
            Reject::Unavailable(Unavailable::Overloaded) => "overloaded",
            Reject::Unavailable(Unavailable::Draining) => "draining",
            Reject::Unavailable(Unavailable::AckTimeout) => "ack-timeout",
            Reject::Unavailable(Unavailable::RequestTimeout) => "request-timeout",
            Reject::Unavailable(Unavailable::Producer(e)) => e.kind(),
            Reject::Unavailable(Unavailable::Spool(AppendError::Full)) => "spool-full",
            Reject::Unavailable(Unavailable::Spool(_)) => "spool-failed",
            Reject::Internal(_) => "internal",
        }
    }

    /// How loudly the refusal is logged: an error for a fault on our side, a warning
    /// for refused credentials and for unavailability (an operator may need to act), and
    /// info for what a sender got wrong on its own.
    pub fn level(&self) -> Level {
        match self {
            Reject::Internal(_) => Level::ERROR,
            Reject::Unauthorized { .. }
            | Reject::RateLimited(_)
            | Reject::LockedOut(_)
            | Reject::Unavailable(_) => Level::WARN,
            Reject::NotFound
            | Reject::MethodNotAllowed
            | Reject::PayloadTooLarge
            | Reject::BodyTimeout
            | Reject::BadBody(_)
            | Reject::TransferCoding => Level::INFO,
        }
    }

    /// Whether the connection closes after this answer: the request body may be left
    /// unread (refused before or while reading it), so the connection cannot carry
    /// another request. The answer says so with `Connection: close`, so a client does
    /// not send its next request into a closing connection.
    pub fn closes(&self) -> bool {
        match self {
            Reject::NotFound
            | Reject::MethodNotAllowed
            | Reject::PayloadTooLarge
            | Reject::BodyTimeout
            | Reject::BadBody(_)
            | Reject::TransferCoding
            | Reject::LockedOut(_)
            | Reject::Unavailable(
                Unavailable::Overloaded | Unavailable::Draining | Unavailable::RequestTimeout,
            ) => true,
            Reject::Unauthorized { .. }
            | Reject::RateLimited(_)
            | Reject::Unavailable(
                Unavailable::AckTimeout | Unavailable::Producer(_) | Unavailable::Spool(_),
            )
            | Reject::Internal(_) => false,
        }
    }

    /// What the log line says beyond [`Reject::reason`]: the typed error, if any, for
    /// the operator (never shown to the sender; it never holds a secret or the body).
    pub fn detail(&self) -> Option<tracing::field::DisplayValue<&dyn Display>> {
        let detail: &dyn Display = match self {
            Reject::BadBody(e) => e,
            Reject::Unauthorized { failure, .. } => failure,
            Reject::Internal(e) | Reject::Unavailable(Unavailable::Producer(e)) => e,
            Reject::Unavailable(Unavailable::Spool(e)) => e,
            _ => return None,
        };
        Some(tracing::field::display(detail))
    }

    /// The HTTP response.
    pub fn response(&self) -> Response<Full<Bytes>> {
        let mut response = json_response(self.status(), Bytes::from_static(self.body().as_bytes()));
        let headers = response.headers_mut();
        match self {
            Reject::MethodNotAllowed => {
                headers.insert(ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
            }
            Reject::Unauthorized {
                offer_basic: true, ..
            } => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="hookbridge", charset="UTF-8""#),
                );
            }
            _ => {}
        }
        if let Some(seconds) = self.retry_after() {
            headers.insert(RETRY_AFTER, HeaderValue::from_static(seconds));
        }
        if let Reject::RateLimited(wait) | Reject::LockedOut(wait) = self {
            // Whole seconds, rounded up, at least 1.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        if self.closes() {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

impl From<PublishError> for Reject {
    fn from(e: PublishError) -> Reject {
        match e.class() {
            Class::Refused => Reject::PayloadTooLarge,
            Class::Retry => Reject::Unavailable(Unavailable::Producer(e)),
            Class::Misconfigured => Reject::Internal(e),
        }
    }
}

/// Refuses a request whose `Transfer-Encoding` is anything but `chunked` alone:
/// hyper would hand over the body still compressed (or otherwise encoded), and
/// authenticating or storing those bytes as the webhook would be wrong. RFC 9112
/// §6.1 answers a coding the server does not understand with 501.
pub fn transfer_coding(headers: &http::HeaderMap) -> Result<(), Reject> {
    let mut codings = headers.get_all(http::header::TRANSFER_ENCODING).iter();
    match (codings.next(), codings.next()) {
        (None, _) => Ok(()),
        (Some(only), None)
            if only
                .as_bytes()
                .trim_ascii()
                .eq_ignore_ascii_case(b"chunked") =>
        {
            Ok(())
        }
        _ => Err(Reject::TransferCoding),
    }
}

/// A response with a JSON body.
pub fn json_response(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reject_maps_to_its_status_body_and_headers() {
        let unauthorized = |offer_basic| Reject::Unauthorized {
            failure: Failure::BadSecret,
            offer_basic,
        };
        // (reject, status, body, Allow, WWW-Authenticate, Retry-After)
        type Row = (
            Reject,
            u16,
            &'static str,
            Option<&'static str>,
            bool,
            Option<&'static str>,
        );
        let table: Vec<Row> = vec![
            (
                Reject::NotFound,
                404,
                r#"{"error":"not found"}"#,
                None,
                false,
                None,
            ),
            (
                Reject::MethodNotAllowed,
                405,
                r#"{"error":"method not allowed"}"#,
                Some("POST, PUT, PATCH"),
                false,
                None,
            ),
            (
                Reject::PayloadTooLarge,
                413,
                r#"{"error":"payload too large"}"#,
                None,
                false,
                None,
            ),
            (
                Reject::BodyTimeout,
                408,
                r#"{"error":"request timeout"}"#,
                None,
                false,
                None,
            ),
            (
                Reject::BadBody("x".into()),
                400,
                r#"{"error":"bad request"}"#,
                None,
                false,
                None,
            ),
            (
                Reject::TransferCoding,
                501,
                r#"{"error":"transfer coding not implemented"}"#,
                None,
                false,
                None,
            ),
            (
                Reject::RateLimited(std::time::Duration::from_millis(200)),
                429,
                r#"{"error":"too many requests"}"#,
                None,
                false,
                Some("1"),
            ),
            (
                Reject::LockedOut(std::time::Duration::from_millis(42_500)),
                429,
                r#"{"error":"too many requests"}"#,
                None,
                false,
                Some("43"),
            ),
            (
                unauthorized(false),
                401,
                r#"{"error":"unauthorized"}"#,
                None,
                false,
                None,
            ),
            (
                unauthorized(true),
                401,
                r#"{"error":"unauthorized"}"#,
                None,
                true,
                None,
            ),
            (
                Reject::Unavailable(Unavailable::Overloaded),
                503,
                r#"{"error":"unavailable"}"#,
                None,
                false,
                Some("1"),
            ),
            (
                Reject::Unavailable(Unavailable::Draining),
                503,
                r#"{"error":"unavailable"}"#,
                None,
                false,
                Some("5"),
            ),
            (
                Reject::Unavailable(Unavailable::AckTimeout),
                503,
                r#"{"error":"unavailable"}"#,
                None,
                false,
                Some("5"),
            ),
            (
                Reject::Unavailable(Unavailable::Spool(AppendError::Full)),
                503,
                r#"{"error":"unavailable"}"#,
                None,
                false,
                Some("5"),
            ),
            (
                PublishError::QueueFull.into(),
                503,
                r#"{"error":"unavailable"}"#,
                None,
                false,
                Some("1"),
            ),
            (
                PublishError::TimedOut.into(),
                503,
                r#"{"error":"unavailable"}"#,
                None,
                false,
                Some("5"),
            ),
            (
                PublishError::MessageTooLarge.into(),
                413,
                r#"{"error":"payload too large"}"#,
                None,
                false,
                None,
            ),
            (
                PublishError::Failed {
                    kind: crate::publish::ErrorKind::UnknownTopic,
                    detail: "Broker: Unknown topic".into(),
                }
                .into(),
                500,
                r#"{"error":"internal error"}"#,
                None,
                false,
                None,
            ),
        ];
        for (reject, status, body, allow, basic, retry) in table {
            let response = reject.response();
            assert_eq!(response.status().as_u16(), status, "{reject:?}");
            let h = response.headers();
            assert_eq!(h[CONTENT_TYPE], "application/json");
            assert_eq!(
                h.get(ALLOW).map(|v| v.to_str().unwrap()),
                allow,
                "{reject:?}"
            );
            assert_eq!(h.contains_key(WWW_AUTHENTICATE), basic, "{reject:?}");
            assert_eq!(
                h.get(RETRY_AFTER).map(|v| v.to_str().unwrap()),
                retry,
                "{reject:?}"
            );
            assert_eq!(reject.body(), body);
            // Refused before the body was read, or while reading it: the connection
            // closes and says so.
            let unread = matches!(status, 400 | 404 | 405 | 408 | 413 | 501)
                || matches!(reject, Reject::LockedOut(_))
                || matches!(
                    reject,
                    Reject::Unavailable(Unavailable::Overloaded | Unavailable::Draining)
                );
            assert_eq!(h.get(CONNECTION).is_some(), unread, "{reject:?}");
            assert_eq!(reject.closes(), unread, "{reject:?}");
        }
    }

    #[test]
    fn only_chunked_alone_is_an_accepted_transfer_coding() {
        let with = |values: &[&str]| {
            let mut headers = http::HeaderMap::new();
            for v in values {
                headers.append(
                    http::header::TRANSFER_ENCODING,
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            transfer_coding(&headers).is_ok()
        };
        assert!(with(&[]));
        assert!(with(&["chunked"]));
        assert!(with(&[" Chunked "]));
        for refused in [
            &["gzip, chunked"][..],
            &["gzip"],
            &["chunked, chunked"],
            &["gzip", "chunked"],
            &["identity"],
        ] {
            assert!(!with(refused), "{refused:?}");
        }
    }

    #[test]
    fn unauthorized_body_never_says_why() {
        for failure in [
            Failure::BadSecret,
            Failure::UnknownCredential,
            Failure::MissingCredentials,
        ] {
            let r = Reject::Unauthorized {
                failure,
                offer_basic: false,
            };
            assert_eq!(r.body(), r#"{"error":"unauthorized"}"#);
        }
    }
}
