//! Consumed challenges (design.md §4 step 6): a challenge is stateless until it is used; its
//! nonce is written here once, so a replay fails on this node or any other sharing the
//! database.

use super::{Store, StoreError};

impl Store {
    /// Consume a challenge nonce: true the first time, false on any replay. Expired nonces
    /// are swept.
    pub async fn consume_challenge(
        &self,
        nonce: &[u8; 16],
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        sqlx::query("DELETE FROM consumed_challenges WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        let first = sqlx::query("INSERT INTO consumed_challenges (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING")
            .bind(hex::encode(nonce))
            .bind(expires_at)
            .execute(&self.pool)
            .await?
            .rows_affected()
            == 1;
        Ok(first)
    }
}
