//! The gateway's database: accounts, the certificates and roles they use, consumed
//! challenges, sessions, audit records and the gateway's keys. One async code path for SQLite
//! (the default) and PostgreSQL (several gateway nodes), through sqlx's `Any` driver with
//! runtime queries: the SQL here is the common subset of both (`$n` parameters,
//! `ON CONFLICT`, BIGINT times). The schema is the numbered files in `gateway/migrations/`.
//!
//! One file per table family: [`accounts`], [`sessions`], [`challenges`], [`audit`],
//! [`keys`]; [`writer`] commits the logins' small writes together (group commit).

pub mod accounts;
pub mod audit;
pub mod challenges;
pub mod keys;
pub mod sessions;
mod writer;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

pub use accounts::{Account, AccountKey, KeyKind, Names, Outcome, Registration, Role, RoleGrant};
pub use audit::{AuditEntry, AuditRecord};
pub use sessions::{new_session, NewSession, Session};

/// Each migration is applied once, in order, and recorded in `brama_migrations` by its number.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_accounts.sql"),
    include_str!("../../migrations/0002_account_certificates.sql"),
    include_str!("../../migrations/0003_account_roles.sql"),
    include_str!("../../migrations/0004_consumed_challenges.sql"),
    include_str!("../../migrations/0005_consumed_challenges_expiry.sql"),
    include_str!("../../migrations/0006_sessions.sql"),
    include_str!("../../migrations/0007_audit.sql"),
    include_str!("../../migrations/0008_sessions_new_account.sql"),
    include_str!("../../migrations/0009_gateway_keys.sql"),
    include_str!("../../migrations/0010_account_names_source.sql"),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("no such account")]
    NoSuchAccount,
    /// A row the gateway wrote that no longer reads back (edited by hand, or a newer schema).
    #[error("database: unreadable {0}")]
    Corrupt(&'static str),
    /// The group-commit task is gone (the runtime that started it shut down).
    #[error("database: the writer has stopped")]
    WriterStopped,
}

/// The database of one gateway (or of every node sharing it). Cheap to clone: a pool.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    writer: tokio::sync::mpsc::UnboundedSender<writer::Write>,
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    openssl::rand::rand_bytes(&mut b).expect("OpenSSL random");
    hex::encode(b)
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
                        // 512 KiB of page cache per connection instead of SQLite's 2 MiB:
                        // the hot path reads sessions from memory, not from here, and four
                        // full caches were a tenth of the gateway's memory at 100k sessions
                        // (docs/performance.md). The OS page cache still holds the file.
                        conn.execute("PRAGMA cache_size=-512").await?;
                        // No connection checkpoints on commit: the checkpoint syncs the
                        // database file, and on the commit path that sync stalled every
                        // login waiting on the group commit (tens of ms on a slow disk).
                        // The writer starts them beside the writes instead.
                        conn.execute("PRAGMA wal_autocheckpoint=0").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let writer = writer::spawn(pool.clone(), sqlite);
        let store = Store { pool, writer };
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

    /// Hand a write to the group-commit task and wait until it is committed.
    async fn group_commit<T>(
        &self,
        write: impl FnOnce(tokio::sync::oneshot::Sender<Result<T, StoreError>>) -> writer::Write,
    ) -> Result<T, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.writer
            .send(write(tx))
            .map_err(|_| StoreError::WriterStopped)?;
        rx.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        // Without its writer a node can read but no login can finish.
        if self.writer.is_closed() {
            return Err(StoreError::WriterStopped);
        }
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
