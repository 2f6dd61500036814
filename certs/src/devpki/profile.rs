//! The cases of the development PKI and how each certificate is made.

use std::path::Path;

use openssl::hash::MessageDigest;
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyUsagePurpose, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use super::cases::{bulk, leaves, Leaf, Usage, Validity};
use super::ext::{self, Qc, Text};
use super::keys::{DevKey, KeyType};
use super::{now, write, write_key_files, Entry, FileNote, Manifest, Options, TrustFiles};
use crate::{der, oids, Error};

pub(super) const YEAR: Duration = Duration::days(365);
const ORG_NAME: &str = "ТОВ «Брама Тест»";
const ORG_EDRPOU: &str = "12345678";
pub(super) const CA_ORG: &str = "Brama (розробка)";

/// РНОКПП check digit: weights (-1, 5, 7, 9, 4, 6, 10, 5, 7) over the first nine digits,
/// sum mod 11 mod 10.
pub fn rnokpp_with_check_digit(first9: &str) -> String {
    const W: [i64; 9] = [-1, 5, 7, 9, 4, 6, 10, 5, 7];
    let sum: i64 = first9
        .bytes()
        .zip(W)
        .map(|(d, w)| (d - b'0') as i64 * w)
        .sum();
    format!("{first9}{}", sum.rem_euclid(11) % 10)
}

pub(super) fn random_serial() -> Result<SerialNumber, Error> {
    let mut bytes = [0u8; 16];
    openssl::rand::rand_bytes(&mut bytes)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40; // positive, and always 16 octets
    Ok(SerialNumber::from_slice(&bytes))
}

pub(super) fn random_password() -> Result<String, Error> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 12];
    openssl::rand::rand_bytes(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

pub(super) fn hex(serial: &SerialNumber) -> String {
    serial.as_ref().iter().map(|b| format!("{b:02X}")).collect()
}

pub(super) fn custom(oid: &str) -> DnType {
    DnType::CustomDnType(oids::arcs(oid))
}

pub(super) fn printable(s: &str) -> DnValue {
    DnValue::PrintableString(s.try_into().expect("ASCII printable literal"))
}

/// A delegated OCSP responder's certificate: id-kp-OCSPSigning, ocsp-nocheck, two years.
pub(super) fn ocsp_responder_params(
    cn: &str,
    t: OffsetDateTime,
) -> Result<CertificateParams, Error> {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, CA_ORG);
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::CountryName, printable("UA"));
    p.distinguished_name = dn;
    p.serial_number = Some(random_serial()?);
    p.not_before = t - Duration::days(1);
    p.not_after = t + YEAR * 2;
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
    p.use_authority_key_identifier_extension = true;
    p.custom_extensions.push(ext::ocsp_nocheck());
    Ok(p)
}

