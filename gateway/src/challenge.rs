//! Login challenges: stateless, HMAC-sealed, bound to one browser (design.md §1, §4 step 2).
//!
//! A challenge is `base64url(payload) "." base64url(HMAC-SHA256(key, payload))` with
//! payload = version · key id · issued-at · expiry · 128-bit nonce · binding · `next`.
//! Nothing is stored when it is issued; the nonce is consumed in the store only after the
//! signature verified (step 6), so garbage cannot burn or probe challenges. The binding is a
//! hash of the `__Host-brama-login` cookie the same response set, so a challenge phished
//! from one browser is useless in another. Keys carry ids so they can rotate with overlap.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

use crate::LoginError;

const VERSION: u8 = 1;
/// The fixed part: version, key id, issued-at, expiry, nonce, binding.
const FIXED: usize = 1 + 4 + 8 + 8 + 16 + 16;
/// `next` longer than this falls back to "/".
const MAX_NEXT: usize = 1024;

/// An HMAC key with its id.
#[derive(Clone)]
pub struct Key {
    pub id: u32,
    pub secret: zeroize::Zeroizing<Vec<u8>>,
}

/// The key that seals new challenges, and older ones that still open them.
#[derive(Clone)]
pub struct Keys {
    pub current: Key,
    pub previous: Vec<Key>,
}

/// What a challenge holds once opened and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The single-use id consumed at step 6.
    pub nonce: [u8; 16],
    pub expires_at: i64,
    /// The local path to go to after login.
    pub next: String,
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    openssl::rand::rand_bytes(&mut b).expect("OpenSSL random");
    b
}

/// A new login-cookie value (128-bit random, base64url).
pub fn new_browser_id() -> String {
    B64.encode(random::<16>())
}

fn binding(browser_id: &str) -> [u8; 16] {
    let h = certs::sha256(browser_id.as_bytes());
    h[..16].try_into().expect("16 bytes")
}

fn mac(key: &Key, payload: &[u8]) -> Vec<u8> {
    let pkey = PKey::hmac(&key.secret).expect("HMAC key");
    let mut signer = Signer::new(MessageDigest::sha256(), &pkey).expect("HMAC");
    signer.update(payload).expect("HMAC update");
    signer.sign_to_vec().expect("HMAC sign")
}

/// `next` as a local path only: "/…", not "//host", not "/\host", no scheme, no control
/// characters. Anything else becomes "/" (no open redirect).
pub fn local_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= MAX_NEXT
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if ok {
        next.to_string()
    } else {
        "/".to_string()
    }
}

impl Keys {
    /// Seal a challenge for the browser holding `browser_id`, valid `ttl_secs` from `now`.
    pub fn issue(&self, browser_id: &str, next: &str, now: i64, ttl_secs: i64) -> (String, Opened) {
        let next = local_next(next);
        let nonce = random::<16>();
        let expires_at = now + ttl_secs;
        let mut payload = Vec::with_capacity(FIXED + next.len());
        payload.push(VERSION);
        payload.extend_from_slice(&self.current.id.to_be_bytes());
        payload.extend_from_slice(&now.to_be_bytes());
        payload.extend_from_slice(&expires_at.to_be_bytes());
        payload.extend_from_slice(&nonce);
        payload.extend_from_slice(&binding(browser_id));
        payload.extend_from_slice(next.as_bytes());
        let tag = mac(&self.current, &payload);
        let challenge = format!("{}.{}", B64.encode(&payload), B64.encode(tag));
        (
            challenge,
            Opened {
                nonce,
                expires_at,
                next,
            },
        )
    }

