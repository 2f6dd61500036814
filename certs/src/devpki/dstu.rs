//! The DSTU 4145 side of the development PKI, in `dstu/`: a DSTU root and qualified CA, the
//! citizens and the representative with DSTU-257 keys, one DSTU twin of every refusal case,
//! two mixed chains (a DSTU root over an ECDSA CA, the ECDSA root over a DSTU CA), a DSTU CRL
//! and a DSTU OCSP responder certificate.
//!
//! rcgen writes the certificates' fields (names, extensions) around a placeholder ECDSA key;
//! [`finish`] then puts the DSTU public key into the TBS and signs it again with the issuer's
//! real key — DSTU or ECDSA — since rcgen knows no DSTU algorithm.

use std::path::Path;

use rcgen::{CertificateParams, Issuer, KeyIdMethod};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use super::cases::{dstu_leaves, person, Leaf};
use super::keys::{DevKey, KeyType, X509Signer};
use super::profile::{
    ca_params, custom, leaf_params, ocsp_responder_params, printable, random_password, YEAR,
};
use super::{write, Entry, Options};
use crate::dstu::{self, gost28147, Params, SecretKey};
use crate::{oids, Error};

/// DSTU 4145-257 (`.2.6`), the curve of Ukrainian citizens' keys.
pub const CURVE_257: usize = 6;
/// DSTU 4145-431 (`.2.9`), for the root.
pub const CURVE_431: usize = 9;
/// DSTU 4145-163 (`.2.0`): too small, for the weak-key twin.
pub const CURVE_163: usize = 0;

/// A DSTU key with the placeholder rcgen signs around.
pub struct DstuDevKey {
    pub secret: SecretKey,
    placeholder: DevKey,
}

impl DstuDevKey {
    pub fn generate(curve: usize) -> Result<DstuDevKey, Error> {
        let params = Params::named(curve).ok_or_else(|| Error::Crypto("no such curve".into()))?;
        Ok(DstuDevKey {
            secret: SecretKey::generate(params).map_err(|e| Error::Crypto(e.to_string()))?,
            placeholder: DevKey::generate(KeyType::P256)?,
        })
    }

    /// AlgorithmIdentifier parameters: the named curve and the default DKE, the form IIT's
    /// certificates and jkurwa write.
    fn params_der(&self) -> Vec<u8> {
        let index = self.secret.params().named.expect("named curve");
        let curve = format!("{}.{index}", dstu::curve::NAMED_CURVE_ARC);
        yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next()
                    .write_oid(&yasna::models::ObjectIdentifier::from_slice(&oids::arcs(
                        &curve,
                    )));
                w.next().write_bytes(&gost28147::DEFAULT_DKE);
            })
        })
    }

    fn algorithm_der(&self) -> Vec<u8> {
        let params = self.params_der();
        yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next()
                    .write_oid(&yasna::models::ObjectIdentifier::from_slice(&oids::arcs(
                        dstu::OID_LE,
                    )));
                w.next().write_der(&params);
            })
        })
    }

    /// The subjectPublicKey BIT STRING's bytes: a DER OCTET STRING of the compressed point.
    fn public_bits(&self) -> Vec<u8> {
        let q = self.secret.public_key().compressed(dstu::ByteOrder::Little);
        yasna::construct_der(|w| w.write_bytes(&q))
    }

    /// SubjectPublicKeyInfo, DER.
    pub fn spki(&self) -> Vec<u8> {
        let (alg, bits) = (self.algorithm_der(), self.public_bits());
        yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_der(&alg);
                w.next().write_bitvec_bytes(&bits, bits.len() * 8);
            })
        })
    }

    /// RFC 5280 method 1 over the subjectPublicKey bits, as for the other keys.
    pub fn key_identifier(&self) -> Vec<u8> {
        openssl::sha::sha1(&self.public_bits()).to_vec()
    }

    /// PKCS#8 PrivateKeyInfo as Ukrainian key stores hold it (d little-endian, jkurwa's and
    /// IIT's layout); written encrypted ([`crate::dstu::pbes2`]).
    pub fn pkcs8(&self) -> Zeroizing<Vec<u8>> {
        let alg = self.algorithm_der();
        let d = self.secret.to_le();
        Zeroizing::new(yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_u8(0);
                w.next().write_der(&alg);
                w.next().write_bytes(&d);
            })
        }))
    }
}

