//! Login verification, design.md §4, one function per step, cheap checks first.
//!
//! 1. [`parse_login`]: size, CMS structure, one signer, login content type in both the
//!    eContentType and the *signed* content-type attribute, content attached.
//! 2. The statement's origin and challenge (checked by the caller against what it holds:
//!    `challenge.rs`), before any costly work.
//! 3. [`check_signature`]: message digest and the signature over the signed attributes.
//! 4. [`Verifier::check_certificate`]: signing-certificate-v2, chain, validity, usage,
//!    algorithms, policies; 5. qualified status and person.
//!
//! The signer's certificate is decoded once ([`Certificate`]) and handed down every step.
//! Nothing in the statement is trusted until step 3 has passed.

pub mod chain;
pub mod remembered;

use std::sync::Arc;

use certs::cms::{self, SignedData, SignerError, SignerId};
use certs::dstu;
use certs::oids;
use certs::signature::VerifyingKey;
use certs::statement::{self, LoginStatement};
use openssl::x509::X509;
use x509_parser::certificate::X509Certificate;

use crate::cache::Bounded;
use crate::LoginError;

pub use chain::TrustPolicy;

/// Largest signature accepted: a statement, a leaf and a few CA certificates.
pub const MAX_SIGNATURE: usize = 64 * 1024;

/// Decoded certificates kept by [`Verifier::x509`] (a few MB at most).
pub const X509_CACHE_MAX: usize = 4096;

/// One certificate as the checks need it, decoded once: the DER bytes, x509-parser's view
/// (extensions, names, identity) and OpenSSL's object (signatures, path building).
pub struct Certificate<'a> {
    pub der: &'a [u8],
    pub parsed: X509Certificate<'a>,
    pub x509: X509,
    /// The key, when it is DSTU 4145 (OpenSSL cannot decode those).
    pub dstu: Option<Arc<dstu::PublicKey>>,
}

impl Certificate<'_> {
    /// The subject's key as the signature checks take it.
    pub fn key(&self) -> Result<KeyHolder, LoginError> {
        match &self.dstu {
            Some(k) => Ok(KeyHolder::Dstu(k.clone())),
            None => self.x509.public_key().map(KeyHolder::OpenSsl).map_err(|_| {
                LoginError::UnsupportedAlgorithm(format!(
                    "key algorithm {}",
                    oids::dotted(&self.parsed.public_key().algorithm.algorithm)
                ))
            }),
        }
    }
}

/// A decoded public key, owned.
pub enum KeyHolder {
    OpenSsl(openssl::pkey::PKey<openssl::pkey::Public>),
    Dstu(Arc<dstu::PublicKey>),
}

impl KeyHolder {
    pub fn as_key(&self) -> VerifyingKey<'_> {
        match self {
            KeyHolder::OpenSsl(k) => VerifyingKey::OpenSsl(k),
            KeyHolder::Dstu(k) => VerifyingKey::Dstu(k),
        }
    }
}

/// The login verifier of one gateway: its trust policy and what it learned while verifying
/// (decoded certificates, CAs already chained to the anchors). Owned by the gateway, so
/// every gateway — and every test — starts with its own.
pub struct Verifier {
    /// Fixed once logins are verified: remembered leaves are keyed by the anchors and the
    /// leaf's bytes, not by the rest of the policy (tests swap the anchors only).
    pub policy: TrustPolicy,
    /// OpenSSL objects by the SHA-256 of their DER. OpenSSL 3 spends about 0.2 ms decoding a
    /// certificate (its provider-based key decoder) — more than verifying a P-256 signature —
    /// and a returning citizen brings the same certificate every time.
    x509: Bounded<[u8; 32], X509>,
    validated: remembered::ValidatedCas,
    leaves: remembered::VerifiedLeaves,
}

/// A login signature after step 1: structurally a login statement, nothing verified.
pub struct ParsedLogin<'a> {
    pub signed_data: SignedData<'a>,
    /// The statement, parsed early only to refuse cheaply.
    pub statement: LoginStatement,
}

