//! Accounts (design.md §6): one per person, keyed by the best national identifier of their
//! certificates, with the certificates used and the roles held.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::writer::{AccountRow, Write};
use super::{random_hex, Store, StoreError};

/// What an account key is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// A national identifier read from the certificate (tax number, record number, …).
    Id(certs::IdKind),
    /// Issuer + serial, for a certificate that carries no national identifier.
    IssuerSerial,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Id(k) => k.as_str(),
            KeyKind::IssuerSerial => "issuer_serial",
        }
    }

    pub fn parse(name: &str) -> Option<KeyKind> {
        match name {
            "issuer_serial" => Some(KeyKind::IssuerSerial),
            other => certs::IdKind::parse(other).map(KeyKind::Id),
        }
    }
}

/// The account key (design.md §6): the person's best national identifier, or issuer +
/// serial when the certificate has none. Never CN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountKey {
    pub kind: KeyKind,
    /// ISO 3166 alpha-2; empty for issuer + serial.
    pub country: String,
    pub value: String,
}

impl std::fmt::Display for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.kind.as_str(), self.country, self.value)
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
    /// RFC 3339, UTC (`2026-12-01T00:00:00Z`): which of two certificates is newer.
    pub not_before: String,
    pub not_after: String,
    /// (organisation key, organisation name) when the certificate names an organisation.
    pub organisation: Option<(String, Option<String>)>,
    /// The certificate is an organisation's own seal: the account acts only for it (no
    /// citizen role).
    pub seal: bool,
}

/// The role a session acts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The person for themselves.
    Citizen,
    /// The person for the organisation their certificate names.
    Representative,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Citizen => "citizen",
            Role::Representative => "representative",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "citizen" => Some(Role::Citizen),
            "representative" => Some(Role::Representative),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role an account holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleGrant {
    pub role: Role,
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
    pub roles: Vec<RoleGrant>,
}

impl Account {
    /// Whether the account holds `role` for `org_key` (empty for the citizen role).
    pub fn holds(&self, role: Role, org_key: &str) -> bool {
        self.roles
            .iter()
            .any(|r| r.role == role && r.org_key == org_key)
    }
}

/// What `find_or_register` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Registered,
    /// Names changed in the newer certificate; the old ones, for the audit record.
    NamesUpdated(Names),
    Unchanged,
}

fn names_of(row: &AnyRow) -> Result<Names, sqlx::Error> {
    Ok(Names {
        surname: row.try_get("surname")?,
        given_name: row.try_get("given_name")?,
        patronymic: row.try_get("patronymic")?,
        full_name: row.try_get("full_name")?,
    })
}

impl Registration {
    /// The roles this certificate brings, in the order the account reads them back.
    fn roles(&self) -> Vec<RoleGrant> {
        let mut wanted = Vec::new();
        if !self.seal {
            wanted.push(RoleGrant {
                role: Role::Citizen,
                org_key: String::new(),
                org_name: None,
            });
        }
        if let Some((org_key, org_name)) = &self.organisation {
            wanted.push(RoleGrant {
                role: Role::Representative,
                org_key: org_key.clone(),
                org_name: org_name.clone(),
            });
        }
        wanted
    }

    /// Orders certificates newest last: notBefore, then serial (hex, left-padded so the strings
    /// compare as numbers). Names and organisation data come from the newest one seen.
    fn source(&self) -> String {
        format!(
            "{}|{:0>64}",
            self.not_before,
            self.serial.to_ascii_uppercase()
        )
    }
}

/// An account with its roles, one row per role (a role-less account gives one row of NULL
/// role columns): one round trip instead of two. Literal SQL, filled in at compile time.
macro_rules! select_account {
    ($cert:literal, $join:literal, $where:literal) => {
        concat!(
            "SELECT a.id, a.key_kind, a.key_country, a.key_value, a.surname, a.given_name, a.patronymic, a.full_name, a.names_source, a.blocked_reason, a.version, r.role, r.org_key, r.org_name",
            $cert,
            " FROM accounts a LEFT JOIN account_roles r ON r.account_id = a.id",
            $join,
            " WHERE ",
            $where,
            " ORDER BY r.role, r.org_key"
        )
    };
}

/// `account_certificates.last_used` is written at most this often (seconds) for one
/// certificate: a returning citizen's login then writes nothing to the accounts tables.
const LAST_USED_EVERY: i64 = 3600;

/// The account the joined rows describe, or `None` for no rows.
fn account_of(rows: &[AnyRow]) -> Result<Option<Account>, StoreError> {
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let mut roles = Vec::new();
    for r in rows {
        let Some(role) = r.try_get::<Option<String>, _>("role")? else {
            continue;
        };
        roles.push(RoleGrant {
            role: Role::parse(&role).ok_or(StoreError::Corrupt("role"))?,
            org_key: r.try_get("org_key")?,
            org_name: r.try_get("org_name")?,
        });
    }
    let kind: String = row.try_get("key_kind")?;
    Ok(Some(Account {
        id: row.try_get("id")?,
        key: AccountKey {
            kind: KeyKind::parse(&kind).ok_or(StoreError::Corrupt("account key kind"))?,
            country: row.try_get("key_country")?,
            value: row.try_get("key_value")?,
        },
        names: names_of(row)?,
        blocked_reason: row.try_get("blocked_reason")?,
        version: row.try_get("version")?,
        roles,
    }))
}

/// What the login's one read returns: the account, the certificate ordering its names came
/// from, and when this certificate was last recorded (`None`: never).
struct Found {
    account: Account,
    names_source: String,
    last_used: Option<i64>,
}