impl X509Signer for DstuDevKey {
    fn algorithm(&self) -> Vec<u8> {
        self.secret.algorithm()
    }
    fn sign_tbs(&self, tbs: &[u8]) -> Result<Vec<u8>, Error> {
        self.secret.sign_tbs(tbs)
    }
}

/// A key of either family, as an issuer or a subject.
pub enum AnyKey<'a> {
    Dstu(&'a DstuDevKey),
    OpenSsl(&'a DevKey),
}

impl AnyKey<'_> {
    fn placeholder(&self) -> &DevKey {
        match self {
            AnyKey::Dstu(k) => &k.placeholder,
            AnyKey::OpenSsl(k) => k,
        }
    }
    fn signer(&self) -> &dyn X509Signer {
        match self {
            AnyKey::Dstu(k) => *k,
            AnyKey::OpenSsl(k) => *k,
        }
    }
    fn key_identifier(&self) -> Vec<u8> {
        match self {
            AnyKey::Dstu(k) => k.key_identifier(),
            AnyKey::OpenSsl(k) => k.key_identifier(),
        }
    }
}

/// Puts the subject's DSTU key into rcgen's certificate (when the subject is DSTU) and signs
/// the TBS again with the issuer's real key.
pub fn finish(
    cert_der: &[u8],
    subject: &AnyKey<'_>,
    issuer: &dyn X509Signer,
) -> Result<Vec<u8>, Error> {
    let alg = issuer.algorithm();
    let spki = match subject {
        AnyKey::Dstu(k) => Some(k.spki()),
        AnyKey::OpenSsl(_) => None,
    };
    super::profile::rebuild(cert_der, &alg, spki.as_deref(), |tbs| issuer.sign_tbs(tbs))
}

/// A copy of `template` (a development-PKI certificate) for another DSTU public key (`spki`,
/// DER SubjectPublicKeyInfo), signed by `issuer`: how the tests give a key made by someone
/// else (jkurwa's `Key40A0`) a signing certificate of the development CA. The copy keeps the
/// template's names, extensions and key identifier; only the key and the signature change.
pub fn reissue(template: &[u8], spki: &[u8], issuer: SecretKey) -> Result<Vec<u8>, Error> {
    let issuer = DstuDevKey {
        secret: issuer,
        placeholder: DevKey::generate(KeyType::P256)?,
    };
    super::profile::rebuild(template, &issuer.algorithm(), Some(spki), |tbs| {
        issuer.sign_tbs(tbs)
    })
}

/// One certificate rcgen writes and [`finish`] completes.
fn make(
    mut params: CertificateParams,
    subject: AnyKey<'_>,
    issuer: Option<(&CertificateParams, &AnyKey<'_>)>,
) -> Result<Vec<u8>, Error> {
    params.key_identifier_method = KeyIdMethod::PreSpecified(subject.key_identifier());
    let rc = |e: rcgen::Error| Error::Crypto(e.to_string());
    let (der, signer) = match issuer {
        Some((ip, ik)) => {
            let mut ip = ip.clone();
            ip.key_identifier_method = KeyIdMethod::PreSpecified(ik.key_identifier());
            let issuer = Issuer::from_params(&ip, ik.placeholder());
            (
                params
                    .signed_by(subject.placeholder(), &issuer)
                    .map_err(rc)?
                    .der()
                    .to_vec(),
                ik.signer(),
            )
        }
        None => (
            params
                .self_signed(subject.placeholder())
                .map_err(rc)?
                .der()
                .to_vec(),
            subject.signer(),
        ),
    };
    finish(&der, &subject, signer)
}

/// What the ECDSA side hands over: its root and issuing CA (for the mixed chains and the
/// SHA-1 twin).
pub struct EcdsaSide<'a> {
    pub root_params: &'a CertificateParams,
    pub root_key: &'a DevKey,
    pub ica_params: &'a CertificateParams,
    pub ica_key: &'a DevKey,
}

/// Everything written, for the manifest.
pub struct Written {
    pub entries: Vec<Entry>,
}

