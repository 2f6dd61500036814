//! The signed assertion header (design.md §5): a compact JWT, ES256, that lets the backend
//! prove a request came through the gateway. Minted once per (session, role, account
//! version) and reused until shortly before it expires: never one ECDSA signature per
//! request. A role switch or a block changes the version or role, so an old one is not reused.

use axum::http::HeaderValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use serde_json::json;

/// Lifetime of one assertion, seconds.
pub const TTL: i64 = 120;
/// A cached assertion is replaced when less than this is left.
/// Seconds before expiry at which an assertion is minted anew.
pub const RENEW_BEFORE: i64 = 30;

/// The gateway's ES256 signing key with its id.
pub struct SigningKey {
    pub kid: String,
    key: PKey<Private>,
}

impl SigningKey {
    pub fn generate(kid: &str) -> SigningKey {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
        let key = PKey::from_ec_key(EcKey::generate(&group).expect("EC key")).expect("PKey");
        SigningKey {
            kid: kid.into(),
            key,
        }
    }

    pub fn from_pkcs8(kid: &str, der: &[u8]) -> Result<SigningKey, openssl::error::ErrorStack> {
        let key = PKey::private_key_from_pkcs8(der)?;
        Ok(SigningKey {
            kid: kid.into(),
            key,
        })
    }

    pub fn to_pkcs8(&self) -> Vec<u8> {
        self.key.private_key_to_pkcs8().expect("PKCS#8")
    }

    /// The public key as a JWK (RFC 7518 §6.2).
    pub fn jwk(&self) -> serde_json::Value {
        let ec = self.key.ec_key().expect("EC key");
        let mut ctx = BigNumContext::new().expect("bn ctx");
        let (mut x, mut y) = (
            openssl::bn::BigNum::new().expect("bn"),
            openssl::bn::BigNum::new().expect("bn"),
        );
        ec.public_key()
            .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
            .expect("coordinates");
        json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": B64.encode(x.to_vec_padded(32).expect("32 bytes")),
            "y": B64.encode(y.to_vec_padded(32).expect("32 bytes")),
        })
    }

    /// Sign claims as a compact JWS: base64url(header).base64url(claims).base64url(r||s).
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        let input = format!(
            "{}.{}",
            B64.encode(self.header()),
            B64.encode(claims.to_string())
        );
        let raw = self.sign_raw(input.as_bytes());
        format!("{input}.{}", B64.encode(raw))
    }

    /// The JWS header: the algorithm and this key's id.
    fn header(&self) -> String {
        json!({ "alg": "ES256", "typ": "JWT", "kid": self.kid }).to_string()
    }

    /// The ES256 signature over `input` (SHA-256, then ECDSA P-256), as r || s.
    fn sign_raw(&self, input: &[u8]) -> [u8; 64] {
        let digest = openssl::hash::hash(MessageDigest::sha256(), input).expect("SHA-256");
        let sig = EcdsaSig::sign(&digest, &self.key.ec_key().expect("EC key")).expect("ECDSA");
        let mut raw = [0u8; 64];
        raw[..32].copy_from_slice(&sig.r().to_vec_padded(32).expect("r"));
        raw[32..].copy_from_slice(&sig.s().to_vec_padded(32).expect("s"));
        raw
    }
}

/// An assertion held in its compact form: when it was issued and its raw signature, 72 bytes
/// against ~0.4 KiB for the token. A session entry keeps this (a hundred thousand sessions
/// keep one each); the token is rebuilt from it and the entry's subject when a request is
/// forwarded, which costs two base64 encodings and no signature ([`Assertions::token`]).
#[derive(Clone, Copy, Debug)]
pub struct Compact {
    pub iat: i64,
    signature: [u8; 64],
}

impl Compact {
    pub fn expires_at(&self) -> i64 {
        self.iat + TTL
    }
}

/// What one assertion is about.
/// Whom an assertion speaks of. Borrowed: a forwarded request builds one from its session
/// entry without copying.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subject<'a> {
    /// The session, by the hash of its id.
    pub session: &'a [u8],
    pub account: &'a str,
    pub role: crate::store::Role,
    pub org_key: &'a str,
    pub version: i64,
}

impl Subject<'_> {
    /// The cache key: SHA-256 over the length-prefixed fields. 32 bytes per cached assertion
    /// instead of a copy of every field (a hundred thousand sessions hold one each).
    fn key(&self) -> [u8; 32] {
        let mut h = openssl::sha::Sha256::new();
        for field in [
            self.session,
            self.account.as_bytes(),
            self.role.as_str().as_bytes(),
            self.org_key.as_bytes(),
        ] {
            h.update(&(field.len() as u64).to_be_bytes());
            h.update(field);
        }
        h.update(&self.version.to_be_bytes());
        h.finish()
    }
}

