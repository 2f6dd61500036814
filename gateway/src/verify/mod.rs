//! Login verification, design.md §4, one function per step, cheap checks first.
//!
//! 1. [`parse_login`]: size, CMS structure, one signer, login content type in both the
//!    eContentType and the *signed* content-type attribute, content attached.
//! 2. The statement's origin and challenge (checked by the caller against what it holds:
//!    `challenge.rs`), before any costly work.
//! 3. [`check_signature`]: message digest and the signature over the signed attributes.
//! 4. [`chain::check_certificate`]: signing-certificate-v2, chain, validity, usage, algorithms,
//!    policies; 5. qualified status and person.
//!
//! Nothing in the statement is trusted until step 3 has passed.

pub mod chain;

use certs::cms::{self, Digest, SignedData, SignerId};
use certs::statement::{self, LoginStatement};
use openssl::x509::X509;

use crate::LoginError;

/// A certificate as OpenSSL's object, decoded once. OpenSSL 3 spends about 0.2 ms decoding a
/// certificate (its provider-based key decoder) — more than verifying a P-256 signature — and
/// a returning citizen brings the same certificate every time, so decoded certificates are
/// kept by the SHA-256 of their DER (at most [`X509_CACHE_MAX`]; the cache starts over when
/// full).
pub fn x509(der: &[u8]) -> Result<X509, openssl::error::ErrorStack> {
    type Cache = std::sync::Mutex<std::collections::HashMap<[u8; 32], X509>>;
    static CACHE: std::sync::LazyLock<Cache> = std::sync::LazyLock::new(Default::default);
    let key = openssl::sha::sha256(der);
    if let Some(x) = CACHE.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(x.clone());
    }
    let x = X509::from_der(der)?;
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= X509_CACHE_MAX {
        cache.clear();
    }
    cache.insert(key, x.clone());
    Ok(x)
}

/// Decoded certificates kept by [`x509`] (a few MB at most).
pub const X509_CACHE_MAX: usize = 4096;

/// Largest signature accepted: a statement, a leaf and a few CA certificates.
pub const MAX_SIGNATURE: usize = 64 * 1024;

/// A login signature after step 1: structurally a login statement, nothing verified.
pub struct ParsedLogin<'a> {
    pub signed_data: SignedData<'a>,
    /// The statement, parsed early only to refuse cheaply.
    pub statement: LoginStatement,
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

/// The signer's certificate among the embedded ones, by issuer and serial (or key id).
pub fn signer_certificate<'a>(sd: &SignedData<'a>) -> Result<&'a [u8], LoginError> {
    let signer = &sd.signers[0];
    sd.certificates
        .iter()
        .copied()
        .find(|der| {
            let Ok(cert) = certs::parse(der) else { return false };
            match &signer.sid {
                SignerId::IssuerSerial { issuer, serial } => {
                    cert.tbs_certificate.issuer.as_raw() == *issuer && cert.tbs_certificate.raw_serial() == *serial
                }
                SignerId::SubjectKeyId(kid) => cert.extensions().iter().any(|e| {
                    matches!(e.parsed_extension(), x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) if k.0 == *kid)
                }),
            }
        })
        .ok_or(LoginError::SignerCertificateMissing)
}