pub(super) fn generate(
    opts: &Options,
    dir: &Path,
    t: OffsetDateTime,
    ec: &EcdsaSide<'_>,
) -> Result<Written, Error> {
    let sub = dir.join("dstu");
    std::fs::create_dir_all(&sub).map_err(Error::io(&sub))?;
    let password = |_: &str| -> Result<String, Error> {
        match &opts.password {
            Some(p) => Ok(p.clone()),
            None => random_password(),
        }
    };
    let mut entries = Vec::new();
    let mut record = |name: &str,
                      description: &str,
                      expected: &str,
                      key_type: &str,
                      cert: &[u8],
                      key: Option<&AnyKey<'_>>,
                      issuer: &str|
     -> Result<(), Error> {
        let pem = format!("dstu/{name}.pem");
        let cer = format!("dstu/{name}.cer");
        let pem_text = openssl::base64::encode_block(cert);
        let lines: Vec<&str> = pem_text
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("base64"))
            .collect();
        write(
            dir,
            &pem,
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                lines.join("\n")
            )
            .as_bytes(),
        )?;
        write(dir, &cer, cert)?;
        let (key_file, pkcs12, pw) = match key {
            Some(AnyKey::Dstu(k)) => {
                // The Key-6.dat form: PKCS#8 under PBES2, HMAC-GOST 34.311, GOST 28147 CFB.
                // 1,000 iterations, not IIT's 10,000: every test builds a dev PKI, and the
                // reader is the same for both counts.
                let pw = password(name)?;
                let f = format!("dstu/{name}.dat");
                let store = crate::dstu::pbes2::encrypt(&k.pkcs8(), pw.as_bytes(), 1_000)
                    .map_err(|e| Error::Crypto(e.to_string()))?;
                write(dir, &f, &store)?;
                // And as Diia issues keys: a GOST PKCS#12 holding the key alone (localKeyID =
                // the certificate's key identifier), the certificate beside it.
                let p12 = format!("dstu/{name}.p12");
                let pfx =
                    crate::dstu::pkcs12::write(&k.pkcs8(), &k.key_identifier(), None, &pw, 1_000)
                        .map_err(|e| Error::Crypto(e.to_string()))?;
                write(dir, &p12, &pfx)?;
                (f, Some(p12), pw)
            }
            Some(AnyKey::OpenSsl(k)) => {
                let pw = password(name)?;
                let (_, _, key_file, p12) = super::write_key_files(&sub, name, cert, k, &pw, &[])?;
                (format!("dstu/{key_file}"), Some(format!("dstu/{p12}")), pw)
            }
            None => (String::new(), None, String::new()),
        };
        let summary = crate::CertificateSummary::from_der(cert)?;
        entries.push(Entry {
            name: name.into(),
            description: description.into(),
            expected: expected.into(),
            key_type: key_type.into(),
            certificate: pem,
            certificate_der: cer,
            key: key_file,
            pkcs12,
            password: pw,
            serial: summary.serial,
            subject: summary.subject,
            issuer: issuer.into(),
        });
        Ok(())
    };

    // --- Authorities ---
    let root_key = DstuDevKey::generate(CURVE_431)?;
    let root_params = ca_params(
        "Brama Dev DSTU Root CA",
        &root_key.placeholder,
        None,
        t - YEAR * 5,
        25,
    )?;
    let root = make(root_params.clone(), AnyKey::Dstu(&root_key), None)?;
    record(
        "dstu-root",
        "DSTU trust anchor (self-signed, DSTU 4145-431)",
        "valid",
        "DSTU 4145-431",
        &root,
        Some(&AnyKey::Dstu(&root_key)),
        "dstu-root",
    )?;

    let ca_key = DstuDevKey::generate(CURVE_257)?;
    let mut ca_p = ca_params(
        "Brama Dev DSTU Qualified CA",
        &ca_key.placeholder,
        Some(0),
        t - YEAR * 4,
        14,
    )?;
    ca_p.distinguished_name.push(
        custom(oids::ORGANIZATION_IDENTIFIER),
        printable("NTRUA-00000002"),
    );
    let ca = make(
        ca_p.clone(),
        AnyKey::Dstu(&ca_key),
        Some((&root_params, &AnyKey::Dstu(&root_key))),
    )?;
    record("dstu-ca", "Qualified DSTU issuing CA (DSTU 4145-257, pathlen 0): issues the DSTU citizens, the DSTU CRL and OCSP responder", "valid", "DSTU 4145-257", &ca, Some(&AnyKey::Dstu(&ca_key)), "dstu-root")?;

    let ocsp_key = DstuDevKey::generate(CURVE_257)?;
    let op = ocsp_responder_params("Brama Dev DSTU OCSP Responder", t)?;
    let ocsp = make(
        op,
        AnyKey::Dstu(&ocsp_key),
        Some((&ca_p, &AnyKey::Dstu(&ca_key))),
    )?;
    record(
        "dstu-ocsp",
        "Delegated DSTU OCSP responder (id-kp-OCSPSigning, ocsp-nocheck) of the DSTU CA",
        "valid",
        "DSTU 4145-257",
        &ocsp,
        Some(&AnyKey::Dstu(&ocsp_key)),
        "dstu-ca",
    )?;

    let bad_root_key = DstuDevKey::generate(CURVE_257)?;
    let bad_root_params = ca_params(
        "Brama Untrusted DSTU Root CA",
        &bad_root_key.placeholder,
        None,
        t - YEAR * 5,
        25,
    )?;
    let bad_root = make(bad_root_params.clone(), AnyKey::Dstu(&bad_root_key), None)?;
    record(
        "dstu-untrusted-root",
        "A DSTU root nobody trusts",
        "valid",
        "DSTU 4145-257",
        &bad_root,
        None,
        "dstu-untrusted-root",
    )?;
    let bad_ca_key = DstuDevKey::generate(CURVE_257)?;
    let bad_ca_p = ca_params(
        "Brama Untrusted DSTU CA",
        &bad_ca_key.placeholder,
        Some(0),
        t - YEAR * 4,
        14,
    )?;
    let bad_ca = make(
        bad_ca_p.clone(),
        AnyKey::Dstu(&bad_ca_key),
        Some((&bad_root_params, &AnyKey::Dstu(&bad_root_key))),
    )?;
    record(
        "dstu-untrusted-ca",
        "DSTU CA under the untrusted DSTU root",
        "valid",
        "DSTU 4145-257",
        &bad_ca,
        None,
        "dstu-untrusted-root",
    )?;

    // Mixed chains: an ECDSA CA under the DSTU root, a DSTU CA under the ECDSA root.
    let ec_under_dstu_key = DevKey::generate(KeyType::P256)?;
    let ec_under_dstu_p = ca_params(
        "Brama Dev ECDSA CA under DSTU Root",
        &ec_under_dstu_key,
        Some(0),
        t - YEAR * 4,
        14,
    )?;
    let ec_under_dstu = make(
        ec_under_dstu_p.clone(),
        AnyKey::OpenSsl(&ec_under_dstu_key),
        Some((&root_params, &AnyKey::Dstu(&root_key))),
    )?;
    record(
        "ecdsa-ca-under-dstu-root",
        "Qualified ECDSA P-256 CA certified by the DSTU root (mixed chain)",
        "valid",
        "ECDSA P-256",
        &ec_under_dstu,
        None,
        "dstu-root",
    )?;
    let dstu_under_ec_key = DstuDevKey::generate(CURVE_257)?;
    let dstu_under_ec_p = ca_params(
        "Brama Dev DSTU CA under ECDSA Root",
        &dstu_under_ec_key.placeholder,
        Some(0),
        t - YEAR * 4,
        14,
    )?;
    let dstu_under_ec = make(
        dstu_under_ec_p.clone(),
        AnyKey::Dstu(&dstu_under_ec_key),
        Some((ec.root_params, &AnyKey::OpenSsl(ec.root_key))),
    )?;
    record(
        "dstu-ca-under-ecdsa-root",
        "Qualified DSTU 4145-257 CA certified by the ECDSA root (mixed chain)",
        "valid",
        "DSTU 4145-257",
        &dstu_under_ec,
        None,
        "root",
    )?;

    // --- End entities ---
    let mut revoked = Vec::new();
    let mut leaves = dstu_leaves();
    leaves.push((
        Leaf::citizen(
            "mixed-ecdsa-citizen",
            KeyType::P256,
            person("Стус", "Василь Семенович", "361234567", "Київ"),
        )
        .about(
            "ECDSA P-256 citizen under the ECDSA CA that the DSTU root certified",
            "valid",
        ),
        usize::MAX,
    ));
    leaves.push((
        Leaf::citizen(
            "mixed-dstu-citizen",
            KeyType::P256,
            person("Костенко", "Ліна Василівна", "371234567", "Ржищів"),
        )
        .about(
            "DSTU 4145-257 citizen under the DSTU CA that the ECDSA root certified",
            "valid",
        ),
        CURVE_257,
    ));
    for (leaf, curve) in leaves {
        let mut params = leaf_params(&leaf, &DevKey::generate(KeyType::P256)?, opts, t)?;
        params.crl_distribution_points.clear();
        let freshest = oids::arcs(oids::EXT_FRESHEST_CRL);
        params
            .custom_extensions
            .retain(|e| !e.oid_components().eq(freshest.iter().copied()));
        let dkey;
        let ekey;
        let subject = if curve == usize::MAX {
            ekey = DevKey::generate(KeyType::P256)?;
            AnyKey::OpenSsl(&ekey)
        } else {
            dkey = DstuDevKey::generate(curve)?;
            AnyKey::Dstu(&dkey)
        };
        let (issuer_params, issuer_key, issuer_name): (&CertificateParams, AnyKey<'_>, &str) =
            if leaf.untrusted {
                (&bad_ca_p, AnyKey::Dstu(&bad_ca_key), "dstu-untrusted-ca")
            } else if leaf.sha1 {
                (ec.ica_params, AnyKey::OpenSsl(ec.ica_key), "issuing_ca")
            } else if leaf.name == "mixed-ecdsa-citizen" {
                (
                    &ec_under_dstu_p,
                    AnyKey::OpenSsl(&ec_under_dstu_key),
                    "ecdsa-ca-under-dstu-root",
                )
            } else if leaf.name == "mixed-dstu-citizen" {
                (
                    &dstu_under_ec_p,
                    AnyKey::Dstu(&dstu_under_ec_key),
                    "dstu-ca-under-ecdsa-root",
                )
            } else {
                (&ca_p, AnyKey::Dstu(&ca_key), "dstu-ca")
            };
        let mut der = make(
            params.clone(),
            subject_ref(&subject),
            Some((issuer_params, &issuer_key)),
        )?;
        if leaf.sha1 {
            der = super::profile::resign(
                &der,
                ec.ica_key,
                openssl::hash::MessageDigest::sha1(),
                &super::profile::ECDSA_WITH_SHA1,
            )?;
        }
        if leaf.revoked {
            revoked.push(super::crl::Revoked {
                serial: params
                    .serial_number
                    .as_ref()
                    .expect("serial")
                    .as_ref()
                    .to_vec(),
                at: t - Duration::hours(1),
                reason: 1,
            });
        }
        let key_type = match (&subject, curve) {
            (AnyKey::OpenSsl(_), _) => "ECDSA P-256".to_string(),
            (_, CURVE_163) => "DSTU 4145-163".to_string(),
            _ => "DSTU 4145-257".to_string(),
        };
        record(
            &leaf.name,
            leaf.description,
            leaf.expected,
            &key_type,
            &der,
            Some(&subject),
            issuer_name,
        )?;
    }

    // The DSTU CA's CRL, signed with DSTU 4145.
    let crl = super::crl::build(
        &super::crl::CrlParams {
            issuer_der: &ca,
            this_update: t - Duration::minutes(5),
            next_update: t + Duration::days(30),
            number: 1,
            delta_of: None,
            revoked: &revoked,
        },
        &ca_key,
    )?;
    write(dir, "dstu/dstu-ca.crl", &crl)?;
    Ok(Written { entries })
}

fn subject_ref<'a>(k: &'a AnyKey<'a>) -> AnyKey<'a> {
    match k {
        AnyKey::Dstu(d) => AnyKey::Dstu(d),
        AnyKey::OpenSsl(o) => AnyKey::OpenSsl(o),
    }
}
