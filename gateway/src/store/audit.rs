//! Audit records: one per login outcome (design.md §4), with minimal personal data — the
//! account id, the certificate's issuer and serial, never names.

use sqlx::Row;

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

impl Store {
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
