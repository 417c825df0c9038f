//! The [`Authenticator`]: every credential of a config, indexed by what selects it.
//!
//! A request's credential material is looked for in a fixed order — header values,
//! SigV4, Basic, HMAC client id, HMAC signature header — one function per family. The
//! first candidate found decides, with no fallback to the next family, and it is
//! verified with the verifier its scheme has: a lookup asks for credentials of one
//! scheme only, so a selector can never lead to a verifier of another kind.

use std::collections::HashMap;
use std::time::SystemTime;

use http::{HeaderMap, HeaderName, header::AUTHORIZATION};

use super::basic::{self, BasicSettings};
use super::header::{self, HeaderSettings};
use super::hmac::Hmac;
use super::sigv4::{Authorization, SigV4};
use super::{Authenticated, Credential, Failure, Refused, Request, Scheme, Selector};
use crate::everbright::Event;

/// All credentials, indexed by their selectors. Built once per config.
#[derive(Debug)]
pub struct Authenticator {
    credentials: Vec<Credential>,
    index: HashMap<Selector, Vec<usize>>,
    value_headers: Vec<HeaderName>,
    client_id_headers: Vec<HeaderName>,
    signature_headers: Vec<HeaderName>,
    has_basic: bool,
    has_sigv4: bool,
    auth_headers: Vec<HeaderName>,
}

/// The result of one family's search: `Ok(None)` when the request carries nothing
/// that family selects by.
type Found<'a> = Result<Option<Authenticated<'a>>, Refused<'a>>;

impl Authenticator {
    /// Indexes `credentials` (already validated by the config).
    pub fn new(credentials: Vec<Credential>) -> Authenticator {
        let mut index: HashMap<Selector, Vec<usize>> = HashMap::new();
        let mut value_headers = Vec::new();
        let mut client_id_headers = Vec::new();
        let mut signature_headers = Vec::new();
        let mut auth_headers = vec![AUTHORIZATION];
        for (i, c) in credentials.iter().enumerate() {
            for s in c.selectors() {
                match &s {
                    Selector::HeaderValue(h, _) => push_unique(&mut value_headers, h),
                    Selector::ClientId(h, _) => push_unique(&mut client_id_headers, h),
                    Selector::Signature(h) => push_unique(&mut signature_headers, h),
                    Selector::Anonymous | Selector::Username(_) | Selector::AccessKey(_) => {}
                }
                index.entry(s).or_default().push(i);
            }
            for h in c.auth_headers() {
                push_unique(&mut auth_headers, &h);
            }
        }
        let has = |f: fn(&Scheme) -> bool| credentials.iter().any(|c| f(&c.scheme));
        let has_basic = has(|s| matches!(s, Scheme::Basic(_)));
        let has_sigv4 = has(|s| matches!(s, Scheme::SigV4(_)));
        Authenticator {
            credentials,
            index,
            value_headers,
            client_id_headers,
            signature_headers,
            has_basic,
            has_sigv4,
            auth_headers,
        }
    }

    /// The configured credentials.
    pub fn credentials(&self) -> &[Credential] {
        &self.credentials
    }

    /// Where `credential`, one of this authenticator's (as every [`Authenticated`]
    /// and [`Refused`] candidate is), stands in [`Authenticator::credentials`]: for
    /// tables built alongside them.
    pub fn position(&self, credential: &Credential) -> usize {
        // Found by address, not name: a few pointer comparisons, no hashing. A
        // credential of another authenticator (a caller's mistake) maps to 0 rather
        // than panicking on the request path.
        self.credentials
            .iter()
            .position(|c| std::ptr::eq(c, credential))
            .unwrap_or(0)
    }

    /// Every selector indexed.
    #[cfg(test)]
    pub(super) fn selectors(&self) -> impl Iterator<Item = &Selector> {
        self.index.keys()
    }

    /// Whether a 401 should offer `WWW-Authenticate: Basic`.
    pub fn offers_basic(&self) -> bool {
        self.has_basic
    }

