//! CRLs: fetched from the certificate's distribution point (and the delta from FreshestCRL) or
//! from configured URLs/files, signature and freshness checked, parsed once into a hash map of
//! serials and kept until nextUpdate. A login then costs a lookup, whatever the CRL's size.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use openssl::x509::{X509Crl, X509};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{CRLDistributionPoints, DistributionPointName, GeneralName};
use x509_parser::prelude::FromDer;

use super::{Checker, IssuerRule, Problem, Verdict};
use certs::oids;

/// A CRL as a login needs it.
#[derive(Debug)]
pub struct Parsed {
    pub this_update: i64,
    pub next_update: i64,
    pub number: u64,
    /// For a delta CRL: the base CRL number it completes.
    pub delta_of: Option<u64>,
    /// Serial (big-endian, no leading zeros) → (revocation time, CRLReason code).
    pub revoked: HashMap<Vec<u8>, (i64, u8)>,
    /// SHA-256 of the issuer certificate that verified it.
    issuer: Vec<u8>,
}

/// Parsed CRLs by source (URL or file), and one fetch at a time per source.
#[derive(Default)]
pub struct CrlCache {
    parsed: Mutex<HashMap<String, Arc<Parsed>>>,
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl CrlCache {
    /// How many CRLs are held and how many serials they list (for tests and metrics).
    pub fn stats(&self) -> (usize, usize) {
        let p = self.parsed.lock().expect("crl cache");
        (p.len(), p.values().map(|c| c.revoked.len()).sum())
    }
}

fn strip(serial: &[u8]) -> Vec<u8> {
    serial.iter().copied().skip_while(|b| *b == 0).collect()
}

fn asn1_unix(t: x509_parser::time::ASN1Time) -> i64 {
    t.timestamp()
}

/// Check signature and issuer, then parse. The signature is checked by `certs::signature`, so
/// DSTU 4145 CRLs of Ukrainian CAs are read like ECDSA and RSA ones.
pub fn parse(bytes: &[u8], issuer: &X509, now: i64, skew: i64) -> Result<Parsed, Problem> {
    let der = match X509Crl::from_pem(bytes) {
        Ok(pem) => pem.to_der().map_err(|e| Problem::Unusable(e.to_string()))?,
        Err(_) => bytes.to_vec(),
    };
    let (rest, parsed) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der)
        .map_err(|e| Problem::Unusable(format!("not a CRL: {e}")))?;
    if !rest.is_empty() {
        return Err(Problem::Unusable("not a CRL: trailing bytes".into()));
    }
    let issuer_der = issuer
        .to_der()
        .map_err(|e| Problem::Unusable(e.to_string()))?;
    let issuer_cert = certs::parse(&issuer_der).map_err(|e| Problem::Unusable(e.to_string()))?;
    certs::signature::verify_signed(
        issuer_cert.tbs_certificate.subject_pki.raw,
        &oids::dotted(&parsed.signature_algorithm.algorithm),
        parsed.tbs_cert_list.as_ref(),
        &parsed.signature_value.data,
    )
    .map_err(|e| match e {
        certs::signature::SignatureError::Bad => {
            Problem::Unusable("the CRL's signature is not the issuing CA's".into())
        }
        other => Problem::Unusable(format!("the CRL's signature: {other}")),
    })?;
    let issuer_name = issuer
        .subject_name()
        .to_der()
        .map_err(|e| Problem::Unusable(e.to_string()))?;
    if parsed.issuer().as_raw() != issuer_name.as_slice() {
        return Err(Problem::Unusable(
            "the CRL is not issued by the certificate's CA".into(),
        ));
    }
    let this_update = asn1_unix(parsed.last_update());
    let next_update = parsed
        .next_update()
        .map(asn1_unix)
        .ok_or_else(|| Problem::Unusable("the CRL has no nextUpdate".into()))?;
    if this_update > now + skew {
        return Err(Problem::Unusable(format!(
            "the CRL's thisUpdate {} is in the future",
            super::rfc3339(this_update)
        )));
    }
    if next_update < now {
        return Err(Problem::Unusable(format!(
            "stale CRL: nextUpdate {} has passed",
            super::rfc3339(next_update)
        )));
    }
    let number = parsed
        .crl_number()
        .and_then(|n| n.to_u64_digits().first().copied())
        .unwrap_or(0);
    let delta_of = parsed
        .extensions()
        .iter()
        .find(|e| oids::dotted(&e.oid) == oids::EXT_DELTA_CRL_INDICATOR)
        .map(|e| {
            certs::der::one(e.value)
                .ok()
                .map(|v| v.data.iter().fold(0u64, |acc, b| acc << 8 | *b as u64))
                .unwrap_or(0)
        });
    let revoked = parsed
        .iter_revoked_certificates()
        .map(|r| {
            let reason = r.reason_code().map_or(0, |(_, c)| c.0);
            (
                strip(r.raw_serial()),
                (asn1_unix(r.revocation_date), reason),
            )
        })
        .collect();
    Ok(Parsed {
        this_update,
        next_update,
        number,
        delta_of,
        revoked,
        issuer: issuer
            .digest(openssl::hash::MessageDigest::sha256())
            .map(|d| d.to_vec())
            .unwrap_or_default(),
    })
}