    /// Open and check a challenge: authentic, not expired at `now`, bound to `browser_id`.
    pub fn open(
        &self,
        challenge: &str,
        browser_id: Option<&str>,
        now: i64,
    ) -> Result<Opened, LoginError> {
        let (payload, tag) = challenge
            .split_once('.')
            .ok_or(LoginError::ChallengeInvalid)?;
        let payload = B64
            .decode(payload)
            .map_err(|_| LoginError::ChallengeInvalid)?;
        let tag = B64.decode(tag).map_err(|_| LoginError::ChallengeInvalid)?;
        if payload.len() < FIXED || payload[0] != VERSION {
            return Err(LoginError::ChallengeInvalid);
        }
        let kid = u32::from_be_bytes(payload[1..5].try_into().expect("4 bytes"));
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == kid)
            .ok_or(LoginError::ChallengeInvalid)?;
        let expected = mac(key, &payload);
        if tag.len() != expected.len() || !openssl::memcmp::eq(&tag, &expected) {
            return Err(LoginError::ChallengeInvalid);
        }
        let expires_at = i64::from_be_bytes(payload[13..21].try_into().expect("8 bytes"));
        if now >= expires_at {
            return Err(LoginError::ChallengeExpired);
        }
        let bound: [u8; 16] = payload[37..53].try_into().expect("16 bytes");
        match browser_id {
            Some(id) if openssl::memcmp::eq(&binding(id), &bound) => {}
            _ => return Err(LoginError::ChallengeWrongBrowser),
        }
        let next = String::from_utf8(payload[FIXED..].to_vec())
            .map_err(|_| LoginError::ChallengeInvalid)?;
        let nonce = payload[21..37].try_into().expect("16 bytes");
        Ok(Opened {
            nonce,
            expires_at,
            next: local_next(&next),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u32, byte: u8) -> Key {
        Key {
            id,
            secret: zeroize::Zeroizing::new(vec![byte; 32]),
        }
    }

    fn keys() -> Keys {
        Keys {
            current: key(2, 7),
            previous: vec![key(1, 9)],
        }
    }

    #[test]
    fn issued_challenges_open_for_their_browser_until_they_expire() {
        let k = keys();
        let browser = new_browser_id();
        let (c, issued) = k.issue(&browser, "/cabinet/profile?tab=1", 1000, 300);
        assert!(
            c.len() < 200 && c.bytes().all(|b| b.is_ascii_graphic()),
            "fits the agent's challenge rules: {c}"
        );
        let opened = k.open(&c, Some(&browser), 1299).unwrap();
        assert_eq!(opened, issued);
        assert_eq!(opened.next, "/cabinet/profile?tab=1");
        assert_eq!(
            k.open(&c, Some(&browser), 1300),
            Err(LoginError::ChallengeExpired)
        );
        assert_eq!(
            k.open(&c, Some(&new_browser_id()), 1001),
            Err(LoginError::ChallengeWrongBrowser)
        );
        assert_eq!(
            k.open(&c, None, 1001),
            Err(LoginError::ChallengeWrongBrowser)
        );
        // Two challenges never share a nonce.
        let (_, other) = k.issue(&browser, "/", 1000, 300);
        assert_ne!(other.nonce, issued.nonce);
    }

    #[test]
    fn forged_tampered_and_foreign_challenges_are_invalid() {
        let k = keys();
        let b = new_browser_id();
        let (c, _) = k.issue(&b, "/", 1000, 300);
        let (payload, tag) = c.split_once('.').unwrap();
        let mut raw = B64.decode(payload).unwrap();
        raw[15] ^= 1; // move the expiry
        let tampered = format!("{}.{tag}", B64.encode(&raw));
        assert_eq!(
            k.open(&tampered, Some(&b), 1001),
            Err(LoginError::ChallengeInvalid)
        );
        let stranger = Keys {
            current: key(2, 8),
            previous: vec![],
        };
        assert_eq!(
            stranger.open(&c, Some(&b), 1001),
            Err(LoginError::ChallengeInvalid)
        );
        for junk in ["", ".", "abc", "a.b", "%%%.%%%", &"A".repeat(5000), "AQ.AQ"] {
            assert_eq!(
                k.open(junk, Some(&b), 1001),
                Err(LoginError::ChallengeInvalid),
                "{junk}"
            );
        }
    }

    #[test]
    fn rotated_keys_still_open_their_challenges() {
        let old = Keys {
            current: key(1, 9),
            previous: vec![],
        };
        let b = new_browser_id();
        let (c, _) = old.issue(&b, "/", 1000, 300);
        assert!(
            keys().open(&c, Some(&b), 1001).is_ok(),
            "previous key accepted"
        );
        let retired = Keys {
            current: key(2, 7),
            previous: vec![],
        };
        assert_eq!(
            retired.open(&c, Some(&b), 1001),
            Err(LoginError::ChallengeInvalid)
        );
    }

    #[test]
    fn next_is_a_local_path_only() {
        for (given, kept) in [
            ("/cabinet", "/cabinet"),
            ("/a?b=c#d", "/a?b=c#d"),
            ("//evil.example", "/"),
            ("/\\evil.example", "/"),
            ("https://evil.example/", "/"),
            ("javascript:alert(1)", "/"),
            ("", "/"),
            ("/a\nSet-Cookie: x", "/"),
            ("/a\\b", "/"),
        ] {
            assert_eq!(local_next(given), kept, "{given:?}");
        }
        let k = keys();
        let b = new_browser_id();
        let (c, _) = k.issue(&b, "//evil.example", 1000, 300);
        assert_eq!(k.open(&c, Some(&b), 1001).unwrap().next, "/");
    }
}
