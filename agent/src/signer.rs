//! Unlocking a container with the password typed on the agent's page, and signing.
//!
//! The password is used for one unlock and wiped. A wrong password is counted per
//! container with a growing back-off and then a lock, so guessing is slow, and a cached
//! ("remembered") key never masks a wrong password: a typed password is always checked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use certs::cms::{self, Content, Digest, KeyKind, RawSigner, SignRequest};
use certs::load;
use certs::statement::{self, LoginStatement};
use openssl::pkey::{PKey, Private};
use zeroize::Zeroizing;

use crate::store::{Container, Kind};
use crate::tokens::protocol::TokenError;
use crate::tokens::{TokenSigner, Tokens};
use crate::ApiError;

/// A key ready to sign: in memory, or on a token with the PIN to log in with.
pub enum Key {
    Software(PKey<Private>),
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
            Key::Software(k) => k,
            Key::Token(t) => t,
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

/// Open `container` with `password` and pick the key for `certificate`. A token is not
/// touched here: its PIN is checked by the token when it signs.
pub fn unlock(
    container: &Container,
    certificate: &[u8],
    password: &Zeroizing<String>,
    tokens: &Arc<Tokens>,
) -> Result<Unlocked, ApiError> {
    let cert = openssl::x509::X509::from_der(certificate)
        .map_err(|e| ApiError::ContainerUnreadable(e.to_string()))?;
    let public = cert
        .public_key()
        .map_err(|e| ApiError::ContainerUnreadable(e.to_string()))?;
    if let Some(token) = &container.token {
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
    let bytes = Zeroizing::new(
        std::fs::read(&container.path).map_err(|e| ApiError::ContainerUnreadable(e.to_string()))?,
    );
    let name = container.label.as_str();
    let (key, chain) = match container.kind {
        Kind::Pkcs12 => match load::pkcs12(&bytes, name, password) {
            Ok(opened) => {
                let mut chain = opened.chain;
                chain.retain(|c| c != certificate);
                (opened.key, chain)
            }
            Err(certs::Error::WrongPassword(_)) => {
                return Err(ApiError::WrongPassword { tries_left: None })
            }
            Err(e) => return Err(ApiError::ContainerUnreadable(e.to_string())),
        },
        Kind::Pem => match load::encrypted_pem_key(&bytes, name, password) {
            Ok(key) => (key, container.chain.clone()),
            Err(_) => return Err(ApiError::WrongPassword { tries_left: None }),
        },
        Kind::Token => {
            return Err(ApiError::ContainerUnreadable(
                "a token container without its token".into(),
            ))
        }
    };
    if !key.public_eq(&public) {
        return Err(ApiError::KeyMismatch);
    }
    Ok(Unlocked {
        key: Key::Software(key),
        certificate: certificate.to_vec(),
        chain,
    })
}

/// The login statement for `origin` (the one the agent saw) and `challenge`, signed.
pub fn sign_login(u: &Unlocked, origin: &str, challenge: &str) -> Result<Vec<u8>, ApiError> {
    let now = time::OffsetDateTime::now_utc();
    let content = LoginStatement::new(origin, challenge, now.unix_timestamp()).to_bytes();
    let req = SignRequest {
        content_type: statement::CONTENT_TYPE,
        content: Content::Attached(&content),
        digest: Digest::Sha256,
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
    /// Detached: the digest of the content (computed by the agent, or brought by the page).
    Digest(Digest, &'a [u8]),
}

/// A CAdES-BES document signature. The content type is always `id-data`.
pub fn sign_document(u: &Unlocked, content: DocumentContent<'_>) -> Result<Vec<u8>, ApiError> {
    let (content, digest) = match content {
        DocumentContent::Attached(data) => (Content::Attached(data), Digest::Sha256),
        DocumentContent::Digest(d, value) => (Content::Detached { digest: value }, d),
    };
    let req = SignRequest {
        content_type: cms::ID_DATA,
        content,
        digest,
        certificate: &u.certificate,
        chain: &u.chain,
        signing_time: time::OffsetDateTime::now_utc(),
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
