//! PKCS#12 files under the Ukrainian algorithms (`test-diia.p12`, what Diia and IIT issue):
//! key bags encrypted with PBES2/GOST 28147 ([`super::pbes2`]) and the MAC an HMAC-GOST 34.311
//! keyed by the PKCS#12 key derivation (RFC 7292 appendix B, ID 3) over GOST 34.311.
//! OpenSSL knows none of these, so Brama reads and writes them itself.

use zeroize::Zeroizing;

use super::{pbes2, DstuError, Gost34311, SecretKey};
use crate::cms::tlv;
use crate::der;

const OID_DATA: &str = "1.2.840.113549.1.7.1";
const OID_SHROUDED_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.2";
const OID_CERT_BAG: &str = "1.2.840.113549.1.12.10.1.3";
const OID_X509_CERT: &str = "1.2.840.113549.1.9.22.1";
const OID_LOCAL_KEY_ID: &str = "1.2.840.113549.1.9.21";

/// What a GOST PKCS#12 holds.
#[derive(Debug, Default)]
pub struct Contents {
    /// The keys, each with its localKeyID (the certificate's subjectKeyIdentifier, usually).
    pub keys: Vec<(SecretKey, Option<Vec<u8>>)>,
    /// Certificates in clear certificate bags, DER.
    pub certificates: Vec<Vec<u8>>,
}

/// RFC 7292 B.2 with GOST 34.311 (u = v = 32), ID 3 (MAC key), one 32-byte block; the
/// password as a BMPString with its two-byte terminator.
fn mac_key(password: &str, salt: &[u8], iterations: u32) -> Zeroizing<[u8; 32]> {
    const V: usize = 32;
    let mut pw: Zeroizing<Vec<u8>> = Zeroizing::new(
        password
            .encode_utf16()
            .flat_map(|c| c.to_be_bytes())
            .chain([0, 0])
            .collect(),
    );
    let fill = |src: &[u8]| -> Vec<u8> {
        if src.is_empty() {
            return Vec::new();
        }
        let len = V * src.len().div_ceil(V);
        (0..len).map(|i| src[i % src.len()]).collect()
    };
    let mut i = Zeroizing::new([fill(salt), fill(&pw)].concat());
    pw.iter_mut().for_each(|b| *b = 0);
    let mut h = Gost34311::new();
    h.update(&[3u8; V]);
    h.update(&i);
    let mut a = Zeroizing::new(h.finish());
    for _ in 1..iterations {
        *a = Gost34311::digest(&*a);
    }
    i.iter_mut().for_each(|b| *b = 0);
    a
}

fn mac(password: &str, salt: &[u8], iterations: u32, data: &[u8]) -> [u8; 32] {
    pbes2::hmac(&*mac_key(password, salt, iterations), data)
}

fn bad(what: &str) -> DstuError {
    DstuError::Malformed(format!("PKCS#12: {what}"))
}

fn oid_of(a: &asn1_rs::Any<'_>) -> Result<String, DstuError> {
    a.as_oid()
        .map(|o| crate::oids::dotted(&o))
        .map_err(|_| bad("expected an OID"))
}

fn els<'a>(a: &asn1_rs::Any<'a>) -> Result<Vec<asn1_rs::Any<'a>>, DstuError> {
    der::elements(a).map_err(|_| bad("truncated"))
}

/// The octets of a `data` ContentInfo: SEQUENCE { id-data, [0] EXPLICIT OCTET STRING }.
fn data_content<'a>(ci: &asn1_rs::Any<'a>) -> Result<&'a [u8], DstuError> {
    let f = els(ci)?;
    if f.first().map(oid_of).transpose()?.as_deref() != Some(OID_DATA) {
        return Err(DstuError::Unsupported(
            "PKCS#12 content other than plain data (encrypted certificate bags)".into(),
        ));
    }
    let explicit = f.get(1).ok_or_else(|| bad("empty data"))?;
    let octets = els(explicit)?
        .into_iter()
        .next()
        .ok_or_else(|| bad("empty data"))?;
    Ok(octets.data)
}

/// What a GOST PKCS#12 shows without its password: the clear certificates and each key
/// bag's localKeyID (the bags are encrypted one by one; the list of them is not).
#[derive(Debug, Default)]
pub struct Public {
    /// Certificates in clear certificate bags, DER.
    pub certificates: Vec<Vec<u8>>,
    /// The localKeyID of each key bag (`None` for a bag without one).
    pub local_key_ids: Vec<Option<Vec<u8>>>,
}

/// Whether `der_bytes` is a PKCS#12 whose MAC uses GOST 34.311 (Ukrainian, not for OpenSSL).
pub fn is_gost_pkcs12(der_bytes: &[u8]) -> bool {
    outer(der_bytes).is_ok()
}

/// The PFX's parts: the authenticated content and the MacData fields.
struct Outer<'a> {
    content: &'a [u8],
    salt: &'a [u8],
    iterations: u32,
    expected: &'a [u8],
}

