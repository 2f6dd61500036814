//! Unlocking a container with the password typed on the agent's page, and signing.
//!
//! The password is used for one unlock and wiped. A wrong password is counted per
//! container with a growing back-off and then a lock, so guessing is slow, and a cached
//! ("remembered") key never masks a wrong password: a typed password is always checked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use certs::cms::{self, Content, Digest, KeyKind, RawSigner, SignRequest};
use certs::keystore::{self, SoftKey, StoreError};
use certs::statement::{self, LoginStatement};
use zeroize::Zeroizing;

use crate::containers::{self, memory, pairing, Container, Pairing, Places};
use crate::tokens::protocol::TokenError;
use crate::tokens::{TokenSigner, Tokens};
use crate::ApiError;

/// A key ready to sign: in memory, or on a token with the PIN to log in with.
pub enum Key {
    /// RSA, ECDSA or DSTU 4145 from a file (zeroized on drop).
    Software(SoftKey),
    Token(TokenSigner),
}

/// An unlocked private key with the certificate it signs with.
pub struct Unlocked {
    pub key: Key,
    pub certificate: Vec<u8>,
    pub chain: Vec<Vec<u8>>,
}

impl Unlocked {
    fn signer(&self) -> &dyn RawSigner {
        match &self.key {
            Key::Software(k) => k.signer(),
            Key::Token(t) => t,
        }
    }

    /// The digest this key signs with: GOST 34.311 for DSTU 4145, SHA-256 otherwise.
    pub fn digest(&self) -> Digest {
        if self.signer().key_kind() == KeyKind::Dstu {
            Digest::Gost34311
        } else {
            Digest::Sha256
        }
    }

    /// The API error for a failed signature: a token's own failure when there is one.
    fn failure(&self, e: certs::Error) -> ApiError {
        if let Key::Token(t) = &self.key {
            if let Some(failure) = t.failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return token_error(failure);
            }
        }
        ApiError::SigningFailed(e.to_string())
    }
}

/// What the user is told about a token failure.
pub fn token_error(e: TokenError) -> ApiError {
    match e {
        // PKCS#11 tells no count, only that this is the last try.
        TokenError::WrongPin { pin } => ApiError::WrongPassword {
            tries_left: pin.final_try.then_some(1),
        },
        TokenError::PinBlocked => ApiError::PinBlocked,
        TokenError::TokenAbsent { .. } => ApiError::UnknownContainer,
        TokenError::KeyAbsent { .. } => ApiError::ContainerUnreadable(
            "the token has no private key for this certificate".into(),
        ),
        TokenError::ModuleFailed { message } | TokenError::Failed { message } => {
            ApiError::TokenUnavailable(message)
        }
    }
}

/// Open `container` with `password` and pick the key for `certificate` (known before the
/// unlock), or — for a container that hides its keys — the key whose certificate
/// `certificate_id` names (or the only signing one). A token is not touched here: its PIN is
/// checked by the token when it signs.
pub fn unlock(
    container: &Container,
    certificate: Option<&[u8]>,
    certificate_id: Option<&str>,
    password: &Zeroizing<String>,
    tokens: &Arc<Tokens>,
    places: &Places,
) -> Result<Unlocked, ApiError> {
    if let Some(token) = &container.token {
        let certificate = certificate.ok_or(ApiError::UnknownCertificate)?;
        let cert = openssl::x509::X509::from_der(certificate)
            .map_err(|e| ApiError::ContainerUnreadable(e.to_string()))?;
        let public = cert
            .public_key()
            .map_err(|e| ApiError::ContainerUnreadable(e.to_string()))?;
        let kind = if public.id() == openssl::pkey::Id::RSA {
            KeyKind::Rsa
        } else {
            KeyKind::Ec
        };
        return Ok(Unlocked {
            key: Key::Token(TokenSigner {
                tokens: tokens.clone(),
                key: token.clone(),
                kind,
                pin: password.clone(),
                failure: Mutex::new(None),
            }),
            certificate: certificate.to_vec(),
            chain: container.chain.clone(),
        });
    }
    let format = container.kind.format().ok_or_else(|| {
        ApiError::ContainerUnreadable("a token container without its token".into())
    })?;
    let bytes = Zeroizing::new(
        std::fs::read(&container.path).map_err(|e| ApiError::ContainerUnreadable(e.to_string()))?,
    );
    let opened = keystore::open(format, &bytes, password).map_err(|e| match e {
        StoreError::WrongPassword => ApiError::WrongPassword { tries_left: None },
        StoreError::Unreadable(m) => ApiError::ContainerUnreadable(m),
    })?;
    let (paired, cas) =
        pairing::at_unlock(&container.path, &container.certificates, &opened, places);
    if container.pairing != Pairing::Paired {
        let found: Vec<Vec<u8>> = paired.iter().flatten().cloned().collect();
        if let Err(e) = memory::remember(places, &bytes, &found) {
            tracing::warn!(
                "cannot remember the certificates of {}: {e}",
                container.label
            );
        }
    }
    let (index, certificate) = match certificate {
        Some(wanted) => (
            opened
                .keys
                .iter()
                .position(|k| k.key.matches(wanted))
                .ok_or(ApiError::KeyMismatch)?,
            wanted.to_vec(),
        ),
        None => {
            let known: Vec<(usize, containers::CertificateView, Vec<u8>)> = paired
                .iter()
                .enumerate()
                .flat_map(|(i, certs)| {
                    certs.iter().filter_map(move |c| {
                        Some((i, containers::CertificateView::of(c)?, c.clone()))
                    })
                })
                .collect();
            if known.is_empty() {
                return Err(ApiError::NoCertificate {
                    looked_in: pairing::looked_in(&container.path, places).join(", "),
                });
            }
            let views: Vec<_> = known.iter().map(|(_, v, _)| v.clone()).collect();
            let (i, _, c) = &known[containers::choose(&views, certificate_id)?];
            (*i, c.clone())
        }
    };
    let mut chain: Vec<Vec<u8>> = container.chain.clone();
    for ca in cas {
        if !chain.contains(&ca) {
            chain.push(ca);
        }
    }
    chain.retain(|c| *c != certificate);
    let key = opened
        .keys
        .into_iter()
        .nth(index)
        .ok_or(ApiError::KeyMismatch)?
        .key;
    Ok(Unlocked {
        key: Key::Software(key),
        certificate,
        chain,
    })
}

