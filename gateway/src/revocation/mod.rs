//! Step 7 of design.md §4: is the signer's certificate revoked?
//!
//! OCSP first (the responder from the certificate's AIA, or one configured per issuer), with a
//! nonce, the answer checked fully ([`ocsp`]); good answers cached until their nextUpdate, and
//! concurrent logins of one certificate share one request. CRLs ([`crl`]) from the
//! certificate's distribution point (and its FreshestCRL delta) or configured per issuer are the
//! fallback when OCSP is unavailable, or the only source for issuers without OCSP; each CRL is
//! parsed once into a hash set and kept until its nextUpdate, so a large CRL costs one lookup per
//! login, not one parse.
//!
//! Every check takes `now` from the caller: freshness is tested with an injected clock.

pub mod crl;
pub mod fetch;
pub mod ocsp;
mod ocsp_signature;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openssl::x509::{X509Ref, X509};
use serde::{Deserialize, Serialize};

use crate::cache::Bounded;
use crate::tls::TlsError;

/// `[revocation] mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// No answer, no login (`revocation_unavailable`).
    #[default]
    FailClosed,
    /// No answer: the login goes ahead, with an audit record and a metric.
    SoftFail,
    /// Revocation is not checked.
    Off,
}

/// What the sources said about one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Good {
        source: &'static str,
    },
    Revoked {
        /// Unix time of the revocation (0 when the source gave none).
        at: i64,
        reason: String,
        source: &'static str,
    },
    /// No source could answer; why, for the audit record.
    Unavailable(String),
}

/// Why a revocation source gave no answer (for the audit record and the log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The source could not be reached or read: network, file, HTTP status, size, time.
    #[error("{0}")]
    Unreachable(String),
    /// An answer came but cannot be used: signature, issuer, nonce, freshness, format.
    #[error("{0}")]
    Unusable(String),
    /// Several sources were tried, each with its problem.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<Problem>),
}

/// Per-issuer settings (`[[revocation.issuer]]`), with the files read.
#[derive(Debug, Clone)]
pub struct IssuerRule {
    pub ca: X509,
    /// `None`: the certificate's AIA; `Some("")`: no OCSP for this issuer; else this URL.
    pub ocsp_url: Option<String>,
    /// A responder certificate trusted for this issuer's answers (pinned).
    pub responder: Option<X509>,
    /// CRL URLs or files instead of the certificate's distribution points.
    pub crls: Vec<String>,
    /// Delta CRL URLs or files instead of the certificate's FreshestCRL.
    pub delta_crls: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    pub ocsp: bool,
    pub crl: bool,
    pub nonce: bool,
    pub timeout: Duration,
    /// An answer whose thisUpdate is older than this is stale (seconds).
    pub max_age: i64,
    /// An OCSP answer without nextUpdate is good only this long after its thisUpdate.
    pub max_age_without_next_update: i64,
    /// Allowed clock difference for thisUpdate in the future (seconds).
    pub skew: i64,
    pub cache_size: usize,
    pub crl_max_bytes: usize,
    pub issuers: Vec<IssuerRule>,
    /// Anchors and intermediates: OCSP responder certificates chain through them.
    pub trusted: Vec<X509>,
    pub untrusted: Vec<X509>,
}

type Flight = Arc<tokio::sync::OnceCell<Result<ocsp::Answer, Problem>>>;

/// The revocation checker of one gateway.
pub struct Checker {
    pub settings: Settings,
    fetch: fetch::Fetcher,
    /// Good OCSP answers: CertID key → good until (unix).
    good: Bounded<Vec<u8>, i64>,
    in_flight: Mutex<HashMap<Vec<u8>, Flight>>,
    pub crls: crl::CrlCache,
    /// OCSP requests sent (for tests and metrics).
    pub ocsp_requests: AtomicU64,
}

impl Checker {
    pub fn new(settings: Settings) -> Result<Checker, TlsError> {
        let fetch = fetch::Fetcher::new(settings.timeout, settings.crl_max_bytes)?;
        Ok(Checker {
            crls: crl::CrlCache::default(),
            good: Bounded::new(settings.cache_size),
            settings,
            fetch,
            in_flight: Mutex::default(),
            ocsp_requests: AtomicU64::new(0),
        })
    }

    fn rule(&self, issuer: &X509Ref) -> Option<&IssuerRule> {
        let der = issuer.to_der().ok()?;
        self.settings
            .issuers
            .iter()
            .find(|r| r.ca.to_der().ok().as_deref() == Some(&der[..]))
    }

