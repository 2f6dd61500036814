//! CMS SignedData, CAdES-BES, written as DER by Brama itself (design.md §10).
//!
//! The `openssl` crate can only sign whole messages: no eContentType, no control of signed
//! attributes, no precomputed hash, no external signing key. So this module writes
//! SignedData and its signed attributes (content-type, signing-time, message-digest,
//! signing-certificate-v2) itself, and asks a [`RawSigner`] for one raw signature over the
//! DER signed attributes: OpenSSL for file keys, PKCS#11 for tokens.
//!
//! The signed content-type attribute always equals the eContentType: the login-statement OID
//! for logins, `id-data` for documents and hashes. That attribute is what keeps a document
//! signature from ever passing as a login (design.md §3).

use openssl::hash::{hash, MessageDigest};
use time::OffsetDateTime;

use crate::{oids, Error};

mod parse;
mod verify;

pub use parse::{parse, SignedData, SignerId, SignerInfo};
pub use verify::{check_signature, check_signer, check_signing_certificate, SignerError};

/// id-data: the eContentType of plain content.
pub const ID_DATA: &str = "1.2.840.113549.1.7.1";
/// id-signedData.
pub const ID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
/// The content-type signed attribute.
pub const ATTR_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
/// The message-digest signed attribute.
pub const ATTR_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
/// The signing-time signed attribute.
pub const ATTR_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";
/// The signing-certificate-v2 signed attribute (RFC 5035).
pub const ATTR_SIGNING_CERTIFICATE_V2: &str = "1.2.840.113549.1.9.16.2.47";

/// Digest algorithms Brama signs with. SHA-256 is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Digest {
    #[default]
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// GOST 34.311-95 with the Ukrainian default S-box: the digest of DSTU 4145 signatures.
    Gost34311,
}

impl Digest {
    /// The digest algorithm OID.
    pub fn oid(self) -> &'static str {
        match self {
            Digest::Sha256 => "2.16.840.1.101.3.4.2.1",
            Digest::Sha384 => "2.16.840.1.101.3.4.2.2",
            Digest::Sha512 => "2.16.840.1.101.3.4.2.3",
            Digest::Gost34311 => crate::dstu::OID_GOST34311,
        }
    }

    /// "SHA-256", "SHA-384", "SHA-512".
    pub fn name(self) -> &'static str {
        match self {
            Digest::Sha256 => "SHA-256",
            Digest::Sha384 => "SHA-384",
            Digest::Sha512 => "SHA-512",
            Digest::Gost34311 => "GOST 34.311",
        }
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Digest::Sha256 => 32,
            Digest::Sha384 => 48,
            Digest::Sha512 => 64,
            Digest::Gost34311 => 32,
        }
    }

    /// OpenSSL's digest for it; `None` for GOST 34.311, which OpenSSL does not have.
    pub fn message_digest(self) -> Option<MessageDigest> {
        match self {
            Digest::Sha256 => Some(MessageDigest::sha256()),
            Digest::Sha384 => Some(MessageDigest::sha384()),
            Digest::Sha512 => Some(MessageDigest::sha512()),
            Digest::Gost34311 => None,
        }
    }

    /// The digest of `data`.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self.message_digest() {
            Some(md) => hash(md, data).expect("OpenSSL digest").to_vec(),
            None => crate::dstu::Gost34311::digest(data).to_vec(),
        }
    }
}

impl Digest {
    /// The digest for a dotted OID, if Brama accepts it.
    pub fn from_oid(oid: &str) -> Option<Digest> {
        [
            Digest::Sha256,
            Digest::Sha384,
            Digest::Sha512,
            Digest::Gost34311,
        ]
        .into_iter()
        .find(|d| d.oid() == oid)
    }
}

/// The kind of key behind a [`RawSigner`]: it decides the CMS signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// An elliptic-curve key (ECDSA).
    Ec,
    /// An RSA key (PKCS#1 v1.5).
    Rsa,
    /// A DSTU 4145 key (little-endian signatures, GOST 34.311 digests).
    Dstu,
}

/// Makes one raw signature. Implemented over OpenSSL keys here and over PKCS#11 tokens in
/// the agent, so the CMS around it is written once.
pub trait RawSigner {
    /// Which signature algorithm the key makes.
    fn key_kind(&self) -> KeyKind;
    /// Sign `message` hashed with `digest`: a DER ECDSA-Sig-Value for EC keys, a PKCS#1 v1.5
    /// signature for RSA keys, r‖s little-endian for DSTU keys (hashed under the key's S-box).
    fn sign(&self, digest: Digest, message: &[u8]) -> Result<Vec<u8>, Error>;
}

