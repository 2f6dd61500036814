//! The gateway's database: accounts, the certificates and roles they use, consumed
//! challenges, sessions and audit records. One async code path for SQLite (the default) and
//! PostgreSQL (several gateway nodes), through sqlx's `Any` driver with runtime queries:
//! the SQL here is the common subset of both (`$n` parameters, `ON CONFLICT`, BIGINT times).

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

/// Each entry is applied once, in order, and recorded in `brama_migrations`.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        key_kind TEXT NOT NULL,
        key_country TEXT NOT NULL,
        key_value TEXT NOT NULL,
        surname TEXT,
        given_name TEXT,
        patronymic TEXT,
        full_name TEXT,
        blocked_reason TEXT,
        version BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        UNIQUE (key_kind, key_country, key_value)
    )",
    "CREATE TABLE account_certificates (
        account_id TEXT NOT NULL REFERENCES accounts(id),
        sha256 TEXT NOT NULL,
        issuer TEXT NOT NULL,
        serial TEXT NOT NULL,
        not_after TEXT NOT NULL,
        first_used BIGINT NOT NULL,
        last_used BIGINT NOT NULL,
        PRIMARY KEY (account_id, sha256)
    )",
    "CREATE TABLE account_roles (
        account_id TEXT NOT NULL REFERENCES accounts(id),
        role TEXT NOT NULL,
        org_key TEXT NOT NULL,
        org_name TEXT,
        PRIMARY KEY (account_id, role, org_key)
    )",
    "CREATE TABLE consumed_challenges (
        nonce TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL
    )",
    "CREATE INDEX consumed_challenges_expiry ON consumed_challenges (expires_at)",
    "CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id),
        role TEXT NOT NULL,
        org_key TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    )",
    "CREATE TABLE audit (
        id TEXT PRIMARY KEY,
        at BIGINT NOT NULL,
        outcome TEXT NOT NULL,
        indication TEXT NOT NULL,
        sub_indication TEXT NOT NULL,
        account_id TEXT,
        issuer TEXT,
        serial TEXT,
        detail TEXT
    )",
    "ALTER TABLE sessions ADD COLUMN new_account BIGINT NOT NULL DEFAULT 0",
    "CREATE TABLE gateway_keys (
        purpose TEXT NOT NULL,
        kid BIGINT NOT NULL,
        secret TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (purpose, kid)
    )",
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("no such account")]
    NoSuchAccount,
}

/// The account key (design.md §6): the person's best national identifier, or issuer +
/// serial when the certificate has none. Never CN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountKey {
    pub kind: String,
    pub country: String,
    pub value: String,
}

impl std::fmt::Display for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.kind, self.country, self.value)
    }
}

/// Names as the certificate gives them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Names {
    pub surname: Option<String>,
    pub given_name: Option<String>,
    pub patronymic: Option<String>,
    pub full_name: Option<String>,
}

/// What a verified login brings to the account store.
#[derive(Debug, Clone)]
pub struct Registration {
    pub key: AccountKey,
    pub names: Names,
    pub certificate_sha256: String,
    pub issuer: String,
    pub serial: String,
    pub not_after: String,
    /// (organisation key, organisation name) when the certificate names an organisation.
    pub organisation: Option<(String, Option<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// `citizen` or `representative`.
    pub role: String,
    /// Organisation key (`registration:UA:12345678`), empty for the citizen role.
    pub org_key: String,
    pub org_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub key: AccountKey,
    pub names: Names,
    pub blocked_reason: Option<String>,
    /// Bumped on every change that must invalidate cached assertions (names, block).
    pub version: i64,
    pub roles: Vec<Role>,
}

/// What `find_or_register` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Registered,
    /// Names changed in the newer certificate; the old ones, for the audit record.
    NamesUpdated(Names),
    Unchanged,
}

pub struct Store {
    pool: AnyPool,
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub account_id: String,
    pub role: String,
    pub org_key: String,
    pub expires_at: i64,
    /// The session registered its account and has not forwarded a request yet.
    pub new_account: bool,
}

