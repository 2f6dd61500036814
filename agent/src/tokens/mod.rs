//! Hardware tokens through PKCS#11: the modules the agent loads, what their tokens hold, and
//! signatures made on the token (the key never leaves it).
//!
//! Each module runs in its own helper process ([`helper`], spoken to through [`child`]), so a
//! module that fails to load, hangs or crashes is a diagnostic in `/v1/info`, not a dead
//! agent. Listing re-initialises the module while it is idle, so a token inserted or removed
//! shows within [`REFRESH`] without a restart.

pub mod child;
pub mod helper;
pub mod protocol;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use certs::cms::{Digest, KeyKind, RawSigner};
use serde::Serialize;
use zeroize::Zeroizing;

use child::Helper;
use protocol::{Mechanism, PinFlags, Reply, Request, Token, TokenError};

/// A listing younger than this is answered from memory.
pub const REFRESH: Duration = Duration::from_secs(1);
/// A module that failed to load is tried again after this long.
const RETRY_FAILED: Duration = Duration::from_secs(30);
const LIST_TIMEOUT: Duration = Duration::from_secs(20);
/// Long enough for a token that waits for a button press or a slow RSA card.
const SIGN_TIMEOUT: Duration = Duration::from_secs(120);

/// PKCS#11 modules of tokens sold to citizens, probed when present (`pkcs11_probe`).
pub const WELL_KNOWN_MODULES: &[&str] = &[
    // OpenSC: most smart cards and many USB tokens.
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib64/opensc-pkcs11.so",
    // SafeNet Authentication Client (eToken).
    "/usr/lib/libeTPkcs11.so",
    // Rutoken ECP.
    "/usr/lib/librtpkcs11ecp.so",
];

/// One certificate on a token, with where its key is.
#[derive(Debug, Clone)]
pub struct TokenKey {
    pub module: PathBuf,
    pub token: Token,
    /// CKA_ID, hex.
    pub key_id: String,
    pub label: String,
    pub der: Vec<u8>,
}

/// What `/v1/info` tells about one module.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleStatus {
    pub module: String,
    /// `ready`, `failed` or `not_started`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub tokens: usize,
}

struct Module {
    path: PathBuf,
    /// Held for the length of one call: listing skips a module that is busy signing.
    helper: Mutex<Option<Helper>>,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    tokens: Vec<Token>,
    listed_at: Option<Instant>,
    library: Option<String>,
    error: Option<String>,
    retry_at: Option<Instant>,
}

