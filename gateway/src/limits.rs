//! Rate limits (design.md §4): per client address on `/auth/challenge` and `/auth/login`,
//! and per certificate counted only for logins whose signature verified, so that nobody can
//! lock a victim out by sending garbage in their name. Fixed one-minute windows, per node.

use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;

use crate::cache::Bounded;

/// Keys counted at most; beyond, the coldest are forgotten (a forgotten key starts again).
const KEYS_MAX: usize = 100_000;

/// The address a request is counted against: the client as the trusted reverse proxy reports
/// it (the rightmost `X-Forwarded-For` entry that is not itself a trusted proxy — the same rule
/// as the forwarded headers), else the TCP peer; IPv6 by its /64, which one household or
/// server holds whole. Behind a load balancer every citizen would otherwise share one bucket.
pub fn client_key(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    let mut client = peer;
    if trusted_proxies.contains(&peer) {
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) if trusted_proxies.contains(&ip) => continue,
                Ok(ip) => {
                    client = ip;
                    break;
                }
                // Garbage from the client's side of the proxy: count the proxy's report as is.
                Err(_) => break,
            }
        }
    }
    match client {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        IpAddr::V6(v6) => IpAddr::V4(v6.to_ipv4_mapped().expect("mapped")),
        v4 => v4,
    }
}

pub struct Limiter<K> {
    per_minute: u32,
    /// Per key: (the minute counted, attempts in it). A lock per key, none across keys.
    windows: Bounded<K, Arc<Mutex<(i64, u32)>>>,
}

impl<K: Eq + Hash + Clone> Limiter<K> {
    pub fn new(per_minute: u32) -> Limiter<K> {
        Limiter {
            per_minute,
            windows: Bounded::new(KEYS_MAX),
        }
    }

    /// Count one attempt by `key` at `now` (seconds); `Err(seconds to wait)` over the limit.
    /// A limit of 0 means unlimited.
    pub fn check(&self, key: K, now: i64) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let window = now - now.rem_euclid(60);
        let counter = match self.windows.get(&key) {
            Some(c) => c,
            None => {
                let c = Arc::new(Mutex::new((window, 0)));
                self.windows.insert(key, c.clone());
                c
            }
        };
        let mut entry = counter.lock().unwrap_or_else(|e| e.into_inner());
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= self.per_minute {
            return Err((window + 60 - now).max(1) as u64);
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_client_behind_a_trusted_proxy_is_counted_and_ipv6_by_its_64() {
        use super::client_key;
        use axum::http::HeaderMap;
        let lb: std::net::IpAddr = "10.0.0.2".parse().unwrap();
        let trusted = [lb];
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            "198.51.100.9, 203.0.113.5".parse().unwrap(),
        );
        // From the balancer: the rightmost untrusted hop (what the balancer itself saw).
        assert_eq!(
            client_key(lb, &h, &trusted),
            "203.0.113.5".parse::<std::net::IpAddr>().unwrap()
        );
        // From anyone else: the header is the client's own claim and is ignored.
        let other: std::net::IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(client_key(other, &h, &trusted), other);
        // IPv6: one /64 is one client.
        let mut v6 = HeaderMap::new();
        v6.append("x-forwarded-for", "2001:db8:1:2:aaaa::1".parse().unwrap());
        assert_eq!(
            client_key(lb, &v6, &trusted),
            "2001:db8:1:2::".parse::<std::net::IpAddr>().unwrap()
        );
        // Nothing usable: the proxy's address.
        assert_eq!(client_key(lb, &HeaderMap::new(), &trusted), lb);
    }

    use super::*;

    #[test]
    fn counts_per_key_per_minute() {
        let l = Limiter::new(2);
        assert!(l.check("a", 120).is_ok());
        assert!(l.check("a", 130).is_ok());
        assert_eq!(l.check("a", 150), Err(30));
        assert!(l.check("b", 150).is_ok(), "another key is unaffected");
        assert!(l.check("a", 180).is_ok(), "a new minute");
        let unlimited = Limiter::new(0);
        for _ in 0..1000 {
            assert!(unlimited.check("a", 1).is_ok());
        }
    }
}