/// Where a certificate says its CRLs are: its CRL distribution points and its FreshestCRL
/// (delta), http(s) URLs only. Read from the decoded certificate the login already holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrlSources {
    pub crls: Vec<String>,
    pub deltas: Vec<String>,
}

impl CrlSources {
    pub fn of(cert: &X509Certificate<'_>) -> CrlSources {
        CrlSources {
            crls: urls(cert, oids::EXT_CRL_DISTRIBUTION_POINTS),
            deltas: urls(cert, oids::EXT_FRESHEST_CRL),
        }
    }

    /// Decode `leaf` to read them (tests and `check-cert`; a login has them already).
    pub fn of_x509(leaf: &X509) -> CrlSources {
        leaf.to_der()
            .ok()
            .and_then(|der| certs::parse(&der).ok().map(|c| CrlSources::of(&c)))
            .unwrap_or_default()
    }
}

/// The http(s) URLs of a CRLDistributionPoints-shaped extension.
fn urls(cert: &X509Certificate<'_>, ext_oid: &str) -> Vec<String> {
    let mut out = Vec::new();
    for ext in cert.extensions() {
        if oids::dotted(&ext.oid) != ext_oid {
            continue;
        }
        if let Ok((_, points)) = CRLDistributionPoints::from_der(ext.value) {
            for p in points.iter() {
                if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                    for n in names {
                        if let GeneralName::URI(u) = n {
                            if u.starts_with("http://") || u.starts_with("https://") {
                                out.push(u.to_string());
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// A fresh parsed CRL from `source`: from memory, else fetched (once for concurrent logins).
async fn get(
    checker: &Checker,
    source: &str,
    issuer: &X509,
    now: i64,
) -> Result<Arc<Parsed>, Problem> {
    let cache = &checker.crls;
    let issuer_hash = issuer
        .digest(openssl::hash::MessageDigest::sha256())
        .map(|d| d.to_vec())
        .unwrap_or_default();
    let fresh = |p: &Arc<Parsed>| p.next_update >= now && p.issuer == issuer_hash;
    if let Some(p) = cache.parsed.lock().expect("crl cache").get(source) {
        if fresh(p) {
            return Ok(p.clone());
        }
    }
    let lock = cache
        .fetching
        .lock()
        .expect("crl fetching")
        .entry(source.to_string())
        .or_default()
        .clone();
    let _one = lock.lock().await;
    if let Some(p) = cache.parsed.lock().expect("crl cache").get(source) {
        if fresh(p) {
            return Ok(p.clone());
        }
    }
    let bytes = checker.fetch.get(source).await?;
    let parsed = Arc::new(
        parse(&bytes, issuer, now, checker.settings.skew)
            .map_err(|e| Problem::Unusable(format!("{source}: {e}")))?,
    );
    cache
        .parsed
        .lock()
        .expect("crl cache")
        .insert(source.to_string(), parsed.clone());
    Ok(parsed)
}

/// The CRL verdict for `leaf`: the base CRL, completed by the delta CRL when the certificate
/// (or the configuration) names one.
pub async fn check(
    checker: &Checker,
    leaf: &X509,
    issuer: &X509,
    sources: &CrlSources,
    rule: Option<&IssuerRule>,
    now: i64,
) -> Result<Verdict, Problem> {
    let (bases, deltas) = match rule {
        Some(r) if !r.crls.is_empty() => (r.crls.clone(), r.delta_crls.clone()),
        _ => (sources.crls.clone(), sources.deltas.clone()),
    };
    if bases.is_empty() {
        return Err(Problem::Unreachable("the certificate names no CRL".into()));
    }
    let mut problems = Vec::new();
    let mut base = None;
    for source in &bases {
        match get(checker, source, issuer, now).await {
            Ok(p) if p.delta_of.is_none() => {
                base = Some(p);
                break;
            }
            Ok(_) => problems.push(Problem::Unusable(format!(
                "{source}: a delta CRL where a base CRL belongs"
            ))),
            Err(e) => problems.push(e),
        }
    }
    let base = base.ok_or(Problem::Several(problems))?;
    let serial = strip(
        &leaf
            .serial_number()
            .to_bn()
            .map_err(|e| Problem::Unusable(e.to_string()))?
            .to_vec(),
    );
    // A delta the certificate names must be had: without it a recent revocation is missed.
    for source in &deltas {
        let delta = get(checker, source, issuer, now).await?;
        match delta.delta_of {
            Some(b) if b <= base.number => {}
            Some(b) => {
                return Err(Problem::Unusable(format!(
                    "{source}: the delta completes base CRL {b}, newer than the base CRL {} held",
                    base.number
                )))
            }
            None => return Err(Problem::Unusable(format!("{source}: not a delta CRL"))),
        }
        if let Some((at, reason)) = delta.revoked.get(&serial) {
            if *reason == 8 {
                // removeFromCRL: a hold lifted since the base.
                return Ok(Verdict::Good { source: "crl" });
            }
            return Ok(Verdict::Revoked {
                at: *at,
                reason: certs::revocation::reason_name(*reason).into(),
                source: "delta-crl",
            });
        }
    }
    Ok(match base.revoked.get(&serial) {
        Some((at, reason)) => Verdict::Revoked {
            at: *at,
            reason: certs::revocation::reason_name(*reason).into(),
            source: "crl",
        },
        None => Verdict::Good { source: "crl" },
    })
}

/// Refetch CRLs that reach nextUpdate soon (within a tenth of their validity, at least a
/// minute), so logins do not wait for the download. A failed refresh keeps the old CRL.
pub async fn refresh(checker: &Checker, now: i64) {
    let due: Vec<(String, Vec<u8>)> = checker
        .crls
        .parsed
        .lock()
        .expect("crl cache")
        .iter()
        .filter(|(_, p)| p.next_update - now < ((p.next_update - p.this_update) / 10).max(60))
        .map(|(s, p)| (s.clone(), p.issuer.clone()))
        .collect();
    for (source, _) in due {
        let bytes = match checker.fetch.get(&source).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("CRL refresh: {e}");
                continue;
            }
        };
        // The issuer is the one the CRL verified with before; find it among the trusted.
        let issuer = checker
            .settings
            .trusted
            .iter()
            .chain(&checker.settings.untrusted)
            .chain(checker.settings.issuers.iter().map(|r| &r.ca))
            .find(|c| parse(&bytes, c, now, checker.settings.skew).is_ok())
            .cloned();
        if let Some(issuer) = issuer {
            if let Ok(p) = parse(&bytes, &issuer, now, checker.settings.skew) {
                checker
                    .crls
                    .parsed
                    .lock()
                    .expect("crl cache")
                    .insert(source, Arc::new(p));
            }
        }
    }
}
