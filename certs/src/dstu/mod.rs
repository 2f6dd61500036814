//! DSTU 4145-2002 signatures over GF(2^m) with GOST 34.311 hashes: the algorithm of most
//! Ukrainian qualified keys (IIT, Diia, the tax service's and the banks' CAs).
//!
//! Written here rather than taken from a crate: the one published Rust crate verifies only, and
//! the agent must also sign, in constant time (see `docs/performance.md` for the measurement
//! that compared the two). Rooms, bottom up:
//! - `clmul` and [`field`]: GF(2^m) with carry-less multiplication;
//! - [`curve`]: the curves, the ten named ones, point compression;
//! - `ladder`: the constant-time Montgomery ladder for secret scalars;
//! - [`gost28147`] and [`gost34311`]: the cipher and the hash under a key's S-box;
//! - [`params`]: a key's parameters from DER;
//! - this module: public keys, verification, secret keys and signing.

mod clmul;
pub mod curve;
pub mod field;
pub mod gost28147;
pub mod gost34311;
pub mod iit;
mod ladder;
pub mod params;
pub mod pbes2;
pub mod pkcs12;

use crypto_bigint::modular::{MontyForm, MontyParams};
use crypto_bigint::{Odd, U448};
use zeroize::Zeroize;

pub use curve::{Curve, Point};
pub use field::Fe;
pub use gost34311::Gost34311;
pub use params::Params;

/// The key algorithm (and signature algorithm) with little-endian octet strings, the form every
/// Ukrainian CA uses: `dstu4145le`.
pub const OID_LE: &str = "1.2.804.2.1.1.1.1.3.1.1";
/// The same with big-endian octet strings: `dstu4145be`.
pub const OID_BE: &str = "1.2.804.2.1.1.1.1.3.1.1.1.1";
/// GOST 34.311-95, the hash that goes with DSTU 4145 signatures.
pub const OID_GOST34311: &str = "1.2.804.2.1.1.1.1.2.1";

/// What can be wrong with a DSTU 4145 key or signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DstuError {
    /// The DER or the values in it are not a DSTU 4145 key, parameter set or signature.
    #[error("{0}")]
    Malformed(String),
    /// Well formed, but a variant Brama does not implement (named in the message).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The signature does not verify under the key.
    #[error("the DSTU 4145 signature does not verify")]
    BadSignature,
}

/// How a DSTU key writes its octet strings (public key, curve constants, signature): the OID
/// of the key or signature algorithm says which. Big-endian is the byte-reverse of the whole
/// little-endian octet string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    /// `dstu4145le`, OID 1.2.804.2.1.1.1.1.3.1.1.
    Little,
    /// `dstu4145be`, OID 1.2.804.2.1.1.1.1.3.1.1.1.1.
    Big,
}

impl ByteOrder {
    /// The byte order an algorithm OID names; `None` for anything but DSTU 4145.
    pub fn of_oid(oid: &str) -> Option<ByteOrder> {
        match oid {
            OID_LE => Some(ByteOrder::Little),
            OID_BE => Some(ByteOrder::Big),
            _ => None,
        }
    }

    /// The OID of this byte order.
    pub fn oid(self) -> &'static str {
        match self {
            ByteOrder::Little => OID_LE,
            ByteOrder::Big => OID_BE,
        }
    }

    fn read(self, bytes: &[u8]) -> Option<Fe> {
        match self {
            ByteOrder::Little => Fe::from_le(bytes),
            ByteOrder::Big => Fe::from_be(bytes),
        }
    }

    fn write(self, mut le: Vec<u8>) -> Vec<u8> {
        if self == ByteOrder::Big {
            le.reverse();
        }
        le
    }
}

/// Whether `oid` names a DSTU 4145 key or signature algorithm.
pub fn is_dstu_oid(oid: &str) -> bool {
    ByteOrder::of_oid(oid).is_some()
}

/// Keys [`PublicKey::decoded`] keeps (a few hundred qualified CAs exist).
pub const KEY_CACHE_MAX: usize = 4096;

/// A DSTU 4145 public key: a point Q = −d·G of the curve, checked on the curve and of order n.
#[derive(Clone, Debug)]
pub struct PublicKey {
    /// The curve and the S-box.
    pub params: Params,
    q: Point,
}

