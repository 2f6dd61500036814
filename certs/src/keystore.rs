//! Opening the key stores citizens have, whatever their format: one entry point for the agent.
//!
//! | [`Format`] | files | encryption |
//! |---|---|---|
//! | `Pkcs12` | `.p12`, `.pfx` from OpenSSL, browsers, Windows | OpenSSL's PKCS#12 |
//! | `Pkcs12Gost` | `.pfx` from Diia, IIT, Ukrainian CAs | PBES2/GOST 28147, HMAC-GOST 34.311 MAC |
//! | `EncryptedPkcs8` | `Key-6.dat` (IIT, current), `.key.pem`, `.pk8` | PBES2 (GOST or AES) |
//! | `Iit` | `Key-6.dat` (IIT, older) | IIT's own GOST 28147 ECB + MAC |
//! | `Jks` | `.jks` (PrivatBank, Java CAs) | Sun's key protector |
//!
//! The format is found from the bytes, not the file name (a `Key-6.dat` may be either IIT
//! layout; a `.pfx` may be either PKCS#12). [`visible`] reads what a store shows without its
//! password; [`open`] decrypts it, telling a wrong password from a damaged file.

use openssl::pkey::{PKey, Private};
use zeroize::Zeroizing;

use crate::dstu::{self, iit, pbes2, pkcs12 as gost_p12, SecretKey};
use crate::{jks, load};

/// The key-store formats Brama reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// PKCS#12 under OpenSSL's algorithms.
    Pkcs12,
    /// PKCS#12 under the Ukrainian algorithms.
    Pkcs12Gost,
    /// An EncryptedPrivateKeyInfo (PBES2), DER or PEM: IIT's `Key-6.dat`, `.key.pem`.
    EncryptedPkcs8,
    /// IIT's older proprietary `Key-6.dat`.
    Iit,
    /// Java KeyStore.
    Jks,
}

impl Format {
    /// A short name for people ("PKCS#12 (GOST)").
    pub fn name(self) -> &'static str {
        match self {
            Format::Pkcs12 => "PKCS#12",
            Format::Pkcs12Gost => "PKCS#12 (GOST)",
            Format::EncryptedPkcs8 => "encrypted PKCS#8",
            Format::Iit => "IIT Key-6",
            Format::Jks => "Java KeyStore",
        }
    }
}

/// Why a store did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The password is wrong (the store's MAC, digest or padding says so).
    #[error("the password does not open this key store")]
    WrongPassword,
    /// The file is damaged or uses something Brama does not read (named).
    #[error("{0}")]
    Unreadable(String),
}

/// A private key from a store.
pub enum SoftKey {
    /// RSA or ECDSA, held by OpenSSL.
    OpenSsl(PKey<Private>),
    /// DSTU 4145, held by [`dstu::SecretKey`] (zeroized on drop).
    Dstu(Box<SecretKey>),
}

impl std::fmt::Debug for SoftKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SoftKey::OpenSsl(k) => write!(f, "SoftKey({:?}, ..)", k.id()),
            SoftKey::Dstu(k) => write!(f, "{k:?}"),
        }
    }
}

impl SoftKey {
    /// Whether `certificate` (DER) carries this key's public key.
    pub fn matches(&self, certificate: &[u8]) -> bool {
        let Ok(cert) = crate::parse(certificate) else {
            return false;
        };
        match self {
            SoftKey::OpenSsl(k) => openssl::x509::X509::from_der(certificate)
                .ok()
                .and_then(|c| c.public_key().ok())
                .is_some_and(|p| p.public_eq(k)),
            SoftKey::Dstu(k) => dstu::PublicKey::from_spki_der(cert.public_key().raw)
                .is_ok_and(|p| p.point() == k.public_key().point()),
        }
    }

    /// The signer for [`crate::cms::sign`].
    pub fn signer(&self) -> &dyn crate::cms::RawSigner {
        match self {
            SoftKey::OpenSsl(k) => k,
            SoftKey::Dstu(k) => k.as_ref(),
        }
    }

    /// Reads a PKCS#8 PrivateKeyInfo of any algorithm Brama signs with.
    pub fn from_pkcs8(der: &[u8]) -> Result<SoftKey, StoreError> {
        match SecretKey::from_pkcs8(der) {
            Ok(k) => Ok(SoftKey::Dstu(Box::new(k))),
            Err(dstu::DstuError::Unsupported(_)) => PKey::private_key_from_pkcs8(der)
                .map(SoftKey::OpenSsl)
                .map_err(|_| StoreError::Unreadable("a private key Brama cannot read".into())),
            Err(e) => Err(StoreError::Unreadable(e.to_string())),
        }
    }
}

