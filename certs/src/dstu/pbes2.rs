//! Password protection of Ukrainian key stores: PBES2 with PBKDF2 over HMAC-GOST 34.311 and
//! GOST 28147-89 in CFB mode — the format of IIT's `Key-6.dat` (PKCS#8 inside) and of the
//! key bags of Ukrainian PKCS#12 files.
//!
//! HMAC uses GOST 34.311's 32-byte block; PBKDF2 derives one 32-byte block (the cipher key).
//! The cipher runs under the S-box the parameters carry (the default Ukrainian one when they
//! carry none). Every derived key and plaintext is zeroized.

use zeroize::{Zeroize, Zeroizing};

use super::gost28147::{Cipher, SBox};
use super::{DstuError, Gost34311};
use crate::cms::tlv;

/// PBES2.
pub const OID_PBES2: &str = "1.2.840.113549.1.5.13";
/// PBKDF2.
pub const OID_PBKDF2: &str = "1.2.840.113549.1.5.12";
/// HMAC with GOST 34.311.
pub const OID_HMAC_GOST34311: &str = "1.2.804.2.1.1.1.1.1.2";
/// GOST 28147-89 in CFB mode (DSTU GOST 28147:2009).
pub const OID_GOST28147_CFB: &str = "1.2.804.2.1.1.1.1.1.1.3";

/// Iterations Brama writes (what IIT and jkurwa write).
pub const ITERATIONS: u32 = 10_000;
/// More than this is refused: a hostile file must not buy minutes of CPU.
pub const MAX_ITERATIONS: u32 = 1_000_000;

const BLOCK: usize = 32;

