//! Step 4 and 5 of design.md §4 for one certificate: the chain to a configured anchor
//! (OpenSSL's store builds and checks it: signatures, validity, basicConstraints, path
//! length, name constraints, security level 2), then Brama's own checks that OpenSSL cannot
//! make: critical extensions it understands, key usage, EKU, key strength, policies,
//! qualified status and that the subject is a person.
//!
//! OpenSSL runs with `X509_V_FLAG_IGNORE_CRITICAL` because real Ukrainian CA certificates
//! mark QCStatements and policies critical; [`KNOWN_CRITICAL`] then says which critical
//! extensions are acceptable, on every certificate of the chain.

use certs::{oids, CertificateSummary, Purpose, SubjectKind};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509StoreContext, X509};
use openssl_sys as ffi;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::public_key::PublicKey;

use super::remembered::{fingerprint, Fingerprint};
use super::{Certificate, Verifier};
use crate::LoginError;

/// `[trust] qualified`: `"required"` (default) or `"any"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Qualified {
    #[default]
    Required,
    Any,
}

/// Which keyUsage bits make a login certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyUsageRule {
    /// digitalSignature or nonRepudiation (Ukrainian signing certificates carry both).
    #[default]
    Either,
    DigitalSignature,
    NonRepudiation,
}

/// What the gateway trusts and requires (the `[trust]` section, resolved).
pub struct TrustPolicy {
    pub anchors: Vec<X509>,
    pub intermediates: Vec<X509>,
    /// CRLs to check the chain against (`check-cert --crl`; the revocation issue adds OCSP).
    pub crls: Vec<openssl::x509::X509Crl>,
    pub qualified: Qualified,
    pub key_usage: KeyUsageRule,
    /// A leaf EKU, when present, must contain one of these.
    pub allowed_eku: Vec<String>,
    /// When not empty, the leaf must carry one of these policies.
    pub policies_allow: Vec<String>,
    pub policies_deny: Vec<String>,
    /// Whether only a person's certificate passes (logins: always). `check-cert` clears it to
    /// say whether an organisation's seal certificate is itself valid.
    pub persons_only: bool,
}

impl TrustPolicy {
    /// `anchors` and `intermediates` with the defaults of `[trust]`: qualified required,
    /// digitalSignature or nonRepudiation, the default EKUs, no policy filter, no CRLs.
    pub fn new(anchors: Vec<X509>, intermediates: Vec<X509>) -> TrustPolicy {
        TrustPolicy {
            anchors,
            intermediates,
            crls: vec![],
            qualified: Qualified::Required,
            key_usage: KeyUsageRule::Either,
            allowed_eku: default_allowed_eku(),
            policies_allow: vec![],
            policies_deny: vec![],
            persons_only: true,
        }
    }
}

// libcrypto, linked through openssl-sys.
extern "C" {
    fn X509_STORE_add_crl(
        store: *mut openssl_sys::X509_STORE,
        crl: *mut openssl_sys::X509_CRL,
    ) -> std::os::raw::c_int;
}

/// EKUs a person's signing certificate may carry by default.
pub fn default_allowed_eku() -> Vec<String> {
    [
        oids::UA_KP_SIGNING,
        oids::KP_EMAIL_PROTECTION,
        oids::KP_CLIENT_AUTH,
        oids::KP_ANY,
    ]
    .map(String::from)
    .to_vec()
}

/// Critical extensions Brama understands (OpenSSL or Brama checks each): one list for both
/// paths, kept in `certs::path`.
pub use certs::path::KNOWN_CRITICAL;

/// A certificate that passed steps 4 and 5.
#[derive(Debug, Clone)]
pub struct Checked {
    pub summary: CertificateSummary,
    /// Leaf first, anchor last.
    pub chain: Vec<X509>,
    /// Where the leaf says its CRLs are, read from the same decode (for step 7).
    pub crl_sources: crate::revocation::crl::CrlSources,
}

