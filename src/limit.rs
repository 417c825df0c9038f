//! Rate limits: a token bucket per credential (`rate_limit`), and a budget of failed
//! authentications per client address (`server.failed_auth_limit`) with the address
//! taken from `X-Forwarded-For` only behind `server.trusted_proxies`.
//!
//! Both are in memory, per process and bounded: a credential list is fixed by the
//! config, and at most `server.failed_auth_max_clients` clients are remembered —
//! beyond it one is forgotten to make room (one with few failures, never by failing
//! open), and expired windows are swept at most once per window. A client is an IPv4
//! address (an IPv4-mapped IPv6 address is the same client) or an IPv6 prefix
//! (`server.failed_auth_ipv6_prefix`, a /64 by default: one host usually has the whole
//! block). A reload starts them afresh.

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

/// How many tracked clients a full [`FailedAuth`] looks at to pick one to forget.
const EVICTION_SAMPLE: usize = 8;

/// Failed authentications per client in fixed windows of `rate.per`: once a client
/// reaches `rate.count` in a window, it is refused until the window ends.
#[derive(Debug)]
pub struct FailedAuth {
    rate: Rate,
    ipv6_prefix: u8,
    capacity: usize,
    windows: Mutex<Windows>,
}

#[derive(Debug)]
struct Windows {
    /// By client: when its window started, and its failures in it.
    by_client: HashMap<IpAddr, (Instant, u32)>,
    /// When expired windows were last swept out.
    swept: Option<Instant>,
}

impl FailedAuth {
    /// No failures yet; IPv6 clients counted by their first `ipv6_prefix` bits, at most
    /// `capacity` clients remembered.
    pub fn new(rate: Rate, ipv6_prefix: u8, capacity: usize) -> FailedAuth {
        FailedAuth {
            rate,
            ipv6_prefix: ipv6_prefix.min(128),
            capacity: capacity.max(1),
            windows: Mutex::new(Windows {
                by_client: HashMap::new(),
                swept: None,
            }),
        }
    }

    /// Whether `address` is locked out at `now`: how long until its window ends.
    pub fn locked(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        let client = client_key(address, self.ipv6_prefix);
        let windows = self.lock();
        let (start, failures) = *windows.by_client.get(&client)?;
        let end = start + self.rate.per;
        (failures >= self.rate.count && now < end).then(|| end - now)
    }

    /// Counts a failed authentication of `address` at `now`.
    pub fn failed(&self, address: IpAddr, now: Instant) {
        let client = client_key(address, self.ipv6_prefix);
        let mut windows = self.lock();
        if windows.by_client.len() >= self.capacity && !windows.by_client.contains_key(&client) {
            windows.make_room(self.capacity, self.rate.per, now);
        }
        let window = windows.by_client.entry(client).or_insert((now, 0));
        if now >= window.0 + self.rate.per {
            *window = (now, 0);
        }
        window.1 = window.1.saturating_add(1);
    }

    /// How many clients are remembered.
    pub fn tracked(&self) -> usize {
        self.lock().by_client.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.windows.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Windows {
    /// Frees one place: sweeps out expired windows (at most once per window, so that a
    /// flood of new addresses does not sweep the whole map under the lock each time),
    /// else forgets the client with the fewest failures among a few.
    fn make_room(&mut self, capacity: usize, per: Duration, now: Instant) {
        if self.swept.is_none_or(|at| now >= at + per) {
            self.swept = Some(now);
            self.by_client.retain(|_, (start, _)| now < *start + per);
            if self.by_client.len() < capacity {
                return;
            }
        }
        let victim = self
            .by_client
            .iter()
            .take(EVICTION_SAMPLE)
            .min_by_key(|(_, (start, failures))| (now < *start + per, *failures))
            .map(|(client, _)| *client);
        if let Some(victim) = victim {
            self.by_client.remove(&victim);
        }
    }
}

/// The client `address` belongs to: an IPv4 address (also when written IPv4-mapped),
/// or the IPv6 prefix of `ipv6_prefix` bits.
pub fn client_key(address: IpAddr, ipv6_prefix: u8) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let host_bits = 128 - u32::from(ipv6_prefix.min(128));
            let mask = u128::MAX.checked_shl(host_bits).unwrap_or(0);
            IpAddr::V6((v6.to_bits() & mask).into())
        }
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
/// nearest `X-Forwarded-For` entry that is not itself a trusted proxy. An entry may
/// carry a port (`203.0.113.7:4711`, `[2001:db8::7]:4711`), as some load balancers
/// write it. `None` when that leaves only trusted proxies (no header, or a hop that
/// cannot be read): a proxy is never charged for the clients behind it.
pub fn client_address<'h>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'h str>,
    trusted: &[Network],
) -> Option<IpAddr> {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    for hop in forwarded_for.rev().flat_map(|h| h.rsplit(',')) {
        // Unparseable: nothing further left can be trusted.
        let ip = forwarded_address(hop)?;
        if !is_trusted(ip) {
            return Some(ip);
        }
    }
    None
}