impl PublicKey {
    /// From a SubjectPublicKeyInfo's parts: the algorithm OID, its DER parameters and the
    /// BIT STRING's bytes (a DER OCTET STRING of the compressed point).
    pub fn from_spki_parts(oid: &str, params: &[u8], key: &[u8]) -> Result<PublicKey, DstuError> {
        let order = ByteOrder::of_oid(oid).ok_or_else(|| {
            DstuError::Unsupported(format!("key algorithm {oid} is not DSTU 4145"))
        })?;
        let params = Params::from_der(params, order)?;
        let inner = crate::der::one(key)
            .ok()
            .filter(|a| a.tag() == asn1_rs::Tag::OctetString)
            .ok_or_else(|| {
                DstuError::Malformed("DSTU 4145 public key: not an OCTET STRING".into())
            })?;
        PublicKey::from_compressed(params, inner.data, order)
    }

    /// From a whole SubjectPublicKeyInfo in DER.
    pub fn from_spki_der(spki: &[u8]) -> Result<PublicKey, DstuError> {
        let bad =
            || DstuError::Malformed("DSTU 4145 public key: not a SubjectPublicKeyInfo".into());
        let top = crate::der::one(spki).map_err(|_| bad())?;
        let parts = crate::der::elements(&top).map_err(|_| bad())?;
        let [alg, key] = parts.as_slice() else {
            return Err(bad());
        };
        let alg = crate::der::elements_raw(alg).map_err(|_| bad())?;
        let [(oid, _), (_, params)] = alg.as_slice() else {
            return Err(DstuError::Malformed(
                "DSTU 4145 public key: no parameters".into(),
            ));
        };
        let oid = oid.clone().oid().map_err(|_| bad())?.to_id_string();
        if key.tag() != asn1_rs::Tag::BitString || key.data.first() != Some(&0) {
            return Err(bad());
        }
        PublicKey::from_spki_parts(&oid, params, &key.data[1..])
    }

    /// [`PublicKey::from_spki_der`] through a process-wide cache of the keys decoded so far.
    /// A CA's key is met on every login it issued for, and decoding one (decompression and the
    /// order check, a full scalar multiplication) costs about as much as a verification.
    /// Bounded: the cache starts over when it reaches [`KEY_CACHE_MAX`] keys.
    pub fn decoded(spki: &[u8]) -> Result<std::sync::Arc<PublicKey>, DstuError> {
        use std::collections::HashMap;
        use std::sync::{Arc, Mutex, OnceLock};
        static CACHE: OnceLock<Mutex<HashMap<[u8; 32], Arc<PublicKey>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let id = crate::sha256(spki);
        if let Some(k) = cache.lock().ok().and_then(|c| c.get(&id).cloned()) {
            return Ok(k);
        }
        let key = Arc::new(PublicKey::from_spki_der(spki)?);
        if let Ok(mut c) = cache.lock() {
            if c.len() >= KEY_CACHE_MAX {
                c.clear();
            }
            c.insert(id, key.clone());
        }
        Ok(key)
    }

    /// From the compressed point's octets.
    pub fn from_compressed(
        params: Params,
        octets: &[u8],
        order: ByteOrder,
    ) -> Result<PublicKey, DstuError> {
        let curve = &params.curve;
        let bad = |what: &str| DstuError::Malformed(format!("DSTU 4145 public key: {what}"));
        if octets.is_empty() || octets.len() > curve.field.byte_len() {
            return Err(bad(&format!(
                "{} bytes for a point of GF(2^{}) ({} expected)",
                octets.len(),
                curve.field.m,
                curve.field.byte_len()
            )));
        }
        let x = order.read(octets).ok_or_else(|| bad("too long"))?;
        let q = curve
            .decompress(&x)
            .ok_or_else(|| bad("the point is not on the curve"))?;
        // Q must be in the group of prime order n: not the point of order 2, not a point of the
        // cofactor's small subgroups.
        if !curve.has_order_n(&q) || q == Point::Infinity {
            return Err(bad("the point is not of order n"));
        }
        Ok(PublicKey { params, q })
    }