impl Verifier {
    /// Steps 4 and 5 for `leaf` at time `at`; `extra` are certificates that came with it.
    /// A leaf that passed before is not checked again while `at` lies within its path's
    /// validity ([`super::remembered::VerifiedLeaves`]).
    pub fn check_certificate(
        &self,
        leaf: &Certificate<'_>,
        extra: &[&[u8]],
        at: OffsetDateTime,
    ) -> Result<Checked, LoginError> {
        if !self.policy.crls.is_empty() {
            return self.check_in_full(leaf, extra, at);
        }
        let (key, anchors) = (certs::sha256(leaf.der), self.anchors_fingerprint());
        if let Some(checked) = self.leaves.get(&key, &anchors, at) {
            return Ok(checked);
        }
        let checked = self.check_in_full(leaf, extra, at)?;
        self.leaves.remember(key, &anchors, &checked);
        Ok(checked)
    }

    /// Steps 4 and 5 with nothing remembered about the leaf.
    pub fn check_in_full(
        &self,
        leaf: &Certificate<'_>,
        extra: &[&[u8]],
        at: OffsetDateTime,
    ) -> Result<Checked, LoginError> {
        let policy = &self.policy;
        // OpenSSL can neither decode DSTU 4145 keys nor check DSTU signatures: a chain with
        // DSTU on it goes through `certs::path`, which makes the same checks. A chain that
        // OpenSSL refuses is tried there too when DSTU certificates are in play (a DSTU root
        // over an ECDSA CA), so mixed chains work both ways.
        let leaf_dstu = leaf.dstu.is_some()
            || certs::dstu::is_dstu_oid(&oids::dotted(&leaf.parsed.signature_algorithm.algorithm));
        let (chain, fresh) = if leaf_dstu {
            (self.rust_chain(leaf, extra, at)?, false)
        } else {
            match self.build_chain(leaf, extra, at) {
                Ok(found) => found,
                // OpenSSL's "no path" or "bad signature" may be a DSTU link it cannot check;
                // a defect it named precisely (expired, weak) stands.
                Err(LoginError::InvalidChain(_) | LoginError::UntrustedIssuer(_))
                    if self.dstu_in_play(extra) =>
                {
                    (self.rust_chain(leaf, extra, at)?, false)
                }
                Err(e) => return Err(e),
            }
        };
        check_critical(&leaf.parsed)?;
        if fresh {
            // CAs met for the first time: checked once here, then remembered as validated.
            for der in &chain[1..] {
                let der = der
                    .to_der()
                    .map_err(|e| LoginError::InvalidChain(e.to_string()))?;
                let ca = certs::parse(&der).map_err(|e| LoginError::InvalidChain(e.to_string()))?;
                check_critical(&ca)?;
            }
            self.validated.remember(&chain, &self.anchors_fingerprint());
        }
        check_usage(&leaf.parsed, policy)?;
        check_key(leaf)?;
        let summary = CertificateSummary::of(leaf.der, &leaf.parsed)
            .map_err(|e| LoginError::MalformedSignature(e.to_string()))?;
        check_policies(&summary, policy)?;
        // Step 5: a person, with a qualified certificate for electronic signatures.
        if policy.persons_only && summary.identity.kind != SubjectKind::Person {
            return Err(LoginError::NotAPerson);
        }
        if let Some(conflict) = &summary.identity.conflict {
            return Err(LoginError::AmbiguousIdentity(conflict.clone()));
        }
        if policy.qualified == Qualified::Required && !summary.qualified.is_qualified_esign() {
            return Err(LoginError::NotQualified);
        }
        Ok(Checked {
            summary,
            chain,
            crl_sources: crate::revocation::crl::CrlSources::of(&leaf.parsed),
        })
    }

