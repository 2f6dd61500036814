//! The session check that runs on every forwarded request: the session cookie → the live
//! session and its account, from memory while fresh (`session.cache_ttl`), else from the store.
//!
//! The cache is keyed by the SHA-256 of the cookie value (32 bytes, never the cookie itself),
//! bounded, and dropped entry by entry on logout, role switch and block, so the hot path stays
//! off the database without keeping anything past its time.

use crate::cache::Bounded;
use crate::store::{Account, Session, Store, StoreError};

/// Sessions held in memory at most; colder ones are read from the store again.
const CACHE_MAX: usize = 200_000;

#[derive(Clone)]
struct Cached {
    session: Session,
    account: Account,
    /// When it was read from the store (unix seconds).
    at: i64,
}

/// The session cache of one gateway.
pub struct Sessions {
    cache: Bounded<[u8; 32], Cached>,
    /// Seconds an entry may be served from memory (0: always ask the store).
    cache_ttl: i64,
    /// Seconds of inactivity that end a session.
    idle_timeout: i64,
}

/// The cache's key for a cookie value: its SHA-256.
pub fn cookie_hash(cookie: &str) -> [u8; 32] {
    openssl::sha::sha256(cookie.as_bytes())
}

impl Sessions {
    pub fn new(cache_ttl: u64, idle_timeout: u64) -> Sessions {
        Sessions {
            cache: Bounded::new(CACHE_MAX),
            cache_ttl: cache_ttl as i64,
            idle_timeout: idle_timeout as i64,
        }
    }

    /// The live session for `cookie` at `now` and its account (not blocked), or `None`.
    pub async fn lookup(
        &self,
        store: &Store,
        cookie: &str,
        now: i64,
    ) -> Result<Option<(Session, Account)>, StoreError> {
        let key = cookie_hash(cookie);
        if self.cache_ttl > 0 {
            if let Some(c) = self.cache.get(&key) {
                // The absolute lifetime is checked on every request, cached or not.
                if now - c.at < self.cache_ttl && now < c.session.expires_at {
                    return Ok(Some((c.session, c.account)));
                }
            }
        }
        let found = match store.session(cookie, now, self.idle_timeout).await? {
            Some(session) => store
                .account(&session.account_id)
                .await?
                .filter(|a| a.blocked_reason.is_none())
                .map(|a| (session, a)),
            None => None,
        };
        match &found {
            Some((session, account)) if self.cache_ttl > 0 => {
                let mut session = session.clone();
                session.new_account = false; // announced by the request that read it from the store
                self.cache.insert(
                    key,
                    Cached {
                        session,
                        account: account.clone(),
                        at: now,
                    },
                );
            }
            _ => self.cache.remove(&key),
        }
        Ok(found)
    }

    /// Drop a session from memory (logout, role switch): the next request reads the store.
    pub fn forget(&self, cookie: &str) {
        self.cache.remove(&cookie_hash(cookie));
    }

    /// Sessions held in memory (for the memory benchmark and tests).
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}