/// Assertions held at most (one per live session and role; older ones are evicted).
const CACHE_MAX: usize = 200_000;

/// Minted assertions, reused until 30 s (`RENEW_BEFORE`) before they expire.
pub struct Assertions {
    key: SigningKey,
    /// What every token of this gateway starts with: base64url of the JWS header, a dot, and
    /// base64url of the claims that never change (issuer, audience). See [`claims_head`].
    prefix: Vec<u8>,
    /// The token as the header value it is sent in (a clone is a reference count).
    cache: crate::cache::Bounded<[u8; 32], (HeaderValue, i64)>,
}

impl Assertions {
    pub fn new(key: SigningKey, issuer: &str, audience: &str) -> Assertions {
        let mut prefix = B64.encode(key.header()).into_bytes();
        prefix.push(b'.');
        prefix.extend(B64.encode(claims_head(issuer, audience)).into_bytes());
        Assertions {
            prefix,
            key,
            cache: crate::cache::Bounded::new(CACHE_MAX),
        }
    }

    pub fn jwks(&self) -> serde_json::Value {
        json!({ "keys": [self.key.jwk()] })
    }

    /// The assertion for `subject` at `now`, from this cache (used when sessions are not kept
    /// in memory; a kept session entry holds its own, see `sessions::Entry::assertion`).
    pub fn for_subject(&self, subject: &Subject<'_>, now: i64) -> HeaderValue {
        let key = subject.key();
        if let Some((token, exp)) = self.cache.get(&key) {
            if exp - now > RENEW_BEFORE {
                return token;
            }
        }
        let compact = self.mint(subject, now);
        let token = self.token(subject, &compact);
        self.cache
            .insert(key, (token.clone(), compact.expires_at()));
        token
    }

    /// A new assertion for `subject`, valid [`TTL`] seconds from `now`.
    pub fn mint(&self, subject: &Subject<'_>, now: i64) -> Compact {
        let mut input = Vec::new();
        self.signing_input(subject, now, &mut input);
        Compact {
            iat: now,
            signature: self.key.sign_raw(&input),
        }
    }

    /// The token of an assertion minted for `subject` (the same subject: the claims are
    /// written again from it, and the signature covers them).
    pub fn token(&self, subject: &Subject<'_>, compact: &Compact) -> HeaderValue {
        let mut token = Vec::with_capacity(self.prefix.len() + 256);
        self.signing_input(subject, compact.iat, &mut token);
        token.push(b'.');
        encode_into(&compact.signature, &mut token);
        // base64url and dots: always a valid header value.
        HeaderValue::from_maybe_shared(axum::body::Bytes::from(token))
            .unwrap_or_else(|_| HeaderValue::from_static("invalid"))
    }

    /// `base64url(header).base64url(claims)` for `subject` issued at `iat`, into `out`.
    fn signing_input(&self, subject: &Subject<'_>, iat: i64, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.prefix);
        encode_into(&claims_tail(subject, iat), out);
    }
}

/// The claims every assertion of a gateway shares, `{"iss":…,"aud":…,`, padded with spaces
/// to a multiple of three bytes: then base64url(head ‖ tail) is base64url(head) ‖
/// base64url(tail), and only the tail is encoded per request. JSON allows the spaces.
fn claims_head(issuer: &str, audience: &str) -> Vec<u8> {
    let json = |v: &str| serde_json::to_string(v).expect("a string serialises");
    let head = format!("\"iss\":{},\"aud\":{},", json(issuer), json(audience));
    let pad = (3 - (head.len() + 1) % 3) % 3;
    format!("{{{}{head}", " ".repeat(pad)).into_bytes()
}

/// The claims of one subject at `iat`, closing the object [`claims_head`] opened. Written in
/// one fixed order, so a compact assertion rebuilds the signed bytes exactly.
fn claims_tail(subject: &Subject<'_>, iat: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    let mut put = |key: &str, value: &dyn erased::Json| {
        out.extend_from_slice(b"\"");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        value.write(&mut out);
        out.push(b',');
    };
    put("sub", &subject.account);
    put("role", &subject.role.as_str());
    if !subject.org_key.is_empty() {
        put("org", &subject.org_key);
    }
    put("ver", &subject.version);
    put("iat", &iat);
    put("exp", &(iat + TTL));
    *out.last_mut().expect("claims written") = b'}';
    out
}

/// A JSON value written with serde_json's escaping and number formatting.
mod erased {
    pub trait Json {
        fn write(&self, out: &mut Vec<u8>);
    }
    impl<T: serde::Serialize> Json for T {
        fn write(&self, out: &mut Vec<u8>) {
            serde_json::to_writer(out, self).expect("writing to a Vec");
        }
    }
}

