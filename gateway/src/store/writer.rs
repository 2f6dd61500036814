//! Group commit: the small writes every login makes — its consumed challenge, its session
//! and audit record, and on a first login the new account with its certificate and roles — go
//! to one task that commits whatever has queued up meanwhile in one transaction, one
//! multi-row statement per table.
//!
//! Why: a login used to commit three to five times, and each statement was a hop to the
//! database driver's thread and back. Under a burst of logins the cost per login was the
//! database's, not the cryptography's (docs/performance.md, "where a returning login's time
//! goes"). Batching changes no answer: each caller still waits until its own write is
//! committed, a replayed nonce is still refused by the database's primary key (and by the
//! batch itself when two copies arrive together), two first logins of one person still make
//! one account (the unique key, and the batch itself), and a batch that fails is retried one
//! write at a time, so one bad row cannot fail the others.
//!
//! With SQLite the task also starts the checkpoints, beside the writes rather than inside a
//! commit (see `Store::connect`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Executor, Row};
use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// The most writes one transaction takes; the rest wait for the next one.
const MAX_BATCH: usize = 128;

/// How often SQLite's write-ahead log is copied into the database file: a passive
/// checkpoint copies what the readers allow and never blocks a writer.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Expired consumed challenges are swept at most this often (seconds): a replayed challenge
/// is refused as expired before it reaches the table, so a late sweep costs only disk.
const SWEEP_EVERY: i64 = 60;

/// A session row, its cookie value already hashed.
pub(super) struct SessionRow {
    pub id_hash: String,
    pub account_id: String,
    pub role: &'static str,
    pub org_key: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub new_account: bool,
}

/// An audit row with owned fields.
pub(super) struct AuditRow {
    pub id: String,
    pub at: i64,
    pub outcome: String,
    pub indication: String,
    pub sub_indication: String,
    pub account_id: Option<String>,
    pub issuer: Option<String>,
    pub serial: Option<String>,
    pub detail: Option<String>,
}

/// A role row: (role, organisation key, organisation name).
pub(super) type RoleRow = (&'static str, String, Option<String>);

/// A new account with its first certificate and roles, written together or not at all.
pub(super) struct AccountRow {
    pub id: String,
    pub key_kind: &'static str,
    pub key_country: String,
    pub key_value: String,
    pub surname: Option<String>,
    pub given_name: Option<String>,
    pub patronymic: Option<String>,
    pub full_name: Option<String>,
    pub names_source: String,
    pub now: i64,
    pub certificate_sha256: String,
    pub issuer: String,
    pub serial: String,
    pub not_after: String,
    /// (role, organisation key, organisation name).
    pub roles: Vec<RoleRow>,
}

impl AccountRow {
    fn key(&self) -> (&str, &str, &str) {
        (self.key_kind, &self.key_country, &self.key_value)
    }
}

/// Where a write's answer goes.
pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One write and where its answer goes.
pub(super) enum Write {
    /// True when this nonce was not consumed before.
    Consume {
        nonce: String,
        expires_at: i64,
        now: i64,
        reply: Reply<bool>,
    },
    Session {
        row: SessionRow,
        reply: Reply<()>,
    },
    Audit {
        row: AuditRow,
        reply: Reply<()>,
    },
    /// A login's session and its audit record: both or neither.
    Login {
        session: SessionRow,
        audit: AuditRow,
        reply: Reply<()>,
    },
    /// True when this account was written; false when its key was taken (by a concurrent
    /// first login of the same person, here or on another node).
    Register {
        row: Box<AccountRow>,
        reply: Reply<bool>,
    },
}

/// Start the writer for `pool`; it ends when every sender is dropped. With `sqlite`, it also
/// starts the database's checkpoints.
pub(super) fn spawn(pool: AnyPool, sqlite: bool) -> mpsc::UnboundedSender<Write> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut last_sweep = i64::MIN;
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let checkpointing = Arc::new(AtomicBool::new(false));
        loop {
            tokio::select! {
                received = rx.recv_many(&mut batch, MAX_BATCH) => {
                    if received == 0 {
                        return;
                    }
                }
                _ = tick.tick(), if sqlite => {
                    // In its own task: a checkpoint syncs the file, and the next batch must
                    // not wait for that.
                    if !checkpointing.swap(true, Ordering::AcqRel) {
                        let (pool, flag) = (pool.clone(), checkpointing.clone());
                        tokio::spawn(async move {
                            if let Err(e) = pool.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
                                tracing::warn!("SQLite checkpoint: {e}");
                            }
                            flag.store(false, Ordering::Release);
                        });
                    }
                    continue;
                }
            }
            // Let the tasks that are ready run first: on a busy worker they are the logins
            // about to queue their own writes, which then share this transaction.
            tokio::task::yield_now().await;
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(w) => batch.push(w),
                    Err(_) => break,
                }
            }
            commit(&pool, std::mem::take(&mut batch), &mut last_sweep).await;
        }
    });
    tx
}