/// The login statement for `origin` (the one the agent saw) and `challenge`, signed at `now`.
pub fn sign_login(
    u: &Unlocked,
    origin: &str,
    challenge: &str,
    now: time::OffsetDateTime,
) -> Result<Vec<u8>, ApiError> {
    let content = LoginStatement::new(origin, challenge, now.unix_timestamp()).to_bytes();
    let req = SignRequest {
        content_type: statement::CONTENT_TYPE,
        content: Content::Attached(&content),
        digest: u.digest(),
        certificate: &u.certificate,
        chain: &u.chain,
        signing_time: now,
        signing_certificate: None,
    };
    cms::sign(&req, u.signer()).map_err(|e| u.failure(e))
}

/// What a document signature covers.
pub enum DocumentContent<'a> {
    Attached(&'a [u8]),
    /// Detached: digests of the content (computed by the agent, or brought by the page); the
    /// one the key signs with is used.
    Digests(&'a [(Digest, Vec<u8>)]),
}

/// A CAdES-BES document signature. The content type is always `id-data`.
pub fn sign_document(
    u: &Unlocked,
    content: DocumentContent<'_>,
    now: time::OffsetDateTime,
) -> Result<Vec<u8>, ApiError> {
    let digest = u.digest();
    let (content, digest) = match content {
        DocumentContent::Attached(data) => (Content::Attached(data), digest),
        DocumentContent::Digests(list) => {
            let dstu = digest == Digest::Gost34311;
            let fits = |d: &Digest| (*d == Digest::Gost34311) == dstu;
            let (digest, value) = list.iter().find(|(d, _)| fits(d)).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "this key signs {} hashes: send hash_algorithm \"{}\"",
                    digest.name(),
                    serde_json::to_value(digest)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                ))
            })?;
            (Content::Detached { digest: value }, *digest)
        }
    };
    let req = SignRequest {
        content_type: cms::ID_DATA,
        content,
        digest,
        certificate: &u.certificate,
        chain: &u.chain,
        signing_time: now,
        signing_certificate: None,
    };
    cms::sign(&req, u.signer()).map_err(|e| u.failure(e))
}

/// Wrong-password accounting per container: 1 s, 2 s, 4 s … between tries, then a lock.
pub struct Guesses {
    lockout_after: u32,
    lockout: Duration,
    state: Mutex<HashMap<String, Failures>>,
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    not_before: Instant,
}

impl Guesses {
    pub fn new(lockout_after: u32, lockout: Duration) -> Guesses {
        Guesses {
            lockout_after,
            lockout,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Refuse an attempt while the container is backing off or locked.
    pub fn check(&self, container: &str) -> Result<(), ApiError> {
        let state = self.state.lock().expect("guesses lock");
        if let Some(f) = state.get(container) {
            let now = Instant::now();
            if now < f.not_before {
                let secs = (f.not_before - now).as_secs().max(1);
                return Err(ApiError::LockedOut { retry_after: secs });
            }
        }
        Ok(())
    }

    /// Record a wrong password; returns the error to show (with tries left before the lock).
    pub fn failed(&self, container: &str) -> ApiError {
        let mut state = self.state.lock().expect("guesses lock");
        let f = state.entry(container.to_string()).or_insert(Failures {
            count: 0,
            not_before: Instant::now(),
        });
        f.count += 1;
        if f.count >= self.lockout_after {
            f.not_before = Instant::now() + self.lockout;
            f.count = 0;
            return ApiError::LockedOut {
                retry_after: self.lockout.as_secs(),
            };
        }
        f.not_before = Instant::now() + Duration::from_secs(1 << (f.count - 1).min(5));
        ApiError::WrongPassword {
            tries_left: Some(self.lockout_after - f.count),
        }
    }

    pub fn succeeded(&self, container: &str) {
        self.state.lock().expect("guesses lock").remove(container);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::protocol::PinFlags;

    /// SoftHSM2 never blocks a PIN, so the mapping a real token needs is shown here.
    #[test]
    fn token_failures_become_the_errors_a_person_can_act_on() {
        let final_try = PinFlags {
            count_low: true,
            final_try: true,
            locked: false,
        };
        assert_eq!(
            token_error(TokenError::WrongPin { pin: final_try }),
            ApiError::WrongPassword {
                tries_left: Some(1)
            }
        );
        assert_eq!(
            token_error(TokenError::WrongPin {
                pin: PinFlags::default()
            }),
            ApiError::WrongPassword { tries_left: None }
        );
        assert_eq!(token_error(TokenError::PinBlocked), ApiError::PinBlocked);
        assert_eq!(ApiError::PinBlocked.code(), "pin_blocked");
        assert_eq!(
            token_error(TokenError::TokenAbsent { serial: "1".into() }),
            ApiError::UnknownContainer
        );
        assert_eq!(
            token_error(TokenError::Failed {
                message: "the module's helper stopped".into()
            })
            .code(),
            "token_unavailable"
        );
    }
}
