//! Verifying one signer of a SignedData: the message digest over the content, the signature
//! over the signed attributes, and that signing-certificate-v2 names the signer's certificate.
//! ECDSA, RSA and DSTU 4145 signers alike ([`crate::signature`] does the arithmetic).
//!
//! The gateway's login check and `brama-certs verify` share this, so a document and a login
//! are held to the same rules; each maps [`SignerError`] to its own codes.

use super::{Digest, SignerInfo};
use crate::signature::{self, Algorithm, SignatureError, VerifyingKey};

/// Why a signer's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// A digest or signature algorithm Brama does not accept, or one that does not fit the key
    /// (SHA-1, RSA-PSS, an ECDSA signature with a DSTU digest, GOST R 34.10 …).
    #[error("unsupported algorithm: {0}")]
    Unsupported(String),
    /// An algorithm refused as too weak (SHA-1, MD5).
    #[error("too weak: {0}")]
    Weak(String),
    /// No signed attributes, or no message-digest among them.
    #[error("{0}")]
    MissingAttribute(&'static str),
    /// The content's digest is not the signed one: the content was changed.
    #[error("the content does not match the signed message digest")]
    DigestMismatch,
    /// The signature does not verify under the certificate's key.
    #[error("the signature does not match the signer's key")]
    BadSignature,
    /// The key or the signature value is malformed.
    #[error("malformed: {0}")]
    Malformed(String),
    /// signing-certificate-v2 is absent or names another certificate.
    #[error("signing-certificate-v2 does not name the signer's certificate")]
    CertificateMismatch,
}

/// Checks `signer` over `content` with the key of `certificate` (DER): the digest algorithm,
/// the message digest, the signature over the DER signed attributes, signing-certificate-v2.
/// Returns the digest algorithm used.
pub fn check_signer(
    signer: &SignerInfo<'_>,
    certificate: &[u8],
    content: &[u8],
) -> Result<Digest, SignerError> {
    let cert = crate::parse(certificate).map_err(|e| SignerError::Malformed(e.to_string()))?;
    let key = VerifyingKey::Spki(cert.tbs_certificate.subject_pki.raw);
    let digest = check_signature(signer, key, |d| d.hash(content))?;
    check_signing_certificate(signer, certificate)?;
    Ok(digest)
}

/// The digest and signature part of [`check_signer`] with the signer's key; `digest_of`
/// hashes the content with the signer's digest algorithm.
pub fn check_signature(
    signer: &SignerInfo<'_>,
    key: VerifyingKey<'_>,
    digest_of: impl FnOnce(Digest) -> Vec<u8>,
) -> Result<Digest, SignerError> {
    let digest = Digest::from_oid(&signer.digest_algorithm).ok_or_else(|| {
        let what = format!("digest {}", signer.digest_algorithm);
        if signature::is_weak(&signer.digest_algorithm) {
            SignerError::Weak(what)
        } else {
            SignerError::Unsupported(what)
        }
    })?;
    let alg = Algorithm::from_oid(&signer.signature_algorithm).map_err(to_signer_error)?;
    let fits = match alg {
        Algorithm::Ecdsa(d) | Algorithm::Rsa(d) => d == digest,
        Algorithm::RsaAnyDigest => digest != Digest::Gost34311,
        Algorithm::Dstu(_) => digest == Digest::Gost34311,
    };
    if !fits || alg.is_dstu() != key.is_dstu() {
        return Err(SignerError::Unsupported(format!(
            "signature algorithm {} with digest {} and this key",
            signer.signature_algorithm,
            digest.name()
        )));
    }
    let expected = signer
        .message_digest
        .ok_or(SignerError::MissingAttribute("no message-digest attribute"))?;
    let attrs = signer
        .signed_attributes
        .as_ref()
        .ok_or(SignerError::MissingAttribute("no signed attributes"))?;
    if digest_of(digest) != expected {
        return Err(SignerError::DigestMismatch);
    }
    signature::verify_with(key, alg, digest, attrs, signer.signature).map_err(to_signer_error)?;
    Ok(digest)
}

/// signing-certificate-v2 names exactly `certificate`, so a second certificate for the same
/// key (say, a non-qualified one) cannot be swapped in.
pub fn check_signing_certificate(
    signer: &SignerInfo<'_>,
    certificate: &[u8],
) -> Result<(), SignerError> {
    let (alg, hash) = signer
        .signing_certificate_v2
        .as_ref()
        .ok_or(SignerError::CertificateMismatch)?;
    let digest = Digest::from_oid(alg).ok_or_else(|| {
        let what = format!("certificate hash {alg}");
        if signature::is_weak(alg) {
            SignerError::Weak(what)
        } else {
            SignerError::Unsupported(what)
        }
    })?;
    if digest.hash(certificate) != *hash {
        return Err(SignerError::CertificateMismatch);
    }
    Ok(())
}

fn to_signer_error(e: SignatureError) -> SignerError {
    match e {
        SignatureError::Unsupported(m) => SignerError::Unsupported(m),
        SignatureError::Malformed(m) => SignerError::Malformed(m),
        SignatureError::Weak(m) => SignerError::Weak(m),
        SignatureError::Bad => SignerError::BadSignature,
    }
}