    /// The point.
    pub fn point(&self) -> &Point {
        &self.q
    }

    /// The compressed point in `order` (the octets inside the key's OCTET STRING).
    pub fn compressed(&self, order: ByteOrder) -> Vec<u8> {
        let c = &self.params.curve;
        let x = c
            .compress(&self.q)
            .expect("a key is never the point at infinity");
        order.write(x.to_le(c.field.byte_len()))
    }

    /// GOST 34.311 of `data` under this key's S-box.
    pub fn hash(&self, data: &[u8]) -> [u8; 32] {
        let mut h = Gost34311::with_sbox(self.params.sbox.clone());
        h.update(data);
        h.finish()
    }

    /// Verifies a signature value (the octets inside the signature's OCTET STRING: r then s,
    /// little-endian halves; the whole reversed for `ByteOrder::Big`) over a 32-byte hash.
    pub fn verify_hash(
        &self,
        hash: &[u8],
        signature: &[u8],
        order: ByteOrder,
    ) -> Result<(), DstuError> {
        let c = &self.params.curve;
        // Each half is at least ⌈n bits / 8⌉ bytes; the standard lets signers pad them wider
        // (a fixed 2 × 32 or 2 × 64 bytes), so wider halves are read as long as they fit.
        let n_len = c.n_bits().div_ceil(8);
        if !signature.len().is_multiple_of(2) || signature.len() < 2 * n_len {
            return Err(DstuError::BadSignature);
        }
        let le = match order {
            ByteOrder::Little => signature.to_vec(),
            ByteOrder::Big => signature.iter().rev().copied().collect(),
        };
        let (r, s) = le.split_at(le.len() / 2);
        let (r, s) = (
            Fe::from_le(r).ok_or(DstuError::BadSignature)?,
            Fe::from_le(s).ok_or(DstuError::BadSignature)?,
        );
        if r.is_zero() || s.is_zero() || !less_than(&r, &c.n) || !less_than(&s, &c.n) {
            return Err(DstuError::BadSignature);
        }
        let h = hash_to_field(hash, c);
        // R = s·G + r·Q; r' = x(R)·h truncated below the order's top bit.
        let point = c.mul_add_public(&s, &c.g, &r, &self.q);
        let Point::Affine { x, .. } = point else {
            return Err(DstuError::BadSignature);
        };
        let r2 = c.field.mul(&x, &h).truncate(c.n_bits() - 1);
        if r2 == r {
            Ok(())
        } else {
            Err(DstuError::BadSignature)
        }
    }

    /// Verifies a signature value over `data`, hashing it under this key's S-box.
    pub fn verify(&self, data: &[u8], signature: &[u8], order: ByteOrder) -> Result<(), DstuError> {
        self.verify_hash(&self.hash(data), signature, order)
    }
}

/// The hash as a field element: its bytes a little-endian integer, truncated to m bits; 0 → 1
/// (DSTU 4145 §5.9 and §6.3; UAPKI does the same).
fn hash_to_field(hash: &[u8], c: &Curve) -> Fe {
    let mut le = hash.to_vec();
    le.truncate(field::LIMBS * 8);
    let h = Fe::from_le(&le)
        .expect("truncated to fit")
        .truncate(c.field.m);
    if h.is_zero() {
        Fe::ONE
    } else {
        h
    }
}

/// a < b for integers held as limbs, in constant time (the borrow of a − b).
fn less_than(a: &Fe, b: &Fe) -> bool {
    let mut borrow = 0u64;
    for i in 0..field::LIMBS {
        let (d1, b1) = a.0[i].overflowing_sub(b.0[i]);
        let (_, b2) = d1.overflowing_sub(borrow);
        borrow = u64::from(b1) | u64::from(b2);
    }
    borrow == 1
}

/// A DSTU 4145 secret key: the scalar d in [1, n), zeroized on drop.
#[derive(Clone)]
pub struct SecretKey {
    params: Params,
    d: [u64; field::LIMBS],
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.d.zeroize();
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey(DSTU 4145-{}, ..)", self.params.curve.field.m)
    }
}