/// A login signature that passed steps 1–5.
#[derive(Debug)]
pub struct VerifiedLogin {
    pub statement: LoginStatement,
    pub certificate: Vec<u8>,
    pub checked: chain::Checked,
}

impl Verifier {
    pub fn new(policy: TrustPolicy) -> Verifier {
        Verifier {
            policy,
            x509: Bounded::new(X509_CACHE_MAX),
            validated: remembered::ValidatedCas::default(),
            leaves: remembered::VerifiedLeaves::default(),
        }
    }

    /// A certificate as OpenSSL's object, decoded once per distinct certificate.
    pub fn x509(&self, der: &[u8]) -> Result<X509, openssl::error::ErrorStack> {
        let key = certs::sha256(der);
        if let Some(x) = self.x509.get(&key) {
            return Ok(x);
        }
        let x = X509::from_der(der)?;
        self.x509.insert(key, x.clone());
        Ok(x)
    }

    /// `der` decoded both ways (`brama-gateway check-cert`, tests).
    pub fn certificate<'a>(&self, der: &'a [u8]) -> Result<Certificate<'a>, LoginError> {
        let parsed =
            certs::parse(der).map_err(|e| LoginError::MalformedSignature(e.to_string()))?;
        self.certificate_of(der, parsed)
    }

    fn certificate_of<'a>(
        &self,
        der: &'a [u8],
        parsed: X509Certificate<'a>,
    ) -> Result<Certificate<'a>, LoginError> {
        let x509 = self
            .x509(der)
            .map_err(|e| LoginError::MalformedSignature(format!("certificate: {e}")))?;
        let dstu = if certs::signature::is_dstu_key(parsed.public_key()) {
            Some(self.dstu_key(parsed.public_key().raw)?)
        } else {
            None
        };
        Ok(Certificate {
            der,
            parsed,
            x509,
            dstu,
        })
    }

    /// A DSTU 4145 key from its SubjectPublicKeyInfo, decoded once per distinct key (the
    /// process-wide cache of `certs::dstu`, which the chain checks share).
    pub fn dstu_key(&self, spki: &[u8]) -> Result<Arc<dstu::PublicKey>, LoginError> {
        dstu::PublicKey::decoded(spki).map_err(|e| match e {
            dstu::DstuError::Unsupported(m) => LoginError::UnsupportedAlgorithm(m),
            other => LoginError::MalformedSignature(format!("DSTU 4145 key: {other}")),
        })
    }

    /// Steps 1–5 in order. `statement_check` is step 2 (origin and challenge against what the
    /// gateway holds), run before any signature or chain work.
    pub fn verify_login(
        &self,
        der: &[u8],
        at: time::OffsetDateTime,
        statement_check: impl FnOnce(&LoginStatement) -> Result<(), LoginError>,
    ) -> Result<VerifiedLogin, LoginError> {
        let login = parse_login(der)?;
        statement_check(&login.statement)?;
        let signer = self.signer_certificate(&login.signed_data)?;
        check_signature(&login, &signer)?;
        check_signing_certificate(&login, signer.der)?;
        let extra: Vec<&[u8]> = login
            .signed_data
            .certificates
            .iter()
            .copied()
            .filter(|c| *c != signer.der)
            .collect();
        let checked = self.check_certificate(&signer, &extra, at)?;
        Ok(VerifiedLogin {
            statement: login.statement,
            certificate: signer.der.to_vec(),
            checked,
        })
    }

    /// The signer's certificate among the embedded ones, by issuer and serial (or key id),
    /// decoded once for everything that follows.
    pub fn signer_certificate<'a>(
        &self,
        sd: &SignedData<'a>,
    ) -> Result<Certificate<'a>, LoginError> {
        let signer = &sd.signers[0];
        let (der, parsed) = sd
            .certificates
            .iter()
            .copied()
            .filter_map(|der| certs::parse(der).ok().map(|c| (der, c)))
            .find(|(_, cert)| match &signer.sid {
                SignerId::IssuerSerial { issuer, serial } => {
                    cert.tbs_certificate.issuer.as_raw() == *issuer
                        && cert.tbs_certificate.raw_serial() == *serial
                }
                SignerId::SubjectKeyId(kid) => cert.extensions().iter().any(|e| {
                    matches!(e.parsed_extension(), x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) if k.0 == *kid)
                }),
            })
            .ok_or(LoginError::SignerCertificateMissing)?;
        self.certificate_of(der, parsed)
    }
}