pub(super) fn ca_params(
    cn: &str,
    key: &DevKey,
    pathlen: Option<u8>,
    from: OffsetDateTime,
    years: i32,
) -> Result<CertificateParams, Error> {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, CA_ORG);
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::CountryName, printable("UA"));
    dn.push(DnType::LocalityName, "Київ");
    let mut p = CertificateParams::default();
    p.distinguished_name = dn;
    p.serial_number = Some(random_serial()?);
    p.not_before = from;
    p.not_after = from + YEAR * years;
    p.is_ca = IsCa::Ca(match pathlen {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.key_identifier_method = KeyIdMethod::PreSpecified(key.key_identifier());
    p.use_authority_key_identifier_extension = pathlen.is_some();
    Ok(p)
}

pub(super) fn leaf_params(
    leaf: &Leaf,
    key: &DevKey,
    opts: &Options,
    t: OffsetDateTime,
) -> Result<CertificateParams, Error> {
    let mut p = CertificateParams::default();
    p.serial_number = Some(random_serial()?);
    (p.not_before, p.not_after) = match leaf.validity {
        Validity::Current => (t - Duration::days(1), t + YEAR * 2),
        Validity::Expired => (t - YEAR * 2, t - YEAR),
        Validity::NotYetValid => (t + YEAR, t + YEAR * 3),
    };
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_identifier_method = KeyIdMethod::PreSpecified(key.key_identifier());
    p.use_authority_key_identifier_extension = true;
    p.key_usages = match leaf.usage {
        Usage::Signing => vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ],
        Usage::KeyAgreement => vec![KeyUsagePurpose::KeyAgreement],
        Usage::CertSignOnly => vec![KeyUsagePurpose::KeyCertSign],
    };
    if leaf.usage == Usage::Signing {
        // Real Ukrainian certificates carry only the UA signing purpose; emailProtection is
        // added so that `openssl verify -purpose smimesign` can express "a signing certificate".
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::EmailProtection,
            ExtendedKeyUsagePurpose::Other(oids::arcs(oids::UA_KP_SIGNING)),
        ];
    }
    p.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![opts.crl_url.clone()],
    }];
    p.custom_extensions
        .push(ext::freshest_crl(&super::crl::delta_url(&opts.crl_url)));
    p.custom_extensions
        .push(ext::authority_info_access(&opts.ocsp_url, None));

    let mut dn = DistinguishedName::new();
    let mut sda: Vec<(&str, Text<'_>)> = Vec::new();
    let (tin, drfo);
    match &leaf.person {
        Some(person) => {
            tin = rnokpp_with_check_digit(&person.tin9);
            if leaf.representative {
                dn.push(DnType::OrganizationName, ORG_NAME);
                dn.push(custom(oids::TITLE), "Директор");
            }
            dn.push(
                DnType::CommonName,
                format!("{} {}", person.surname, person.given),
            );
            dn.push(custom(oids::SURNAME), person.surname.as_str());
            dn.push(custom(oids::GIVEN_NAME), person.given.as_str());
            dn.push(
                custom(oids::SERIAL_NUMBER),
                printable(&format!("TINUA-{tin}")),
            );
            dn.push(DnType::CountryName, printable("UA"));
            dn.push(DnType::LocalityName, person.locality.as_str());
            if leaf.conflicting_tin {
                drfo = rnokpp_with_check_digit(&format!("{}1", &person.tin9[..8]));
                sda.push((oids::UA_DRFO, Text::Printable(&drfo)));
            } else {
                sda.push((oids::UA_DRFO, Text::Printable(&tin)));
            }
            if leaf.representative {
                dn.push(
                    custom(oids::ORGANIZATION_IDENTIFIER),
                    printable(&format!("NTRUA-{ORG_EDRPOU}")),
                );
                sda.push((oids::UA_EDRPOU, Text::Printable(ORG_EDRPOU)));
            }
        }
        None => {
            dn.push(DnType::OrganizationName, ORG_NAME);
            dn.push(DnType::CommonName, ORG_NAME);
            dn.push(DnType::CountryName, printable("UA"));
            dn.push(DnType::LocalityName, "Київ");
            dn.push(
                custom(oids::ORGANIZATION_IDENTIFIER),
                printable(&format!("NTRUA-{ORG_EDRPOU}")),
            );
            sda.push((oids::UA_EDRPOU, Text::Printable(ORG_EDRPOU)));
        }
    }
    p.distinguished_name = dn;
    p.custom_extensions
        .push(ext::subject_directory_attributes(&sda));
    if leaf.qualified {
        let qc_type = if leaf.person.is_some() {
            oids::QCT_ESIGN
        } else {
            oids::QCT_ESEAL
        };
        p.custom_extensions.push(ext::qc_statements(
            &[
                Qc::Compliance,
                Qc::Sscd,
                Qc::Type(qc_type),
                Qc::Pds("https://brama.invalid/pds/en"),
                Qc::UaQualified,
            ],
            false,
        ));
        p.custom_extensions
            .push(ext::certificate_policies(&[oids::UA_QUALIFIED_POLICY]));
    }
    Ok(p)
}

/// Re-sign a certificate with another digest (rcgen offers no SHA-1). The TBS keeps every
/// field; only its signature AlgorithmIdentifier (and the outer one) change.
pub(super) fn resign(
    cert_der: &[u8],
    issuer: &DevKey,
    digest: MessageDigest,
    alg_id: &[u8],
) -> Result<Vec<u8>, Error> {
    rebuild(cert_der, alg_id, None, |tbs| issuer.sign_with(digest, tbs))
}

