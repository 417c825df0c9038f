//! Rate limits: a token bucket per credential (`rate_limit`), and a budget of failed
//! authentications per client address (`server.failed_auth_limit`) with the address
//! taken from `X-Forwarded-For` only behind `server.trusted_proxies`.
//!
//! Both are in memory, per process and bounded: a credential list is fixed by the
//! config, and at most [`MAX_TRACKED_ADDRESSES`] addresses are remembered. A reload
//! starts them afresh.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `N/s` or `N/m`: so many events per second or per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// How many.
    pub count: u32,
    /// Per how long.
    pub per: Duration,
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Rate, String> {
        let wrong =
            || format!("expected \"N/s\" or \"N/m\" with N from 1 to 1000000, found {text:?}");
        let (count, unit) = text.trim().split_once('/').ok_or_else(wrong)?;
        let count: u32 = count.trim().parse().map_err(|_| wrong())?;
        if !(1..=1_000_000).contains(&count) {
            return Err(wrong());
        }
        let per = match unit.trim() {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            _ => return Err(wrong()),
        };
        Ok(Rate { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.per.as_secs() == 60 { "m" } else { "s" };
        write!(f, "{}/{unit}", self.count)
    }
}

/// A token bucket holding up to `count` tokens, refilled at `count` per `per`: bursts
/// of `count` pass, a steady rate above it does not.
#[derive(Debug)]
pub struct TokenBucket {
    rate: Rate,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: Rate, now: Instant) -> TokenBucket {
        TokenBucket {
            rate,
            state: Mutex::new((f64::from(rate.count), now)),
        }
    }

    /// Takes a token at `now`, or says how long until one is there.
    pub fn take(&self, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = *state;
        let capacity = f64::from(self.rate.count);
        let per_second = capacity / self.rate.per.as_secs_f64();
        let elapsed = now.saturating_duration_since(last).as_secs_f64();
        let tokens = (tokens + elapsed * per_second).min(capacity);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            Ok(())
        } else {
            *state = (tokens, now);
            Err(Duration::from_secs_f64((1.0 - tokens) / per_second))
        }
    }
}

/// How many client addresses [`FailedAuth`] remembers at once; beyond it, addresses
/// not yet tracked are not limited (the limit fails open rather than growing).
pub const MAX_TRACKED_ADDRESSES: usize = 100_000;

/// Failed authentications per client address in fixed windows of `rate.per`: once an
/// address reaches `rate.count` in a window, it is refused until the window ends.
#[derive(Debug)]
pub struct FailedAuth {
    rate: Rate,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl FailedAuth {
    /// No failures yet.
    pub fn new(rate: Rate) -> FailedAuth {
        FailedAuth {
            rate,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `address` is locked out at `now`: how long until its window ends.
    pub fn locked(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let (start, failures) = *windows.get(&address)?;
        let end = start + self.rate.per;
        (failures >= self.rate.count && now < end).then(|| end - now)
    }

    /// Counts a failed authentication of `address` at `now`.
    pub fn failed(&self, address: IpAddr, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() >= MAX_TRACKED_ADDRESSES && !windows.contains_key(&address) {
            let per = self.rate.per;
            windows.retain(|_, (start, _)| now < *start + per);
            if windows.len() >= MAX_TRACKED_ADDRESSES {
                return;
            }
        }
        let window = windows.entry(address).or_insert((now, 0));
        if now >= window.0 + self.rate.per {
            *window = (now, 0);
        }
        window.1 = window.1.saturating_add(1);
    }
}

/// An address or a CIDR block (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Network, String> {
        let wrong = || {
            format!("expected an IP address or CIDR block such as \"10.0.0.0/8\", found {text:?}")
        };
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let address: IpAddr = address.trim().parse().map_err(|_| wrong())?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(wrong)?,
        };
        Ok(Network { address, prefix })
    }
}