    /// The path through `certs::path` (leaf first, anchor last). It checks the critical
    /// extensions of every certificate on it.
    fn rust_chain(
        &self,
        leaf: &Certificate<'_>,
        extra: &[&[u8]],
        at: OffsetDateTime,
    ) -> Result<Vec<X509>, LoginError> {
        let policy = &self.policy;
        let ders = |certs: &[X509]| -> Vec<Vec<u8>> {
            certs.iter().filter_map(|c| c.to_der().ok()).collect()
        };
        let anchors = ders(&policy.anchors);
        let mut intermediates = ders(&policy.intermediates);
        intermediates.extend(extra.iter().map(|d| d.to_vec()));
        let crls: Vec<Vec<u8>> = policy.crls.iter().filter_map(|c| c.to_der().ok()).collect();
        fn refs(v: &[Vec<u8>]) -> Vec<&[u8]> {
            v.iter().map(|d| d.as_slice()).collect()
        }
        let (anchors, intermediates, crls) = (refs(&anchors), refs(&intermediates), refs(&crls));
        let path = certs::path::validate(&certs::path::PathRequest {
            leaf: leaf.der,
            intermediates: &intermediates,
            anchors: &anchors,
            at: at.unix_timestamp(),
            crls: &crls,
        })
        .map_err(path_error)?;
        path.iter()
            .map(|der| {
                self.x509(der)
                    .map_err(|e| LoginError::InvalidChain(e.to_string()))
            })
            .collect()
    }

    /// Whether a DSTU certificate is among the anchors, the intermediates or `extra`.
    fn dstu_in_play(&self, extra: &[&[u8]]) -> bool {
        let policy = &self.policy;
        extra.iter().any(|d| certs::path::involves_dstu(d))
            || policy
                .anchors
                .iter()
                .chain(&policy.intermediates)
                .filter_map(|c| c.to_der().ok())
                .any(|d| certs::path::involves_dstu(&d))
    }

    fn anchors_fingerprint(&self) -> Fingerprint {
        let mut all = Vec::new();
        for a in &self.policy.anchors {
            all.extend(fingerprint(a).unwrap_or_default());
        }
        certs::sha256(&all)
    }

    /// The chain (leaf first, anchor last), and whether it was built in full now (`true`) or
    /// through a CA validated before (`false`).
    fn build_chain(
        &self,
        leaf: &Certificate<'_>,
        extra: &[&[u8]],
        at: OffsetDateTime,
    ) -> Result<(Vec<X509>, bool), LoginError> {
        let policy = &self.policy;
        let extra: Vec<X509> = extra.iter().filter_map(|d| self.x509(d).ok()).collect();
        let untrusted: Vec<&X509> = policy.intermediates.iter().chain(extra.iter()).collect();
        let anchors = self.anchors_fingerprint();
        if let Some(chain) = self
            .validated
            .chain(&leaf.x509, &untrusted, policy, &anchors, at)
        {
            return Ok((chain, false));
        }
        let store = store_of(&policy.anchors, policy, at, false)?;
        let (ok, error, depth, chain) = verify_with(&store, &leaf.x509, &untrusted)?;
        if ok {
            return Ok((chain, true));
        }
        let text = error.error_string().to_string();
        let code = error.as_raw();
        Err(match code {
            ffi::X509_V_ERR_CERT_HAS_EXPIRED if depth == 0 => LoginError::CertificateExpired,
            ffi::X509_V_ERR_CERT_NOT_YET_VALID if depth == 0 => LoginError::CertificateNotYetValid,
            ffi::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
            | ffi::X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
            | ffi::X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
            | ffi::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
            | ffi::X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE => LoginError::UntrustedIssuer(text),
            ffi::X509_V_ERR_EE_KEY_TOO_SMALL | ffi::X509_V_ERR_CA_KEY_TOO_SMALL => {
                LoginError::WeakKey(text)
            }
            ffi::X509_V_ERR_CA_MD_TOO_WEAK => LoginError::WeakAlgorithm(text),
            ffi::X509_V_ERR_CERT_REVOKED => LoginError::CertificateRevoked(String::new()),
            _ => LoginError::InvalidChain(format!("{text} (certificate {depth} of the chain)")),
        })
    }
}

