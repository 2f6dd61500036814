//! `certs::path`'s rules one by one, on chains rcgen writes (ECDSA keys: the rules do not
//! depend on the algorithm, and the DSTU chains of the dev PKI exercise the signatures).

use certs::devpki::{DevKey, KeyType};
use certs::path::{validate, PathError, PathRequest};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, GeneralSubtree, IsCa, Issuer,
    KeyIdMethod, KeyUsagePurpose, NameConstraints,
};

struct Ca {
    params: CertificateParams,
    key: DevKey,
    der: Vec<u8>,
}

fn name(o: &str, cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, o);
    dn.push(DnType::CommonName, cn);
    dn
}

fn params(dn: DistinguishedName, ca: Option<Option<u8>>, key: &DevKey) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn;
    let mut serial = [0u8; 16];
    openssl::rand::rand_bytes(&mut serial).unwrap();
    serial[0] &= 0x7f;
    p.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    p.is_ca = match ca {
        Some(Some(n)) => IsCa::Ca(BasicConstraints::Constrained(n)),
        Some(None) => IsCa::Ca(BasicConstraints::Unconstrained),
        None => IsCa::ExplicitNoCa,
    };
    p.key_usages = if ca.is_some() {
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign]
    } else {
        vec![KeyUsagePurpose::DigitalSignature]
    };
    p.key_identifier_method = KeyIdMethod::PreSpecified(key.key_identifier());
    p.use_authority_key_identifier_extension = true;
    p
}

fn root(p: CertificateParams, key: DevKey) -> Ca {
    let der = p.self_signed(&key).unwrap().der().to_vec();
    Ca {
        params: p,
        key,
        der,
    }
}

fn issue(p: CertificateParams, key: DevKey, by: &Ca) -> Ca {
    let issuer = Issuer::from_params(&by.params, &by.key);
    let der = p.signed_by(&key, &issuer).unwrap().der().to_vec();
    Ca {
        params: p,
        key,
        der,
    }
}

fn key() -> DevKey {
    DevKey::generate(KeyType::P256).unwrap()
}

fn check(leaf: &Ca, intermediates: &[&Ca], anchor: &Ca) -> Result<usize, PathError> {
    let i: Vec<&[u8]> = intermediates.iter().map(|c| c.der.as_slice()).collect();
    validate(&PathRequest {
        leaf: &leaf.der,
        intermediates: &i,
        anchors: &[&anchor.der],
        at: time::OffsetDateTime::now_utc().unix_timestamp(),
        crls: &[],
    })
    .map(|p| p.len())
}

#[test]
fn path_length_ca_flag_and_key_cert_sign() {
    let k = key();
    let r = root(params(name("R", "Root"), Some(Some(0)), &k), k);
    let k = key();
    let ca = issue(params(name("R", "CA"), Some(None), &k), k, &r);
    let k = key();
    let leaf = issue(params(name("R", "Leaf"), None, &k), k, &ca);
    // The root allows no CA below it: pathLenConstraint 0 with one CA between.
    assert!(
        matches!(check(&leaf, &[&ca], &r), Err(PathError::Invalid(m)) if m.contains("path length"))
    );

    let k = key();
    let r = root(params(name("R", "Root"), Some(None), &k), k);
    let k = key();
    let not_ca = issue(params(name("R", "NotCA"), None, &k), k, &r);
    let k = key();
    let leaf = issue(params(name("R", "Leaf"), None, &k), k, &not_ca);
    assert!(
        matches!(check(&leaf, &[&not_ca], &r), Err(PathError::Invalid(m)) if m.contains("not a CA"))
    );

    let k = key();
    let mut p = params(name("R", "NoCertSign"), Some(None), &k);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let no_sign = issue(p, k, &r);
    let k = key();
    let leaf = issue(params(name("R", "Leaf2"), None, &k), k, &no_sign);
    assert!(
        matches!(check(&leaf, &[&no_sign], &r), Err(PathError::Invalid(m)) if m.contains("keyCertSign"))
    );

    let k = key();
    let good = issue(params(name("R", "Good"), Some(Some(0)), &k), k, &r);
    let k = key();
    let leaf = issue(params(name("R", "Leaf3"), None, &k), k, &good);
    assert_eq!(check(&leaf, &[&good], &r), Ok(3));
}

#[test]
fn directory_name_constraints() {
    let k = key();
    let mut p = params(name("Allowed", "Root"), Some(None), &k);
    p.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![GeneralSubtree::DirectoryName({
            let mut dn = DistinguishedName::new();
            dn.push(DnType::OrganizationName, "Allowed");
            dn
        })],
        excluded_subtrees: vec![],
    });
    let r = root(p, k);
    let k = key();
    let inside = issue(params(name("Allowed", "Citizen"), None, &k), k, &r);
    assert_eq!(check(&inside, &[], &r), Ok(2));
    let k = key();
    let outside = issue(params(name("Other", "Citizen"), None, &k), k, &r);
    assert!(
        matches!(check(&outside, &[], &r), Err(PathError::Invalid(m)) if m.contains("permitted"))
    );
}