/// A certificate's TBS with the signature AlgorithmIdentifier `alg_id` (and, when given, the
/// SubjectPublicKeyInfo `spki`) put in, signed again by `sign` (the BIT STRING's bytes).
pub(super) fn rebuild(
    cert_der: &[u8],
    alg_id: &[u8],
    spki: Option<&[u8]>,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, Error>,
) -> Result<Vec<u8>, Error> {
    let cert = der::one(cert_der)?;
    let tbs = der::elements(&cert)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::malformed("no TBS"))?;
    let mut fields: Vec<&[u8]> = der::elements_raw(&tbs)?
        .into_iter()
        .map(|(_, raw)| raw)
        .collect();
    // [0] version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    if fields.len() < 7 {
        return Err(Error::malformed("a TBS without its seven first fields"));
    }
    fields[2] = alg_id;
    if let Some(spki) = spki {
        fields[6] = spki;
    }
    let tbs = yasna::construct_der(|w| {
        w.write_sequence(|w| fields.iter().for_each(|f| w.next().write_der(f)))
    });
    let signature = sign(&tbs)?;
    Ok(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_der(&tbs);
            w.next().write_der(alg_id);
            w.next().write_bitvec_bytes(&signature, signature.len() * 8);
        })
    }))
}

/// ecdsa-with-SHA1, no parameters.
pub(super) const ECDSA_WITH_SHA1: [u8; 11] = [
    0x30, 0x09, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01,
];

/// Time as `openssl ca` writes it in index.txt (UTCTime before 2050).
fn index_time(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[year repr:last_two][month][day][hour][minute][second]Z"
    );
    t.format(&f).expect("formattable time")
}

