//! IIT's own key-store encryption, the older `Key-6.dat` layout (OID 1.3.6.1.4.1.19398.1.1.1.2):
//!
//! ```text
//! SEQUENCE { SEQUENCE { OID 1.3.6.1.4.1.19398.1.1.1.2, SEQUENCE { mac OCTET STRING (4),
//!                                                               pad OCTET STRING (< 8) } },
//!            cryptData OCTET STRING }
//! ```
//!
//! The key is GOST 34.311 of the password, hashed again 9,999 times; `cryptData ‖ pad` is
//! GOST 28147 in ECB mode under the default S-box, and the first `len(cryptData)` bytes of the
//! plaintext are the PKCS#8 key. `mac` is the GOST 28147 MAC of that plaintext under the same
//! key, so a wrong password is told apart from a damaged file — UAPKI checks it the same way;
//! jkurwa does not check it.

use zeroize::Zeroizing;

use super::gost28147::{Cipher, SBox};
use super::{DstuError, Gost34311};
use crate::cms::tlv;

/// The algorithm OID of the IIT store.
pub const OID_IIT_STORE: &str = "1.3.6.1.4.1.19398.1.1.1.2";

/// Password hashing rounds (fixed by the format).
const ROUNDS: usize = 10_000;

fn key(password: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut h = Zeroizing::new(Gost34311::digest(password));
    for _ in 1..ROUNDS {
        *h = Gost34311::digest(&*h);
    }
    h
}

/// Whether `der` is an IIT store (by its algorithm OID), without the password.
pub fn is_iit_store(der: &[u8]) -> bool {
    parse(der).is_ok()
}

struct Parts<'a> {
    mac: &'a [u8],
    pad: &'a [u8],
    body: &'a [u8],
}

fn parse(der: &[u8]) -> Result<Parts<'_>, DstuError> {
    let bad = |what: &str| DstuError::Malformed(format!("IIT key store: {what}"));
    fn els<'a>(a: &asn1_rs::Any<'a>) -> Result<Vec<asn1_rs::Any<'a>>, DstuError> {
        crate::der::elements(a).map_err(|_| DstuError::Malformed("IIT key store: truncated".into()))
    }
    let top = crate::der::one(der).map_err(|_| bad("not DER"))?;
    let f = crate::der::elements(&top).map_err(|_| bad("not a SEQUENCE"))?;
    let [alg, data] = <[_; 2]>::try_from(f).map_err(|_| bad("not two fields"))?;
    let a = els(&alg)?;
    let oid = a
        .first()
        .and_then(|o| o.as_oid().ok())
        .map(|o| crate::oids::dotted(&o))
        .ok_or_else(|| bad("no algorithm"))?;
    if oid != OID_IIT_STORE {
        return Err(bad(&format!("algorithm {oid}")));
    }
    let p = a.get(1).map(els).transpose()?.unwrap_or_default();
    let mac = p
        .first()
        .filter(|m| m.tag() == asn1_rs::Tag::OctetString && m.data.len() == 4)
        .ok_or_else(|| bad("the MAC is not 4 bytes"))?;
    let pad = p
        .get(1)
        .filter(|m| m.tag() == asn1_rs::Tag::OctetString)
        .map(|m| m.data)
        .unwrap_or_default();
    if data.tag() != asn1_rs::Tag::OctetString || (data.data.len() + pad.len()) % 8 != 0 {
        return Err(bad("the encrypted key is not whole 8-byte blocks"));
    }
    Ok(Parts {
        mac: mac.data,
        pad,
        body: data.data,
    })
}

/// Decrypts an IIT store: the PKCS#8 inside, or `Malformed` naming a wrong password when the
/// MAC does not match.
pub fn decrypt(der: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, DstuError> {
    let parts = parse(der)?;
    let sbox = SBox::default_ua();
    let key = key(password);
    let cipher = Cipher::new(&key, &sbox);
    let mut plain = Zeroizing::new([parts.body, parts.pad].concat());
    for block in plain.chunks_exact_mut(8) {
        let b: &mut [u8; 8] = block.try_into().expect("8 bytes");
        cipher.decrypt_block(b);
    }
    plain.truncate(parts.body.len());
    if cipher.mac32(&plain) != parts.mac {
        return Err(DstuError::Malformed(
            "the password does not open this key store (its MAC does not match)".into(),
        ));
    }
    Ok(plain)
}

/// Encrypts a PKCS#8 key in the IIT layout (the tests' and the development PKI's writer).
pub fn encrypt(pkcs8: &[u8], password: &[u8]) -> Vec<u8> {
    let sbox = SBox::default_ua();
    let key = key(password);
    let cipher = Cipher::new(&key, &sbox);
    let mac = cipher.mac32(pkcs8);
    let mut padded = Zeroizing::new(pkcs8.to_vec());
    let pad_len = (8 - pkcs8.len() % 8) % 8;
    padded.resize(pkcs8.len() + pad_len, 0);
    for block in padded.chunks_exact_mut(8) {
        let b: &mut [u8; 8] = block.try_into().expect("8 bytes");
        cipher.encrypt_block(b);
    }
    let (body, pad) = padded.split_at(pkcs8.len());
    let seq = |parts: &[&[u8]]| tlv(0x30, &parts.concat());
    seq(&[
        &seq(&[
            &tlv(0x06, &crate::oids::encode(OID_IIT_STORE)),
            &seq(&[&tlv(0x04, &mac), &tlv(0x04, pad)]),
        ]),
        &tlv(0x04, body),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn an_iit_store_opens_with_its_password_and_says_so_without() {
        let key = fixture("ua-dstu/Key40A0.cer");
        let store = encrypt(&key, b"password");
        assert!(is_iit_store(&store));
        assert_eq!(&decrypt(&store, b"password").unwrap()[..], &key[..]);
        let wrong = decrypt(&store, b"passw0rd").unwrap_err();
        assert!(wrong.to_string().contains("password"), "{wrong}");
        // Truncated and damaged: typed refusals, never a panic.
        for cut in [0, 5, 20, store.len() - 3] {
            assert!(decrypt(&store[..cut], b"password").is_err());
        }
        let mut damaged = store.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(decrypt(&damaged, b"password").is_err());
        assert!(!is_iit_store(&fixture("ua-dstu/STORE_A040.dat")));
    }
}
