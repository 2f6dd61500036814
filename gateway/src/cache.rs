//! The one bounded cache behind the gateway's in-memory caches (sessions, decoded
//! certificates, validated CAs, assertions, OCSP answers, rate-limit windows).
//!
//! quick_cache's sharded cache: a full cache evicts a cold entry on insert, so no request ever
//! pays for an O(n) sweep under a lock, and memory stays bounded whatever the traffic. Entries
//! carry their own expiry where they have one; the owner checks it on read. Kept behind this
//! thin type so the crate can be swapped in one place (moka was measured against it; see
//! docs/performance.md).

use std::hash::Hash;

pub struct Bounded<K, V> {
    inner: quick_cache::sync::Cache<K, V>,
}

impl<K: Eq + Hash + Clone, V: Clone> Bounded<K, V> {
    /// A cache holding at most about `capacity` entries.
    pub fn new(capacity: usize) -> Bounded<K, V> {
        Bounded {
            inner: quick_cache::sync::Cache::new(capacity.max(1)),
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.inner.get(key)
    }

    pub fn insert(&self, key: K, value: V) {
        self.inner.insert(key, value);
    }

    pub fn remove(&self, key: &K) {
        self.inner.remove(key);
    }

    pub fn len(&self) -> usize {
        self.inner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Every entry, for the rare readers that need them all (CRL refresh, statistics).
    pub fn entries(&self) -> Vec<(K, V)> {
        self.inner.iter().collect()
    }
}