    /// Finds the credential `request` is meant for and verifies it. `now` is the
    /// receive time, for schemes that sign a timestamp.
    pub fn authenticate(
        &self,
        request: &Request<'_>,
        event: Event,
        now: SystemTime,
    ) -> Result<Authenticated<'_>, Refused<'_>> {
        // A header value or HMAC id that selects nothing is remembered: if no later
        // family matches either, it says why better than "unknown credential".
        let mut miss = None;
        if let Some(found) = self.by_header_value(request.headers, event, &mut miss)? {
            return Ok(found);
        }
        if let Some(found) = self.by_access_key(request, event, now)? {
            return Ok(found);
        }
        if let Some(found) = self.by_username(request.headers, event)? {
            return Ok(found);
        }
        if let Some(found) = self.by_hmac(request, event, now, &mut miss)? {
            return Ok(found);
        }
        self.anonymous(request.headers, event, miss)
    }

    /// `header` and `token` credentials, selected by the digest of a header's value.
    fn by_header_value(
        &self,
        headers: &HeaderMap,
        event: Event,
        miss: &mut Option<Failure>,
    ) -> Found<'_> {
        for name in &self.value_headers {
            let Some(value) = single(headers, name)? else {
                continue;
            };
            let selector = Selector::HeaderValue(name.clone(), header::digest(value));
            let Some((c, h)) = self.lookup(&selector, event, header_settings)? else {
                *miss = Some(Failure::BadSecret);
                continue;
            };
            verified(c, h.verify(value).then_some(()).ok_or(Failure::BadSecret))?;
            return Ok(Some(Authenticated::plain(c)));
        }
        Ok(None)
    }

    /// `aws-sigv4` credentials, selected by the access key id of the `Authorization`
    /// header.
    fn by_access_key(&self, request: &Request<'_>, event: Event, now: SystemTime) -> Found<'_> {
        if !self.has_sigv4 {
            return Ok(None);
        }
        let Some(auth) = Authorization::parse(request.headers).map_err(Failure::SigV4)? else {
            return Ok(None);
        };
        let selector = Selector::AccessKey(auth.access_key_id.to_string());
        let (c, v) = self
            .lookup(&selector, event, sigv4)?
            .ok_or(Failure::UnknownCredential)?;
        let signed = v.verify(
            &auth,
            request.method,
            request.uri,
            request.headers,
            request.body,
            now,
        );
        let signed = verified(c, signed.map_err(Failure::SigV4))?;
        Ok(Some(Authenticated::signed(c, signed, v.tolerance())))
    }

    /// `basic` credentials, selected by the username of `Authorization: Basic`.
    fn by_username(&self, headers: &HeaderMap, event: Event) -> Found<'_> {
        if !self.has_basic {
            return Ok(None);
        }
        let Some(value) = single(headers, &AUTHORIZATION)? else {
            return Ok(None);
        };
        if value.len() < 6 || !value[..6].eq_ignore_ascii_case(b"basic ") {
            return Ok(None);
        }
        let (username, password) =
            basic::parse(value).ok_or(Failure::MalformedHeader(AUTHORIZATION))?;
        let (c, b) = self
            .lookup(&Selector::Username(username), event, basic_settings)?
            .ok_or(Failure::UnknownCredential)?;
        verified(
            c,
            b.verify(&password).then_some(()).ok_or(Failure::BadSecret),
        )?;
        Ok(Some(Authenticated::plain(c)))
    }

    /// `hmac-sha256` credentials, selected by their client id header, or by their
    /// signature header when they have no client id.
    fn by_hmac(
        &self,
        request: &Request<'_>,
        event: Event,
        now: SystemTime,
        miss: &mut Option<Failure>,
    ) -> Found<'_> {
        let headers = request.headers;
        let by_client_id = self
            .client_id_headers
            .iter()
            .map(|h| Ok(single(headers, h)?.map(|id| Selector::ClientId(h.clone(), id.to_vec()))));
        let by_signature = self.signature_headers.iter().map(|h| {
            Ok::<_, Failure>(
                headers
                    .contains_key(h)
                    .then(|| Selector::Signature(h.clone())),
            )
        });
        for selector in by_client_id.chain(by_signature) {
            let Some(selector) = selector? else { continue };
            let Some((c, h)) = self.lookup(&selector, event, hmac)? else {
                *miss = Some(Failure::UnknownCredential);
                continue;
            };
            let signed = h.verify(headers, request.body, now).map_err(Failure::Hmac);
            let signed = verified(c, signed)?;
            return Ok(Some(Authenticated::signed(c, signed, h.tolerance())));
        }
        Ok(None)
    }

    /// A `none` credential, for a request without any credential material.
    fn anonymous(
        &self,
        headers: &HeaderMap,
        event: Event,
        miss: Option<Failure>,
    ) -> Result<Authenticated<'_>, Refused<'_>> {
        if self.auth_headers.iter().any(|h| headers.contains_key(h)) {
            return Err(miss.unwrap_or(Failure::UnknownCredential).into());
        }
        // Without credential material, "not allowed for this event" is just "missing".
        match self.lookup(&Selector::Anonymous, event, anonymous) {
            Ok(Some((c, ()))) => Ok(Authenticated::plain(c)),
            Ok(None) | Err(_) => Err(Failure::MissingCredentials.into()),
        }
    }

    /// The credential of the scheme `verifier` picks out that has `selector` and may
    /// deliver `event`, with its verifier: `Ok(None)` when no credential of that
    /// scheme has the selector, `EventNotAllowed` (naming the first) when some have it
    /// but none for this event.
    fn lookup<'s, V: ?Sized>(
        &'s self,
        selector: &Selector,
        event: Event,
        verifier: fn(&Scheme) -> Option<&V>,
    ) -> Result<Option<(&'s Credential, &'s V)>, Refused<'s>> {
        let mut candidates = self
            .index
            .get(selector)
            .into_iter()
            .flatten()
            .map(|&i| &self.credentials[i])
            .filter_map(|c| verifier(&c.scheme).map(|v| (c, v)))
            .peekable();
        let Some(&(first, _)) = candidates.peek() else {
            return Ok(None);
        };
        match candidates.find(|(c, _)| c.events.contains(event)) {
            Some(found) => Ok(Some(found)),
            None => Err(Refused {
                failure: Failure::EventNotAllowed,
                candidate: Some(first),
            }),
        }
    }
}

