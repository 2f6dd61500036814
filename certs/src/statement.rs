//! The login statement (design.md §3): what the agent signs to sign a person in.
//!
//! Encapsulated as UTF-8 JSON `{"v":1,"origin":"https://…","challenge":"…","iat":…}` under the
//! content type [`oids::LOGIN_STATEMENT`]. The verifier checks the signature over the exact
//! bytes first and parses afterwards; the origin is the one the *agent* saw.

use serde::{Deserialize, Serialize};

use crate::Error;

pub use crate::oids::LOGIN_STATEMENT as CONTENT_TYPE;

/// The login statement (design.md §3): what the agent signs to sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginStatement {
    /// Format version (1).
    pub v: u32,
    /// The origin the login is for.
    pub origin: String,
    /// The gateway's challenge, as issued.
    pub challenge: String,
    /// Issued at, seconds since the Unix epoch (the agent's clock).
    pub iat: i64,
}

/// Largest statement the gateway will parse: origin and challenge are short.
pub const MAX_LEN: usize = 4096;

/// How far a statement's `iat` may be from the verifier's clock, seconds, either way: a
/// challenge lives 5 minutes, and an agent's clock may be a few minutes off.
pub const IAT_WINDOW: i64 = 600;

impl LoginStatement {
    /// A statement for `origin` and `challenge`, issued at `iat` (unix seconds).
    pub fn new(origin: &str, challenge: &str, iat: i64) -> LoginStatement {
        LoginStatement {
            v: 1,
            origin: origin.into(),
            challenge: challenge.into(),
            iat,
        }
    }

    /// The exact bytes that get signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("statement serialises")
    }

    /// Whether `iat` is within [`IAT_WINDOW`] of `now` (unix seconds).
    pub fn check_time(&self, now: i64) -> Result<(), Error> {
        if self.iat.abs_diff(now) > IAT_WINDOW.unsigned_abs() {
            return Err(Error::malformed(format!(
                "login statement issued at {} is more than {IAT_WINDOW} s from the gateway's clock ({now})",
                self.iat
            )));
        }
        Ok(())
    }

    /// Parse and check a statement's JSON bytes: the design's four members and no others.
    pub fn parse(bytes: &[u8]) -> Result<LoginStatement, Error> {
        if bytes.len() > MAX_LEN {
            return Err(Error::malformed("login statement is too large"));
        }
        let s: LoginStatement = serde_json::from_slice(bytes)
            .map_err(|e| Error::malformed(format!("login statement: {e}")))?;
        if s.v != 1 {
            return Err(Error::malformed(format!(
                "login statement version {} is not supported",
                s.v
            )));
        }
        Ok(s)
    }
}

/// Whether `content` would be taken for a login statement. The agent refuses to sign such
/// content as a *document*, so a page can never turn a document signature into a login.
/// Deliberately broader than [`LoginStatement::parse`]: any JSON object with `origin` and
/// `challenge` members counts, whatever else it holds, with or without a UTF-8 BOM.
pub fn looks_like_login_statement(content: &[u8]) -> bool {
    let content = content.strip_prefix(b"\xef\xbb\xbf").unwrap_or(content);
    if content.len() > 1 << 20 {
        return false; // far beyond any statement; skip parsing large documents
    }
    match serde_json::from_slice::<serde_json::Value>(content) {
        Ok(serde_json::Value::Object(map)) => {
            map.contains_key("origin") && map.contains_key("challenge")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_versions() {
        let s = LoginStatement::new("https://cabinet.example", "abc", 1_700_000_000);
        let bytes = s.to_bytes();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"v":1,"origin":"https://cabinet.example","challenge":"abc","iat":1700000000}"#
        );
        assert_eq!(LoginStatement::parse(&bytes).unwrap(), s);
        assert!(LoginStatement::parse(br#"{"v":2,"origin":"o","challenge":"c","iat":1}"#).is_err());
        assert!(LoginStatement::parse(b"not json").is_err());
        assert!(LoginStatement::parse(&vec![b' '; MAX_LEN + 1]).is_err());
        // Members beyond the design's four, or one twice, are refused.
        assert!(LoginStatement::parse(
            br#"{"v":1,"origin":"o","challenge":"c","iat":1,"admin":true}"#
        )
        .is_err());
        assert!(LoginStatement::parse(
            br#"{"v":1,"origin":"o","origin":"p","challenge":"c","iat":1}"#
        )
        .is_err());
        // The time window, both ways.
        let now = 1_700_000_000;
        assert!(s.check_time(now).is_ok());
        assert!(s.check_time(now + IAT_WINDOW).is_ok());
        assert!(s.check_time(now + IAT_WINDOW + 1).is_err());
        assert!(s.check_time(now - IAT_WINDOW - 1).is_err());
    }

    #[test]
    fn recognises_statement_lookalikes() {
        assert!(looks_like_login_statement(
            br#"{"v":1,"origin":"https://a","challenge":"x","iat":1}"#
        ));
        assert!(looks_like_login_statement(
            b"\xef\xbb\xbf {\"challenge\":1,\"origin\":null,\"extra\":true}"
        ));
        assert!(!looks_like_login_statement(br#"{"origin":"https://a"}"#));
        assert!(!looks_like_login_statement(b"%PDF-1.7"));
        assert!(!looks_like_login_statement(br#"["origin","challenge"]"#));
    }
}
