//! One signature by one public key, whatever the algorithm: ECDSA and RSA through OpenSSL,
//! DSTU 4145 through [`crate::dstu`].
//!
//! Certificates, CRLs, OCSP responses and CMS signer infos all come down to "this key signed
//! these bytes with this algorithm". OpenSSL checks only the first two families, so every
//! verifier in Brama asks here instead, and a chain may mix a DSTU root with an ECDSA CA.

use crate::cms::Digest;
use crate::dstu::{self, ByteOrder};
use crate::oids;

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The algorithm (or its pairing with the key) is not one Brama accepts; says which.
    #[error("unsupported algorithm: {0}")]
    Unsupported(String),
    /// The key or the signature value is not well formed.
    #[error("malformed: {0}")]
    Malformed(String),
    /// An algorithm refused as too weak (SHA-1, MD5), named.
    #[error("too weak: {0}")]
    Weak(String),
    /// Well formed, but the key did not make this signature over these bytes.
    #[error("the signature does not verify")]
    Bad,
}

/// Digest and signature algorithms that are known and refused as weak: MD5 and SHA-1 in all
/// their pairings.
const WEAK: &[&str] = &[
    "1.2.840.113549.2.5",   // md5
    "1.3.14.3.2.26",        // sha1
    "1.2.840.113549.1.1.4", // md5WithRSAEncryption
    "1.2.840.113549.1.1.5", // sha1WithRSAEncryption
    "1.2.840.10045.4.1",    // ecdsa-with-SHA1
    "1.2.840.10040.4.3",    // dsa-with-sha1
];

/// Whether `oid` is a digest or signature algorithm refused as weak.
pub fn is_weak(oid: &str) -> bool {
    WEAK.contains(&oid)
}

impl SignatureError {
    /// A stable code, the same the gateway answers with.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::Unsupported(_) => "unsupported_algorithm",
            SignatureError::Malformed(_) => "malformed_certificate",
            SignatureError::Weak(_) => "weak_algorithm",
            SignatureError::Bad => "bad_signature",
        }
    }
}

impl From<dstu::DstuError> for SignatureError {
    fn from(e: dstu::DstuError) -> SignatureError {
        match e {
            dstu::DstuError::Malformed(m) => SignatureError::Malformed(m),
            dstu::DstuError::Unsupported(m) => SignatureError::Unsupported(m),
            dstu::DstuError::BadSignature => SignatureError::Bad,
        }
    }
}

/// A signature algorithm Brama verifies, read from its OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// ECDSA with a SHA-2 digest.
    Ecdsa(Digest),
    /// RSA PKCS#1 v1.5 with a SHA-2 digest.
    Rsa(Digest),
    /// RSA PKCS#1 v1.5 named by `rsaEncryption` alone: the digest comes from elsewhere (a CMS
    /// signer info's digestAlgorithm).
    RsaAnyDigest,
    /// DSTU 4145 with GOST 34.311, in one of its two byte orders.
    Dstu(ByteOrder),
}

impl Algorithm {
    /// The algorithm an OID names; [`SignatureError::Unsupported`] naming it otherwise (SHA-1,
    /// RSA-PSS, GOST R 34.10 and the rest).
    pub fn from_oid(oid: &str) -> Result<Algorithm, SignatureError> {
        Ok(match oid {
            oids::ECDSA_SHA256 => Algorithm::Ecdsa(Digest::Sha256),
            oids::ECDSA_SHA384 => Algorithm::Ecdsa(Digest::Sha384),
            oids::ECDSA_SHA512 => Algorithm::Ecdsa(Digest::Sha512),
            oids::RSA_SHA256 => Algorithm::Rsa(Digest::Sha256),
            oids::RSA_SHA384 => Algorithm::Rsa(Digest::Sha384),
            oids::RSA_SHA512 => Algorithm::Rsa(Digest::Sha512),
            oids::RSA_ENCRYPTION => Algorithm::RsaAnyDigest,
            other => match ByteOrder::of_oid(other) {
                Some(order) => Algorithm::Dstu(order),
                None if is_weak(other) => {
                    return Err(SignatureError::Weak(format!("signature algorithm {other}")))
                }
                None => return Err(SignatureError::Unsupported(algorithm_name(other))),
            },
        })
    }

    /// Whether this is DSTU 4145.
    pub fn is_dstu(self) -> bool {
        matches!(self, Algorithm::Dstu(_))
    }
}

