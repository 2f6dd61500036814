//! The gateway's own keys, kept as bytes by purpose and id, so every node seals the same
//! challenges and publishes one JWKS. The store does not know what a key is for: the caller
//! brings fresh material, which is kept only when no key of that purpose exists yet — every
//! node races to create key 1, and the primary key keeps exactly one.

use sqlx::Row;
use zeroize::Zeroizing;

use super::{Store, StoreError};

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// The HMAC key that seals challenges.
    Challenge,
    /// The ES256 key (PKCS#8) that signs assertions for the backend.
    Assertion,
}

impl KeyPurpose {
    fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Challenge => "challenge",
            KeyPurpose::Assertion => "assertion",
        }
    }
}

/// One stored key.
pub struct StoredKey {
    pub kid: u32,
    pub secret: Zeroizing<Vec<u8>>,
}

impl Store {
    /// The keys for `purpose`, newest first; `fresh` becomes key 1 when there is none.
    pub async fn keys(
        &self,
        purpose: KeyPurpose,
        fresh: &[u8],
        now: i64,
    ) -> Result<Vec<StoredKey>, StoreError> {
        let hex_fresh = Zeroizing::new(hex::encode(fresh));
        sqlx::query("INSERT INTO gateway_keys (purpose, kid, secret, created_at) VALUES ($1, 1, $2, $3) ON CONFLICT (purpose, kid) DO NOTHING")
            .bind(purpose.as_str())
            .bind(hex_fresh.as_str())
            .bind(now)
            .execute(&self.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT kid, secret FROM gateway_keys WHERE purpose = $1 ORDER BY kid DESC",
        )
        .bind(purpose.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for r in rows {
            let kid: i64 = r.try_get("kid")?;
            let secret: Zeroizing<String> = Zeroizing::new(r.try_get("secret")?);
            keys.push(StoredKey {
                kid: u32::try_from(kid).map_err(|_| StoreError::Corrupt("key id"))?,
                secret: Zeroizing::new(
                    hex::decode(secret.as_str()).map_err(|_| StoreError::Corrupt("key"))?,
                ),
            });
        }
        if keys.is_empty() {
            return Err(StoreError::Corrupt("key"));
        }
        Ok(keys)
    }
}