/// One key of a store, with the identifier the store pairs it by.
#[derive(Debug)]
pub struct StoredKey {
    /// The key.
    pub key: SoftKey,
    /// PKCS#12 localKeyID: the certificate's subjectKeyIdentifier in Ukrainian stores.
    pub local_key_id: Option<Vec<u8>>,
}

/// A decrypted store.
#[derive(Debug, Default)]
pub struct Opened {
    /// The keys.
    pub keys: Vec<StoredKey>,
    /// Every certificate the store holds (DER), its keys' and CAs.
    pub certificates: Vec<Vec<u8>>,
}

/// What a store shows without its password.
#[derive(Debug, Default)]
pub struct Visible {
    /// Certificates in the clear (DER).
    pub certificates: Vec<Vec<u8>>,
    /// localKeyIDs of the keys, where the store shows them.
    pub local_key_ids: Vec<Vec<u8>>,
    /// How many keys the store is known to hold (`None`: only the password tells).
    pub keys: Option<usize>,
}

fn is_encrypted_pkcs8(der: &[u8]) -> bool {
    (|| {
        let top = crate::der::one(der).ok()?;
        let f = crate::der::elements(&top).ok()?;
        let alg = crate::der::elements(f.first()?).ok()?;
        let oid = crate::oids::dotted(&alg.first()?.as_oid().ok()?);
        (f.len() == 2 && oid == pbes2::OID_PBES2).then_some(())
    })()
    .is_some()
}

/// The DER of a PEM "ENCRYPTED PRIVATE KEY", or the bytes themselves.
fn der_of(bytes: &[u8]) -> Option<Vec<u8>> {
    load::pem_or_der(bytes, &["ENCRYPTED PRIVATE KEY"])
}

/// The format of `bytes`, or `None` when they are no key store Brama reads.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    if jks::is_jks(bytes) {
        return Some(Format::Jks);
    }
    let der = der_of(bytes)?;
    if iit::is_iit_store(&der) {
        Some(Format::Iit)
    } else if is_encrypted_pkcs8(&der) {
        Some(Format::EncryptedPkcs8)
    } else if gost_p12::is_gost_pkcs12(&der) {
        Some(Format::Pkcs12Gost)
    } else if openssl::pkcs12::Pkcs12::from_der(&der).is_ok() {
        Some(Format::Pkcs12)
    } else {
        None
    }
}

/// What `bytes` (of `format`) show without the password.
pub fn visible(format: Format, bytes: &[u8]) -> Visible {
    match format {
        Format::Pkcs12 => Visible {
            certificates: load::pkcs12_public_certificates(bytes).unwrap_or_default(),
            ..Visible::default()
        },
        Format::Pkcs12Gost => match gost_p12::public(bytes) {
            Ok(p) => Visible {
                keys: Some(p.local_key_ids.len()),
                local_key_ids: p.local_key_ids.into_iter().flatten().collect(),
                certificates: p.certificates,
            },
            Err(_) => Visible::default(),
        },
        Format::Jks => Visible {
            certificates: jks::public_certificates(bytes).unwrap_or_default(),
            ..Visible::default()
        },
        Format::EncryptedPkcs8 | Format::Iit => Visible {
            keys: Some(1),
            ..Visible::default()
        },
    }
}

/// The message of a DSTU reader's refusal: a wrong password, or what is wrong with the file.
fn dstu_error(e: dstu::DstuError) -> StoreError {
    match e {
        dstu::DstuError::Malformed(m) if m.contains("password") => StoreError::WrongPassword,
        other => StoreError::Unreadable(other.to_string()),
    }
}