pub(super) fn generate(opts: &Options, dir: &Path) -> Result<Manifest, Error> {
    let t = now();
    let password = |_: &str| -> Result<String, Error> {
        match &opts.password {
            Some(p) => Ok(p.clone()),
            None => random_password(),
        }
    };
    let mut files: Vec<FileNote> = Vec::new();
    let mut note = |path: &str, description: &str| {
        files.push(FileNote {
            path: path.into(),
            description: description.into(),
        })
    };

    // --- Authorities ---
    let root_key = DevKey::generate(KeyType::P384)?;
    let root_params = ca_params("Brama Dev Root CA", &root_key, None, t - YEAR * 5, 25)?;
    let root_cert = root_params
        .self_signed(&root_key)
        .map_err(|e| Error::Crypto(e.to_string()))?;
    let root = Issuer::from_params(&root_params, &root_key);

    let ica_key = DevKey::generate(KeyType::P256)?;
    let mut ica_params = ca_params(
        "Brama Dev Qualified CA",
        &ica_key,
        Some(0),
        t - YEAR * 4,
        14,
    )?;
    ica_params.distinguished_name.push(
        custom(oids::ORGANIZATION_IDENTIFIER),
        printable("NTRUA-00000001"),
    );
    let ica_cert = ica_params
        .signed_by(&ica_key, &root)
        .map_err(|e| Error::Crypto(e.to_string()))?;
    let ica = Issuer::from_params(&ica_params, &ica_key);

    let ocsp_key = DevKey::generate(KeyType::P256)?;
    let mut ocsp_params = ocsp_responder_params("Brama Dev OCSP Responder", t)?;
    ocsp_params.key_identifier_method = KeyIdMethod::PreSpecified(ocsp_key.key_identifier());
    let ocsp_cert = ocsp_params
        .signed_by(&ocsp_key, &ica)
        .map_err(|e| Error::Crypto(e.to_string()))?;

    let bad_root_key = DevKey::generate(KeyType::P256)?;
    let bad_root_params = ca_params(
        "Brama Untrusted Root CA",
        &bad_root_key,
        None,
        t - YEAR * 5,
        25,
    )?;
    let bad_root_cert = bad_root_params
        .self_signed(&bad_root_key)
        .map_err(|e| Error::Crypto(e.to_string()))?;
    let bad_root = Issuer::from_params(&bad_root_params, &bad_root_key);
    let bad_ca_key = DevKey::generate(KeyType::P256)?;
    let bad_ca_params = ca_params(
        "Brama Untrusted Qualified CA",
        &bad_ca_key,
        Some(0),
        t - YEAR * 4,
        14,
    )?;
    let bad_ca_cert = bad_ca_params
        .signed_by(&bad_ca_key, &bad_root)
        .map_err(|e| Error::Crypto(e.to_string()))?;
    let bad_ca = Issuer::from_params(&bad_ca_params, &bad_ca_key);

    let mut authorities = Vec::new();
    let mut authority = |name: &str,
                         description: &str,
                         cert: &[u8],
                         key: &DevKey,
                         chain: &[&[u8]],
                         issuer: &str|
     -> Result<(), Error> {
        let pw = password(name)?;
        let (pem, der, key_file, p12) = write_key_files(dir, name, cert, key, &pw, chain)?;
        let parsed = crate::CertificateSummary::from_der(cert)?;
        authorities.push(Entry {
            name: name.into(),
            description: description.into(),
            expected: "valid".into(),
            key_type: key.key_type.label().into(),
            certificate: pem,
            certificate_der: der,
            key: key_file,
            pkcs12: Some(p12),
            password: pw,
            serial: parsed.serial,
            subject: parsed.subject,
            issuer: issuer.into(),
        });
        Ok(())
    };
    authority(
        "root",
        "Trust anchor of the dev PKI (self-signed, ECDSA P-384)",
        root_cert.der(),
        &root_key,
        &[],
        "root",
    )?;
    authority("ica", "Qualified issuing CA (ECDSA P-256, pathlen 0): issues every citizen certificate, the CRL and OCSP responder", ica_cert.der(), &ica_key, &[root_cert.der()], "root")?;
    authority(
        "ocsp",
        "Delegated OCSP responder (id-kp-OCSPSigning, ocsp-nocheck) of the issuing CA",
        ocsp_cert.der(),
        &ocsp_key,
        &[ica_cert.der(), root_cert.der()],
        "issuing_ca",
    )?;
    authority(
        "untrusted-root",
        "A root nobody trusts (for the untrusted_issuer case)",
        bad_root_cert.der(),
        &bad_root_key,
        &[],
        "untrusted-root",
    )?;
    authority(
        "untrusted-ca",
        "Issuing CA under the untrusted root",
        bad_ca_cert.der(),
        &bad_ca_key,
        &[bad_root_cert.der()],
        "untrusted_root",
    )?;
    // The responder key in the clear, as `openssl ocsp -rkey` wants it.
    write(dir, "ocsp.key", &ocsp_key.pkey.private_key_to_pem_pkcs8()?)?;
    let chain_pem = [ica_cert.pem(), root_cert.pem()].concat();
    write(dir, "chain.pem", chain_pem.as_bytes())?;

    // --- End entities ---
    let mut certificates = Vec::new();
    let mut index = String::new();
    for leaf in leaves().into_iter().chain(bulk(opts.bulk)) {
        let key = DevKey::generate(leaf.key)?;
        let params = leaf_params(&leaf, &key, opts, t)?;
        let (issuer, issuer_name, chain): (&Issuer<'_, &DevKey>, &str, Vec<&[u8]>) =
            if leaf.untrusted {
                (
                    &bad_ca,
                    "untrusted_ca",
                    vec![bad_ca_cert.der(), bad_root_cert.der()],
                )
            } else {
                (&ica, "issuing_ca", vec![ica_cert.der(), root_cert.der()])
            };
        let mut der = params
            .signed_by(&key, issuer)
            .map_err(|e| Error::Crypto(e.to_string()))?
            .der()
            .to_vec();
        if leaf.sha1 {
            der = resign(&der, &ica_key, MessageDigest::sha1(), &ECDSA_WITH_SHA1)?;
        }
        let pw = password(&leaf.name)?;
        let (pem, der_file, key_file, p12) =
            write_key_files(dir, &leaf.name, &der, &key, &pw, &chain)?;
        let summary = crate::CertificateSummary::from_der(&der)?;
        let serial = params.serial_number.as_ref().expect("serial set");
        if !leaf.untrusted {
            let expiry = index_time(params.not_after);
            let subject = format!(
                "/CN={}",
                summary.identity.common_name.clone().unwrap_or_default()
            );
            if leaf.revoked {
                let when = t - Duration::hours(1);
                index.push_str(&format!(
                    "R\t{expiry}\t{},keyCompromise\t{}\tunknown\t{subject}\n",
                    index_time(when),
                    hex(serial)
                ));
            } else {
                index.push_str(&format!(
                    "V\t{expiry}\t\t{}\tunknown\t{subject}\n",
                    hex(serial)
                ));
            }
        }
        certificates.push(Entry {
            name: leaf.name,
            description: leaf.description.into(),
            expected: leaf.expected.into(),
            key_type: leaf.key.label().into(),
            certificate: pem,
            certificate_der: der_file,
            key: key_file,
            pkcs12: Some(p12),
            password: pw,
            serial: summary.serial,
            subject: summary.subject,
            issuer: issuer_name.into(),
        });
    }
    write(dir, "index.txt", index.as_bytes())?;
    write(dir, "index.txt.attr", b"unique_subject = no\n")?;

    super::crl::publish(
        dir,
        ica_cert.der(),
        &ica_key.pkey,
        super::crl::Publish::Base,
        t,
    )?;

    for entry in authorities.iter().chain(&certificates) {
        note(
            &entry.certificate,
            &format!("{}: certificate (PEM)", entry.description),
        );
        note(
            &entry.certificate_der,
            &format!("{}: certificate (DER)", entry.name),
        );
        note(
            &entry.key,
            &format!(
                "{}: private key, encrypted PKCS#8 PEM (password in this manifest)",
                entry.name
            ),
        );
        if let Some(p12) = &entry.pkcs12 {
            note(
                p12,
                &format!(
                    "{}: key and certificate chain, PKCS#12 (password in this manifest)",
                    entry.name
                ),
            );
        }
    }
    note(
        "ocsp.key",
        "OCSP responder private key, unencrypted, for `openssl ocsp -rkey`",
    );
    note(
        "chain.pem",
        "Issuing CA then root (PEM): -CAfile for openssl cms -verify",
    );
    note(
        "crl.pem",
        "CRL of the issuing CA (PEM), lists the revoked certificate; nextUpdate in 30 days",
    );
    note("crl.der", "The same CRL (DER), as served over HTTP");
    note(
        "delta.pem",
        "Delta CRL of the issuing CA (PEM): revocations since crl.pem (`brama-certs revoke --delta`); certificates name it in FreshestCRL",
    );
    note("delta.der", "The same delta CRL (DER), as served over HTTP");
    note(
        "index.txt",
        "Certificate database for `openssl ocsp -index` (V valid, R revoked)",
    );
    note(
        "index.txt.attr",
        "Attributes file that openssl ca/ocsp read beside index.txt",
    );
    note("manifest.json", "This manifest");

    let dstu = super::dstu::generate(
        opts,
        dir,
        t,
        &super::dstu::EcdsaSide {
            root_params: &root_params,
            root_key: &root_key,
            ica_params: &ica_params,
            ica_key: &ica_key,
        },
    )?;
    for e in &dstu.entries {
        note(
            &e.certificate,
            &format!("{}: certificate (PEM)", e.description),
        );
        note(
            &e.certificate_der,
            &format!("{}: certificate (DER)", e.name),
        );
        if !e.key.is_empty() {
            note(&e.key, &format!("{}: private key", e.name));
        }
    }
    note(
        "dstu/dstu-ca.crl",
        "CRL of the DSTU issuing CA (DER), signed with DSTU 4145; lists dstu-revoked",
    );

    Ok(Manifest {
        version: 1,
        created: t
            .format(&time::format_description::well_known::Rfc3339)
            .expect("formattable"),
        ocsp_url: opts.ocsp_url.clone(),
        crl_url: opts.crl_url.clone(),
        trust: TrustFiles {
            root: "root.pem".into(),
            issuing_ca: "ica.pem".into(),
            chain: "chain.pem".into(),
            ocsp_responder: "ocsp.pem".into(),
            ocsp_key: "ocsp.key".into(),
            crl: "crl.pem".into(),
            crl_der: "crl.der".into(),
            delta_crl: "delta.pem".into(),
            delta_crl_der: "delta.der".into(),
            index: "index.txt".into(),
            untrusted_root: "untrusted-root.pem".into(),
            untrusted_ca: "untrusted-ca.pem".into(),
        },
        authorities,
        certificates,
        dstu: dstu.entries,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rnokpp_check_digit() {
        // Known valid РНОКПП: 3012345678? compute independently: digits 3,0,1,2,3,4,5,6,7.
        let v = rnokpp_with_check_digit("301234567");
        let d: Vec<i64> = v.bytes().map(|b| (b - b'0') as i64).collect();
        let sum = -d[0]
            + 5 * d[1]
            + 7 * d[2]
            + 9 * d[3]
            + 4 * d[4]
            + 6 * d[5]
            + 10 * d[6]
            + 5 * d[7]
            + 7 * d[8];
        assert_eq!(sum.rem_euclid(11) % 10, d[9]);
        assert_eq!(v.len(), 10);
    }
}
