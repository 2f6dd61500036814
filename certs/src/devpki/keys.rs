//! Keys for the development PKI, generated and used through OpenSSL.
//!
//! rcgen needs only [`rcgen::SigningKey`], so an OpenSSL key plugs straight in: that gives
//! RSA key generation (which rcgen's own backends lack) and keeps `ring` out of the build.

use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use rcgen::{PublicKeyData, SignatureAlgorithm, SigningKey};
use serde::Serialize;
use x509_parser::prelude::FromDer;

use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    P256,
    P384,
    Rsa2048,
    /// Too weak: only for the negative case.
    Rsa1024,
}

impl KeyType {
    pub fn label(self) -> &'static str {
        match self {
            KeyType::P256 => "ECDSA P-256",
            KeyType::P384 => "ECDSA P-384",
            KeyType::Rsa2048 => "RSA-2048",
            KeyType::Rsa1024 => "RSA-1024",
        }
    }
}

/// An OpenSSL private key that rcgen can sign with.
pub struct DevKey {
    pub pkey: PKey<Private>,
    pub key_type: KeyType,
    /// The subjectPublicKey BIT STRING contents (EC point or RSAPublicKey DER).
    public_key: Vec<u8>,
}

impl DevKey {
    pub fn generate(key_type: KeyType) -> Result<DevKey, Error> {
        let pkey = match key_type {
            KeyType::P256 | KeyType::P384 => {
                let nid = if key_type == KeyType::P256 {
                    Nid::X9_62_PRIME256V1
                } else {
                    Nid::SECP384R1
                };
                PKey::from_ec_key(EcKey::generate(EcGroup::from_curve_name(nid)?.as_ref())?)?
            }
            KeyType::Rsa2048 => PKey::from_rsa(Rsa::generate(2048)?)?,
            KeyType::Rsa1024 => PKey::from_rsa(Rsa::generate(1024)?)?,
        };
        let spki = pkey.public_key_to_der()?;
        let (_, parsed) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&spki)
            .map_err(|e| Error::Crypto(format!("own public key does not parse: {e}")))?;
        let public_key = parsed.subject_public_key.data.to_vec();
        Ok(DevKey {
            pkey,
            key_type,
            public_key,
        })
    }

    /// RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits.
    pub fn key_identifier(&self) -> Vec<u8> {
        openssl::sha::sha1(&self.public_key).to_vec()
    }

    fn digest(&self) -> MessageDigest {
        match self.key_type {
            KeyType::P384 => MessageDigest::sha384(),
            _ => MessageDigest::sha256(),
        }
    }

    /// Sign with an explicit digest (the SHA-1 negative case needs one rcgen does not offer).
    pub fn sign_with(&self, digest: MessageDigest, msg: &[u8]) -> Result<Vec<u8>, Error> {
        let mut signer = Signer::new(digest, &self.pkey)?;
        signer.update(msg)?;
        Ok(signer.sign_to_vec()?)
    }
}

impl PublicKeyData for DevKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public_key
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        match self.key_type {
            KeyType::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyType::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyType::Rsa2048 | KeyType::Rsa1024 => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

impl SigningKey for DevKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.sign_with(self.digest(), msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// What signs a certificate or a CRL of the dev PKI: an OpenSSL key (ECDSA/RSA with SHA-256)
/// or a DSTU 4145 key (GOST 34.311). The TBS builders are written once over it.
pub trait X509Signer {
    /// The signature's AlgorithmIdentifier, DER.
    fn algorithm(&self) -> Vec<u8>;
    /// The signatureValue BIT STRING's bytes over `tbs`.
    fn sign_tbs(&self, tbs: &[u8]) -> Result<Vec<u8>, Error>;
}

impl X509Signer for PKey<Private> {
    fn algorithm(&self) -> Vec<u8> {
        let oid = |d: &str| yasna::models::ObjectIdentifier::from_slice(&crate::oids::arcs(d));
        match self.id() {
            openssl::pkey::Id::EC => yasna::construct_der(|w| {
                w.write_sequence(|w| w.next().write_oid(&oid(crate::oids::ECDSA_SHA256)))
            }),
            _ => yasna::construct_der(|w| {
                w.write_sequence(|w| {
                    w.next().write_oid(&oid(crate::oids::RSA_SHA256));
                    w.next().write_null();
                })
            }),
        }
    }

    fn sign_tbs(&self, tbs: &[u8]) -> Result<Vec<u8>, Error> {
        let mut signer = Signer::new(MessageDigest::sha256(), self)?;
        signer.update(tbs)?;
        Ok(signer.sign_to_vec()?)
    }
}

impl X509Signer for DevKey {
    fn algorithm(&self) -> Vec<u8> {
        self.pkey.algorithm()
    }

    fn sign_tbs(&self, tbs: &[u8]) -> Result<Vec<u8>, Error> {
        self.pkey.sign_tbs(tbs)
    }
}

impl X509Signer for crate::dstu::SecretKey {
    fn algorithm(&self) -> Vec<u8> {
        yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next()
                    .write_oid(&yasna::models::ObjectIdentifier::from_slice(
                        &crate::oids::arcs(crate::dstu::OID_LE),
                    ))
            })
        })
    }

    /// In X.509 structures a DSTU signature value is a DER OCTET STRING inside the BIT STRING.
    fn sign_tbs(&self, tbs: &[u8]) -> Result<Vec<u8>, Error> {
        let sig = self
            .sign(tbs, crate::dstu::ByteOrder::Little)
            .map_err(|e| Error::Crypto(e.to_string()))?;
        Ok(yasna::construct_der(|w| w.write_bytes(&sig)))
    }
}