/// What a batch is made of, split by table.
#[derive(Default)]
struct Split {
    consumes: Vec<(String, i64, Reply<bool>)>,
    sessions: Vec<(SessionRow, Reply<()>)>,
    audits: Vec<(AuditRow, Reply<()>)>,
    accounts: Vec<(Box<AccountRow>, Reply<bool>)>,
    logins: Vec<(SessionRow, AuditRow, Reply<()>)>,
    /// The latest `now` among the consumes: the sweep's clock.
    now: Option<i64>,
}

async fn commit(pool: &AnyPool, batch: Vec<Write>, last_sweep: &mut i64) {
    let mut split = Split::default();
    for w in batch {
        match w {
            Write::Consume {
                nonce,
                expires_at,
                now,
                reply,
            } => {
                split.now = Some(split.now.map_or(now, |n: i64| n.max(now)));
                split.consumes.push((nonce, expires_at, reply));
            }
            Write::Session { row, reply } => split.sessions.push((row, reply)),
            Write::Audit { row, reply } => split.audits.push((row, reply)),
            Write::Register { row, reply } => split.accounts.push((row, reply)),
            Write::Login {
                session,
                audit,
                reply,
            } => split.logins.push((session, audit, reply)),
        }
    }
    let sweep = split
        .now
        .filter(|now| now.saturating_sub(*last_sweep) >= SWEEP_EVERY);
    match write_all(pool, &split, sweep).await {
        Ok(fresh) => {
            if let Some(now) = sweep {
                *last_sweep = now;
            }
            answer(split, fresh);
        }
        Err(e) => {
            // One at a time, so each write gets its own answer.
            tracing::warn!("group commit failed, writing one at a time: {e}");
            one_by_one(pool, split).await;
        }
    }
}

/// What the database took as new in a batch.
#[derive(Default)]
struct Fresh {
    nonces: HashSet<String>,
    accounts: HashSet<String>,
}

/// Every write of the batch in one transaction — none only for a lone row, which is one
/// statement. (A table's rows may take several statements: see `power_of_two_chunks`.)
async fn write_all(
    pool: &AnyPool,
    split: &Split,
    sweep: Option<i64>,
) -> Result<Fresh, sqlx::Error> {
    let lone = sweep.is_none()
        && split.accounts.is_empty()
        && split.logins.is_empty()
        && split.consumes.len() + split.sessions.len() + split.audits.len() == 1;
    if lone {
        return statements_in(&mut *pool.acquire().await?, split, sweep).await;
    }
    // Rolled back when dropped on an error.
    let mut tx = pool.begin().await?;
    let fresh = statements_in(&mut tx, split, sweep).await?;
    tx.commit().await?;
    Ok(fresh)
}