    /// Step 7 for `leaf` issued by `issuer`, at `now` (unix seconds), reading the leaf's CRL
    /// sources from it (a login passes those it read already: [`Checker::check_with`]).
    pub async fn check(&self, leaf: &X509, issuer: &X509, now: i64) -> Verdict {
        self.check_with(leaf, issuer, &crl::CrlSources::of_x509(leaf), now)
            .await
    }

    /// Step 7 with the leaf's CRL sources given.
    pub async fn check_with(
        &self,
        leaf: &X509,
        issuer: &X509,
        sources: &crl::CrlSources,
        now: i64,
    ) -> Verdict {
        if self.settings.mode == Mode::Off {
            return Verdict::Good { source: "off" };
        }
        let rule = self.rule(issuer);
        let mut problems = Vec::new();
        if self.settings.ocsp {
            let url = match rule.and_then(|r| r.ocsp_url.clone()) {
                Some(u) if u.is_empty() => None,
                Some(u) => Some(u),
                None => ocsp::responder_url(leaf),
            };
            if let Some(url) = url {
                match self.ocsp(&url, leaf, issuer, rule, now).await {
                    Ok(v) => return v,
                    Err(e) => problems.push(format!("OCSP {url}: {e}")),
                }
            }
        }
        if self.settings.crl {
            match crl::check(self, leaf, issuer, sources, rule, now).await {
                Ok(v) => return v,
                Err(e) => problems.push(format!("CRL: {e}")),
            }
        }
        if problems.is_empty() {
            problems.push("the certificate names no OCSP responder or CRL".into());
        }
        Verdict::Unavailable(problems.join("; "))
    }

    async fn ocsp(
        &self,
        url: &str,
        leaf: &X509,
        issuer: &X509,
        rule: Option<&IssuerRule>,
        now: i64,
    ) -> Result<Verdict, Problem> {
        let key = ocsp::cache_key(leaf, issuer);
        if let Some(until) = self.good.get(&key) {
            if until > now {
                return Ok(Verdict::Good {
                    source: "ocsp-cache",
                });
            }
        }
        // Concurrent logins of one certificate wait for the same request.
        let flight = self
            .in_flight
            .lock()
            .expect("in flight")
            .entry(key.clone())
            .or_default()
            .clone();
        let answer = flight
            .get_or_init(|| async {
                self.ocsp_requests.fetch_add(1, Ordering::Relaxed);
                ocsp::query(self, url, leaf, issuer, rule, now).await
            })
            .await
            .clone();
        self.in_flight.lock().expect("in flight").remove(&key);
        match answer? {
            ocsp::Answer::Good { until } => {
                self.good.insert(key, until);
                Ok(Verdict::Good { source: "ocsp" })
            }
            ocsp::Answer::Revoked { at, reason } => Ok(Verdict::Revoked {
                at,
                reason,
                source: "ocsp",
            }),
            ocsp::Answer::Unknown => Ok(Verdict::Revoked {
                at: 0,
                reason: "unknown to the OCSP responder".into(),
                source: "ocsp",
            }),
        }
    }

    /// Refresh cached CRLs shortly before their nextUpdate (run every minute).
    pub async fn refresh(&self, now: i64) {
        crl::refresh(self, now).await
    }
}

/// Unix time from OpenSSL's printed time (`Nov 23 05:58:37 2026 GMT`).
pub fn unix_from_openssl(printed: &str) -> Option<i64> {
    let f = time::macros::format_description!(
        "[month repr:short] [day padding:space] [hour]:[minute]:[second] [year] GMT"
    );
    let cleaned: String = printed.split_whitespace().collect::<Vec<_>>().join(" ");
    let f2 = time::macros::format_description!(
        "[month repr:short] [day padding:none] [hour]:[minute]:[second] [year] GMT"
    );
    time::PrimitiveDateTime::parse(printed, &f)
        .or_else(|_| time::PrimitiveDateTime::parse(&cleaned, &f2))
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// A unix time as RFC 3339, for messages.
pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn openssl_times_parse() {
        assert_eq!(
            super::unix_from_openssl("Nov 23 05:58:37 2026 GMT"),
            Some(1795413517)
        );
        assert_eq!(
            super::unix_from_openssl("Jan  2 00:00:00 2026 GMT"),
            Some(1767312000)
        );
    }
}
