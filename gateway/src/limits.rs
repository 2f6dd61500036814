//! Rate limits (design.md §4): per client address on `/auth/challenge` and `/auth/login`,
//! and per certificate counted only for logins whose signature verified, so that nobody can
//! lock a victim out by sending garbage in their name. Fixed one-minute windows, per node.

use std::hash::Hash;
use std::sync::{Arc, Mutex};

use crate::cache::Bounded;

/// Keys counted at most; beyond, the coldest are forgotten (a forgotten key starts again).
const KEYS_MAX: usize = 100_000;

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