async fn statements_in(
    conn: &mut AnyConnection,
    split: &Split,
    sweep: Option<i64>,
) -> Result<Fresh, sqlx::Error> {
    if let Some(now) = sweep {
        sqlx::query("DELETE FROM consumed_challenges WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    // Two copies of one nonce in a batch: the statement carries it once, and only the first
    // caller is told it is new (see `answer`).
    let mut seen = HashSet::new();
    let unique: Vec<_> = split
        .consumes
        .iter()
        .filter(|(nonce, _, _)| seen.insert(nonce.as_str()))
        .collect();
    let mut fresh = Fresh::default();
    let taken = insert_rows(
        conn,
        "INSERT INTO consumed_challenges (nonce, expires_at) VALUES ",
        2,
        " ON CONFLICT (nonce) DO NOTHING RETURNING nonce",
        &unique,
        |q, (nonce, expires_at, _)| q.bind(nonce.as_str()).bind(*expires_at),
    )
    .await?;
    for row in taken {
        fresh.nonces.insert(row.try_get::<String, _>(0)?);
    }
    fresh.accounts = register(conn, &split.accounts).await?;
    let sessions: Vec<&SessionRow> = split
        .sessions
        .iter()
        .map(|(s, _)| s)
        .chain(split.logins.iter().map(|(s, _, _)| s))
        .collect();
    insert_rows(
        conn,
        "INSERT INTO sessions (id_hash, account_id, role, org_key, created_at, last_seen, expires_at, new_account) VALUES ",
        8,
        "",
        &sessions,
        |q, s| {
            q.bind(s.id_hash.as_str())
                .bind(s.account_id.as_str())
                .bind(s.role)
                .bind(s.org_key.as_str())
                .bind(s.created_at)
                .bind(s.created_at)
                .bind(s.expires_at)
                .bind(s.new_account as i64)
        },
    )
    .await?;
    let audits: Vec<&AuditRow> = split
        .audits
        .iter()
        .map(|(a, _)| a)
        .chain(split.logins.iter().map(|(_, a, _)| a))
        .collect();
    insert_rows(
        conn,
        "INSERT INTO audit (id, at, outcome, indication, sub_indication, account_id, issuer, serial, detail) VALUES ",
        9,
        "",
        &audits,
        |q, a| {
            q.bind(a.id.as_str())
                .bind(a.at)
                .bind(a.outcome.as_str())
                .bind(a.indication.as_str())
                .bind(a.sub_indication.as_str())
                .bind(a.account_id.as_deref())
                .bind(a.issuer.as_deref())
                .bind(a.serial.as_deref())
                .bind(a.detail.as_deref())
        },
    )
    .await?;
    Ok(fresh)
}

/// New accounts: each key once (a second first login of the same person in the batch loses,
/// as it would to another node), then the certificate and roles of those that got in.
async fn register(
    conn: &mut AnyConnection,
    accounts: &[(Box<AccountRow>, Reply<bool>)],
) -> Result<HashSet<String>, sqlx::Error> {
    let mut seen = HashSet::new();
    let unique: Vec<&AccountRow> = accounts
        .iter()
        .map(|(a, _)| &**a)
        .filter(|a| seen.insert(a.key()))
        .collect();
    let mut written = HashSet::new();
    let inserted = insert_rows(
        conn,
        "INSERT INTO accounts (id, key_kind, key_country, key_value, surname, given_name, patronymic, full_name, version, created_at, updated_at, names_source) VALUES ",
        12,
        " ON CONFLICT (key_kind, key_country, key_value) DO NOTHING RETURNING id",
        &unique,
        |q, a| {
            q.bind(a.id.as_str())
                .bind(a.key_kind)
                .bind(a.key_country.as_str())
                .bind(a.key_value.as_str())
                .bind(a.surname.as_deref())
                .bind(a.given_name.as_deref())
                .bind(a.patronymic.as_deref())
                .bind(a.full_name.as_deref())
                .bind(1i64)
                .bind(a.now)
                .bind(a.now)
                .bind(a.names_source.as_str())
        },
    )
    .await?;
    for row in inserted {
        written.insert(row.try_get::<String, _>(0)?);
    }
    let new: Vec<&AccountRow> = unique
        .into_iter()
        .filter(|a| written.contains(&a.id))
        .collect();
    insert_rows(
        conn,
        "INSERT INTO account_certificates (account_id, sha256, issuer, serial, not_after, first_used, last_used) VALUES ",
        7,
        "",
        &new,
        |q, a| {
            q.bind(a.id.as_str())
                .bind(a.certificate_sha256.as_str())
                .bind(a.issuer.as_str())
                .bind(a.serial.as_str())
                .bind(a.not_after.as_str())
                .bind(a.now)
                .bind(a.now)
        },
    )
    .await?;
    let roles: Vec<(&str, &RoleRow)> = new
        .iter()
        .flat_map(|a| a.roles.iter().map(|r| (a.id.as_str(), r)))
        .collect();
    insert_rows(
        conn,
        "INSERT INTO account_roles (account_id, role, org_key, org_name) VALUES ",
        4,
        "",
        &roles,
        |q, (id, (role, org_key, org_name))| {
            q.bind(*id)
                .bind(*role)
                .bind(org_key.as_str())
                .bind(org_name.as_deref())
        },
    )
    .await?;
    Ok(written)
}

/// A query whose values are all bound (sqlx encodes them as they are bound).
type AnyQuery = sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>;

/// Insert `rows` with `head (…), (…) tail`, `columns` values each, in power-of-two chunks;
/// what a `RETURNING` tail gave back.
async fn insert_rows<T>(
    conn: &mut AnyConnection,
    head: &str,
    columns: usize,
    tail: &str,
    rows: &[T],
    bind: impl Fn(AnyQuery, &T) -> AnyQuery,
) -> Result<Vec<AnyRow>, sqlx::Error> {
    let mut out = Vec::new();
    for chunk in power_of_two_chunks(rows) {
        let mut q = sqlx::query(insert_sql(head, chunk.len(), columns, tail));
        for row in chunk {
            q = bind(q, row);
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// `rows` split into chunks whose lengths are powers of two (largest first): a table sees at
/// most log2(MAX_BATCH) + 1 statement shapes, so the driver's prepared-statement cache keeps
/// them all instead of preparing a new one per batch size.
fn power_of_two_chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let n = 1 << rows.len().ilog2();
        let (chunk, rest) = rows.split_at(n);
        rows = rest;
        Some(chunk)
    })
}

/// `head ($1, $2), ($3, $4) tail` for `rows` rows of `columns` values. Only numbered
/// placeholders are generated here; every value is bound.
fn insert_sql(head: &str, rows: usize, columns: usize, tail: &str) -> AssertSqlSafe<String> {
    let mut out = String::with_capacity(head.len() + rows * columns * 5 + tail.len());
    out.push_str(head);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * columns + c + 1).to_string());
        }
        out.push(')');
    }
    out.push_str(tail);
    AssertSqlSafe(out)
}

