//! Audit records: one per login outcome (design.md §4), with minimal personal data — the
//! account id, the certificate's issuer and serial, never names.

use sqlx::Row;

use super::writer::{AuditRow, Write};
use super::{random_hex, Store, StoreError};

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

/// An audit record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub outcome: String,
    pub indication: String,
    pub account_id: Option<String>,
    pub detail: Option<String>,
}

/// The row for `record`, with a fresh id.
pub(super) fn row(record: &AuditRecord<'_>, now: i64) -> AuditRow {
    AuditRow {
        id: random_hex(16),
        at: now,
        outcome: record.outcome.to_string(),
        indication: record.indication.to_string(),
        sub_indication: record.sub_indication.to_string(),
        account_id: record.account_id.map(str::to_string),
        issuer: record.issuer.map(str::to_string),
        serial: record.serial.map(str::to_string),
        detail: record.detail.map(str::to_string),
    }
}

impl Store {
    /// Write one record; committed together with concurrent logins' writes
    /// ([`super::writer`]).
    pub async fn audit(&self, record: &AuditRecord<'_>, now: i64) -> Result<(), StoreError> {
        let row = row(record, now);
        self.group_commit(|reply| Write::Audit { row, reply }).await
    }

    /// The latest audit records, newest first.
    pub async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query("SELECT outcome, indication, account_id, detail FROM audit ORDER BY at DESC, id LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(AuditEntry {
                outcome: r.try_get("outcome")?,
                indication: r.try_get("indication")?,
                account_id: r.try_get("account_id")?,
                detail: r.try_get("detail")?,
            });
        }
        Ok(out)
    }
}