fn outer(der_bytes: &[u8]) -> Result<Outer<'_>, DstuError> {
    let pfx = der::one(der_bytes).map_err(|_| bad("not DER"))?;
    let f = els(&pfx)?;
    let (Some(auth_safe), Some(mac_data)) = (f.get(1), f.get(2)) else {
        return Err(bad("no content or no MAC"));
    };
    let md = els(mac_data)?;
    let (Some(digest_info), Some(salt)) = (md.first(), md.get(1)) else {
        return Err(bad("incomplete MacData"));
    };
    let iterations = md.get(2).and_then(|i| i.clone().as_u32().ok()).unwrap_or(1);
    if iterations == 0 || iterations > pbes2::MAX_ITERATIONS {
        return Err(bad(&format!("{iterations} MAC iterations")));
    }
    let di = els(digest_info)?;
    let alg = di.first().map(els).transpose()?.unwrap_or_default();
    let alg = alg.first().map(oid_of).transpose()?.unwrap_or_default();
    if alg != super::OID_GOST34311 {
        return Err(DstuError::Unsupported(format!("PKCS#12 MAC with {alg}")));
    }
    let expected = di.get(1).ok_or_else(|| bad("no MAC value"))?.data;
    Ok(Outer {
        content: data_content(auth_safe)?,
        salt: salt.data,
        iterations,
        expected,
    })
}

/// Every bag: (bag type OID, the bag value, its localKeyID).
fn bags<'a>(
    content: &'a [u8],
    mut each: impl FnMut(&str, Option<&asn1_rs::Any<'a>>, Option<Vec<u8>>) -> Result<(), DstuError>,
) -> Result<(), DstuError> {
    for ci in els(&der::one(content).map_err(|_| bad("authenticated safe"))?)? {
        let safe = der::one(data_content(&ci)?).map_err(|_| bad("safe contents"))?;
        for bag in els(&safe)? {
            let b = els(&bag)?;
            let kind = b.first().map(oid_of).transpose()?.unwrap_or_default();
            let value = b.get(1).map(els).transpose()?.unwrap_or_default();
            let local_key_id = b
                .get(2)
                .and_then(|attrs| local_key_id(attrs).ok().flatten());
            each(&kind, value.first(), local_key_id)?;
        }
    }
    Ok(())
}

fn certificate_of(v: &asn1_rs::Any<'_>) -> Result<Option<Vec<u8>>, DstuError> {
    let cb = els(v)?;
    if cb.first().map(oid_of).transpose()?.as_deref() != Some(OID_X509_CERT) {
        return Ok(None);
    }
    Ok(cb
        .get(1)
        .map(els)
        .transpose()?
        .and_then(|o| o.into_iter().next())
        .map(|octets| octets.data.to_vec()))
}