/// Step 1 (and the statement parse of step 2).
pub fn parse_login(der: &[u8]) -> Result<ParsedLogin<'_>, LoginError> {
    if der.len() > MAX_SIGNATURE {
        return Err(LoginError::TooLarge(MAX_SIGNATURE));
    }
    let sd = cms::parse(der).map_err(|e| LoginError::MalformedSignature(e.to_string()))?;
    if sd.signers.len() != 1 {
        return Err(LoginError::SignerCount(sd.signers.len()));
    }
    if sd.content_type != statement::CONTENT_TYPE {
        return Err(LoginError::WrongContentType(sd.content_type.clone()));
    }
    // Domain separation (design.md §3): the *signed* attribute decides, not just eContentType.
    let signer = &sd.signers[0];
    match &signer.content_type_attribute {
        Some(ct) if ct == statement::CONTENT_TYPE => {}
        Some(ct) => {
            return Err(LoginError::WrongContentType(format!(
                "{ct} in the signed attributes"
            )))
        }
        None => {
            return Err(LoginError::WrongContentType(
                "no signed content-type attribute".into(),
            ))
        }
    }
    if signer.duplicate_attributes {
        return Err(LoginError::MalformedSignature(
            "a signed attribute appears twice".into(),
        ));
    }
    let content = sd.content.ok_or(LoginError::ContentMissing)?;
    let statement =
        LoginStatement::parse(content).map_err(|e| LoginError::BadStatement(e.to_string()))?;
    Ok(ParsedLogin {
        signed_data: sd,
        statement,
    })
}

/// Step 3: the message digest matches the content and the signature verifies over the
/// signed attributes with the signer certificate's key (`certs::cms` for every algorithm).
pub fn check_signature(login: &ParsedLogin<'_>, cert: &Certificate<'_>) -> Result<(), LoginError> {
    let sd = &login.signed_data;
    let content = sd.content.ok_or(LoginError::ContentMissing)?;
    let key = cert.key()?;
    cms::check_signature(&sd.signers[0], key.as_key(), |d| d.hash(content))
        .map_err(signer_error)?;
    Ok(())
}

/// Step 4 begins here: signing-certificate-v2 names exactly the signer's certificate, so a
/// second certificate for the same key (say, a non-qualified one) cannot be swapped in.
pub fn check_signing_certificate(
    login: &ParsedLogin<'_>,
    certificate: &[u8],
) -> Result<(), LoginError> {
    cms::check_signing_certificate(&login.signed_data.signers[0], certificate).map_err(signer_error)
}

/// A CMS signer refusal as the login error with the same meaning.
pub fn signer_error(e: SignerError) -> LoginError {
    match e {
        SignerError::Unsupported(m) => LoginError::UnsupportedAlgorithm(m),
        SignerError::Weak(m) => LoginError::WeakAlgorithm(m),
        SignerError::MissingAttribute(m) => LoginError::BadSignature(m.into()),
        e @ (SignerError::DigestMismatch | SignerError::BadSignature) => {
            LoginError::BadSignature(e.to_string())
        }
        SignerError::Malformed(m) => LoginError::MalformedSignature(m),
        SignerError::CertificateMismatch => LoginError::SignerCertificateMismatch,
    }
}
