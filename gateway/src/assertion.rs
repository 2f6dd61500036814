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
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": self.kid });
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let digest =
            openssl::hash::hash(MessageDigest::sha256(), input.as_bytes()).expect("SHA-256");
        let sig = EcdsaSig::sign(&digest, &self.key.ec_key().expect("EC key")).expect("ECDSA");
        let mut raw = sig.r().to_vec_padded(32).expect("r");
        raw.extend(sig.s().to_vec_padded(32).expect("s"));
        format!("{input}.{}", B64.encode(raw))
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
    issuer: String,
    audience: String,
    /// The token as the header value it is sent in (a clone is a reference count).
    cache: crate::cache::Bounded<[u8; 32], (HeaderValue, i64)>,
}

impl Assertions {
    pub fn new(key: SigningKey, issuer: &str, audience: &str) -> Assertions {
        Assertions {
            key,
            issuer: issuer.into(),
            audience: audience.into(),
            cache: crate::cache::Bounded::new(CACHE_MAX),
        }
    }

    pub fn jwks(&self) -> serde_json::Value {
        json!({ "keys": [self.key.jwk()] })
    }

    /// The assertion for `subject` at `now`: the cached one, or a newly minted one.
    /// The assertion for `subject` at `now`, from this cache (used when sessions are not kept
    /// in memory; a kept session entry holds its own, see `sessions::Entry::assertion`).
    pub fn for_subject(&self, subject: &Subject<'_>, now: i64) -> HeaderValue {
        let key = subject.key();
        if let Some((token, exp)) = self.cache.get(&key) {
            if exp - now > RENEW_BEFORE {
                return token;
            }
        }
        let (token, exp) = self.mint(subject, now);
        self.cache.insert(key, (token.clone(), exp));
        token
    }

    /// A new assertion for `subject`, valid [`TTL`] seconds from `now`, and its expiry.
    pub fn mint(&self, subject: &Subject<'_>, now: i64) -> (HeaderValue, i64) {
        let exp = now + TTL;
        let mut claims = json!({
            "iss": self.issuer, "aud": self.audience, "sub": subject.account,
            "role": subject.role.as_str(), "ver": subject.version, "iat": now, "exp": exp,
        });
        if !subject.org_key.is_empty() {
            claims["org"] = subject.org_key.into();
        }
        // Copied at its exact size (the signed string has spare capacity); a compact JWS is
        // base64url and dots, always a valid header value.
        let token = HeaderValue::from_bytes(self.key.sign(&claims).as_bytes())
            .unwrap_or_else(|_| HeaderValue::from_static("invalid"));
        (token, exp)
    }
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
    fn the_key_survives_a_round_trip_through_storage() {
        let k = SigningKey::generate("k9");
        let again = SigningKey::from_pkcs8("k9", &k.to_pkcs8()).unwrap();
        assert_eq!(again.jwk(), k.jwk());
        let token = again.sign(&json!({"sub": "x"}));
        assert_eq!(verify(&k.jwk(), &token)["sub"], "x");
    }
}
