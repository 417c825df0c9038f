//! `hookbridge probe URL`: one GET, success when the answer is 2xx. It exists for checks
//! that run where the image offers nothing else — the distroless image has no shell and
//! no curl — such as the Helm chart's `helm test`, which asks the admin port's `/readyz`.
//!
//! It knows nothing about webhooks and reads no config; it speaks plain HTTP only (the
//! admin endpoints are plain HTTP), and bounds the whole exchange by `--timeout`. The
//! request itself goes out through [`crate::sender`], like `hookbridge send`'s.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};

use crate::sender::Outgoing;

/// The arguments of `hookbridge probe`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The URL to GET, e.g. http://hookbridge-metrics:9090/readyz.
    pub url: Uri,
    /// Give up after this long (connecting, sending and reading the answer).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// Why a probe got no answer at all.
#[derive(Debug)]
pub enum ProbeError {
    /// The URL is not `http://host[:port]/…`.
    NotPlainHttp,
    /// No answer within the timeout.
    TimedOut(Duration),
    /// The connection or the exchange failed.
    Http(String),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotPlainHttp => {
                f.write_str("probe speaks plain HTTP: the URL must start with http://")
            }
            Self::TimedOut(after) => {
                write!(f, "no answer within {}", humantime::format_duration(*after))
            }
            Self::Http(e) => write!(f, "request failed: {e}"),
        }
    }
}

impl std::error::Error for ProbeError {}

/// The answer to a probe.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its body (`/readyz` says why it is not ready).
    pub body: Bytes,
}

impl Answer {
    /// A 2xx answer: the probe succeeded.
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// One line for the terminal: the status and the body, trimmed.
    pub fn line(&self) -> String {
        format!(
            "{} {}",
            self.status,
            String::from_utf8_lossy(&self.body).trim()
        )
    }
}

/// GETs `args.url` within `args.timeout`.
pub async fn run(args: &Args) -> Result<Answer, ProbeError> {
    if args.url.scheme_str() != Some("http") || args.url.host().is_none() {
        return Err(ProbeError::NotPlainHttp);
    }
    tokio::time::timeout(args.timeout, get(args.url.clone()))
        .await
        .map_err(|_| ProbeError::TimedOut(args.timeout))?
}

/// One plain GET, sent the way `hookbridge send` sends its requests.
async fn get(url: Uri) -> Result<Answer, ProbeError> {
    let request = Outgoing {
        method: Method::GET,
        url,
        headers: HeaderMap::new(),
        body: Bytes::new(),
    };
    let (status, body) = request
        .send()
        .await
        .map_err(|e| ProbeError::Http(e.to_string()))?;
    Ok(Answer { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: &str) -> Args {
        Args {
            url: url.parse().unwrap(),
            timeout: Duration::from_secs(1),
        }
    }

    #[tokio::test]
    async fn refuses_urls_that_are_not_plain_http() {
        for url in ["https://example.com/readyz", "/readyz"] {
            assert!(matches!(
                run(&args(url)).await,
                Err(ProbeError::NotPlainHttp)
            ));
        }
    }

    #[tokio::test]
    async fn a_connection_refused_is_an_error_not_an_answer() {
        // Bind, learn the port, close: nothing listens there now.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let result = run(&args(&format!("http://127.0.0.1:{port}/readyz"))).await;
        assert!(matches!(result, Err(ProbeError::Http(_))), "{result:?}");
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(socket);
        });
        let mut silent = args(&format!("http://127.0.0.1:{port}/readyz"));
        silent.timeout = Duration::from_millis(200);
        assert!(matches!(run(&silent).await, Err(ProbeError::TimedOut(_))));
        held.abort();
    }

    #[test]
    fn only_2xx_is_ok() {
        for (status, ok) in [(200, true), (204, true), (301, false), (503, false)] {
            let answer = Answer {
                status: StatusCode::from_u16(status).unwrap(),
                body: Bytes::from_static(b"ready\n"),
            };
            assert_eq!(answer.ok(), ok, "{status}");
        }
        let answer = Answer {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: Bytes::from_static(b"broker not reachable\n"),
        };
        assert_eq!(
            answer.line(),
            "503 Service Unavailable broker not reachable"
        );
    }
}