/// One login outcome for the audit log.
pub struct AuditRecord<'a> {
    /// `ok` or a refusal code.
    pub outcome: &'a str,
    /// ETSI EN 319 102-1 indication and sub-indication.
    pub indication: &'a str,
    pub sub_indication: &'a str,
    pub account_id: Option<&'a str>,
    pub issuer: Option<&'a str>,
    pub serial: Option<&'a str>,
    pub detail: Option<&'a str>,
}

fn session_hash(id: &str) -> String {
    certs::hex(&openssl::sha::sha256(id.as_bytes()))
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    openssl::rand::rand_bytes(&mut b).expect("OpenSSL random");
    certs::hex(&b)
}

fn names_of(row: &AnyRow) -> Result<Names, sqlx::Error> {
    Ok(Names {
        surname: row.try_get("surname")?,
        given_name: row.try_get("given_name")?,
        patronymic: row.try_get("patronymic")?,
        full_name: row.try_get("full_name")?,
    })
}

impl Store {
    /// Connect (`sqlite://brama.db`, `postgres://…`) and bring the schema up to date.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let url = if sqlite && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { "&" } else { "?" })
        } else {
            url.to_string()
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 16 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // WAL: readers never wait for the writer; busy_timeout: writers queue.
                        // synchronous=NORMAL: with WAL a commit no longer waits for its own
                        // fsync (the WAL is synced at checkpoints) — a crash of the process
                        // loses nothing, a power cut may lose the last moments' sessions and
                        // consumed challenges (which expire within challenge.ttl anyway).
                        conn.execute("PRAGMA journal_mode=WAL").await?;
                        conn.execute("PRAGMA synchronous=NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout=10000").await?;
                        conn.execute("PRAGMA foreign_keys=ON").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let store = Store { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        self.pool
            .execute("CREATE TABLE IF NOT EXISTS brama_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .await?;
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let version = i as i64 + 1;
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM brama_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&self.pool)
                    .await?;
            if done.is_some() {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            tx.execute(*sql).await?;
            // Another node may have applied it meanwhile: the primary key decides.
            let recorded = sqlx::query("INSERT INTO brama_migrations (version, applied_at) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING")
                .bind(version)
                .bind(time::OffsetDateTime::now_utc().unix_timestamp())
                .execute(&mut *tx)
                .await?;
            if recorded.rows_affected() == 1 {
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Find the account for `reg.key`, or register it. Concurrent first logins of one person
    /// make one account: the unique key decides, the losers read the winner's row.
    pub async fn find_or_register(
        &self,
        reg: &Registration,
        now: i64,
    ) -> Result<(Account, Outcome), StoreError> {
        // A returning citizen (the common case) is read without writing the account row: only
        // a first login inserts, and then the unique key decides between concurrent ones.
        const SELECT: &str = "SELECT id, surname, given_name, patronymic, full_name FROM accounts WHERE key_kind = $1 AND key_country = $2 AND key_value = $3";
        let select = || {
            sqlx::query(SELECT)
                .bind(&reg.key.kind)
                .bind(&reg.key.country)
                .bind(&reg.key.value)
        };
        let (row, inserted) = match select().fetch_optional(&self.pool).await? {
            Some(row) => (row, false),
            None => {
                let inserted = sqlx::query(
                    "INSERT INTO accounts (id, key_kind, key_country, key_value, surname, given_name, patronymic, full_name, version, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)
                     ON CONFLICT (key_kind, key_country, key_value) DO NOTHING",
                )
                .bind(random_hex(16))
                .bind(&reg.key.kind)
                .bind(&reg.key.country)
                .bind(&reg.key.value)
                .bind(&reg.names.surname)
                .bind(&reg.names.given_name)
                .bind(&reg.names.patronymic)
                .bind(&reg.names.full_name)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected()
                    == 1;
                (select().fetch_one(&self.pool).await?, inserted)
            }
        };
        let id: String = row.try_get("id")?;
        let stored = names_of(&row)?;
        let outcome = if inserted {
            Outcome::Registered
        } else if stored != reg.names {
            sqlx::query("UPDATE accounts SET surname = $1, given_name = $2, patronymic = $3, full_name = $4, version = version + 1, updated_at = $5 WHERE id = $6")
                .bind(&reg.names.surname)
                .bind(&reg.names.given_name)
                .bind(&reg.names.patronymic)
                .bind(&reg.names.full_name)
                .bind(now)
                .bind(&id)
                .execute(&self.pool)
                .await?;
            Outcome::NamesUpdated(stored)
        } else {
            Outcome::Unchanged
        };
        sqlx::query(
            "INSERT INTO account_certificates (account_id, sha256, issuer, serial, not_after, first_used, last_used)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (account_id, sha256) DO UPDATE SET last_used = excluded.last_used",
        )
        .bind(&id)
        .bind(&reg.certificate_sha256)
        .bind(&reg.issuer)
        .bind(&reg.serial)
        .bind(&reg.not_after)
        .bind(now)
        .execute(&self.pool)
        .await?;
        // Roles are written only when missing or when the organisation's name changed.
        let account = self.account(&id).await?.ok_or(StoreError::NoSuchAccount)?;
        let mut wanted = vec![("citizen", "", None)];
        if let Some((org_key, org_name)) = &reg.organisation {
            wanted.push(("representative", org_key.as_str(), org_name.as_deref()));
        }
        let mut added = false;
        for (role, org_key, org_name) in wanted {
            let held = account.roles.iter().any(|r| {
                r.role == role && r.org_key == org_key && r.org_name.as_deref() == org_name
            });
            if !held {
                self.add_role(&id, role, org_key, org_name).await?;
                added = true;
            }
        }
        let account = if added {
            self.account(&id).await?.ok_or(StoreError::NoSuchAccount)?
        } else {
            account
        };
        Ok((account, outcome))
    }

    async fn add_role(
        &self,
        account: &str,
        role: &str,
        org_key: &str,
        org_name: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO account_roles (account_id, role, org_key, org_name) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account_id, role, org_key) DO UPDATE SET org_name = excluded.org_name",
        )
        .bind(account)
        .bind(role)
        .bind(org_key)
        .bind(org_name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let Some(row) = sqlx::query("SELECT * FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let roles = sqlx::query("SELECT role, org_key, org_name FROM account_roles WHERE account_id = $1 ORDER BY role, org_key")
            .bind(id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok(Role { role: r.try_get("role")?, org_key: r.try_get("org_key")?, org_name: r.try_get("org_name")? }))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Some(Account {
            id: row.try_get("id")?,
            key: AccountKey {
                kind: row.try_get("key_kind")?,
                country: row.try_get("key_country")?,
                value: row.try_get("key_value")?,
            },
            names: names_of(&row)?,
            blocked_reason: row.try_get("blocked_reason")?,
            version: row.try_get("version")?,
            roles,
        }))
    }

    /// Block (with a reason) or unblock (`None`) an account; ends its live sessions.
    pub async fn set_blocked(
        &self,
        id: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let changed = sqlx::query("UPDATE accounts SET blocked_reason = $1, version = version + 1, updated_at = $2 WHERE id = $3")
            .bind(reason)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NoSuchAccount);
        }
        if reason.is_some() {
            sqlx::query("DELETE FROM sessions WHERE account_id = $1")
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Consume a challenge nonce (design.md §4 step 6): true the first time, false on any
    /// replay, on this node or another sharing the database. Expired nonces are swept.
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
        let hex: String = certs::hex(nonce);
        let first = sqlx::query("INSERT INTO consumed_challenges (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING")
            .bind(hex)
            .bind(expires_at)
            .execute(&self.pool)
            .await?
            .rows_affected()
            == 1;
        Ok(first)
    }

    /// A new session for `account` in `role`; returns the cookie value. Only its SHA-256 is
    /// stored, so a database leak gives no usable session ids.
    pub async fn create_session(
        &self,
        account: &str,
        role: &str,
        org_key: &str,
        now: i64,
        ttl: i64,
        new_account: bool,
    ) -> Result<String, StoreError> {
        use base64::Engine;
        let mut raw = [0u8; 32];
        openssl::rand::rand_bytes(&mut raw).expect("OpenSSL random");
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        sqlx::query("INSERT INTO sessions (id_hash, account_id, role, org_key, created_at, last_seen, expires_at, new_account) VALUES ($1, $2, $3, $4, $5, $5, $6, $7)")
            .bind(session_hash(&id))
            .bind(account)
            .bind(role)
            .bind(org_key)
            .bind(now)
            .bind(now + ttl)
            .bind(new_account as i64)
            .execute(&self.pool)
            .await?;
        Ok(id)
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
        Ok(Some(Session {
            account_id: row.try_get("account_id")?,
            role: row.try_get("role")?,
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

    /// Every account with its key, full name and block state, oldest first.
    pub async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        let mut out = Vec::new();
        for id in self.account_ids().await? {
            if let Some(a) = self.account(&id).await? {
                out.push(a);
            }
        }
        Ok(out)
    }

    pub async fn set_session_role(
        &self,
        id: &str,
        role: &str,
        org_key: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET role = $1, org_key = $2 WHERE id_hash = $3")
            .bind(role)
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

    /// One audit record per login outcome (design.md §4): minimal personal data.
    pub async fn audit(&self, record: &AuditRecord<'_>, now: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit (id, at, outcome, indication, sub_indication, account_id, issuer, serial, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(random_hex(16))
            .bind(now)
            .bind(record.outcome)
            .bind(record.indication)
            .bind(record.sub_indication)
            .bind(record.account_id)
            .bind(record.issuer)
            .bind(record.serial)
            .bind(record.detail)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The latest audit records, newest first: (outcome, indication, account id, detail).
    pub async fn recent_audit(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, String, Option<String>, Option<String>)>, StoreError> {
        let rows = sqlx::query("SELECT outcome, indication, account_id, detail FROM audit ORDER BY at DESC, id LIMIT $1").bind(limit).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("outcome")?,
                    r.try_get("indication")?,
                    r.try_get("account_id")?,
                    r.try_get("detail")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The ES256 assertion key, generated on first start and shared through the database
    /// (nodes must publish one JWKS).
    pub async fn assertion_key(
        &self,
        now: i64,
    ) -> Result<crate::assertion::SigningKey, StoreError> {
        use crate::assertion::SigningKey;
        let fresh = SigningKey::generate("1");
        let hex = certs::hex(&fresh.to_pkcs8());
        sqlx::query("INSERT INTO gateway_keys (purpose, kid, secret, created_at) VALUES ('assertion', 1, $1, $2) ON CONFLICT (purpose, kid) DO NOTHING")
            .bind(hex)
            .bind(now)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query(
            "SELECT kid, secret FROM gateway_keys WHERE purpose = 'assertion' ORDER BY kid DESC",
        )
        .fetch_one(&self.pool)
        .await?;
        let kid: i64 = row.try_get("kid")?;
        let hex: String = row.try_get("secret")?;
        let der: Vec<u8> = (0..hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
            .collect();
        SigningKey::from_pkcs8(&kid.to_string(), &der)
            .map_err(|e| StoreError::Db(sqlx::Error::Protocol(e)))
    }

    /// The challenge HMAC keys, generated on first start and shared through the database,
    /// so every node seals and opens the same challenges. The newest key seals.
    pub async fn challenge_keys(&self, now: i64) -> Result<crate::challenge::Keys, StoreError> {
        use crate::challenge::{Key, Keys};
        let secret = random_hex(32);
        // Every node races to create key 1; the primary key keeps exactly one.
        sqlx::query("INSERT INTO gateway_keys (purpose, kid, secret, created_at) VALUES ('challenge', 1, $1, $2) ON CONFLICT (purpose, kid) DO NOTHING")
            .bind(secret)
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
            let hex: String = r.try_get("secret")?;
            let bytes = (0..hex.len() / 2)
                .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                .collect();
            keys.push(Key {
                id: kid as u32,
                secret: zeroize::Zeroizing::new(bytes),
            });
        }
        let current = keys.remove(0);
        Ok(Keys {
            current,
            previous: keys,
        })
    }

    pub async fn account_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM accounts ORDER BY created_at, id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