/// A `certs::path` refusal as the login error OpenSSL's path gives for the same defect.
fn path_error(e: certs::path::PathError) -> LoginError {
    use certs::path::PathError as P;
    match e {
        P::Expired { depth: 0 } => LoginError::CertificateExpired,
        P::NotYetValid { depth: 0 } => LoginError::CertificateNotYetValid,
        P::UntrustedIssuer(m) => LoginError::UntrustedIssuer(m),
        P::WeakKey(m) => LoginError::WeakKey(m),
        P::WeakAlgorithm(m) => LoginError::WeakAlgorithm(m),
        P::Unsupported(m) => LoginError::UnsupportedAlgorithm(m),
        P::UnknownCritical(oid) => LoginError::UnhandledCriticalExtension(oid),
        P::Revoked(reason) => LoginError::CertificateRevoked(format!(" ({reason}, CRL)")),
        other @ (P::Expired { .. }
        | P::NotYetValid { .. }
        | P::BadSignature { .. }
        | P::Invalid(_)
        | P::Malformed(_)) => LoginError::InvalidChain(other.to_string()),
    }
}

/// The verification store: `trusted` certificates, security level 2, the time `at`, the
/// policy's CRLs; `partial` lets a chain end at a trusted intermediate.
pub(super) fn store_of(
    trusted: &[X509],
    policy: &TrustPolicy,
    at: OffsetDateTime,
    partial: bool,
) -> Result<openssl::x509::store::X509Store, LoginError> {
    let internal = |e: openssl::error::ErrorStack| LoginError::InvalidChain(e.to_string());
    let mut store = X509StoreBuilder::new().map_err(internal)?;
    for a in trusted {
        store.add_cert(a.clone()).map_err(internal)?;
    }
    let mut param = X509VerifyParam::new().map_err(internal)?;
    param.set_auth_level(2); // RSA ≥ 2048, no SHA-1, EC ≥ 224 bits
    param.set_time(at.unix_timestamp() as _);
    let mut flags = X509VerifyFlags::IGNORE_CRITICAL;
    if partial {
        flags |= X509VerifyFlags::PARTIAL_CHAIN;
    }
    if !policy.crls.is_empty() {
        flags |= X509VerifyFlags::CRL_CHECK;
        for crl in &policy.crls {
            use foreign_types::ForeignType;
            // Neither the openssl crate nor openssl-sys has X509_STORE_add_crl; the store
            // takes its own reference to the CRL.
            #[allow(unsafe_code)] // FFI: both pointers are live objects owned by this function.
            let added = unsafe { X509_STORE_add_crl(store.as_ptr(), crl.as_ptr()) };
            if added != 1 {
                return Err(LoginError::InvalidChain("a CRL could not be added".into()));
            }
        }
    }
    param.set_flags(flags).map_err(internal)?;
    store.set_param(&param).map_err(internal)?;
    Ok(store.build())
}

/// OpenSSL's verdict: ok, the error, its depth, the chain it built (leaf first).
pub(super) type Verdict = (bool, openssl::x509::X509VerifyResult, u32, Vec<X509>);

pub(super) fn verify_with(
    store: &openssl::x509::store::X509StoreRef,
    leaf: &X509,
    untrusted: &[&X509],
) -> Result<Verdict, LoginError> {
    let internal = |e: openssl::error::ErrorStack| LoginError::InvalidChain(e.to_string());
    let mut stack = Stack::new().map_err(internal)?;
    for c in untrusted {
        stack.push((*c).clone()).map_err(internal)?;
    }
    let mut ctx = X509StoreContext::new().map_err(internal)?;
    ctx.init(store, leaf, &stack, |c| {
        let ok = c.verify_cert()?;
        let chain = c
            .chain()
            .map(|s| s.iter().map(|x| x.to_owned()).collect::<Vec<_>>())
            .unwrap_or_default();
        Ok((ok, c.error(), c.error_depth(), chain))
    })
    .map_err(internal)
}

fn check_critical(cert: &X509Certificate<'_>) -> Result<(), LoginError> {
    for ext in cert.extensions().iter().filter(|e| e.critical) {
        let oid = oids::dotted(&ext.oid);
        if !KNOWN_CRITICAL.contains(&oid.as_str()) {
            return Err(LoginError::UnhandledCriticalExtension(oid));
        }
    }
    Ok(())
}