impl Store {
    /// The account for `reg.key` with its roles and this certificate's `last_used`.
    async fn find(&self, reg: &Registration) -> Result<Option<Found>, StoreError> {
        let rows = sqlx::query(select_account!(
            ", c.last_used",
            " LEFT JOIN account_certificates c ON c.account_id = a.id AND c.sha256 = $4",
            "a.key_kind = $1 AND a.key_country = $2 AND a.key_value = $3"
        ))
        .bind(reg.key.kind.as_str())
        .bind(&reg.key.country)
        .bind(&reg.key.value)
        .bind(&reg.certificate_sha256)
        .fetch_all(&self.pool)
        .await?;
        let Some(account) = account_of(&rows)? else {
            return Ok(None);
        };
        Ok(Some(Found {
            account,
            names_source: rows[0].try_get("names_source")?,
            last_used: rows[0].try_get("last_used")?,
        }))
    }

    /// Find the account for `reg.key`, or register it. Concurrent first logins of one person
    /// make one account: the unique key decides, the losers read the winner's row.
    ///
    /// A returning citizen whose names, roles and certificate record are current (the common
    /// case) costs one read and no write.
    pub async fn find_or_register(
        &self,
        reg: &Registration,
        now: i64,
    ) -> Result<(Account, Outcome), StoreError> {
        let found = match self.find(reg).await? {
            Some(found) => found,
            None => {
                if let Some(account) = self.register(reg, now).await? {
                    return Ok((account, Outcome::Registered));
                }
                // A concurrent first login of the same person won: continue with its row.
                self.find(reg).await?.ok_or(StoreError::NoSuchAccount)?
            }
        };
        let Found {
            account,
            names_source: stored_source,
            last_used,
        } = found;
        let id = account.id.clone();
        let stored = account.names.clone();
        // An older certificate (still valid after a renewal) signs in without touching the
        // names the newer one brought.
        let newest = reg.source() >= stored_source;
        let mut changed = false;
        let outcome = if !newest {
            Outcome::Unchanged
        } else if stored != reg.names {
            sqlx::query("UPDATE accounts SET surname = $1, given_name = $2, patronymic = $3, full_name = $4, names_source = $5, version = version + 1, updated_at = $6 WHERE id = $7")
                .bind(&reg.names.surname)
                .bind(&reg.names.given_name)
                .bind(&reg.names.patronymic)
                .bind(&reg.names.full_name)
                .bind(reg.source())
                .bind(now)
                .bind(&id)
                .execute(&self.pool)
                .await?;
            changed = true;
            Outcome::NamesUpdated(stored)
        } else {
            if reg.source() != stored_source {
                sqlx::query("UPDATE accounts SET names_source = $1 WHERE id = $2")
                    .bind(reg.source())
                    .bind(&id)
                    .execute(&self.pool)
                    .await?;
            }
            Outcome::Unchanged
        };
        if last_used.is_none_or(|t| now - t >= LAST_USED_EVERY || now < t) {
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
        }
        // Roles are written only when missing or when the organisation's name changed.
        for grant in reg.roles() {
            // An organisation's name changes only from the newest certificate.
            let renamed = account
                .roles
                .iter()
                .any(|r| r.role == grant.role && r.org_key == grant.org_key);
            if !account.roles.contains(&grant) && (newest || !renamed) {
                self.grant_role(&id, &grant).await?;
                changed = true;
            }
        }
        let account = if changed {
            self.account(&id).await?.ok_or(StoreError::NoSuchAccount)?
        } else {
            account
        };
        Ok((account, outcome))
    }

    /// Write a new account with its certificate and roles in one transaction (through the
    /// group commit). `None`: the key was taken meanwhile.
    async fn register(&self, reg: &Registration, now: i64) -> Result<Option<Account>, StoreError> {
        let roles = reg.roles();
        let row = Box::new(AccountRow {
            id: random_hex(16),
            key_kind: reg.key.kind.as_str(),
            key_country: reg.key.country.clone(),
            key_value: reg.key.value.clone(),
            surname: reg.names.surname.clone(),
            given_name: reg.names.given_name.clone(),
            patronymic: reg.names.patronymic.clone(),
            full_name: reg.names.full_name.clone(),
            names_source: reg.source(),
            now,
            certificate_sha256: reg.certificate_sha256.clone(),
            issuer: reg.issuer.clone(),
            serial: reg.serial.clone(),
            not_after: reg.not_after.clone(),
            roles: roles
                .iter()
                .map(|r| (r.role.as_str(), r.org_key.clone(), r.org_name.clone()))
                .collect(),
        });
        let id = row.id.clone();
        if !self
            .group_commit(|reply| Write::Register { row, reply })
            .await?
        {
            return Ok(None);
        }
        Ok(Some(Account {
            id,
            key: reg.key.clone(),
            names: reg.names.clone(),
            blocked_reason: None,
            version: 1,
            roles,
        }))
    }

    async fn grant_role(&self, account: &str, grant: &RoleGrant) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO account_roles (account_id, role, org_key, org_name) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account_id, role, org_key) DO UPDATE SET org_name = excluded.org_name",
        )
        .bind(account)
        .bind(grant.role.as_str())
        .bind(&grant.org_key)
        .bind(&grant.org_name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let rows = sqlx::query(select_account!("", "", "a.id = $1"))
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        account_of(&rows)
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

    /// Every account's id, oldest first.
    pub async fn account_ids(&self) -> Result<Vec<AccountId>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM accounts ORDER BY created_at, id")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

/// An account's id: 32 lower-case hex digits.
pub type AccountId = String;
