//! Java KeyStore (`.jks`), the container PrivatBank and some Java-based CAs issue: a private key
//! entry holds a PKCS#8 key under Sun's key protector and its certificate chain.
//!
//! The format (OpenJDK `JavaKeyStore` and `KeyProtector`):
//! - `FEEDFEED`, version 1 or 2, entry count; each entry a tag (1 = private key,
//!   2 = trusted certificate), an alias and a timestamp; a key entry then has the protected key
//!   and its chain; version 2 names each certificate's type ("X.509");
//! - the file ends with SHA-1(password as UTF-16BE ‖ "Mighty Aphrodite" ‖ everything before):
//!   the store's integrity, and the first sign of a wrong password;
//! - a protected key is `salt(20) ‖ key XOR keystream ‖ SHA-1(password ‖ key)`, the keystream
//!   being SHA-1(password ‖ previous block), the salt first.
//!
//! The keys inside are RSA, EC or DSTU 4145 PKCS#8; this module hands back the PKCS#8 bytes
//! (zeroized on drop) and the caller reads them.

use zeroize::Zeroizing;

use crate::cms::tlv;

const MAGIC: u32 = 0xFEED_FEED;
const JCEKS_MAGIC: u32 = 0xCECE_CECE;
/// Sun's key-protector algorithm.
const OID_KEY_PROTECTOR: &str = "1.3.6.1.4.1.42.2.17.1.1";
/// More entries than this is not a citizen's key store.
const MAX_ENTRIES: u32 = 1024;

/// What can be wrong with a JKS file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JksError {
    /// The password does not open the store.
    #[error("the password does not open this Java KeyStore")]
    WrongPassword,
    /// Not a JKS, or a damaged one.
    #[error("Java KeyStore: {0}")]
    Malformed(String),
    /// A JKS variant Brama does not read.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// One private-key entry.
pub struct KeyEntry {
    /// The alias the store gives it.
    pub alias: String,
    /// The key, PKCS#8 PrivateKeyInfo DER.
    pub pkcs8: Zeroizing<Vec<u8>>,
    /// Its certificate chain, the key's own certificate first (DER).
    pub chain: Vec<Vec<u8>>,
}

/// What a JKS holds.
#[derive(Default)]
pub struct Contents {
    /// The private-key entries.
    pub keys: Vec<KeyEntry>,
    /// Trusted-certificate entries (DER).
    pub trusted: Vec<Vec<u8>>,
}

/// Whether `bytes` start like a Java KeyStore.
pub fn is_jks(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) == MAGIC
}

fn password_bytes(password: &str) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(password.encode_utf16().flat_map(u16::to_be_bytes).collect())
}

fn integrity(password: &[u8], data: &[u8]) -> [u8; 20] {
    let mut h = openssl::sha::Sha1::new();
    h.update(password);
    h.update(b"Mighty Aphrodite");
    h.update(data);
    h.finish()
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], JksError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.data.len())
            .ok_or_else(|| JksError::Malformed("truncated".into()))?;
        let out = &self.data[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u16(&mut self) -> Result<u16, JksError> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().expect("2")))
    }
    fn u32(&mut self) -> Result<u32, JksError> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4")))
    }
    fn utf(&mut self) -> Result<String, JksError> {
        let n = self.u16()? as usize;
        // Java's modified UTF-8 equals UTF-8 for everything but NUL and astral characters.
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    fn bytes(&mut self) -> Result<&'a [u8], JksError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

/// A key entry as read: alias, protected key, chain.
type Protected<'a> = (String, &'a [u8], Vec<Vec<u8>>);

struct Parsed<'a> {
    body: &'a [u8],
    digest: &'a [u8],
    protected: Vec<Protected<'a>>,
    trusted: Vec<Vec<u8>>,
}

