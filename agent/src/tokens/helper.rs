//! The PKCS#11 helper: `brama-agent pkcs11-helper MODULE`, a child process of the agent that
//! loads one vendor module and answers [`Request`]s on its standard input.
//!
//! Vendor modules are closed code running in our address space; a crash, a hang or a stray
//! `printf` in one must not take the agent down or corrupt its answers. So each module lives
//! in its own process, the protocol's output is a private copy of stdout and the module's own
//! stdout goes to stderr, and the agent kills the helper when it stops answering.
//!
//! `BRAMA_PKCS11_HELPER_PAUSE_MS` (tests only) makes the helper wait before each signature so
//! a test can stop it mid-operation.
#![allow(unsafe_code)] // libc: dup/dup2 to keep a private copy of stdout from the vendor module

use std::io::{BufRead, Write};
use std::os::fd::FromRawFd;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism as CkMechanism;
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use super::protocol::{
    login_failure, Mechanism, PinFlags, Reply, Request, Token, TokenCertificate, TokenError,
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Run the helper until the agent closes its standard input.
pub fn run(module: &Path) -> ExitCode {
    let mut out = protocol_output();
    let mut ctx = match open(module) {
        Ok(ctx) => ctx,
        Err(error) => {
            send(&mut out, &Reply::Error { error });
            return ExitCode::from(3);
        }
    };
    let library = ctx
        .get_library_info()
        .map(|i| {
            format!(
                "{} {} {}",
                i.manufacturer_id().trim(),
                i.library_description().trim(),
                i.library_version()
            )
        })
        .unwrap_or_default();
    send(&mut out, &Reply::Ready { library });

    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    loop {
        // A fresh zeroizing buffer per line: a sign request carries the PIN.
        let mut line = Zeroizing::new(String::with_capacity(4096));
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let reply = match serde_json::from_str::<Request>(&line) {
            Err(e) => Reply::Error {
                error: TokenError::Failed {
                    message: format!("unreadable request: {e}"),
                },
            },
            Ok(Request::List) => {
                // Many modules (SoftHSM2 among them) fix the slot list at C_Initialize:
                // re-initialise so tokens added or removed since show up. The agent only
                // asks while the module is idle.
                let _ = ctx.finalize();
                ctx = match open(module) {
                    Ok(c) => c,
                    Err(error) => {
                        send(&mut out, &Reply::Error { error });
                        return ExitCode::from(3);
                    }
                };
                match list(&ctx) {
                    Ok(tokens) => Reply::Tokens { tokens },
                    Err(error) => Reply::Error { error },
                }
            }
            Ok(Request::Sign {
                serial,
                key_id,
                pin,
                mechanism,
                data,
            }) => {
                pause_for_tests();
                match sign(&ctx, &serial, &key_id, &pin, mechanism, &data) {
                    Ok(signature) => Reply::Signature {
                        signature: B64.encode(signature),
                    },
                    Err(error) => Reply::Error { error },
                }
            }
        };
        send(&mut out, &reply);
    }
    let _ = ctx.finalize();
    ExitCode::SUCCESS
}

/// The protocol's own copy of stdout; fd 1 itself is pointed at stderr, so whatever the
/// module prints cannot be mistaken for a reply.
fn protocol_output() -> std::fs::File {
    // SAFETY: dup and dup2 on the process's own standard descriptors; the new descriptor is
    // owned by the returned File alone.
    unsafe {
        let fd = libc::dup(1);
        libc::dup2(2, 1);
        std::fs::File::from_raw_fd(fd)
    }
}

fn send(out: &mut std::fs::File, reply: &Reply) {
    let mut line = serde_json::to_vec(reply).unwrap_or_else(|_| b"{}".to_vec());
    line.push(b'\n');
    // The agent gone: nothing to tell anyone, the next read ends the loop.
    let _ = out.write_all(&line);
}

fn pause_for_tests() {
    if let Some(ms) = std::env::var("BRAMA_PKCS11_HELPER_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

fn failed(e: impl std::fmt::Display) -> TokenError {
    TokenError::Failed {
        message: e.to_string(),
    }
}

fn open(module: &Path) -> Result<Pkcs11, TokenError> {
    let ctx = Pkcs11::new(module).map_err(|e| TokenError::ModuleFailed {
        message: match e {
            CkError::LibraryLoading(e) => format!("not a loadable library: {e}"),
            CkError::MissingSymbol(s) => format!("not a PKCS#11 library (no {s})"),
            other => other.to_string(),
        },
    })?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| TokenError::ModuleFailed {
            message: format!("C_Initialize: {e}"),
        })?;
    Ok(ctx)
}

fn pin_flags(info: &TokenInfo) -> PinFlags {
    PinFlags {
        count_low: info.user_pin_count_low(),
        final_try: info.user_pin_final_try(),
        locked: info.user_pin_locked(),
    }
}

fn list(ctx: &Pkcs11) -> Result<Vec<Token>, TokenError> {
    let mut tokens = Vec::new();
    for slot in ctx.get_slots_with_token().map_err(failed)? {
        // One unreadable token (a card mid-insertion) must not hide the others.
        if let Ok(Some(token)) = read_token(ctx, slot) {
            tokens.push(token);
        }
    }
    Ok(tokens)
}

fn read_token(ctx: &Pkcs11, slot: Slot) -> Result<Option<Token>, CkError> {
    let info = ctx.get_token_info(slot)?;
    if !info.token_initialized() {
        return Ok(None);
    }
    // Certificates are public objects: no login needed to list them. The private keys
    // usually are not (CKA_PRIVATE), so pairing is by CKA_ID and checked when signing.
    let session = ctx.open_ro_session(slot)?;
    let mut certificates = Vec::new();
    for handle in session.find_objects(&[
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
    ])? {
        let attrs = session.get_attributes(
            handle,
            &[
                AttributeType::Value,
                AttributeType::Id,
                AttributeType::Label,
            ],
        )?;
        let (mut der, mut id, mut label) = (Vec::new(), Vec::new(), String::new());
        for a in attrs {
            match a {
                Attribute::Value(v) => der = v,
                Attribute::Id(v) => id = v,
                Attribute::Label(v) => label = String::from_utf8_lossy(&v).into_owned(),
                _ => {}
            }
        }
        if !der.is_empty() {
            certificates.push(TokenCertificate {
                key_id: certs::hex(&id),
                label,
                der: B64.encode(der),
            });
        }
    }
    Ok(Some(Token {
        label: info.label().trim().to_string(),
        manufacturer: info.manufacturer_id().trim().to_string(),
        model: info.model().trim().to_string(),
        serial: info.serial_number().trim().to_string(),
        pin: pin_flags(&info),
        certificates,
    }))
}

fn find_slot(ctx: &Pkcs11, serial: &str) -> Result<(Slot, TokenInfo), TokenError> {
    for slot in ctx.get_slots_with_token().map_err(failed)? {
        if let Ok(info) = ctx.get_token_info(slot) {
            if info.serial_number().trim() == serial {
                return Ok((slot, info));
            }
        }
    }
    Err(TokenError::TokenAbsent {
        serial: serial.to_string(),
    })
}

fn unhex(s: &str) -> Result<Vec<u8>, TokenError> {
    hex::decode(s).map_err(failed)
}

fn sign(
    ctx: &Pkcs11,
    serial: &str,
    key_id: &str,
    pin: &Zeroizing<String>,
    mechanism: Mechanism,
    data: &str,
) -> Result<Vec<u8>, TokenError> {
    let data = B64.decode(data).map_err(failed)?;
    let (slot, info) = find_slot(ctx, serial)?;
    // Never spend a try on a PIN the token already says is blocked.
    if info.user_pin_locked() {
        return Err(TokenError::PinBlocked);
    }
    let session = ctx.open_ro_session(slot).map_err(failed)?;
    let pin = AuthPin::from(pin.as_str());
    match session.login(UserType::User, Some(&pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(CkError::Pkcs11(rv, _)) => {
            let after = ctx
                .get_token_info(slot)
                .map(|i| pin_flags(&i))
                .unwrap_or_default();
            let incorrect = matches!(
                rv,
                RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange
            );
            let error = login_failure(incorrect, rv == RvError::PinLocked, after);
            return Err(match error {
                TokenError::Failed { .. } => failed(format!("C_Login: {rv}")),
                e => e,
            });
        }
        Err(e) => return Err(failed(e)),
    }
    let result = sign_logged_in(&session, key_id, mechanism, &data);
    // The token stays logged in only for this one operation.
    let _ = session.logout();
    result
}

fn sign_logged_in(
    session: &Session,
    key_id: &str,
    mechanism: Mechanism,
    data: &[u8],
) -> Result<Vec<u8>, TokenError> {
    let keys = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(unhex(key_id)?),
        ])
        .map_err(failed)?;
    let key = *keys.first().ok_or_else(|| TokenError::KeyAbsent {
        key_id: key_id.to_string(),
    })?;
    let mechanism = match mechanism {
        Mechanism::Ecdsa => CkMechanism::Ecdsa,
        Mechanism::RsaPkcs => CkMechanism::RsaPkcs,
    };
    session.sign(&mechanism, key, data).map_err(failed)
}