impl RawSigner for openssl::pkey::PKey<openssl::pkey::Private> {
    fn key_kind(&self) -> KeyKind {
        if self.id() == openssl::pkey::Id::RSA {
            KeyKind::Rsa
        } else {
            KeyKind::Ec
        }
    }

    fn sign(&self, digest: Digest, message: &[u8]) -> Result<Vec<u8>, Error> {
        let md = digest.message_digest().ok_or_else(|| {
            Error::Crypto(format!("an OpenSSL key cannot sign with {}", digest.name()))
        })?;
        let mut signer = openssl::sign::Signer::new(md, self)?;
        signer.update(message)?;
        Ok(signer.sign_to_vec()?)
    }
}

/// What the content of a signature is.
pub enum Content<'a> {
    /// The content travels inside the SignedData.
    Attached(&'a [u8]),
    /// Only its digest is signed (the content was hashed while streaming, or the caller
    /// brought a precomputed hash). The result is a detached signature.
    Detached {
        /// The content's digest, made with the request's digest algorithm.
        digest: &'a [u8],
    },
}

/// One signature to make.
pub struct SignRequest<'a> {
    /// eContentType and the signed content-type attribute, dotted (`ID_DATA` or the login OID).
    pub content_type: &'a str,
    /// What is signed.
    pub content: Content<'a>,
    /// The digest algorithm for the content and the signed attributes.
    pub digest: Digest,
    /// The signer's certificate, DER.
    pub certificate: &'a [u8],
    /// Other certificates to embed (issuing CAs), DER.
    pub chain: &'a [Vec<u8>],
    /// The signing-time attribute's value.
    pub signing_time: OffsetDateTime,
    /// The certificate signing-certificate-v2 names when it is not `certificate`. Always
    /// `None` in Brama; tests set it to forge the mismatch a verifier must refuse.
    pub signing_certificate: Option<&'a [u8]>,
}

impl<'a> SignRequest<'a> {
    /// A signature by `certificate`'s key over `content`, made now, no extra certificates.
    pub fn new(
        content_type: &'a str,
        content: Content<'a>,
        digest: Digest,
        certificate: &'a [u8],
    ) -> SignRequest<'a> {
        SignRequest {
            content_type,
            content,
            digest,
            certificate,
            chain: &[],
            signing_time: OffsetDateTime::now_utc(),
            signing_certificate: None,
        }
    }
}