impl SecretKey {
    /// A new key from the OS generator.
    pub fn generate(params: Params) -> Result<SecretKey, DstuError> {
        let d = random_scalar(&params.curve.n)?;
        Ok(SecretKey { params, d: d.0 })
    }

    /// From the scalar's little-endian bytes (the form of DSTU private keys in PKCS#8);
    /// refused unless 0 < d < n.
    pub fn from_le(params: Params, bytes: &[u8]) -> Result<SecretKey, DstuError> {
        let mut d = Fe::from_le(bytes)
            .ok_or_else(|| DstuError::Malformed("DSTU 4145 private key: too long".into()))?;
        let ok = !d.is_zero() && less_than(&d, &params.curve.n);
        if !ok {
            d.0.zeroize();
            return Err(DstuError::Malformed(
                "DSTU 4145 private key: not in [1, n)".into(),
            ));
        }
        let key = SecretKey { params, d: d.0 };
        d.0.zeroize();
        Ok(key)
    }

    /// From an unencrypted PKCS#8 PrivateKeyInfo as Ukrainian key stores hold it (jkurwa's
    /// `Key40A0.cer`, IIT's stores once decrypted): the DSTU algorithm with its parameters, and
    /// d little-endian in the privateKey OCTET STRING (IIT pads it to whole 32-bit words).
    pub fn from_pkcs8(der: &[u8]) -> Result<SecretKey, DstuError> {
        let bad = |what: &str| DstuError::Malformed(format!("DSTU 4145 PKCS#8: {what}"));
        let top = crate::der::one(der).map_err(|_| bad("not DER"))?;
        let f = crate::der::elements(&top).map_err(|_| bad("not a SEQUENCE"))?;
        let (Some(version), Some(alg), Some(key)) = (f.first(), f.get(1), f.get(2)) else {
            return Err(bad("incomplete PrivateKeyInfo"));
        };
        if version.tag() != asn1_rs::Tag::Integer || key.tag() != asn1_rs::Tag::OctetString {
            return Err(bad("not a PrivateKeyInfo"));
        }
        let alg = crate::der::elements(alg).map_err(|_| bad("bad AlgorithmIdentifier"))?;
        let oid = alg
            .first()
            .and_then(|o| o.as_oid().ok())
            .map(|o| crate::oids::dotted(&o))
            .ok_or_else(|| bad("no algorithm"))?;
        let order = ByteOrder::of_oid(&oid).ok_or_else(|| {
            DstuError::Unsupported(format!("key algorithm {oid} is not DSTU 4145"))
        })?;
        let params = alg
            .get(1)
            .ok_or_else(|| bad("no parameters"))
            .and_then(|p| {
                asn1_rs::ToDer::to_der_vec(p).map_err(|_| bad("parameters do not re-encode"))
            })?;
        let params = Params::from_der(&params, order)?;
        let mut d = zeroize::Zeroizing::new(key.data.to_vec());
        if order == ByteOrder::Big {
            d.reverse();
        }
        SecretKey::from_le(params, &d)
    }

    /// From a password-protected key store in the `Key-6.dat` form: PKCS#8 under PBES2 with
    /// HMAC-GOST 34.311 and GOST 28147 CFB ([`pbes2`]).
    pub fn from_store(bytes: &[u8], password: &[u8]) -> Result<SecretKey, DstuError> {
        let plain = pbes2::decrypt(bytes, password)?;
        SecretKey::from_pkcs8(&plain)
            .map_err(|_| DstuError::Malformed("the password does not open this key store".into()))
    }

    /// An unencrypted PKCS#8 PrivateKeyInfo (the inverse of [`SecretKey::from_pkcs8`]), with
    /// the curve named or spelled out.
    pub fn to_pkcs8(&self, explicit_curve: bool) -> zeroize::Zeroizing<Vec<u8>> {
        use crate::cms::tlv;
        let alg = tlv(
            0x30,
            &[
                tlv(0x06, &crate::oids::encode(OID_LE)),
                self.params.to_der(explicit_curve),
            ]
            .concat(),
        );
        let d = self.to_le();
        zeroize::Zeroizing::new(tlv(0x30, &[tlv(0x02, &[0]), alg, tlv(0x04, &d)].concat()))
    }