/// Append base64url (no padding) of `data` to `out`.
fn encode_into(data: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + data.len().div_ceil(3) * 4, 0);
    let n = B64
        .encode_slice(data, &mut out[start..])
        .expect("sized for the encoding");
    out.truncate(start + n);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(jwk: &serde_json::Value, token: &str) -> serde_json::Value {
        let x = openssl::bn::BigNum::from_slice(&B64.decode(jwk["x"].as_str().unwrap()).unwrap())
            .unwrap();
        let y = openssl::bn::BigNum::from_slice(&B64.decode(jwk["y"].as_str().unwrap()).unwrap())
            .unwrap();
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let public = EcKey::from_public_key_affine_coordinates(&group, &x, &y).unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        let raw = B64.decode(sig).unwrap();
        let sig = EcdsaSig::from_private_components(
            openssl::bn::BigNum::from_slice(&raw[..32]).unwrap(),
            openssl::bn::BigNum::from_slice(&raw[32..]).unwrap(),
        )
        .unwrap();
        let digest = openssl::hash::hash(MessageDigest::sha256(), input.as_bytes()).unwrap();
        assert!(
            sig.verify(&digest, &public).unwrap(),
            "ES256 signature does not verify"
        );
        let header: serde_json::Value =
            serde_json::from_slice(&B64.decode(input.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        serde_json::from_slice(&B64.decode(input.split('.').nth(1).unwrap()).unwrap()).unwrap()
    }

    fn subject(role: &str, version: i64) -> Subject<'static> {
        Subject {
            session: b"s1",
            account: "a1",
            role: crate::store::Role::parse(role).unwrap(),
            org_key: "",
            version,
        }
    }

    #[test]
    fn minted_once_and_reused_until_near_expiry() {
        let a = Assertions::new(
            SigningKey::generate("k1"),
            "https://cabinet.example",
            "http://backend",
        );
        let t1 = a.for_subject(&subject("citizen", 1), 1000);
        assert_eq!(
            a.for_subject(&subject("citizen", 1), 1000 + TTL - RENEW_BEFORE - 1),
            t1,
            "reused"
        );
        let renewed = a.for_subject(&subject("citizen", 1), 1000 + TTL - RENEW_BEFORE);
        assert_ne!(renewed, t1, "renewed before expiry");
        assert_ne!(
            a.for_subject(&subject("representative", 1), 1000),
            t1,
            "a role switch gets its own"
        );
        assert_ne!(
            a.for_subject(&subject("citizen", 2), 1000),
            t1,
            "a new account version gets its own"
        );

        let claims = verify(&a.jwks()["keys"][0], t1.to_str().unwrap());
        assert_eq!(claims["aud"], "http://backend");
        assert_eq!(claims["iss"], "https://cabinet.example");
        assert_eq!(claims["sub"], "a1");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            TTL
        );
    }

    #[test]
    fn a_compact_assertion_rebuilds_the_token_it_signed() {
        let a = Assertions::new(
            SigningKey::generate("k2"),
            "https://cabinet.example",
            "http://backend",
        );
        let org = Subject {
            org_key: "UA-EDRPOU-12345678",
            ..subject("representative", 3)
        };
        for s in [subject("citizen", 1), org] {
            let compact = a.mint(&s, 5000);
            let token = a.token(&s, &compact);
            assert_eq!(a.token(&s, &compact), token, "the same bytes every time");
            let claims = verify(&a.jwks()["keys"][0], token.to_str().unwrap());
            assert_eq!(claims["iat"], 5000);
            assert_eq!(claims["exp"], 5000 + TTL);
            assert_eq!(claims["role"], s.role.as_str());
            assert_eq!(claims.get("org").is_some(), !s.org_key.is_empty());
            // Another subject's claims do not carry this signature.
            let other = a.token(&Subject { version: 9, ..s }, &compact);
            let jwk = a.jwks()["keys"][0].clone();
            let bad = std::panic::catch_unwind(|| verify(&jwk, other.to_str().unwrap()));
            assert!(
                bad.is_err(),
                "a signature over other claims must not verify"
            );
        }
    }

    #[test]
    fn the_key_survives_a_round_trip_through_storage() {
        let k = SigningKey::generate("k9");
        let again = SigningKey::from_pkcs8("k9", &k.to_pkcs8()).unwrap();
        assert_eq!(again.jwk(), k.jwk());
        let token = again.sign(&json!({"sub": "x"}));
        assert_eq!(verify(&k.jwk(), &token)["sub"], "x");
    }
}
