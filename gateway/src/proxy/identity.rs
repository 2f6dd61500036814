//! The identity headers of one session, encoded once when the session is read and reused by
//! every request it forwards.
//!
//! Why packed: a hundred thousand live sessions sit in memory, and a forwarded request should
//! not percent-encode four names and build eleven header names each time. The values of one
//! session share one buffer; a request takes slices of it (a reference-count increment each)
//! and the header names, built once per gateway from the configured prefix.

use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue};

use super::headers::encode_value;
use crate::store::{Account, KeyKind, Role, Session};

/// The identity headers after the prefix, in the order they are sent.
pub const NAMES: [&str; 11] = [
    "Account-Id",
    "Role",
    "Surname",
    "Given-Name",
    "Patronymic",
    "Full-Name",
    "Tax-Number",
    "Org-Id",
    "Org-Name",
    "New-Account",
    "Assertion",
];
const ACCOUNT_ID: u8 = 0;
const ROLE: u8 = 1;
const TAX_NUMBER: u8 = 6;
const ORG_ID: u8 = 7;
const ORG_NAME: u8 = 8;
pub const NEW_ACCOUNT: usize = 9;
pub const ASSERTION: usize = 10;

/// The header names with the gateway's prefix (`X-Brama-Account-Id`, …), built once.
pub struct Names(Vec<HeaderName>);

impl Names {
    /// `prefix` is checked by the configuration (letters, digits and `-`, ending in `-`).
    pub fn new(prefix: &str) -> Names {
        Names(
            NAMES
                .iter()
                .map(|n| {
                    HeaderName::from_bytes(format!("{prefix}{n}").as_bytes())
                        .unwrap_or_else(|_| HeaderName::from_static("x-brama-invalid-prefix"))
                })
                .collect(),
        )
    }

    pub fn get(&self, i: usize) -> &HeaderName {
        &self.0[i]
    }
}

/// The values of one session's identity headers (all but New-Account and Assertion, which
/// change from request to request), in one buffer.
#[derive(Clone, Debug)]
pub struct Packed {
    values: Bytes,
    /// (index into [`NAMES`], end of its value in `values`), in order.
    spans: Box<[(u8, u16)]>,
}

impl Packed {
    pub fn of(session: &Session, account: &Account) -> Packed {
        let mut values = Vec::with_capacity(256);
        let mut spans = Vec::with_capacity(8);
        for (name, value) in values_of(session, account) {
            values.extend_from_slice(value.as_bytes());
            // Names are capped at 256 characters, so a value stays far below 64 KiB.
            spans.push((name, values.len().min(u16::MAX as usize) as u16));
        }
        Packed {
            // An exact-size copy: the working buffer's spare capacity is not kept for the
            // session's lifetime.
            values: Bytes::copy_from_slice(&values),
            spans: spans.into_boxed_slice(),
        }
    }

    /// (name index, value) of each header, the value a slice of the shared buffer.
    pub fn values(&self) -> impl Iterator<Item = (usize, HeaderValue)> + '_ {
        let mut start = 0usize;
        self.spans.iter().filter_map(move |&(name, end)| {
            let end = end as usize;
            let slice = self.values.slice(start..end);
            start = end;
            // Percent-encoded ASCII by construction; a failure drops the header, never panics.
            HeaderValue::from_maybe_shared(slice)
                .ok()
                .map(|v| (name as usize, v))
        })
    }

    /// Heap bytes held (for the memory benchmark's accounting and tests).
    pub fn heap_size(&self) -> usize {
        self.values.len() + self.spans.len() * std::mem::size_of::<(u8, u16)>()
    }
}

/// The per-session identity values, encoded as they are sent.
fn values_of(session: &Session, account: &Account) -> Vec<(u8, HeaderValue)> {
    let mut out = vec![
        (
            ACCOUNT_ID,
            HeaderValue::from_str(&account.id).unwrap_or_else(|_| encode_value(&account.id)),
        ),
        (ROLE, encode_value(session.role.as_str())),
    ];
    for (name, value) in [
        (2u8, &account.names.surname),
        (3, &account.names.given_name),
        (4, &account.names.patronymic),
        (5, &account.names.full_name),
    ] {
        if let Some(v) = value {
            out.push((name, encode_value(v)));
        }
    }
    if account.key.kind == KeyKind::Id(certs::IdKind::TaxNumber) && account.key.country == "UA" {
        out.push((TAX_NUMBER, encode_value(&account.key.value)));
    }
    if session.role == Role::Representative {
        out.push((ORG_ID, encode_value(&session.org_key)));
        if let Some(n) = account
            .roles
            .iter()
            .find(|r| r.org_key == session.org_key)
            .and_then(|r| r.org_name.as_ref())
        {
            out.push((ORG_NAME, encode_value(n)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AccountKey, RoleGrant};

    #[test]
    fn a_session_is_encoded_once_and_served_alike_each_time() {
        let session = Session {
            account_id: "0123abcd".into(),
            role: Role::Citizen,
            org_key: String::new(),
            expires_at: 0,
            new_account: false,
        };
        let account = Account {
            id: "0123abcd".into(),
            key: AccountKey {
                kind: KeyKind::Id(certs::IdKind::TaxNumber),
                country: "UA".into(),
                value: "3012345670".into(),
            },
            names: crate::store::Names {
                surname: Some("Коваль-Ярошенко".into()),
                given_name: Some("Мар’яна".into()),
                patronymic: Some("Олегівна".into()),
                full_name: Some("Коваль-Ярошенко Мар’яна Олегівна".into()),
            },
            blocked_reason: None,
            version: 1,
            roles: vec![RoleGrant {
                role: Role::Citizen,
                org_key: String::new(),
                org_name: None,
            }],
        };
        let packed = Packed::of(&session, &account);
        let first: Vec<(usize, HeaderValue)> = packed.values().collect();
        let again: Vec<(usize, HeaderValue)> = packed.values().collect();
        assert_eq!(first, again);
        let named: Vec<(&str, &str)> = first
            .iter()
            .map(|(i, v)| (NAMES[*i], v.to_str().unwrap()))
            .collect();
        assert_eq!(named[0], ("Account-Id", "0123abcd"));
        assert_eq!(named[1], ("Role", "citizen"));
        assert_eq!(
            named[2].1,
            encode_value("Коваль-Ярошенко").to_str().unwrap()
        );
        assert_eq!(named.last().unwrap(), &("Tax-Number", "3012345670"));
        // One exact-size buffer: no spare capacity kept for the session's lifetime.
        let total: usize = first.iter().map(|(_, v)| v.len()).sum();
        assert_eq!(packed.heap_size(), total + first.len() * 4);
    }
}