/// How an unsupported algorithm is named in a refusal: Russian GOST R 34.10 keys by name (they
/// look like DSTU to a citizen and are not), anything else by its OID.
pub fn algorithm_name(oid: &str) -> String {
    if oid.starts_with("1.2.643.") {
        format!("GOST R 34.10 (Russian) algorithm {oid}")
    } else {
        format!("signature algorithm {oid}")
    }
}

/// Whether a SubjectPublicKeyInfo holds a DSTU 4145 key.
pub fn is_dstu_key(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> bool {
    dstu::is_dstu_oid(&oids::dotted(&spki.algorithm.algorithm))
}

/// The signature value of an X.509 structure (certificate, CRL, OCSP response): the BIT
/// STRING's bytes, except that DSTU 4145 wraps r‖s in a DER OCTET STRING there (and not in CMS).
pub fn x509_signature_value(alg: Algorithm, bits: &[u8]) -> Result<&[u8], SignatureError> {
    if !alg.is_dstu() {
        return Ok(bits);
    }
    crate::der::one(bits)
        .ok()
        .filter(|a| a.tag() == asn1_rs::Tag::OctetString && !a.header.is_constructed())
        .map(|a| a.data)
        .ok_or_else(|| {
            SignatureError::Malformed("a DSTU 4145 signature is not an OCTET STRING".into())
        })
}

/// A public key to verify with: DER SubjectPublicKeyInfo to decode, or a key a caller holds
/// decoded already (the gateway keeps them, as decoding costs more than verifying).
#[derive(Clone, Copy)]
pub enum VerifyingKey<'a> {
    /// A DER SubjectPublicKeyInfo.
    Spki(&'a [u8]),
    /// An ECDSA or RSA key decoded by OpenSSL.
    OpenSsl(&'a openssl::pkey::PKeyRef<openssl::pkey::Public>),
    /// A DSTU 4145 key.
    Dstu(&'a dstu::PublicKey),
}

impl VerifyingKey<'_> {
    /// Whether it is a DSTU 4145 key (decoding nothing).
    pub fn is_dstu(&self) -> bool {
        match self {
            VerifyingKey::Spki(spki) => crate::der::one(spki)
                .ok()
                .and_then(|s| crate::der::elements(&s).ok())
                .and_then(|f| f.first().and_then(|a| crate::der::elements(a).ok()))
                .and_then(|alg| {
                    alg.first()
                        .and_then(|o| o.as_oid().ok())
                        .map(|o| oids::dotted(&o))
                })
                .is_some_and(|o| dstu::is_dstu_oid(&o)),
            VerifyingKey::OpenSsl(_) => false,
            VerifyingKey::Dstu(_) => true,
        }
    }
}

/// Verify `signature` over `data` by the key in `spki` (DER SubjectPublicKeyInfo), made with
/// `alg`. `digest` is used only by [`Algorithm::RsaAnyDigest`]. For DSTU the data is hashed
/// with GOST 34.311 under the key's own S-box.
pub fn verify(
    spki: &[u8],
    alg: Algorithm,
    digest: Digest,
    data: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    verify_with(VerifyingKey::Spki(spki), alg, digest, data, signature)
}

/// [`verify`] with a key in any form.
pub fn verify_with(
    key: VerifyingKey<'_>,
    alg: Algorithm,
    digest: Digest,
    data: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let digest = match alg {
        Algorithm::Ecdsa(d) | Algorithm::Rsa(d) => d,
        Algorithm::RsaAnyDigest => digest,
        Algorithm::Dstu(order) => {
            let decoded;
            let key = match key {
                VerifyingKey::Dstu(k) => k,
                VerifyingKey::Spki(spki) => {
                    decoded = dstu::PublicKey::decoded(spki)?;
                    &*decoded
                }
                VerifyingKey::OpenSsl(_) => {
                    return Err(SignatureError::Unsupported(
                        "a DSTU 4145 signature by an ECDSA or RSA key".into(),
                    ))
                }
            };
            return Ok(key.verify(data, signature, order)?);
        }
    };
    match key {
        VerifyingKey::OpenSsl(k) => verify_openssl(k, alg, digest, data, signature),
        VerifyingKey::Spki(spki) => {
            let k = openssl::pkey::PKey::public_key_from_der(spki).map_err(|_| {
                if VerifyingKey::Spki(spki).is_dstu() {
                    SignatureError::Unsupported(format!("a {alg:?} signature by a DSTU 4145 key"))
                } else {
                    SignatureError::Unsupported(
                        "a key that is neither ECDSA, RSA nor DSTU 4145".into(),
                    )
                }
            })?;
            verify_openssl(&k, alg, digest, data, signature)
        }
        VerifyingKey::Dstu(_) => Err(SignatureError::Unsupported(format!(
            "a {alg:?} signature by a DSTU 4145 key"
        ))),
    }
}

fn verify_openssl(
    key: &openssl::pkey::PKeyRef<openssl::pkey::Public>,
    alg: Algorithm,
    digest: Digest,
    data: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    use openssl::pkey::Id;
    let fits = match alg {
        Algorithm::Ecdsa(_) => key.id() == Id::EC,
        _ => key.id() == Id::RSA,
    };
    if !fits {
        return Err(SignatureError::Unsupported(format!(
            "a {:?} signature by a {} key",
            alg,
            match key.id() {
                Id::EC => "EC",
                Id::RSA => "RSA",
                _ => "other",
            }
        )));
    }
    let md = digest
        .message_digest()
        .ok_or_else(|| SignatureError::Unsupported(format!("{} with {:?}", digest.name(), alg)))?;
    let ok = openssl::sign::Verifier::new(md, key)
        .and_then(|mut v| {
            v.update(data)?;
            v.verify(signature)
        })
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(SignatureError::Bad)
    }
}

/// Verify a signed X.509 structure (certificate, CRL, OCSP response): its DER to-be-signed
/// part, its signatureAlgorithm OID and its signature BIT STRING's bytes, under the issuer's
/// SubjectPublicKeyInfo (DER).
pub fn verify_signed(
    issuer_spki: &[u8],
    algorithm: &str,
    tbs: &[u8],
    signature_bits: &[u8],
) -> Result<(), SignatureError> {
    let alg = Algorithm::from_oid(algorithm)?;
    if alg == Algorithm::RsaAnyDigest {
        return Err(SignatureError::Unsupported(
            "rsaEncryption names no digest for a certificate or a CRL".into(),
        ));
    }
    let value = x509_signature_value(alg, signature_bits)?;
    verify(issuer_spki, alg, Digest::Sha256, tbs, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fixture;

    #[test]
    fn the_real_delta_crl_verifies_under_the_diia_ca() {
        use x509_parser::prelude::FromDer;
        let ca = fixture("ua-real/diia-CA-05E19E2CD92EA2990100000001000000E1000000.cer");
        let ca = crate::parse(&ca).unwrap();
        let spki = ca.tbs_certificate.subject_pki.raw;
        let der = fixture("ua-dstu/diia-delta-0ABEA7.crl");
        let check = |der: &[u8]| {
            let (_, crl) =
                x509_parser::revocation_list::CertificateRevocationList::from_der(der).unwrap();
            verify_signed(
                spki,
                &oids::dotted(&crl.signature_algorithm.algorithm),
                crl.tbs_cert_list.as_ref(),
                &crl.signature_value.data,
            )
        };
        assert_eq!(check(&der), Ok(()));
        // One bit of the revoked list flipped.
        let mut bad = der.clone();
        let at = der.len() / 2;
        bad[at] ^= 0x01;
        assert_eq!(check(&bad), Err(SignatureError::Bad));
        // Not under another CA (the CAO root).
        let cao = fixture("ua-real/CAO-05E19E2CD92EA2990100000001000000C1000000.cer");
        let cao = crate::parse(&cao).unwrap();
        let (_, crl) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(&der).unwrap();
        assert_eq!(
            verify_signed(
                cao.tbs_certificate.subject_pki.raw,
                &oids::dotted(&crl.signature_algorithm.algorithm),
                crl.tbs_cert_list.as_ref(),
                &crl.signature_value.data,
            ),
            Err(SignatureError::Bad)
        );
    }

    #[test]
    fn unsupported_algorithms_are_named() {
        for oid in ["1.2.840.113549.1.1.5", "1.2.840.10045.4.1"] {
            assert!(
                matches!(Algorithm::from_oid(oid), Err(SignatureError::Weak(m)) if m.contains(oid)),
                "{oid}"
            );
        }
        let pss = "1.2.840.113549.1.1.10";
        assert!(
            matches!(Algorithm::from_oid(pss), Err(SignatureError::Unsupported(m)) if m.contains(pss))
        );
        let err = Algorithm::from_oid("1.2.643.7.1.1.3.2").unwrap_err();
        assert!(err.to_string().contains("GOST R 34.10"), "{err}");
        assert_eq!(err.code(), "unsupported_algorithm");
    }
}