/// Decrypts `bytes` (of `format`) with `password`.
pub fn open(format: Format, bytes: &[u8], password: &str) -> Result<Opened, StoreError> {
    let one = |key: SoftKey| Opened {
        keys: vec![StoredKey {
            key,
            local_key_id: None,
        }],
        certificates: Vec::new(),
    };
    match format {
        Format::Pkcs12 => match load::pkcs12(bytes, "the container", password) {
            Ok(k) => {
                let mut certificates = vec![k.certificate];
                certificates.extend(k.chain);
                Ok(Opened {
                    keys: vec![StoredKey {
                        key: SoftKey::OpenSsl(k.key),
                        local_key_id: None,
                    }],
                    certificates,
                })
            }
            Err(crate::Error::WrongPassword(_)) => Err(StoreError::WrongPassword),
            Err(e) => Err(StoreError::Unreadable(e.to_string())),
        },
        Format::Pkcs12Gost => {
            let c = gost_p12::read(bytes, password).map_err(dstu_error)?;
            Ok(Opened {
                keys: c
                    .keys
                    .into_iter()
                    .map(|(k, id)| StoredKey {
                        key: SoftKey::Dstu(Box::new(k)),
                        local_key_id: id,
                    })
                    .collect(),
                certificates: c.certificates,
            })
        }
        Format::EncryptedPkcs8 => {
            let der = der_of(bytes)
                .ok_or_else(|| StoreError::Unreadable("no encrypted key in the PEM".into()))?;
            match pbes2::decrypt(&der, password.as_bytes()) {
                Ok(plain) => SecretKey::from_pkcs8(&plain)
                    .map(|k| one(SoftKey::Dstu(Box::new(k))))
                    .map_err(|_| StoreError::WrongPassword),
                // Not GOST: PBES2 with AES and friends, which OpenSSL opens. OpenSSL says
                // "bad decrypt" for a wrong password; anything else is a cipher or KDF that
                // neither reads.
                Err(dstu::DstuError::Unsupported(ours)) => {
                    let pw = Zeroizing::new(password.as_bytes().to_vec());
                    PKey::private_key_from_pkcs8_passphrase(&der, &pw)
                        .map(|k| one(SoftKey::OpenSsl(k)))
                        .map_err(|e| {
                            if e.to_string().contains("bad decrypt") {
                                StoreError::WrongPassword
                            } else {
                                StoreError::Unreadable(format!("unsupported: {ours}"))
                            }
                        })
                }
                Err(e) => Err(StoreError::Unreadable(e.to_string())),
            }
        }
        Format::Iit => {
            let der = der_of(bytes).unwrap_or_default();
            let plain = iit::decrypt(&der, password.as_bytes()).map_err(dstu_error)?;
            SecretKey::from_pkcs8(&plain)
                .map(|k| one(SoftKey::Dstu(Box::new(k))))
                .map_err(|e| StoreError::Unreadable(e.to_string()))
        }
        Format::Jks => {
            let c = jks::read(bytes, password).map_err(|e| match e {
                jks::JksError::WrongPassword => StoreError::WrongPassword,
                other => StoreError::Unreadable(other.to_string()),
            })?;
            let mut out = Opened {
                certificates: c.trusted,
                ..Opened::default()
            };
            for entry in c.keys {
                out.keys.push(StoredKey {
                    key: SoftKey::from_pkcs8(&entry.pkcs8)?,
                    local_key_id: None,
                });
                out.certificates.extend(entry.chain);
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn every_real_store_is_recognised_and_opens() {
        let cases = [
            (
                "ua-dstu/STORE_A040.dat",
                "password",
                Format::EncryptedPkcs8,
                1,
            ),
            (
                "ua-dstu/test-diia.p12",
                "testpassword",
                Format::Pkcs12Gost,
                2,
            ),
            ("ua-dstu/test-jks.jks", "testpassword", Format::Jks, 1),
        ];
        for (file, password, format, keys) in cases {
            let bytes = fixture(file);
            assert_eq!(detect(&bytes), Some(format), "{file}");
            let opened = open(format, &bytes, password).unwrap();
            assert_eq!(opened.keys.len(), keys, "{file}");
            assert_eq!(
                open(format, &bytes, "not-the-password").err(),
                Some(StoreError::WrongPassword),
                "{file}"
            );
        }
        // The Diia file shows its keys' ids without the password.
        let v = visible(Format::Pkcs12Gost, &fixture("ua-dstu/test-diia.p12"));
        assert_eq!((v.keys, v.local_key_ids.len()), (Some(2), 2));
        // A certificate is no key store.
        assert_eq!(detect(&fixture("ua-real/diia-test-sign-7775603.cer")), None);
        assert_eq!(detect(&fixture("ua-dstu/Key40A0.cer")), None);
    }

    #[test]
    fn a_key_is_paired_with_its_certificate_by_public_key() {
        let opened = open(
            Format::EncryptedPkcs8,
            &fixture("ua-dstu/STORE_A040.dat"),
            "password",
        )
        .unwrap();
        let key = &opened.keys[0].key;
        assert!(key.matches(&fixture("ua-dstu/SELF_SIGNED_ENC_40A0.cer")));
        assert!(!key.matches(&fixture("ua-real/diia-test-sign-7775603.cer")));
    }
}