impl Network {
    /// Whether `address` is in this network.
    pub fn contains(&self, address: IpAddr) -> bool {
        let (net, ip, bits) = match (self.address, address.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                (u128::from(n.to_bits()), u128::from(a.to_bits()), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => (n.to_bits(), a.to_bits(), 128),
            _ => return false,
        };
        let host_bits = u32::from(bits - self.prefix);
        let mask = u128::MAX.checked_shl(host_bits).unwrap_or(0);
        net & mask == ip & mask
    }
}

/// The client's address: the peer's, or — when the peer is a trusted proxy — the
/// nearest `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_address<'h>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'h str>,
    trusted: &[Network],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut nearest = peer;
    for hop in forwarded_for.rev().flat_map(|h| h.rsplit(',')) {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            // Unparseable: nothing further left can be trusted.
            return nearest;
        };
        nearest = ip;
        if !is_trusted(ip) {
            return ip;
        }
    }
    nearest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_print() {
        assert_eq!(
            "20/s".parse::<Rate>(),
            Ok(Rate {
                count: 20,
                per: Duration::from_secs(1)
            })
        );
        assert_eq!("5/m".parse::<Rate>().unwrap().to_string(), "5/m");
        for wrong in ["", "5", "0/s", "5/h", "x/s", "2000000/s"] {
            assert!(wrong.parse::<Rate>().is_err(), "{wrong}");
        }
    }

    #[test]
    fn a_bucket_passes_a_burst_then_the_rate() {
        let t = Instant::now();
        let bucket = TokenBucket::new("3/s".parse().unwrap(), t);
        for _ in 0..3 {
            assert_eq!(bucket.take(t), Ok(()));
        }
        let wait = bucket.take(t).unwrap_err();
        assert!(
            wait > Duration::from_millis(300) && wait <= Duration::from_millis(334),
            "{wait:?}"
        );
        assert_eq!(bucket.take(t + Duration::from_millis(334)), Ok(()));
        assert!(bucket.take(t + Duration::from_millis(334)).is_err());
        // Idle time refills up to the burst, no further.
        let later = t + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(bucket.take(later), Ok(()));
        }
        assert!(bucket.take(later).is_err());
    }

    #[test]
    fn failed_authentications_lock_an_address_out_for_the_rest_of_its_window() {
        let t = Instant::now();
        let limit = FailedAuth::new("2/m".parse().unwrap());
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "203.0.113.8".parse().unwrap();
        limit.failed(a, t);
        assert_eq!(limit.locked(a, t), None);
        limit.failed(a, t + Duration::from_secs(10));
        assert_eq!(
            limit.locked(a, t + Duration::from_secs(10)),
            Some(Duration::from_secs(50))
        );
        assert_eq!(limit.locked(b, t + Duration::from_secs(10)), None);
        assert_eq!(limit.locked(a, t + Duration::from_secs(60)), None);
        limit.failed(a, t + Duration::from_secs(61));
        assert_eq!(limit.locked(a, t + Duration::from_secs(61)), None);
    }

    #[test]
    fn the_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy() {
        let trusted: Vec<Network> = ["10.0.0.0/8", "fd00::/8"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Not a proxy: its own address, whatever it claims.
        assert_eq!(
            client_address(ip("198.51.100.1"), ["1.2.3.4"].into_iter(), &trusted),
            ip("198.51.100.1")
        );
        // Behind two of our proxies: the first untrusted hop from the right.
        assert_eq!(
            client_address(
                ip("10.0.0.5"),
                ["6.6.6.6, 198.51.100.9", "10.1.2.3"].into_iter(),
                &trusted
            ),
            ip("198.51.100.9")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_address(ip("10.0.0.5"), std::iter::empty(), &trusted),
            ip("10.0.0.5")
        );
        assert!(
            "fd00::/8"
                .parse::<Network>()
                .unwrap()
                .contains(ip("fd12::1"))
        );
        assert!(
            !"10.0.0.0/8"
                .parse::<Network>()
                .unwrap()
                .contains(ip("11.0.0.1"))
        );
        assert!(
            "10.0.0.0/8"
                .parse::<Network>()
                .unwrap()
                .contains(ip("::ffff:10.0.0.1"))
        );
        for wrong in ["10.0.0.0/33", "ten", "10.0.0.0/x"] {
            assert!(wrong.parse::<Network>().is_err(), "{wrong}");
        }
    }
}
