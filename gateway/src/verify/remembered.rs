//! What the verifier remembers between logins, so a returning citizen's certificate costs
//! less than a new one — without any check giving a different answer:
//!
//! - [`ValidatedCas`]: intermediate CAs already chained to the anchors, so a new leaf under a
//!   known CA costs one signature check instead of the whole path;
//! - [`VerifiedLeaves`]: leaf certificates that passed steps 4 and 5 in full, with what those
//!   steps produced, so the same certificate is not decoded, chained and checked again.
//!
//! Both hold only successes, both are keyed by the exact bytes (SHA-256 of the DER) and the
//! anchors, and both are used only while the time checked lies within the validity of every
//! certificate on the path — the only input of those checks that changes between logins.
//! Revocation (step 7) is never remembered here: it is checked at every login.

use openssl::x509::X509;
use time::OffsetDateTime;

use super::chain::{store_of, verify_with, Checked, TrustPolicy};
use crate::cache::Bounded;

/// Seconds since 1970 of an OpenSSL time.
fn unix(t: &openssl::asn1::Asn1TimeRef) -> Option<i64> {
    openssl::asn1::Asn1Time::from_unix(0)
        .ok()
        .and_then(|epoch| epoch.diff(t).ok())
        .map(|d| d.days as i64 * 86400 + d.secs as i64)
}

/// The time window in which every certificate of `path` is valid: the latest notBefore and
/// the earliest notAfter.
fn validity_window(path: &[X509]) -> Option<(i64, i64)> {
    path.iter().try_fold((i64::MIN, i64::MAX), |(nb, na), c| {
        Some((nb.max(unix(c.not_before())?), na.min(unix(c.not_after())?)))
    })
}

/// Intermediate CAs already chained to the anchors, so a login verifies one signature for its
/// certificate (the leaf's, by its CA) instead of the whole path every time — with a P-384
/// root that path costs more than the rest of the login. Keyed by the CA's and the anchors'
/// fingerprints; used only while the time checked lies within every certificate's validity
/// on the cached path. Only CAs whose critical extensions passed are remembered.
pub struct ValidatedCas {
    cache: Bounded<(Fingerprint, Fingerprint), ValidatedCa>,
}

#[derive(Clone)]
struct ValidatedCa {
    /// The CA first, the anchor last.
    path: Vec<X509>,
    not_before: i64,
    not_after: i64,
}

pub(super) type Fingerprint = [u8; 32];

/// The cache never grows past this many CAs (a few hundred qualified CAs exist).
const VALIDATED_MAX: usize = 4096;

impl Default for ValidatedCas {
    fn default() -> ValidatedCas {
        ValidatedCas {
            cache: Bounded::new(VALIDATED_MAX),
        }
    }
}

pub(super) fn fingerprint(c: &X509) -> Option<Fingerprint> {
    c.digest(openssl::hash::MessageDigest::sha256())
        .ok()
        .and_then(|d| d.as_ref().try_into().ok())
}

impl ValidatedCas {
    /// The chain through an already validated CA, when the leaf's issuer is one and the leaf
    /// verifies under it. `None`: take the full path (which also gives the exact error).
    pub(super) fn chain(
        &self,
        leaf: &X509,
        candidates: &[&X509],
        policy: &TrustPolicy,
        anchors: &Fingerprint,
        at: OffsetDateTime,
    ) -> Option<Vec<X509>> {
        let t = at.unix_timestamp();
        for ca in candidates
            .iter()
            .filter(|ca| ca.issued(leaf) == openssl::x509::X509VerifyResult::OK)
        {
            let path = match self.cache.get(&(fingerprint(ca)?, *anchors)) {
                Some(v) if v.not_before <= t && t < v.not_after => v.path,
                _ => continue,
            };
            let store = store_of(&[(*ca).clone()], policy, at, true).ok()?;
            let (ok, ..) = verify_with(&store, leaf, &[]).ok()?;
            if !ok {
                return None;
            }
            return Some(std::iter::once(leaf.clone()).chain(path).collect());
        }
        None
    }

    /// Remember the CAs of a chain that fully verified (every certificate but the leaf and
    /// the anchor) with the time window in which their path stays valid.
    pub(super) fn remember(&self, chain: &[X509], anchors: &Fingerprint) {
        if chain.len() < 3 {
            return;
        }
        for i in 1..chain.len() - 1 {
            let path = &chain[i..];
            let (Some((not_before, not_after)), Some(fp)) =
                (validity_window(path), fingerprint(&chain[i]))
            else {
                continue;
            };
            self.cache.insert(
                (fp, *anchors),
                ValidatedCa {
                    path: path.to_vec(),
                    not_before,
                    not_after,
                },
            );
        }
    }
}

/// Leaf certificates that passed steps 4 and 5, with their [`Checked`] result. A returning
/// citizen brings the same certificate at every login; its chain, key usage, policies,
/// qualified status and identity give the same answer every time for the same bytes under
/// the same anchors, so they are worked out once. The login's own signature (step 3) and the
/// signing-certificate attribute are still checked every time, and so is revocation.
///
/// Not used when the trust policy carries CRLs of its own (`check-cert --crl`): those make
/// the chain's answer depend on the CRLs' times too.
pub struct VerifiedLeaves {
    cache: Bounded<(Fingerprint, Fingerprint), VerifiedLeaf>,
}

#[derive(Clone)]
struct VerifiedLeaf {
    checked: Checked,
    not_before: i64,
    not_after: i64,
}

/// At most this many leaves (a few KiB each): the citizens signing in within the hour.
const LEAVES_MAX: usize = 4096;

impl Default for VerifiedLeaves {
    fn default() -> VerifiedLeaves {
        VerifiedLeaves {
            cache: Bounded::new(LEAVES_MAX),
        }
    }
}

impl VerifiedLeaves {
    /// The earlier result for the leaf whose DER has SHA-256 `leaf`, when `at` lies within
    /// the validity of every certificate on its path.
    pub(super) fn get(
        &self,
        leaf: &Fingerprint,
        anchors: &Fingerprint,
        at: OffsetDateTime,
    ) -> Option<Checked> {
        let t = at.unix_timestamp();
        self.cache
            .get(&(*leaf, *anchors))
            .filter(|v| v.not_before <= t && t < v.not_after)
            .map(|v| v.checked)
    }

    /// Remember a leaf that passed steps 4 and 5.
    pub(super) fn remember(&self, leaf: Fingerprint, anchors: &Fingerprint, checked: &Checked) {
        if let Some((not_before, not_after)) = validity_window(&checked.chain) {
            self.cache.insert(
                (leaf, *anchors),
                VerifiedLeaf {
                    checked: checked.clone(),
                    not_before,
                    not_after,
                },
            );
        }
    }

    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}