/// Step 3: the message digest matches the content and the signature verifies over the
/// signed attributes with the signer certificate's key. Returns the signer certificate.
pub fn check_signature<'a>(login: &ParsedLogin<'a>) -> Result<&'a [u8], LoginError> {
    let sd = &login.signed_data;
    let signer = &sd.signers[0];
    let digest = Digest::from_oid(&signer.digest_algorithm)
        .ok_or_else(|| LoginError::WeakAlgorithm(format!("digest {}", signer.digest_algorithm)))?;
    let content = sd.content.ok_or(LoginError::ContentMissing)?;
    let expected = signer
        .message_digest
        .ok_or_else(|| LoginError::BadSignature("no message-digest attribute".into()))?;
    if digest.hash(content) != expected {
        return Err(LoginError::BadSignature(
            "the content does not match the signed message digest".into(),
        ));
    }
    let cert_der = signer_certificate(sd)?;
    let cert = x509(cert_der)
        .map_err(|e| LoginError::MalformedSignature(format!("signer certificate: {e}")))?;
    let key = cert
        .public_key()
        .map_err(|_| LoginError::WeakAlgorithm("the signer's key type is not supported".into()))?;
    check_signature_algorithm(&signer.signature_algorithm, &key, digest)?;
    let attrs = signer
        .signed_attributes
        .as_ref()
        .ok_or_else(|| LoginError::BadSignature("no signed attributes".into()))?;
    let ok = openssl::sign::Verifier::new(digest.message_digest(), &key)
        .and_then(|mut v| {
            v.update(attrs)?;
            v.verify(signer.signature)
        })
        .unwrap_or(false);
    if !ok {
        return Err(LoginError::BadSignature(
            "the signature does not match the signer's key".into(),
        ));
    }
    Ok(cert_der)
}

/// The CMS signature algorithm must fit the key and the digest (no RSA-PSS or SHA-1 mixes).
fn check_signature_algorithm(
    oid: &str,
    key: &openssl::pkey::PKey<openssl::pkey::Public>,
    digest: Digest,
) -> Result<(), LoginError> {
    use openssl::pkey::Id;
    let ok = match key.id() {
        Id::EC => matches!(
            (oid, digest),
            ("1.2.840.10045.4.3.2", Digest::Sha256)
                | ("1.2.840.10045.4.3.3", Digest::Sha384)
                | ("1.2.840.10045.4.3.4", Digest::Sha512)
        ),
        Id::RSA => matches!(
            (oid, digest),
            ("1.2.840.113549.1.1.1", _)
                | ("1.2.840.113549.1.1.11", Digest::Sha256)
                | ("1.2.840.113549.1.1.12", Digest::Sha384)
                | ("1.2.840.113549.1.1.13", Digest::Sha512)
        ),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(LoginError::WeakAlgorithm(format!(
            "signature algorithm {oid}"
        )))
    }
}

/// Step 4 begins here: signing-certificate-v2 names exactly the signer's certificate, so a
/// second certificate for the same key (say, a non-qualified one) cannot be swapped in.
pub fn check_signing_certificate(
    login: &ParsedLogin<'_>,
    certificate: &[u8],
) -> Result<(), LoginError> {
    let (alg, hash) = login.signed_data.signers[0]
        .signing_certificate_v2
        .as_ref()
        .ok_or(LoginError::SignerCertificateMismatch)?;
    let digest = Digest::from_oid(alg)
        .ok_or_else(|| LoginError::WeakAlgorithm(format!("certificate hash {alg}")))?;
    if digest.hash(certificate) != *hash {
        return Err(LoginError::SignerCertificateMismatch);
    }
    Ok(())
}

/// A login signature that passed steps 1–5.
#[derive(Debug)]
pub struct VerifiedLogin {
    pub statement: LoginStatement,
    pub certificate: Vec<u8>,
    pub checked: chain::Checked,
}

/// Steps 1–5 in order. `statement_check` is step 2 (origin and challenge against what the
/// gateway holds), run before any signature or chain work.
pub fn verify_login(
    der: &[u8],
    policy: &chain::TrustPolicy,
    at: time::OffsetDateTime,
    statement_check: impl FnOnce(&LoginStatement) -> Result<(), LoginError>,
) -> Result<VerifiedLogin, LoginError> {
    let login = parse_login(der)?;
    statement_check(&login.statement)?;
    let certificate = check_signature(&login)?;
    check_signing_certificate(&login, certificate)?;
    let extra: Vec<&[u8]> = login
        .signed_data
        .certificates
        .iter()
        .copied()
        .filter(|c| *c != certificate)
        .collect();
    let checked = chain::check_certificate(certificate, &extra, policy, at)?;
    Ok(VerifiedLogin {
        statement: login.statement,
        certificate: certificate.to_vec(),
        checked,
    })
}