fn check_usage(cert: &X509Certificate<'_>, policy: &TrustPolicy) -> Result<(), LoginError> {
    let purpose = Purpose::read(cert).map_err(|e| LoginError::MalformedSignature(e.to_string()))?;
    if purpose == Purpose::CertificateAuthority {
        return Err(LoginError::WrongKeyUsage("a CA certificate".into()));
    }
    let ku = cert
        .key_usage()
        .map_err(|e| LoginError::MalformedSignature(e.to_string()))?
        .ok_or_else(|| LoginError::WrongKeyUsage("no keyUsage".into()))?
        .value;
    let fits = match policy.key_usage {
        KeyUsageRule::Either => ku.digital_signature() || ku.non_repudiation(),
        KeyUsageRule::DigitalSignature => ku.digital_signature(),
        KeyUsageRule::NonRepudiation => ku.non_repudiation(),
    };
    if !fits {
        let what = if purpose == Purpose::KeyAgreement {
            "a key-agreement (encryption) certificate"
        } else {
            "keyUsage has no signing bit"
        };
        return Err(LoginError::WrongKeyUsage(what.into()));
    }
    if let Ok(Some(eku)) = cert.extended_key_usage() {
        let eku = eku.value;
        let mut present: Vec<String> = eku.other.iter().map(oids::dotted).collect();
        for (set, oid) in [
            (eku.any, oids::KP_ANY),
            (eku.server_auth, oids::KP_SERVER_AUTH),
            (eku.client_auth, oids::KP_CLIENT_AUTH),
            (eku.code_signing, oids::KP_CODE_SIGNING),
            (eku.email_protection, oids::KP_EMAIL_PROTECTION),
            (eku.time_stamping, oids::KP_TIME_STAMPING),
            (eku.ocsp_signing, oids::KP_OCSP_SIGNING),
        ] {
            if set {
                present.push(oid.to_string());
            }
        }
        if !present.iter().any(|p| policy.allowed_eku.contains(p)) {
            return Err(LoginError::WrongKeyUsage(format!(
                "extended key usage {}",
                present.join(", ")
            )));
        }
    }
    Ok(())
}

fn check_key(leaf: &Certificate<'_>) -> Result<(), LoginError> {
    if let Some(key) = &leaf.dstu {
        let m = key.params.curve.field.m;
        if m < certs::path::MIN_DSTU_DEGREE {
            return Err(LoginError::WeakKey(format!("DSTU 4145 over GF(2^{m})")));
        }
        return Ok(());
    }
    let spki = leaf.parsed.public_key();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) if rsa.key_size() >= 2048 => Ok(()),
        Ok(PublicKey::RSA(rsa)) => Err(LoginError::WeakKey(format!("RSA-{}", rsa.key_size()))),
        Ok(PublicKey::EC(_)) => {
            let curve = certs::certificate::ec_curve(spki);
            match curve.as_deref().and_then(certs::certificate::curve_name) {
                Some(_) => Ok(()),
                None => Err(LoginError::WeakKey(format!(
                    "EC curve {}",
                    curve.as_deref().unwrap_or("unnamed")
                ))),
            }
        }
        _ => Err(LoginError::WeakAlgorithm(format!(
            "key algorithm {}",
            oids::dotted(&spki.algorithm.algorithm)
        ))),
    }
}

fn check_policies(summary: &CertificateSummary, policy: &TrustPolicy) -> Result<(), LoginError> {
    let held = &summary.qualified.policies;
    if let Some(denied) = held.iter().find(|p| policy.policies_deny.contains(p)) {
        return Err(LoginError::PolicyNotAllowed(format!("{denied} is denied")));
    }
    if !policy.policies_allow.is_empty() && !held.iter().any(|p| policy.policies_allow.contains(p))
    {
        return Err(LoginError::PolicyNotAllowed(
            "none of the allowed policies".into(),
        ));
    }
    Ok(())
}