fn parse(bytes: &[u8]) -> Result<Parsed<'_>, JksError> {
    if bytes.len() >= 4 && bytes[..4] == JCEKS_MAGIC.to_be_bytes() {
        return Err(JksError::Unsupported(
            "a JCEKS store (export it as PKCS#12 with keytool)".into(),
        ));
    }
    if !is_jks(bytes) || bytes.len() < 32 {
        return Err(JksError::Malformed("not a Java KeyStore".into()));
    }
    let (body, digest) = bytes.split_at(bytes.len() - 20);
    let mut r = Reader { data: body, at: 4 };
    let version = r.u32()?;
    if version != 1 && version != 2 {
        return Err(JksError::Unsupported(format!("JKS version {version}")));
    }
    let count = r.u32()?;
    if count > MAX_ENTRIES {
        return Err(JksError::Malformed(format!("{count} entries")));
    }
    let mut protected = Vec::new();
    let mut trusted = Vec::new();
    for _ in 0..count {
        let tag = r.u32()?;
        let alias = r.utf()?;
        r.take(8)?; // timestamp
        match tag {
            1 => {
                let key = r.bytes()?;
                let n = r.u32()?;
                if n > MAX_ENTRIES {
                    return Err(JksError::Malformed(format!("a chain of {n}")));
                }
                let mut chain = Vec::new();
                for _ in 0..n {
                    if version == 2 {
                        r.utf()?;
                    }
                    chain.push(r.bytes()?.to_vec());
                }
                protected.push((alias, key, chain));
            }
            2 => {
                if version == 2 {
                    r.utf()?;
                }
                trusted.push(r.bytes()?.to_vec());
            }
            other => return Err(JksError::Malformed(format!("entry tag {other}"))),
        }
    }
    if r.at != body.len() {
        return Err(JksError::Malformed("bytes after the last entry".into()));
    }
    Ok(Parsed {
        body,
        digest,
        protected,
        trusted,
    })
}

/// The certificates of every key entry, without the password (they are not encrypted in a
/// JKS); the integrity digest is not checked, so the caller treats them as hints.
pub fn public_certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, JksError> {
    let p = parse(bytes)?;
    Ok(p.protected.into_iter().flat_map(|(_, _, c)| c).collect())
}

/// Reads a JKS with `password`: checks its integrity digest, then unprotects every key.
pub fn read(bytes: &[u8], password: &str) -> Result<Contents, JksError> {
    let p = parse(bytes)?;
    let pw = password_bytes(password);
    if !openssl::memcmp::eq(&integrity(&pw, p.body), p.digest) {
        return Err(JksError::WrongPassword);
    }
    let mut out = Contents {
        keys: Vec::new(),
        trusted: p.trusted,
    };
    for (alias, key, chain) in p.protected {
        let pkcs8 = unprotect(key, &pw)?;
        out.keys.push(KeyEntry {
            alias,
            pkcs8,
            chain,
        });
    }
    Ok(out)
}

/// Sun's KeyProtector: EncryptedPrivateKeyInfo { OID 1.3.6.1.4.1.42.2.17.1.1, salt ‖ xored ‖ check }.
fn unprotect(der: &[u8], pw: &[u8]) -> Result<Zeroizing<Vec<u8>>, JksError> {
    let bad = |w: &str| JksError::Malformed(format!("protected key: {w}"));
    let top = crate::der::one(der).map_err(|_| bad("not DER"))?;
    let f = crate::der::elements(&top).map_err(|_| bad("not a SEQUENCE"))?;
    let (Some(alg), Some(data)) = (f.first(), f.get(1)) else {
        return Err(bad("incomplete"));
    };
    let oid = crate::der::elements(alg)
        .ok()
        .and_then(|a| {
            a.first()
                .and_then(|o| o.as_oid().ok())
                .map(|o| crate::oids::dotted(&o))
        })
        .ok_or_else(|| bad("no algorithm"))?;
    if oid != OID_KEY_PROTECTOR {
        return Err(JksError::Unsupported(format!("key protection {oid}")));
    }
    let d = data.data;
    if d.len() < 41 {
        return Err(bad("too short"));
    }
    let (salt, rest) = d.split_at(20);
    let (xored, check) = rest.split_at(rest.len() - 20);
    let plain = keystream_xor(pw, salt, xored);
    let mut h = openssl::sha::Sha1::new();
    h.update(pw);
    h.update(&plain);
    if !openssl::memcmp::eq(&h.finish(), check) {
        return Err(JksError::WrongPassword);
    }
    Ok(plain)
}

