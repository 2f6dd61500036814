//! Consumed challenges (design.md §4 step 6): a challenge is stateless until it is used; its
//! nonce is written here once, so a replay fails on this node or any other sharing the
//! database.

use super::writer::Write;
use super::{Store, StoreError};

impl Store {
    /// Consume a challenge nonce: true the first time, false on any replay. Expired nonces
    /// are swept at most once a minute. Committed together with concurrent logins' writes
    /// ([`super::writer`]).
    pub async fn consume_challenge(
        &self,
        nonce: &[u8; 16],
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let nonce = hex::encode(nonce);
        self.group_commit(|reply| Write::Consume {
            nonce,
            expires_at,
            now,
            reply,
        })
        .await
    }
}