/// One `X-Forwarded-For` entry: an address, optionally with a port.
fn forwarded_address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip())
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
        let limit = FailedAuth::new("2/m".parse().unwrap(), 64, 100);
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
            Some(ip("198.51.100.1"))
        );
        // Behind two of our proxies: the first untrusted hop from the right.
        assert_eq!(
            client_address(
                ip("10.0.0.5"),
                ["6.6.6.6, 198.51.100.9", "10.1.2.3"].into_iter(),
                &trusted
            ),
            Some(ip("198.51.100.9"))
        );
        // No header, or nothing readable beyond our proxies: nobody is charged, least
        // of all the proxy (everyone behind it would be locked out with it).
        assert_eq!(
            client_address(ip("10.0.0.5"), std::iter::empty(), &trusted),
            None
        );
        assert_eq!(
            client_address(ip("10.0.0.5"), ["10.1.2.3"].into_iter(), &trusted),
            None
        );
        assert_eq!(
            client_address(ip("10.0.0.5"), ["junk, 10.1.2.3"].into_iter(), &trusted),
            None
        );
        // Entries with ports, as some cloud load balancers write them.
        for (hop, client) in [
            ("198.51.100.9:4711", "198.51.100.9"),
            ("[2001:db8::7]:4711", "2001:db8::7"),
            ("10.1.2.3:80, 203.0.113.5:1234", "203.0.113.5"),
        ] {
            assert_eq!(
                client_address(ip("10.0.0.5"), [hop].into_iter(), &trusted),
                Some(ip(client)),
                "{hop}"
            );
        }
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

    #[test]
    fn a_client_is_an_ipv4_address_or_an_ipv6_prefix() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client_key(ip("::ffff:198.18.0.1"), 64), ip("198.18.0.1"));
        assert_eq!(
            client_key(ip("2001:db8:1:2:aaaa::1"), 64),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            client_key(ip("2001:db8:1:2:aaaa::1"), 48),
            ip("2001:db8:1::")
        );
        assert_eq!(client_key(ip("2001:db8::1"), 128), ip("2001:db8::1"));
        let t = Instant::now();
        let limit = FailedAuth::new("2/m".parse().unwrap(), 64, 100);
        limit.failed(ip("2001:db8:0:7::1"), t);
        limit.failed(ip("2001:db8:0:7::2"), t);
        assert!(limit.locked(ip("2001:db8:0:7::99"), t).is_some());
        assert!(limit.locked(ip("2001:db8:0:8::1"), t).is_none());
        limit.failed(ip("198.18.0.1"), t);
        limit.failed(ip("::ffff:198.18.0.1"), t);
        assert!(limit.locked(ip("198.18.0.1"), t).is_some());
    }

    #[test]
    fn a_full_map_forgets_someone_instead_of_failing_open() {
        let t = Instant::now();
        let limit = FailedAuth::new("3/m".parse().unwrap(), 64, 50);
        let attacker: IpAddr = "203.0.113.66".parse().unwrap();
        limit.failed(attacker, t);
        for i in 0..1000u32 {
            let other = IpAddr::from(std::net::Ipv4Addr::from(0x0A00_0000 + i));
            limit.failed(other, t);
        }
        assert_eq!(limit.tracked(), 50, "bounded");
        // A new client is still counted, and locked out at its limit.
        let newcomer: IpAddr = "198.51.100.200".parse().unwrap();
        for _ in 0..3 {
            limit.failed(newcomer, t);
        }
        assert!(limit.locked(newcomer, t).is_some());
        assert_eq!(limit.tracked(), 50);
    }

    #[test]
    fn a_locked_client_outlives_a_flood_of_single_failures() {
        let t = Instant::now();
        let limit = FailedAuth::new("3/m".parse().unwrap(), 64, 50);
        let locked: IpAddr = "203.0.113.66".parse().unwrap();
        for _ in 0..3 {
            limit.failed(locked, t);
        }
        for i in 0..10_000u32 {
            let other = IpAddr::from(std::net::Ipv4Addr::from(0x0A00_0000 + i));
            limit.failed(other, t);
        }
        // Forgotten only if it was among the few looked at, and then only behind
        // clients with fewer failures: with 50 places and 10,000 newcomers, sampled
        // eviction always had a one-failure entry to drop instead.
        assert!(limit.locked(locked, t).is_some());
    }
}
