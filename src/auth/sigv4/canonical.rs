//! The canonical request and the string to sign, byte for byte as AWS's "Create a
//! canonical request" specifies, for the header-authorization form.
//!
//! The path arrives as it was sent, already URI-encoded once. For every service but S3
//! it is normalised (RFC 3986 dot segments removed, empty segments dropped) and encoded
//! again ("double encoding"); S3 signs it as sent. Query names and values are decoded
//! (`+` as a space, as the AWS SDKs parse them) and re-encoded with AWS's unreserved set,
//! then sorted by name and value. Header values are trimmed of spaces and inner runs of
//! spaces collapsed; repeated headers are joined with `,` in arrival order.
//!
//! It checks nothing about time, scope or keys: that is the caller's.

use std::borrow::Cow;

use http::{HeaderMap, HeaderName, Method, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, percent_encode};

use super::SigV4Error;

/// Everything but AWS's unreserved characters `A-Z a-z 0-9 - . _ ~` is encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// In paths `/` also stays as it is.
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

/// How a service canonicalises the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PathStyle {
    /// Normalise, then encode the sent (encoded) path again: every service but S3.
    Normalized,
    /// The sent path as it is: S3.
    AsSent,
}

/// The canonical request. `signed_headers` is the validated `SignedHeaders` list
/// (lowercase, sorted, unique); `payload_hash` the lowercase hex SHA-256 of the body.
/// A signed header the request lacks is an error, except `host`, which falls back to
/// the URI's authority (HTTP/2 carries it there).
pub(super) fn request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    signed_headers: &str,
    payload_hash: &str,
    style: PathStyle,
) -> Result<Vec<u8>, SigV4Error> {
    let mut out = Vec::with_capacity(256 + signed_headers.len() * 8);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b'\n');
    push_path(&mut out, uri.path(), style);
    out.push(b'\n');
    push_query(&mut out, uri.query());
    out.push(b'\n');
    for name in signed_headers.split(';') {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut values = headers.get_all(name).iter().peekable();
        if values.peek().is_none() {
            match uri_host(uri).filter(|_| name == "host") {
                Some(host) => push_trimmed(&mut out, host.as_bytes()),
                None => return Err(missing_signed_header(name)),
            }
        }
        for (i, value) in values.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_trimmed(&mut out, value.as_bytes());
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    Ok(out)
}

/// `AWS4-HMAC-SHA256 \n {amz_date} \n {scope} \n hex(SHA-256(canonical request))`.
pub(super) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    let hash = hex::encode(crate::body::sha256(canonical_request));
    let mut out = String::with_capacity(20 + amz_date.len() + scope.len() + hash.len());
    for part in ["AWS4-HMAC-SHA256\n", amz_date, "\n", scope, "\n", &hash] {
        out.push_str(part);
    }
    out
}

/// `host[:port]` of the URI's authority, without user info.
pub(super) fn uri_host(uri: &Uri) -> Option<String> {
    let authority = uri.authority()?;
    Some(match authority.port_u16() {
        Some(port) => format!("{}:{port}", authority.host()),
        None => authority.host().to_owned(),
    })
}

fn missing_signed_header(name: &str) -> SigV4Error {
    match HeaderName::from_bytes(name.as_bytes()) {
        Ok(name) => SigV4Error::MissingSignedHeader(name),
        Err(_) => SigV4Error::MalformedField("SignedHeaders"),
    }
}

fn push_path(out: &mut Vec<u8>, path: &str, style: PathStyle) {
    match style {
        PathStyle::AsSent if path.is_empty() => out.push(b'/'),
        PathStyle::AsSent => out.extend_from_slice(path.as_bytes()),
        PathStyle::Normalized => {
            for chunk in percent_encode(normalize_path(path).as_bytes(), UNRESERVED_AND_SLASH) {
                out.extend_from_slice(chunk.as_bytes());
            }
        }
    }
}

/// RFC 3986 section 5.2.4 dot-segment removal, plus dropping empty segments, as AWS's
/// signers normalise: `//a/./b/../c/` becomes `/a/c/`.
fn normalize_path(path: &str) -> Cow<'_, str> {
    if path.is_empty() {
        return Cow::Borrowed("/");
    }
    if path.starts_with('/') && !path.contains('.') && !path.contains("//") {
        return Cow::Borrowed(path);
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            kept => segments.push(kept),
        }
    }
    let mut normalized = String::with_capacity(path.len() + 1);
    for segment in &segments {
        normalized.push('/');
        normalized.push_str(segment);
    }
    let ends_in_directory = ["/", "/.", "/.."].iter().any(|end| path.ends_with(end));
    if normalized.is_empty() || ends_in_directory {
        normalized.push('/');
    }
    Cow::Owned(normalized)
}

