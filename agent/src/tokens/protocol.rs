//! The pipe protocol between the agent and its PKCS#11 helper: one JSON object per line,
//! requests on the helper's standard input, replies on its standard output.
//!
//! Plain JSON lines keep the helper small and its traffic readable in a debugger; binary
//! values travel as base64, key ids as hex. The PIN crosses the pipe once per signature (an
//! anonymous pipe between two processes of the same user) and is wiped on both sides.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// What the agent asks.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Re-initialise the module (so inserted and removed tokens show) and list every token's
    /// certificates.
    List,
    /// Log in with `pin`, sign `data` with the private key whose CKA_ID is `key_id` on the
    /// token with `serial`, log out.
    Sign {
        serial: String,
        key_id: String,
        pin: Zeroizing<String>,
        mechanism: Mechanism,
        /// base64: the hash (ECDSA) or the DigestInfo (RSA PKCS#1 v1.5).
        data: String,
    },
}

/// The raw signature mechanisms Brama uses: the CMS around them is built by the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    /// CKM_ECDSA over a hash; the token answers r ‖ s.
    Ecdsa,
    /// CKM_RSA_PKCS over a DigestInfo: works for every hash, on every RSA token.
    RsaPkcs,
}

/// What the helper answers.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// First line after start: the module loaded and initialised.
    Ready {
        library: String,
    },
    Tokens {
        tokens: Vec<Token>,
    },
    /// base64 of the raw signature.
    Signature {
        signature: String,
    },
    Error {
        error: TokenError,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Token {
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    pub pin: PinFlags,
    pub certificates: Vec<TokenCertificate>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenCertificate {
    /// CKA_ID, hex: pairs the certificate with its private key.
    pub key_id: String,
    pub label: String,
    /// base64 DER.
    pub der: String,
}

/// The user-PIN state flags of CK_TOKEN_INFO. PKCS#11 has no tries counter; these are all a
/// token tells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinFlags {
    /// CKF_USER_PIN_COUNT_LOW: a wrong PIN was typed since the last good one.
    pub count_low: bool,
    /// CKF_USER_PIN_FINAL_TRY: one more wrong PIN blocks it.
    pub final_try: bool,
    /// CKF_USER_PIN_LOCKED.
    pub locked: bool,
}

/// A failure the agent turns into an API error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum TokenError {
    #[error("the module could not be loaded or initialised: {message}")]
    ModuleFailed { message: String },
    #[error("wrong PIN")]
    WrongPin { pin: PinFlags },
    #[error("the PIN is blocked")]
    PinBlocked,
    #[error("no token with serial {serial}")]
    TokenAbsent { serial: String },
    #[error("the token has no private key with id {key_id}")]
    KeyAbsent { key_id: String },
    #[error("{message}")]
    Failed { message: String },
}

/// Why the last login failed, as far as the return value and the token's flags read after it
/// tell. A wrong PIN on the final try, or a token that reports its PIN locked, is a blocked
/// PIN: the agent must not invite another attempt.
pub fn login_failure(pin_incorrect: bool, pin_locked: bool, after: PinFlags) -> TokenError {
    if pin_locked || after.locked {
        TokenError::PinBlocked
    } else if pin_incorrect {
        TokenError::WrongPin { pin: after }
    } else {
        TokenError::Failed {
            message: "the token refused the login".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_pin_is_blocked_whatever_the_return_value() {
        let locked = PinFlags {
            locked: true,
            ..PinFlags::default()
        };
        // CKR_PIN_LOCKED: the token refused before checking.
        assert_eq!(
            login_failure(false, true, PinFlags::default()),
            TokenError::PinBlocked
        );
        // CKR_PIN_INCORRECT on the final try: the flags read after it say locked.
        assert_eq!(login_failure(true, false, locked), TokenError::PinBlocked);
    }

    #[test]
    fn a_wrong_pin_carries_the_flags_read_after_it() {
        let last = PinFlags {
            count_low: true,
            final_try: true,
            locked: false,
        };
        assert_eq!(
            login_failure(true, false, last),
            TokenError::WrongPin { pin: last }
        );
        assert_eq!(
            login_failure(true, false, PinFlags::default()),
            TokenError::WrongPin {
                pin: PinFlags::default()
            }
        );
    }

    #[test]
    fn a_sign_request_crosses_the_pipe_with_its_pin() {
        let r = Request::Sign {
            serial: "s".into(),
            key_id: "01".into(),
            pin: Zeroizing::new("123456".into()),
            mechanism: Mechanism::Ecdsa,
            data: String::new(),
        };
        let line = serde_json::to_string(&r).unwrap();
        assert!(line.contains("\"op\":\"sign\""), "{line}");
        let back: Request = serde_json::from_str(&line).unwrap();
        assert!(matches!(back, Request::Sign { pin, .. } if pin.as_str() == "123456"));
    }
}