/// Tell each caller the result; a nonce counts as new for its first caller only.
fn answer(split: Split, mut fresh: Fresh) {
    for (nonce, _, reply) in split.consumes {
        let _ = reply.send(Ok(fresh.nonces.remove(&nonce)));
    }
    for (account, reply) in split.accounts {
        let _ = reply.send(Ok(fresh.accounts.remove(&account.id)));
    }
    for (_, reply) in split.sessions {
        let _ = reply.send(Ok(()));
    }
    for (_, reply) in split.audits {
        let _ = reply.send(Ok(()));
    }
    for (_, _, reply) in split.logins {
        let _ = reply.send(Ok(()));
    }
}

/// The fallback after a failed batch: each write alone, each with its own result.
async fn one_by_one(pool: &AnyPool, split: Split) {
    for (nonce, expires_at, reply) in split.consumes {
        let mut s = Split::default();
        s.consumes
            .push((nonce.clone(), expires_at, oneshot::channel().0));
        let result = write_all(pool, &s, None).await;
        let _ = reply.send(
            result
                .map(|fresh| fresh.nonces.contains(&nonce))
                .map_err(Into::into),
        );
    }
    for (session, audit, reply) in split.logins {
        let mut s = Split::default();
        s.logins.push((session, audit, oneshot::channel().0));
        let _ = reply.send(
            write_all(pool, &s, None)
                .await
                .map(drop)
                .map_err(Into::into),
        );
    }
    for (row, reply) in split.accounts {
        let id = row.id.clone();
        let mut s = Split::default();
        s.accounts.push((row, oneshot::channel().0));
        let result = write_all(pool, &s, None).await;
        let _ = reply.send(
            result
                .map(|fresh| fresh.accounts.contains(&id))
                .map_err(Into::into),
        );
    }
    for (row, reply) in split.sessions {
        let mut s = Split::default();
        s.sessions.push((row, oneshot::channel().0));
        let _ = reply.send(
            write_all(pool, &s, None)
                .await
                .map(drop)
                .map_err(Into::into),
        );
    }
    for (row, reply) in split.audits {
        let mut s = Split::default();
        s.audits.push((row, oneshot::channel().0));
        let _ = reply.send(
            write_all(pool, &s, None)
                .await
                .map(drop)
                .map_err(Into::into),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{insert_sql, power_of_two_chunks};

    #[test]
    fn placeholders_number_every_value_once() {
        assert_eq!(insert_sql("V ", 1, 2, "").0, "V ($1, $2)");
        assert_eq!(
            insert_sql("V ", 2, 3, " R").0,
            "V ($1, $2, $3), ($4, $5, $6) R"
        );
    }

    #[test]
    fn chunks_are_powers_of_two_and_cover_every_row() {
        let rows: Vec<usize> = (0..107).collect();
        let lens: Vec<usize> = power_of_two_chunks(&rows).map(<[usize]>::len).collect();
        assert_eq!(lens, [64, 32, 8, 2, 1]);
        let back: Vec<usize> = power_of_two_chunks(&rows).flatten().copied().collect();
        assert_eq!(back, rows);
        assert_eq!(power_of_two_chunks::<u8>(&[]).count(), 0);
    }
}