/// HMAC-GOST 34.311 (RFC 2104 over the hash's 32-byte block), default S-box.
pub fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut k = Zeroizing::new([0u8; BLOCK]);
    if key.len() > BLOCK {
        k.copy_from_slice(&Gost34311::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut pad = Zeroizing::new([0u8; BLOCK]);
    for (p, b) in pad.iter_mut().zip(k.iter()) {
        *p = b ^ 0x36;
    }
    let mut inner = Gost34311::new();
    inner.update(&*pad);
    inner.update(data);
    let mut inner = Zeroizing::new(inner.finish());
    for (p, b) in pad.iter_mut().zip(k.iter()) {
        *p = b ^ 0x5c;
    }
    let mut outer = Gost34311::new();
    outer.update(&*pad);
    outer.update(&*inner);
    inner.zeroize();
    outer.finish()
}

/// PBKDF2 (RFC 8018) with HMAC-GOST 34.311, one 32-byte block.
pub fn pbkdf2(password: &[u8], salt: &[u8], iterations: u32) -> Zeroizing<[u8; 32]> {
    let mut u = Zeroizing::new(hmac(password, &[salt, &1u32.to_be_bytes()].concat()));
    let mut key = Zeroizing::new(*u);
    for _ in 1..iterations {
        *u = hmac(password, &*u);
        for (k, b) in key.iter_mut().zip(u.iter()) {
            *k ^= b;
        }
    }
    key
}

/// GOST 28147 CFB-64: each block of keystream is the encryption of the previous ciphertext
/// block (the IV first). `decrypt` says which side the ciphertext is on.
fn cfb(key: &[u8; 32], sbox: &SBox, iv: &[u8; 8], data: &[u8], decrypt: bool) -> Vec<u8> {
    let cipher = Cipher::new(key, sbox);
    let mut feedback = *iv;
    let mut out = Vec::with_capacity(data.len());
    for chunk in data.chunks(8) {
        let mut gamma = feedback;
        cipher.encrypt_block(&mut gamma);
        let start = out.len();
        out.extend(chunk.iter().zip(gamma.iter()).map(|(d, g)| d ^ g));
        let cipher_text = if decrypt { chunk } else { &out[start..] };
        feedback[..cipher_text.len()].copy_from_slice(cipher_text);
        gamma.zeroize();
    }
    feedback.zeroize();
    out
}

/// Decrypts a PBES2 EncryptedPrivateKeyInfo (DER) with `password`: the PKCS#8 inside. A wrong
/// password gives bytes that are not DER; the caller's parse of them says so.
pub fn decrypt(der: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, DstuError> {
    let bad = |what: &str| DstuError::Malformed(format!("PBES2 key store: {what}"));
    let oid_of = |a: &asn1_rs::Any<'_>| {
        a.as_oid()
            .map(|o| crate::oids::dotted(&o))
            .map_err(|_| bad("expected an OID"))
    };
    fn els<'a>(a: &asn1_rs::Any<'a>) -> Result<Vec<asn1_rs::Any<'a>>, DstuError> {
        crate::der::elements(a)
            .map_err(|_| DstuError::Malformed("PBES2 key store: truncated".into()))
    }
    let top = crate::der::one(der).map_err(|_| bad("not DER"))?;
    let [alg, data] = els(&top)?.try_into().map_err(|_| bad("not two fields"))?;
    if data.tag() != asn1_rs::Tag::OctetString {
        return Err(bad("the encrypted data is not an OCTET STRING"));
    }
    let [pbes2, params] = els(&alg)?.try_into().map_err(|_| bad("no algorithm"))?;
    if oid_of(&pbes2)? != OID_PBES2 {
        return Err(DstuError::Unsupported(format!(
            "key store encryption {} (only PBES2)",
            oid_of(&pbes2)?
        )));
    }
    let [kdf, enc] = els(&params)?
        .try_into()
        .map_err(|_| bad("PBES2 parameters"))?;
    let [kdf_oid, kdf_params] = els(&kdf)?.try_into().map_err(|_| bad("no KDF"))?;
    if oid_of(&kdf_oid)? != OID_PBKDF2 {
        return Err(DstuError::Unsupported(format!(
            "key derivation {}",
            oid_of(&kdf_oid)?
        )));
    }
    let kp = els(&kdf_params)?;
    let salt = kp
        .first()
        .filter(|s| s.tag() == asn1_rs::Tag::OctetString)
        .ok_or_else(|| bad("no salt"))?;
    let iterations = kp
        .get(1)
        .and_then(|i| i.clone().as_u32().ok())
        .ok_or_else(|| bad("no iteration count"))?;
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(bad(&format!("{iterations} iterations")));
    }
    // An optional keyLength, then the PRF: only HMAC-GOST 34.311 is met in Ukrainian stores.
    if let Some(prf) = kp
        .iter()
        .skip(2)
        .find(|a| a.tag() == asn1_rs::Tag::Sequence)
    {
        let prf_oid = els(prf)?
            .first()
            .map(oid_of)
            .transpose()?
            .unwrap_or_default();
        if prf_oid != OID_HMAC_GOST34311 {
            return Err(DstuError::Unsupported(format!("PBKDF2 with {prf_oid}")));
        }
    }
    let [enc_oid, enc_params] = els(&enc)?.try_into().map_err(|_| bad("no cipher"))?;
    if oid_of(&enc_oid)? != OID_GOST28147_CFB {
        return Err(DstuError::Unsupported(format!(
            "key store cipher {}",
            oid_of(&enc_oid)?
        )));
    }
    let ep = els(&enc_params)?;
    let iv: [u8; 8] = ep
        .first()
        .filter(|a| a.tag() == asn1_rs::Tag::OctetString)
        .and_then(|a| a.data.try_into().ok())
        .ok_or_else(|| bad("the IV is not 8 bytes"))?;
    let sbox = match ep.get(1) {
        Some(dke) => {
            SBox::from_dke(dke.data).ok_or_else(|| bad("an S-box that is not 64 bytes"))?
        }
        None => SBox::default_ua(),
    };
    let key = pbkdf2(password, salt.data, iterations);
    Ok(Zeroizing::new(cfb(&key, &sbox, &iv, data.data, true)))
}