/// What the file shows without its password.
pub fn public(der_bytes: &[u8]) -> Result<Public, DstuError> {
    let o = outer(der_bytes)?;
    let mut out = Public::default();
    bags(o.content, |kind, value, id| {
        match (kind, value) {
            (OID_SHROUDED_KEY_BAG, Some(_)) => out.local_key_ids.push(id),
            (OID_CERT_BAG, Some(v)) => out.certificates.extend(certificate_of(v)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(out)
}

/// Reads a GOST PKCS#12: checks its MAC with `password` (a wrong password is said so), then
/// decrypts every key bag.
pub fn read(der_bytes: &[u8], password: &str) -> Result<Contents, DstuError> {
    let o = outer(der_bytes)?;
    let computed = mac(password, o.salt, o.iterations, o.content);
    // memcmp::eq wants equal lengths; a MAC of another length is simply wrong.
    let mac_ok = o.expected.len() == computed.len() && openssl::memcmp::eq(&computed, o.expected);
    let mut out = Contents::default();
    let opened = walk_keys(o.content, password, &mut out);
    if !mac_ok {
        // A wrong password fails the MAC and every key bag alike. When the keys open, the
        // password is right and the file itself is damaged: say that instead.
        return Err(DstuError::Malformed(match opened {
            Ok(()) if !out.keys.is_empty() => {
                "PKCS#12: the file is damaged: its MAC does not match its content".into()
            }
            _ => "the password does not open this PKCS#12 file (its MAC does not match)".into(),
        }));
    }
    opened?;
    Ok(out)
}

/// Decrypts every key bag and collects the clear certificates into `out`.
fn walk_keys(content: &[u8], password: &str, out: &mut Contents) -> Result<(), DstuError> {
    bags(content, |kind, value, id| {
        match (kind, value) {
            (OID_SHROUDED_KEY_BAG, Some(v)) => {
                let raw = asn1_rs::ToDer::to_der_vec(v).map_err(|_| bad("key bag"))?;
                let key = SecretKey::from_store(&raw, password.as_bytes())?;
                out.keys.push((key, id));
            }
            (OID_CERT_BAG, Some(v)) => out.certificates.extend(certificate_of(v)?),
            _ => {} // other bags are not keys Brama signs with
        }
        Ok(())
    })
}

fn local_key_id(attrs: &asn1_rs::Any<'_>) -> Result<Option<Vec<u8>>, DstuError> {
    for attr in els(attrs)? {
        let a = els(&attr)?;
        if a.first().map(oid_of).transpose()?.as_deref() == Some(OID_LOCAL_KEY_ID) {
            let values = a.get(1).map(els).transpose()?.unwrap_or_default();
            return Ok(values.first().map(|v| v.data.to_vec()));
        }
    }
    Ok(None)
}

/// Writes a GOST PKCS#12 as Diia's: the key (PKCS#8, encrypted with [`pbes2::encrypt`] at
/// `iterations`) with its localKeyID, the certificate in a clear bag, an HMAC-GOST 34.311 MAC.
pub fn write(
    pkcs8: &[u8],
    local_key_id: &[u8],
    certificate: Option<&[u8]>,
    password: &str,
    iterations: u32,
) -> Result<Vec<u8>, DstuError> {
    let oid = |o: &str| tlv(0x06, &crate::oids::encode(o));
    let seq = |parts: &[&[u8]]| tlv(0x30, &parts.concat());
    let attrs = tlv(
        0x31,
        &seq(&[&oid(OID_LOCAL_KEY_ID), &tlv(0x31, &tlv(0x04, local_key_id))]),
    );
    let shrouded = pbes2::encrypt(pkcs8, password.as_bytes(), iterations)?;
    let mut bags = seq(&[&oid(OID_SHROUDED_KEY_BAG), &tlv(0xa0, &shrouded), &attrs]);
    if let Some(cert) = certificate {
        let cert_bag = seq(&[&oid(OID_X509_CERT), &tlv(0xa0, &tlv(0x04, cert))]);
        bags.extend(seq(&[&oid(OID_CERT_BAG), &tlv(0xa0, &cert_bag), &attrs]));
    }
    let data = |octets: &[u8]| seq(&[&oid(OID_DATA), &tlv(0xa0, &tlv(0x04, octets))]);
    let auth_safe = seq(&[&data(&tlv(0x30, &bags))]);
    let mut salt = [0u8; 32];
    getrandom::fill(&mut salt)
        .map_err(|e| DstuError::Unsupported(format!("the OS random generator: {e}")))?;
    let value = mac(password, &salt, iterations, &auth_safe);
    let mac_data = seq(&[
        &seq(&[
            &seq(&[&oid(super::OID_GOST34311), &[0x05, 0x00]]),
            &tlv(0x04, &value),
        ]),
        &tlv(0x04, &salt),
        &tlv(0x02, &pbes2::der_uint(iterations)),
    ]);
    Ok(seq(&[&tlv(0x02, &[3]), &data(&auth_safe), &mac_data]))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fixture;

    #[test]
    fn the_real_diia_pkcs12_opens_to_the_keys_of_its_two_certificates() {
        let p12 = fixture("ua-dstu/test-diia.p12");
        let c = read(&p12, "testpassword").unwrap();
        assert_eq!(c.keys.len(), 2);
        assert!(c.certificates.is_empty(), "keys only, as the README says");
        for name in [
            "ua-real/diia-test-sign-7775603.cer",
            "ua-real/diia-test-kep-7775604.cer",
        ] {
            let der = fixture(name);
            let cert = crate::parse(&der).unwrap();
            let public = super::super::PublicKey::from_spki_der(cert.public_key().raw).unwrap();
            let (key, id) = c
                .keys
                .iter()
                .find(|(k, _)| k.public_key().point() == public.point())
                .unwrap_or_else(|| panic!("no key for {name}"));
            let ski = cert
                .extensions()
                .iter()
                .find_map(|e| match e.parsed_extension() {
                    x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => {
                        Some(k.0.to_vec())
                    }
                    _ => None,
                });
            assert_eq!(
                id.as_ref(),
                ski.as_ref(),
                "{name}: localKeyID = subjectKeyIdentifier"
            );
            let sig = key.sign(b"x", super::super::ByteOrder::Little).unwrap();
            assert_eq!(
                public.verify(b"x", &sig, super::super::ByteOrder::Little),
                Ok(())
            );
        }
        let err = read(&p12, "wrongpassword").unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
    }

    #[test]
    fn what_brama_writes_it_reads_back() {
        let key = SecretKey::generate(super::super::Params::named(6).unwrap()).unwrap();
        let cert = fixture("ua-real/diia-test-sign-7775603.cer");
        let p12 = write(&key.to_pkcs8(false), b"kid", Some(&cert), "пароль", 1000).unwrap();
        let c = read(&p12, "пароль").unwrap();
        assert_eq!(c.keys.len(), 1);
        assert_eq!(c.keys[0].0.public_key().point(), key.public_key().point());
        assert_eq!(c.keys[0].1.as_deref(), Some(&b"kid"[..]));
        assert_eq!(c.certificates, vec![cert]);
        assert!(read(&p12, "parol").is_err());
        assert!(read(&p12[..p12.len() - 10], "пароль").is_err());
    }
}
