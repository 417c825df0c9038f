//! The numbered webhook both clients send: the load harness's generator (loadgen) and
//! the instruction budget's client. One definition, so the two measure the same requests.

use std::fmt::Display;
use std::time::SystemTime;

use bytes::Bytes;
use hookbridge::config::Config;
use hookbridge::everbright::Event;
use hookbridge::sender::{self, Draft};
use http::{Method, Request};
use http_body_util::Full;

/// Request `seq` of run `run`, signed now as `credential`. The sequence number in the
/// query string makes every request distinct even for a signature with one-second
/// timestamps (SigV4), and the one in the body (a first member `"seq"`, tagged with
/// `run`) makes every request a distinct event, which hookbridge would otherwise answer
/// once and deduplicate.
pub fn numbered(
    config: &Config,
    credential: &str,
    event: Event,
    url: &str,
    body: &[u8],
    run: &dyn Display,
    seq: u64,
) -> Result<Request<Full<Bytes>>, String> {
    let url = format!("{url}?n={seq}");
    let rest = body.strip_prefix(b"{").unwrap_or(body);
    let mut numbered = format!("{{\"seq\":\"{run}-{seq}\",").into_bytes();
    numbered.extend_from_slice(rest);
    let draft = Draft {
        credential,
        event,
        method: Method::POST,
        url: Some(&url),
        content_type: "application/json",
        body: Bytes::from(numbered),
    };
    let outgoing = sender::build(config, draft, SystemTime::now()).map_err(|e| e.to_string())?;
    let mut request = Request::new(Full::new(outgoing.body));
    *request.method_mut() = outgoing.method;
    *request.uri_mut() = outgoing
        .url
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|e: http::uri::InvalidUri| e.to_string())?;
    *request.headers_mut() = outgoing.headers;
    Ok(request)
}