/// Build a DER ContentInfo holding a CAdES-BES SignedData.
pub fn sign(req: &SignRequest<'_>, signer: &dyn RawSigner) -> Result<Vec<u8>, Error> {
    if (signer.key_kind() == KeyKind::Dstu) != (req.digest == Digest::Gost34311) {
        return Err(Error::Crypto(format!(
            "a {:?} key does not sign {} digests",
            signer.key_kind(),
            req.digest.name()
        )));
    }
    let cert = crate::parse(req.certificate)?;
    let message_digest = match req.content {
        Content::Attached(data) => req.digest.hash(data),
        Content::Detached { digest } => {
            if digest.len() != req.digest.output_len() {
                return Err(Error::malformed(format!(
                    "a {:?} digest is {} bytes, got {}",
                    req.digest,
                    req.digest.output_len(),
                    digest.len()
                )));
            }
            digest.to_vec()
        }
    };
    let issuer = cert.tbs_certificate.issuer.as_raw();
    let serial = tlv(0x02, cert.tbs_certificate.raw_serial());

    // ESSCertIDv2 { certHash, issuerSerial { GeneralNames [directoryName], serial } };
    // hashAlgorithm is SHA-256, the DEFAULT, so DER leaves it out.
    let issuer_serial = seq(&[&seq(&[&tlv(0xa4, issuer)]), &serial]);
    let named = req.signing_certificate.unwrap_or(req.certificate);
    // DSTU signers name their certificate by its GOST 34.311 hash, as Ukrainian verifiers
    // expect; it is not the DEFAULT, so the hashAlgorithm is written.
    let ess_cert_id = if signer.key_kind() == KeyKind::Dstu {
        seq(&[
            &seq(&[&oid(Digest::Gost34311.oid())]),
            &tlv(0x04, &Digest::Gost34311.hash(named)),
            &issuer_serial,
        ])
    } else {
        seq(&[&tlv(0x04, &Digest::Sha256.hash(named)), &issuer_serial])
    };
    let signing_certificate = seq(&[&seq(&[&ess_cert_id])]);

    let mut attrs = [
        attribute(ATTR_CONTENT_TYPE, &oid(req.content_type)),
        attribute(ATTR_SIGNING_TIME, &time_value(req.signing_time)?),
        attribute(ATTR_MESSAGE_DIGEST, &tlv(0x04, &message_digest)),
        attribute(ATTR_SIGNING_CERTIFICATE_V2, &signing_certificate),
    ];
    attrs.sort(); // DER: SET OF in ascending order of encodings
    let attrs = attrs.concat();
    let signature = signer.sign(req.digest, &tlv(0x31, &attrs))?;

    let digest_alg = seq(&[&oid(req.digest.oid())]);
    let signature_alg = match signer.key_kind() {
        KeyKind::Ec => seq(&[&oid(match req.digest {
            Digest::Sha256 => "1.2.840.10045.4.3.2",
            Digest::Sha384 => "1.2.840.10045.4.3.3",
            Digest::Sha512 => "1.2.840.10045.4.3.4",
            Digest::Gost34311 => {
                return Err(Error::Crypto(
                    "ECDSA does not sign GOST 34.311 digests".into(),
                ))
            }
        })]),
        KeyKind::Rsa => seq(&[&oid("1.2.840.113549.1.1.1"), &[0x05, 0x00]]),
        KeyKind::Dstu => seq(&[&oid(crate::dstu::OID_LE)]),
    };
    let signer_info = seq(&[
        &tlv(0x02, &[1]),
        &seq(&[issuer, &serial]),
        &digest_alg,
        &tlv(0xa0, &attrs),
        &signature_alg,
        &tlv(0x04, &signature),
    ]);
    let econtent = match req.content {
        Content::Attached(data) => seq(&[&oid(req.content_type), &tlv(0xa0, &tlv(0x04, data))]),
        Content::Detached { .. } => seq(&[&oid(req.content_type)]),
    };
    let mut certificates = req.certificate.to_vec();
    for c in req.chain {
        certificates.extend_from_slice(c);
    }
    // RFC 5652 §5.1: version 3 when eContentType is not id-data.
    let version = if req.content_type == ID_DATA { 1 } else { 3 };
    let signed_data = seq(&[
        &tlv(0x02, &[version]),
        &tlv(0x31, &digest_alg),
        &econtent,
        &tlv(0xa0, &certificates),
        &tlv(0x31, &signer_info),
    ]);
    Ok(seq(&[&oid(ID_SIGNED_DATA), &tlv(0xa0, &signed_data)]))
}

/// Signing time: UTCTime until 2049, GeneralizedTime after (RFC 5280 rule, which CMS follows).
fn time_value(t: OffsetDateTime) -> Result<Vec<u8>, Error> {
    let (tag, format) = if t.year() < 2050 {
        (
            0x17,
            time::macros::format_description!(
                "[year repr:last_two][month][day][hour][minute][second]Z"
            ),
        )
    } else {
        (
            0x18,
            time::macros::format_description!("[year][month][day][hour][minute][second]Z"),
        )
    };
    let text = t
        .to_offset(time::UtcOffset::UTC)
        .format(&format)
        .map_err(|e| Error::Crypto(format!("signing time: {e}")))?;
    Ok(tlv(tag, text.as_bytes()))
}

fn attribute(kind: &str, value: &[u8]) -> Vec<u8> {
    seq(&[&oid(kind), &tlv(0x31, value)])
}

fn oid(dotted: &str) -> Vec<u8> {
    tlv(0x06, &oids::encode(dotted))
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// One DER TLV with a definite length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_lengths() {
        assert_eq!(tlv(0x04, &[]), vec![0x04, 0x00]);
        assert_eq!(tlv(0x04, &[0; 0x7f])[..2], [0x04, 0x7f]);
        assert_eq!(tlv(0x04, &[0; 0x80])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(tlv(0x04, &[0; 0x1234])[..4], [0x04, 0x82, 0x12, 0x34]);
        assert_eq!(
            tlv(0x04, &vec![0; 0x01_0000])[..5],
            [0x04, 0x83, 0x01, 0x00, 0x00]
        );
    }
}
