//! Rate limits (design.md §4): per client address on `/auth/challenge` and `/auth/login`,
//! and per certificate counted only for logins whose signature verified, so that nobody can
//! lock a victim out by sending garbage in their name. Fixed one-minute windows, per node.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

pub struct Limiter<K> {
    per_minute: u32,
    windows: Mutex<HashMap<K, (i64, u32)>>,
}

impl<K: Eq + Hash> Limiter<K> {
    pub fn new(per_minute: u32) -> Limiter<K> {
        Limiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Count one attempt by `key` at `now` (seconds); `Err(seconds to wait)` over the limit.
    /// A limit of 0 means unlimited.
    pub fn check(&self, key: K, now: i64) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let window = now - now.rem_euclid(60);
        let mut map = self.windows.lock().expect("limiter");
        if map.len() > 100_000 {
            map.retain(|_, (w, _)| *w == window);
        }
        let entry = map.entry(key).or_insert((window, 0));
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