/// Encrypts a PKCS#8 PrivateKeyInfo under `password` as IIT and jkurwa do: PBES2, PBKDF2 with
/// HMAC-GOST 34.311 and [`ITERATIONS`], GOST 28147 CFB under the default S-box (written as the
/// DKE), a random 32-byte salt and 8-byte IV, and `iterations` ([`ITERATIONS`] for real use).
pub fn encrypt(plain: &[u8], password: &[u8], iterations: u32) -> Result<Vec<u8>, DstuError> {
    let mut salt = [0u8; 32];
    let mut iv = [0u8; 8];
    getrandom::fill(&mut salt)
        .and_then(|_| getrandom::fill(&mut iv))
        .map_err(|e| DstuError::Unsupported(format!("the OS random generator: {e}")))?;
    let sbox = SBox::default_ua();
    let key = pbkdf2(password, &salt, iterations);
    let body = cfb(&key, &sbox, &iv, plain, false);
    let oid = |o: &str| tlv(0x06, &crate::oids::encode(o));
    let seq = |parts: &[&[u8]]| tlv(0x30, &parts.concat());
    let kdf = seq(&[
        &oid(OID_PBKDF2),
        &seq(&[
            &tlv(0x04, &salt),
            &tlv(0x02, &der_uint(iterations)),
            &seq(&[&oid(OID_HMAC_GOST34311), &[0x05, 0x00]]),
        ]),
    ]);
    let enc = seq(&[
        &oid(OID_GOST28147_CFB),
        &seq(&[&tlv(0x04, &iv), &tlv(0x04, &sbox.to_dke())]),
    ]);
    Ok(seq(&[
        &seq(&[&oid(OID_PBES2), &seq(&[&kdf, &enc])]),
        &tlv(0x04, &body),
    ]))
}

/// An INTEGER's content octets for a non-negative value.
pub(super) fn der_uint(v: u32) -> Vec<u8> {
    let mut b: Vec<u8> = v
        .to_be_bytes()
        .iter()
        .copied()
        .skip_while(|b| *b == 0)
        .collect();
    if b.first().is_none_or(|x| x & 0x80 != 0) {
        b.insert(0, 0);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fixture;

    #[test]
    fn the_real_iit_store_opens_to_exactly_its_key() {
        let store = fixture("ua-dstu/STORE_A040.dat");
        let plain = decrypt(&store, b"password").unwrap();
        assert_eq!(&plain[..], &fixture("ua-dstu/Key40A0.cer")[..]);
        // A wrong password yields bytes that do not parse as a key.
        let wrong = decrypt(&store, b"passw0rd").unwrap();
        assert!(super::super::SecretKey::from_pkcs8(&wrong).is_err());
    }

    #[test]
    fn what_brama_encrypts_opens_again_and_hostile_parameters_are_refused() {
        let key = fixture("ua-dstu/Key40A0.cer");
        let store = encrypt(&key, "пароль".as_bytes(), ITERATIONS).unwrap();
        assert_eq!(&decrypt(&store, "пароль".as_bytes()).unwrap()[..], &key[..]);
        // Truncated, not PBES2, absurd iteration counts: typed refusals, no panic.
        assert!(matches!(
            decrypt(&store[..40], b"x"),
            Err(DstuError::Malformed(_))
        ));
        assert!(matches!(decrypt(&key, b"x"), Err(DstuError::Malformed(_))));
        // 65,536 iterations (three content octets), then patched to 8,388,607.
        let store = encrypt(&key, b"x", 0x01_0000).unwrap();
        let at = store
            .windows(5)
            .position(|w| w == [0x02, 0x03, 0x01, 0x00, 0x00])
            .unwrap();
        let mut hostile = store.clone();
        hostile[at + 2..at + 5].copy_from_slice(&[0x7f, 0xff, 0xff]);
        assert!(
            matches!(decrypt(&hostile, b"x"), Err(DstuError::Malformed(m)) if m.contains("iterations"))
        );
    }
}