/// A verification outcome for `candidate`: its failure names the candidate.
fn verified<T>(candidate: &Credential, outcome: Result<T, Failure>) -> Result<T, Refused<'_>> {
    outcome.map_err(|failure| Refused {
        failure,
        candidate: Some(candidate),
    })
}

fn header_settings(scheme: &Scheme) -> Option<&HeaderSettings> {
    match scheme {
        Scheme::Header(h) | Scheme::Token(h) => Some(h),
        _ => None,
    }
}

fn basic_settings(scheme: &Scheme) -> Option<&BasicSettings> {
    match scheme {
        Scheme::Basic(b) => Some(b),
        _ => None,
    }
}

fn hmac(scheme: &Scheme) -> Option<&Hmac> {
    match scheme {
        Scheme::Hmac(h) => Some(h),
        _ => None,
    }
}

fn sigv4(scheme: &Scheme) -> Option<&SigV4> {
    match scheme {
        Scheme::SigV4(v) => Some(v),
        _ => None,
    }
}

fn anonymous(scheme: &Scheme) -> Option<&()> {
    matches!(scheme, Scheme::None).then_some(&())
}

/// The one value of header `name`: `None` when absent, an error when repeated.
fn single<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<Option<&'h [u8]>, Failure> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => Ok(Some(v.as_bytes())),
        (Some(_), Some(_)) => Err(Failure::MalformedHeader(name.clone())),
    }
}

fn push_unique(list: &mut Vec<HeaderName>, name: &HeaderName) {
    if !list.contains(name) {
        list.push(name.clone());
    }
}
