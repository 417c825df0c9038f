//! What a webhook must pass before hookbridge works for it: not draining, its client
//! not locked out after failed logins, a slot under `server.max_inflight` — all before
//! a byte of the body is read — and, once authenticated as a new event, a token from
//! its credential's `rate_limit`.
//!
//! The counting itself (token buckets, failure windows, which address is the client)
//! is [`crate::limit`]'s; this module applies it to a request and says how it refuses.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use http::HeaderMap;
use prometheus::IntGauge;
use tokio::sync::OwnedSemaphorePermit;

use super::reject::{Reject, Unavailable};
use crate::app::{App, State};
use crate::auth::Credential;
use crate::limit;

/// A request admitted past the in-flight limit; counted while alive.
pub(super) struct Admitted {
    _permit: OwnedSemaphorePermit,
    gauge: IntGauge,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// Refuses work while draining or beyond `server.max_inflight`, before reading a byte.
pub(super) fn admit(state: &State) -> Result<Admitted, Reject> {
    if state.is_draining() {
        return Err(Reject::Unavailable(Unavailable::Draining));
    }
    let permit = state
        .inflight()
        .clone()
        .try_acquire_owned()
        .map_err(|_| Reject::Unavailable(Unavailable::Overloaded))?;
    let gauge = state.metrics.inflight.clone();
    gauge.inc();
    Ok(Admitted {
        _permit: permit,
        gauge,
    })
}

/// The address `server.failed_auth_limit` charges (see [`limit::client_address`]):
/// `None` without a peer (handler tests) or when only trusted proxies are known.
pub(super) fn client(app: &App, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
    app.failed_auth.as_ref()?;
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    limit::client_address(peer?.ip(), forwarded, &app.server.trusted_proxies)
}

/// Refuses a client that failed authentication too often, before reading its body or
/// evaluating its credentials.
pub(super) fn locked_out(state: &State, app: &App, client: Option<IpAddr>) -> Result<(), Reject> {
    let (Some(limit), Some(ip)) = (&app.failed_auth, client) else {
        return Ok(());
    };
    match limit.locked(ip, Instant::now()) {
        None => Ok(()),
        Some(wait) => {
            state.metrics.failed_auth_limited.inc();
            Err(Reject::LockedOut(wait))
        }
    }
}

/// Counts a failed authentication against the client's address.
pub(super) fn failed(app: &App, client: Option<IpAddr>) {
    if let (Some(limit), Some(ip)) = (&app.failed_auth, client) {
        limit.failed(ip, Instant::now());
    }
}

/// Takes a token from the credential's `rate_limit` bucket, if it has one.
pub(super) fn rate_limit(app: &App, credential: &Credential) -> Result<(), Reject> {
    let Some(bucket) = app.rate_limits.get(&credential.name) else {
        return Ok(());
    };
    bucket.take(Instant::now()).map_err(|wait| {
        app.credential_series(credential).rate_limited.inc();
        Reject::RateLimited(wait)
    })
}
