//! The gateway's own keys, generated on first start and shared through the database so every
//! node seals the same challenges and publishes one JWKS. Every node races to create key 1;
//! the primary key keeps exactly one.

use sqlx::Row;
use zeroize::Zeroizing;

use super::{random_hex, Store, StoreError};
use crate::assertion::SigningKey;
use crate::challenge::{Key, Keys};

impl Store {
    /// The ES256 assertion key (the newest).
    pub async fn assertion_key(&self, now: i64) -> Result<SigningKey, StoreError> {
        let fresh = SigningKey::generate("1");
        sqlx::query("INSERT INTO gateway_keys (purpose, kid, secret, created_at) VALUES ('assertion', 1, $1, $2) ON CONFLICT (purpose, kid) DO NOTHING")
            .bind(hex::encode(fresh.to_pkcs8()))
            .bind(now)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query(
            "SELECT kid, secret FROM gateway_keys WHERE purpose = 'assertion' ORDER BY kid DESC",
        )
        .fetch_one(&self.pool)
        .await?;
        let kid: i64 = row.try_get("kid")?;
        let secret: Zeroizing<String> = Zeroizing::new(row.try_get("secret")?);
        let der = Zeroizing::new(
            hex::decode(secret.as_str()).map_err(|_| StoreError::Corrupt("assertion key"))?,
        );
        SigningKey::from_pkcs8(&kid.to_string(), &der)
            .map_err(|_| StoreError::Corrupt("assertion key"))
    }

    /// The challenge HMAC keys; the newest seals, older ones still open.
    pub async fn challenge_keys(&self, now: i64) -> Result<Keys, StoreError> {
        sqlx::query("INSERT INTO gateway_keys (purpose, kid, secret, created_at) VALUES ('challenge', 1, $1, $2) ON CONFLICT (purpose, kid) DO NOTHING")
            .bind(random_hex(32))
            .bind(now)
            .execute(&self.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT kid, secret FROM gateway_keys WHERE purpose = 'challenge' ORDER BY kid DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut keys = Vec::new();
        for r in rows {
            let kid: i64 = r.try_get("kid")?;
            let secret: Zeroizing<String> = Zeroizing::new(r.try_get("secret")?);
            keys.push(Key {
                id: kid as u32,
                secret: Zeroizing::new(
                    hex::decode(secret.as_str()).map_err(|_| StoreError::Corrupt("challenge key"))?,
                ),
            });
        }
        if keys.is_empty() {
            return Err(StoreError::Corrupt("challenge key"));
        }
        let current = keys.remove(0);
        Ok(Keys {
            current,
            previous: keys,
        })
    }
}