    /// The scalar's little-endian bytes (⌈n bits / 8⌉ of them); the caller zeroizes them.
    pub fn to_le(&self) -> zeroize::Zeroizing<Vec<u8>> {
        zeroize::Zeroizing::new(Fe(self.d).to_le(self.params.curve.n_bits().div_ceil(8)))
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The public key Q = −d·G.
    pub fn public_key(&self) -> PublicKey {
        let c = &self.params.curve;
        let dg = ladder::mul(c, &Fe(self.d), &c.g, true);
        PublicKey {
            params: self.params.clone(),
            q: c.negate(&dg),
        }
    }

    /// Signs a 32-byte hash: (r, s) written as the signature value in `order`.
    pub fn sign_hash(&self, hash: &[u8], order: ByteOrder) -> Result<Vec<u8>, DstuError> {
        let c = &self.params.curve;
        let h = hash_to_field(hash, c);
        let n_len = c.n_bits().div_ceil(8);
        let n = Odd::new(U448::from_words(c.n.0))
            .into_option()
            .ok_or_else(|| DstuError::Malformed("even n".into()))?;
        let monty = MontyParams::new_vartime(n);
        loop {
            let mut e = random_scalar(&c.n)?;
            // x(e·G) only: the ladder skips recovering y.
            let Point::Affine { x, .. } = ladder::mul(c, &e, &c.g, false) else {
                e.0.zeroize();
                continue;
            };
            if x.is_zero() {
                e.0.zeroize();
                continue;
            }
            let r = c.field.mul(&h, &x).truncate(c.n_bits() - 1);
            if r.is_zero() {
                e.0.zeroize();
                continue;
            }
            // s = (e + d·r) mod n, in constant time.
            let mut d_m = MontyForm::new(&U448::from_words(self.d), monty);
            let r_m = MontyForm::new(&U448::from_words(r.0), monty);
            let mut e_m = MontyForm::new(&U448::from_words(e.0), monty);
            let mut s_m = d_m * r_m + e_m;
            let s = s_m.retrieve();
            d_m.zeroize();
            e_m.zeroize();
            s_m.zeroize();
            e.0.zeroize();
            let s = Fe(s.to_words());
            if s.is_zero() {
                continue;
            }
            let mut out = r.to_le(n_len);
            out.extend(s.to_le(n_len));
            return Ok(order.write(out));
        }
    }

    /// Signs `data`: GOST 34.311 under the key's S-box, then [`SecretKey::sign_hash`].
    pub fn sign(&self, data: &[u8], order: ByteOrder) -> Result<Vec<u8>, DstuError> {
        let mut h = Gost34311::with_sbox(self.params.sbox.clone());
        h.update(data);
        self.sign_hash(&h.finish(), order)
    }
}

impl crate::cms::RawSigner for SecretKey {
    fn key_kind(&self) -> crate::cms::KeyKind {
        crate::cms::KeyKind::Dstu
    }

    /// `digest` is always GOST 34.311 here ([`crate::cms::sign`] refuses other pairings); the
    /// key's own S-box is used, as DSTU 4145 §5.9 defines the hash as part of the key's
    /// parameters.
    fn sign(&self, _digest: crate::cms::Digest, message: &[u8]) -> Result<Vec<u8>, crate::Error> {
        SecretKey::sign(self, message, ByteOrder::Little)
            .map_err(|e| crate::Error::Crypto(e.to_string()))
    }
}

/// A uniformly random scalar in [1, n) from the OS generator (rejection sampling: a rejected
/// draw says nothing about the accepted one).
fn random_scalar(n: &Fe) -> Result<Fe, DstuError> {
    let bits = n.bit_len();
    let mut bytes = zeroize::Zeroizing::new(vec![0u8; bits.div_ceil(8)]);
    loop {
        getrandom::fill(&mut bytes)
            .map_err(|e| DstuError::Unsupported(format!("the OS random generator: {e}")))?;
        let k = Fe::from_le(&bytes).expect("fits").truncate(bits);
        if !k.is_zero() && less_than(&k, n) {
            return Ok(k);
        }
    }
}

#[cfg(test)]
mod tests;
