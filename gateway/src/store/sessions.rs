//! Sessions: only the SHA-256 of the cookie value is stored, so a database leak gives no
//! usable session ids.

use sqlx::Row;

use super::writer::{SessionRow, Write};
use super::{AuditRecord, Role, Store, StoreError};

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub account_id: String,
    pub role: Role,
    /// The organisation the session represents; empty in the citizen role.
    pub org_key: String,
    pub expires_at: i64,
    /// The session registered its account and has not forwarded a request yet.
    pub new_account: bool,
}

/// A session made but not written yet ([`Store::open_session`] writes it).
pub struct NewSession(SessionRow);

/// A new session's cookie value (32 random bytes) and its row.
pub fn new_session(
    account: &str,
    role: Role,
    org_key: &str,
    now: i64,
    ttl: i64,
    new_account: bool,
) -> (String, NewSession) {
    use base64::Engine;
    let mut raw = [0u8; 32];
    openssl::rand::rand_bytes(&mut raw).expect("OpenSSL random");
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let row = SessionRow {
        id_hash: session_hash(&id),
        account_id: account.to_string(),
        role: role.as_str(),
        org_key: org_key.to_string(),
        created_at: now,
        expires_at: now + ttl,
        new_account,
    };
    (id, NewSession(row))
}

fn session_hash(id: &str) -> String {
    hex::encode(certs::sha256(id.as_bytes()))
}

impl Store {
    /// A new session for `account` in `role`; returns the cookie value. Committed together
    /// with concurrent logins' writes ([`super::writer`]).
    pub async fn create_session(
        &self,
        account: &str,
        role: Role,
        org_key: &str,
        now: i64,
        ttl: i64,
        new_account: bool,
    ) -> Result<String, StoreError> {
        let (id, NewSession(row)) = new_session(account, role, org_key, now, ttl, new_account);
        self.group_commit(|reply| Write::Session { row, reply })
            .await?;
        Ok(id)
    }

    /// Write a login's session and its audit record in one transaction: a session nobody
    /// could account for is never left behind.
    pub async fn open_session(
        &self,
        session: NewSession,
        record: &AuditRecord<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        let audit = super::audit::row(record, now);
        self.group_commit(|reply| Write::Login {
            session: session.0,
            audit,
            reply,
        })
        .await
    }

    /// The live session for a cookie value, honouring the absolute and idle lifetimes; a
    /// session of a blocked account is gone (blocking deletes them).
    pub async fn session(
        &self,
        id: &str,
        now: i64,
        idle: i64,
    ) -> Result<Option<Session>, StoreError> {
        let Some(row) = sqlx::query("SELECT account_id, role, org_key, last_seen, expires_at, new_account FROM sessions WHERE id_hash = $1")
            .bind(session_hash(id))
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let (last_seen, expires_at): (i64, i64) =
            (row.try_get("last_seen")?, row.try_get("expires_at")?);
        if now >= expires_at || now - last_seen >= idle {
            self.delete_session(id).await?;
            return Ok(None);
        }
        // Touch at most once a minute: the hot path stays nearly read-only.
        if now - last_seen >= 60 {
            sqlx::query("UPDATE sessions SET last_seen = $1 WHERE id_hash = $2")
                .bind(now)
                .bind(session_hash(id))
                .execute(&self.pool)
                .await?;
        }
        let role: String = row.try_get("role")?;
        Ok(Some(Session {
            account_id: row.try_get("account_id")?,
            role: Role::parse(&role).ok_or(StoreError::Corrupt("session role"))?,
            org_key: row.try_get("org_key")?,
            expires_at,
            new_account: row.try_get::<i64, _>("new_account")? == 1,
        }))
    }

    /// True once, for the first forwarded request of a session that registered its account,
    /// so the cabinet can ask a new person for city and phone.
    pub async fn take_new_account(&self, id: &str) -> Result<bool, StoreError> {
        let taken = sqlx::query(
            "UPDATE sessions SET new_account = 0 WHERE id_hash = $1 AND new_account = 1",
        )
        .bind(session_hash(id))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(taken == 1)
    }

    pub async fn set_session_role(
        &self,
        id: &str,
        role: Role,
        org_key: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET role = $1, org_key = $2 WHERE id_hash = $3")
            .bind(role.as_str())
            .bind(org_key)
            .bind(session_hash(id))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(session_hash(id))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