pub struct Tokens {
    helper_exe: PathBuf,
    modules: Vec<Module>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these leaves plain data behind: keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Tokens {
    /// `modules` as configured; the helper is `helper_exe pkcs11-helper MODULE`.
    pub fn new(helper_exe: PathBuf, modules: Vec<PathBuf>) -> Tokens {
        let mut unique: Vec<PathBuf> = Vec::new();
        for m in modules {
            if !unique.contains(&m) {
                unique.push(m);
            }
        }
        Tokens {
            helper_exe,
            modules: unique
                .into_iter()
                .map(|path| Module {
                    path,
                    helper: Mutex::new(None),
                    seen: Mutex::new(Seen::default()),
                })
                .collect(),
        }
    }

    /// Every certificate on every token of every module.
    pub fn keys(&self) -> Vec<TokenKey> {
        let mut out = Vec::new();
        for m in &self.modules {
            for token in self.tokens_of(m) {
                for c in &token.certificates {
                    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(&c.der) else {
                        continue;
                    };
                    out.push(TokenKey {
                        module: m.path.clone(),
                        token: token.clone(),
                        key_id: c.key_id.clone(),
                        label: c.label.clone(),
                        der,
                    });
                }
            }
        }
        out
    }

    fn tokens_of(&self, m: &Module) -> Vec<Token> {
        {
            let seen = lock(&m.seen);
            let now = Instant::now();
            let fresh = seen.listed_at.is_some_and(|t| now - t < REFRESH);
            let waiting = seen.retry_at.is_some_and(|t| now < t);
            if fresh || waiting {
                return seen.tokens.clone();
            }
        }
        // Busy signing: the last listing stands; re-initialising now would break the
        // operation.
        let Ok(mut helper) = m.helper.try_lock() else {
            return lock(&m.seen).tokens.clone();
        };
        let result = self.call(m, &mut helper, &Request::List, LIST_TIMEOUT);
        let mut seen = lock(&m.seen);
        match result {
            Ok(Reply::Tokens { tokens }) => {
                seen.tokens = tokens;
                seen.listed_at = Some(Instant::now());
            }
            Ok(Reply::Error { error }) => {
                seen.tokens.clear();
                seen.error = Some(error.to_string());
            }
            Ok(other) => seen.error = Some(format!("unexpected answer {other:?}")),
            Err(_) => seen.tokens.clear(),
        }
        seen.tokens.clone()
    }

    /// One call to `m`'s helper, started if needed. A helper that fails is dropped (the next
    /// call starts a new one) and its error is kept for `/v1/info`.
    fn call(
        &self,
        m: &Module,
        helper: &mut Option<Helper>,
        request: &Request,
        timeout: Duration,
    ) -> Result<Reply, TokenError> {
        if helper.is_none() {
            match Helper::spawn(&self.helper_exe, &m.path) {
                Ok(h) => {
                    let mut seen = lock(&m.seen);
                    seen.library = Some(h.library.clone());
                    seen.error = None;
                    seen.retry_at = None;
                    *helper = Some(h);
                }
                Err(e) => {
                    tracing::warn!(module = %m.path.display(), error = %e, "PKCS#11 module unavailable");
                    let mut seen = lock(&m.seen);
                    seen.error = Some(e.to_string());
                    seen.retry_at = Some(Instant::now() + RETRY_FAILED);
                    return Err(e);
                }
            }
        }
        let h = helper.as_mut().expect("started above");
        match h.call(request, timeout) {
            Ok(reply) => Ok(reply),
            Err(e) => {
                tracing::warn!(module = %m.path.display(), error = %e, "PKCS#11 helper failed");
                *helper = None;
                lock(&m.seen).error = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Sign `data` on the token: log in with `pin`, sign, log out.
    pub fn sign(
        &self,
        key: &TokenRef,
        pin: &Zeroizing<String>,
        mechanism: Mechanism,
        data: &[u8],
    ) -> Result<Vec<u8>, TokenError> {
        let m = self
            .modules
            .iter()
            .find(|m| m.path == key.module)
            .ok_or_else(|| TokenError::TokenAbsent {
                serial: key.serial.clone(),
            })?;
        let request = Request::Sign {
            serial: key.serial.clone(),
            key_id: key.key_id.clone(),
            pin: pin.clone(),
            mechanism,
            data: base64::engine::general_purpose::STANDARD.encode(data),
        };
        let result = {
            let mut helper = lock(&m.helper);
            self.call(m, &mut helper, &request, SIGN_TIMEOUT)
        };
        // The PIN flags may have changed: list afresh next time.
        lock(&m.seen).listed_at = None;
        match result? {
            Reply::Signature { signature } => base64::engine::general_purpose::STANDARD
                .decode(signature)
                .map_err(|e| TokenError::Failed {
                    message: e.to_string(),
                }),
            Reply::Error { error } => Err(error),
            other => Err(TokenError::Failed {
                message: format!("unexpected answer {other:?}"),
            }),
        }
    }

    /// Each module's state, for `/v1/info`.
    pub fn status(&self) -> Vec<ModuleStatus> {
        self.modules
            .iter()
            .map(|m| {
                let seen = lock(&m.seen);
                let state = if seen.error.is_some() {
                    "failed"
                } else if seen.library.is_some() {
                    "ready"
                } else {
                    "not_started"
                };
                ModuleStatus {
                    module: m.path.display().to_string(),
                    state,
                    library: seen.library.clone(),
                    error: seen.error.clone(),
                    tokens: seen.tokens.len(),
                }
            })
            .collect()
    }

    /// The process id of a module's running helper (tests stop it to show the agent copes).
    pub fn helper_pid(&self, module: &Path) -> Option<u32> {
        let m = self.modules.iter().find(|m| m.path == module)?;
        let helper = m.helper.try_lock().ok()?;
        helper.as_ref().map(Helper::id)
    }
}

/// Where a token container's key is.
#[derive(Debug, Clone)]
pub struct TokenRef {
    pub module: PathBuf,
    pub serial: String,
    pub key_id: String,
    pub pin: PinFlags,
}

/// The DER DigestInfo prefix of each hash: CKM_RSA_PKCS signs DigestInfo ‖ hash. RSA never
/// signs GOST 34.311 (`cms::sign` refuses the pairing), so it has none.
fn digest_info_prefix(digest: Digest) -> Option<&'static [u8]> {
    Some(match digest {
        Digest::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        Digest::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        Digest::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
        Digest::Gost34311 => return None,
    })
}

/// PKCS#11 ECDSA answers r ‖ s; CMS wants a DER ECDSA-Sig-Value.
fn ecdsa_der(raw: &[u8]) -> Result<Vec<u8>, certs::Error> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return Err(certs::Error::Crypto(format!(
            "an ECDSA signature of {} bytes from the token",
            raw.len()
        )));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let sig = openssl::ecdsa::EcdsaSig::from_private_components(
        openssl::bn::BigNum::from_slice(r)?,
        openssl::bn::BigNum::from_slice(s)?,
    )?;
    Ok(sig.to_der()?)
}

/// A [`RawSigner`] whose key is on a token. The CMS code sees only `certs::Error`; the typed
/// token failure (wrong PIN, blocked PIN, token gone) is kept here for the agent to report.
pub struct TokenSigner {
    pub tokens: Arc<Tokens>,
    pub key: TokenRef,
    pub kind: KeyKind,
    pub pin: Zeroizing<String>,
    pub failure: Mutex<Option<TokenError>>,
}

impl RawSigner for TokenSigner {
    fn key_kind(&self) -> KeyKind {
        self.kind
    }

    fn sign(&self, digest: Digest, message: &[u8]) -> Result<Vec<u8>, certs::Error> {
        let hash = digest.hash(message);
        let (mechanism, data) = match self.kind {
            KeyKind::Ec => (Mechanism::Ecdsa, hash),
            KeyKind::Rsa => {
                let prefix = digest_info_prefix(digest).ok_or_else(|| {
                    certs::Error::Crypto(format!("RSA does not sign {} digests", digest.name()))
                })?;
                (Mechanism::RsaPkcs, [prefix, &hash].concat())
            }
            // DSTU 4145 tokens (IIT Almaz, Kristall) come with the next issue's containers.
            KeyKind::Dstu => {
                return Err(certs::Error::Crypto(
                    "DSTU 4145 keys on tokens are not supported yet".into(),
                ))
            }
        };
        match self.tokens.sign(&self.key, &self.pin, mechanism, &data) {
            Ok(raw) if self.kind == KeyKind::Ec => ecdsa_der(&raw),
            Ok(raw) => Ok(raw),
            Err(e) => {
                let message = e.to_string();
                *lock(&self.failure) = Some(e);
                Err(certs::Error::Crypto(message))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_info_prefixes_announce_their_hash_length() {
        for d in [Digest::Sha256, Digest::Sha384, Digest::Sha512] {
            let p = digest_info_prefix(d).unwrap();
            assert_eq!(*p.last().unwrap() as usize, d.output_len());
            // The outer SEQUENCE covers the rest of the prefix and the hash.
            assert_eq!(p[1] as usize, p.len() - 2 + d.output_len());
        }
    }

    #[test]
    fn ecdsa_r_s_becomes_der_and_odd_lengths_are_refused() {
        let der = ecdsa_der(&[1u8; 64]).unwrap();
        let sig = openssl::ecdsa::EcdsaSig::from_der(&der).unwrap();
        assert_eq!(sig.r().to_vec(), vec![1u8; 32]);
        assert!(ecdsa_der(&[1u8; 63]).is_err());
        assert!(ecdsa_der(&[]).is_err());
    }
}