fn push_query(out: &mut Vec<u8>, query: Option<&str>) {
    let Some(query) = query else { return };
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (reencode(name), reencode(value))
        })
        .collect();
    pairs.sort_unstable();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        out.extend_from_slice(value.as_bytes());
    }
}

/// Decodes a query component (`+` is a space; an invalid `%` sequence stays literal) and
/// encodes it with AWS's unreserved set.
fn reencode(component: &str) -> String {
    let plus_as_space: Cow<'_, [u8]> = if component.contains('+') {
        Cow::Owned(
            component
                .bytes()
                .map(|b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(component.as_bytes())
    };
    let decoded: Cow<'_, [u8]> = percent_decode(&plus_as_space).into();
    percent_encode(&decoded, UNRESERVED).to_string()
}

/// Appends `value` without leading or trailing spaces and with runs of spaces collapsed
/// to one (spaces only, as the AWS SDKs do; tabs are kept).
fn push_trimmed(out: &mut Vec<u8>, value: &[u8]) {
    let mut space_pending = false;
    let mut started = false;
    for &byte in value {
        if byte == b' ' {
            space_pending = started;
        } else {
            if space_pending {
                out.push(b' ');
                space_pending = false;
            }
            out.push(byte);
            started = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(path: &str, style: PathStyle) -> String {
        let mut out = Vec::new();
        push_path(&mut out, path, style);
        String::from_utf8(out).unwrap()
    }

    fn query(query: &str) -> String {
        let mut out = Vec::new();
        push_query(&mut out, Some(query));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn paths_are_normalised_then_encoded_again_except_for_s3() {
        use PathStyle::*;
        for (sent, normalized, as_sent) in [
            ("", "/", "/"),
            ("/", "/", "/"),
            ("/example/..", "/", "/example/.."),
            ("/example1/example2/../..", "/", "/example1/example2/../.."),
            ("/./", "/", "/./"),
            ("/./example", "/example", "/./example"),
            ("//", "/", "//"),
            ("//example//", "/example/", "//example//"),
            ("/a/b/.", "/a/b/", "/a/b/."),
            ("/../a", "/a", "/../a"),
            ("/a%20b/c%2Fd", "/a%2520b/c%252Fd", "/a%20b/c%2Fd"),
            ("/a+b@c:d", "/a%2Bb%40c%3Ad", "/a+b@c:d"),
            ("/-._~AZaz09", "/-._~AZaz09", "/-._~AZaz09"),
            // From the AWS SDK suite's double-encoding cases.
            (
                "/test/@connections/JBDvjfGEIAMCERw%3D",
                "/test/%40connections/JBDvjfGEIAMCERw%253D",
                "/test/@connections/JBDvjfGEIAMCERw%3D",
            ),
            (
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-west-2%3A892717189312%3Afunction%3Amy-rusty-fun/invocations",
                "/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-west-2%253A892717189312%253Afunction%253Amy-rusty-fun/invocations",
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-west-2%3A892717189312%3Afunction%3Amy-rusty-fun/invocations",
            ),
        ] {
            assert_eq!(path(sent, Normalized), normalized, "{sent}");
            assert_eq!(path(sent, AsSent), as_sent, "{sent}");
        }
    }

    #[test]
    fn queries_are_reencoded_and_sorted_by_name_then_value() {
        for (sent, canonical) in [
            ("Param2=value2&Param1=value1", "Param1=value1&Param2=value2"),
            ("Param1=value2&Param1=Value1", "Param1=Value1&Param1=value2"),
            (
                "Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
                "%E1%88%B4=Value1&Param=Value2&Param-3=Value3",
            ),
            ("key&empty=&=novalue", "=novalue&empty=&key="),
            ("a=b+c&a=b%2Bc&a=b%20c", "a=b%20c&a=b%20c&a=b%2Bc"),
            ("q=%7e%2a%21&q2='()", "q=~%2A%21&q2=%27%28%29"),
            ("bad=%zz%4", "bad=%25zz%254"),
            ("&&a=1&&", "a=1"),
        ] {
            assert_eq!(query(sent), canonical, "{sent}");
        }
    }

    #[test]
    fn header_values_are_trimmed_and_space_runs_collapsed() {
        for (value, canonical) in [
            ("  value1  ", "value1"),
            ("\"a   b   c\"", "\"a b c\""),
            ("a\tb", "a\tb"),
            ("", ""),
            ("   ", ""),
        ] {
            let mut out = Vec::new();
            push_trimmed(&mut out, value.as_bytes());
            assert_eq!(out, canonical.as_bytes(), "{value:?}");
        }
    }
}