fn keystream_xor(pw: &[u8], salt: &[u8], data: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut digest = Zeroizing::new(<[u8; 20]>::try_from(salt).unwrap_or([0; 20]));
    let mut out = Zeroizing::new(Vec::with_capacity(data.len()));
    for chunk in data.chunks(20) {
        let mut h = openssl::sha::Sha1::new();
        h.update(pw);
        h.update(&*digest);
        *digest = h.finish();
        out.extend(chunk.iter().zip(digest.iter()).map(|(a, b)| a ^ b));
    }
    out
}

/// Writes a version-2 JKS with one key entry (the tests' and the development PKI's writer;
/// keytool and jkurwa's `jksreader` read it).
pub fn write(alias: &str, pkcs8: &[u8], chain: &[Vec<u8>], password: &str) -> Vec<u8> {
    let pw = password_bytes(password);
    let mut salt = [0u8; 20];
    openssl::rand::rand_bytes(&mut salt).expect("OpenSSL random");
    let xored = keystream_xor(&pw, &salt, pkcs8);
    let mut h = openssl::sha::Sha1::new();
    h.update(&pw);
    h.update(pkcs8);
    let protected = [&salt[..], &xored, &h.finish()].concat();
    let key = tlv(
        0x30,
        &[
            tlv(
                0x30,
                &[
                    tlv(0x06, &crate::oids::encode(OID_KEY_PROTECTOR)),
                    vec![5, 0],
                ]
                .concat(),
            ),
            tlv(0x04, &protected),
        ]
        .concat(),
    );
    let utf = |s: &str| [&(s.len() as u16).to_be_bytes()[..], s.as_bytes()].concat();
    let mut out = Vec::new();
    out.extend(MAGIC.to_be_bytes());
    out.extend(2u32.to_be_bytes());
    out.extend(1u32.to_be_bytes());
    out.extend(1u32.to_be_bytes());
    out.extend(utf(alias));
    out.extend(0u64.to_be_bytes());
    out.extend((key.len() as u32).to_be_bytes());
    out.extend(&key);
    out.extend((chain.len() as u32).to_be_bytes());
    for c in chain {
        out.extend(utf("X.509"));
        out.extend((c.len() as u32).to_be_bytes());
        out.extend(c);
    }
    let digest = integrity(&pw, &out);
    out.extend(digest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn the_real_jks_opens_to_its_rsa_key() {
        let jks = fixture("ua-dstu/test-jks.jks");
        let c = read(&jks, "testpassword").unwrap();
        assert_eq!(c.keys.len(), 1);
        let entry = &c.keys[0];
        let key = openssl::pkey::PKey::private_key_from_pkcs8(&entry.pkcs8).unwrap();
        assert_eq!(key.id(), openssl::pkey::Id::RSA);
        assert_eq!(key.bits(), 2048);
        assert_eq!(entry.alias, "test-rsa-key");
        assert!(entry.chain.is_empty(), "UAPKI's file holds the key alone");
        assert_eq!(read(&jks, "wrong").err(), Some(JksError::WrongPassword));
        for cut in [0, 3, 10, 100, jks.len() - 21] {
            assert!(read(&jks[..cut], "testpassword").is_err());
        }
    }

    #[test]
    fn what_brama_writes_it_reads_back() {
        let pkcs8 = fixture("ua-dstu/Key40A0.cer");
        let cert = fixture("ua-dstu/SELF_SIGNED_ENC_40A0.cer");
        let jks = write("key", &pkcs8, std::slice::from_ref(&cert), "пароль");
        let c = read(&jks, "пароль").unwrap();
        assert_eq!(&c.keys[0].pkcs8[..], &pkcs8[..]);
        assert_eq!(c.keys[0].chain, vec![cert]);
        assert_eq!(c.keys[0].alias, "key");
        assert_eq!(read(&jks, "парол").err(), Some(JksError::WrongPassword));
    }
}
