//! The session check that runs on every forwarded request: the session cookie → the live
//! session, from memory while fresh (`session.cache_ttl`), else from the store.
//!
//! The cache is keyed by the SHA-256 of the cookie value (32 bytes, never the cookie itself),
//! bounded, and dropped entry by entry on logout, role switch and block, so the hot path stays
//! off the database without keeping anything past its time. An entry is what forwarding needs
//! and no more — who, in which role, until when, and the identity headers already encoded —
//! shared by reference: a request copies nothing out of it.

use std::sync::Arc;

use crate::assertion::Compact;

use crate::cache::Bounded;
use crate::proxy::identity::Packed;
use crate::store::{Role, Store, StoreError};

/// Sessions held in memory at most; colder ones are read from the store again.
const CACHE_MAX: usize = 200_000;

/// A live session as forwarding sees it.
#[derive(Debug)]
pub struct Entry {
    pub account_id: Box<str>,
    pub role: Role,
    /// The organisation represented; empty in the citizen role.
    pub org_key: Box<str>,
    pub expires_at: i64,
    /// The account's version (bumped by a block or new names): part of the assertion.
    pub version: i64,
    /// The identity header values, encoded once.
    pub identity: Packed,
    /// The assertion minted for this entry and its expiry: kept here rather than in a cache
    /// of its own, so it goes when the entry goes (role switch, logout, block, eviction).
    assertion: std::sync::Mutex<Option<Compact>>,
    /// When it was read from the store (unix seconds).
    at: i64,
}

impl Entry {
    /// This entry's assertion at `now`: the one held while it is not within `renew` seconds
    /// of expiring, else a new one from `mint`.
    pub fn assertion(&self, now: i64, renew: i64, mint: impl FnOnce() -> Compact) -> Compact {
        let mut held = self.assertion.lock().unwrap_or_else(|p| p.into_inner());
        match *held {
            Some(c) if c.expires_at() - now > renew => c,
            _ => {
                let c = mint();
                *held = Some(c);
                c
            }
        }
    }
}

/// A session found for a request.
pub struct Live {
    pub entry: Arc<Entry>,
    /// The account was registered by this session and this is its first forwarded request
    /// (read from the store, which clears the mark when it is announced).
    pub new_account: bool,
}

/// The session cache of one gateway.
pub struct Sessions {
    cache: Bounded<[u8; 32], Arc<Entry>>,
    /// Seconds an entry may be served from memory (0: always ask the store).
    cache_ttl: i64,
    /// Seconds of inactivity that end a session.
    idle_timeout: i64,
}

/// The cache's key for a cookie value: its SHA-256.
pub fn cookie_hash(cookie: &str) -> [u8; 32] {
    certs::sha256(cookie.as_bytes())
}

impl Sessions {
    pub fn new(cache_ttl: u64, idle_timeout: u64) -> Sessions {
        Sessions {
            cache: Bounded::new(CACHE_MAX),
            cache_ttl: cache_ttl as i64,
            idle_timeout: idle_timeout as i64,
        }
    }

    /// The live session for `cookie` at `now` (its account not blocked), or `None`.
    pub async fn lookup(
        &self,
        store: &Store,
        cookie: &str,
        now: i64,
    ) -> Result<Option<Live>, StoreError> {
        let key = cookie_hash(cookie);
        if self.cache_ttl > 0 {
            if let Some(entry) = self.cache.get(&key) {
                // The absolute lifetime is checked on every request, cached or not.
                if now - entry.at < self.cache_ttl && now < entry.expires_at {
                    return Ok(Some(Live {
                        entry,
                        new_account: false,
                    }));
                }
            }
        }
        let found = match store.session(cookie, now, self.idle_timeout).await? {
            Some(session) => store
                .account(&session.account_id)
                .await?
                .filter(|a| a.blocked_reason.is_none())
                .map(|account| Live {
                    entry: Arc::new(Entry {
                        account_id: account.id.as_str().into(),
                        role: session.role,
                        org_key: session.org_key.as_str().into(),
                        expires_at: session.expires_at,
                        version: account.version,
                        identity: Packed::of(&session, &account),
                        assertion: std::sync::Mutex::new(None),
                        at: now,
                    }),
                    new_account: session.new_account,
                }),
            None => None,
        };
        match &found {
            Some(live) if self.cache_ttl > 0 => self.cache.insert(key, live.entry.clone()),
            _ => self.cache.remove(&key),
        }
        Ok(found)
    }

    /// Drop a session from memory (logout, role switch): the next request reads the store.
    pub fn forget(&self, cookie: &str) {
        self.cache.remove(&cookie_hash(cookie));
    }

    /// Whether entries are kept (`session.cache_ttl` > 0): then each holds its assertion.
    pub fn caching(&self) -> bool {
        self.cache_ttl > 0
    }

    /// Sessions held in memory (for the memory benchmark and tests).
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}
