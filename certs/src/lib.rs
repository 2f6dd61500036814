//! Brama's shared knowledge of certificates.
//!
//! - [`Identity`]: who a real qualified certificate names (Ukrainian, eIDAS, Russian profiles).
//! - [`QualifiedStatus`] and [`Purpose`]: qualified or not; signing or key agreement.
//! - [`CertificateSummary`]: what a user or an operator is shown about one certificate.
//! - [`load`]: certificates and keys from PEM, DER, PKCS#7 bundles and PKCS#12 files.
//! - [`statement`] and [`cms`]: the login statement and the CAdES-BES SignedData around it.
//! - [`dstu`]: DSTU 4145 keys and signatures with GOST 34.311 hashes (Ukrainian КЕП).
//! - [`devpki`]: a complete development PKI with every case the gateway must refuse.

#![deny(missing_docs)]

pub mod certificate;
pub mod cms;
pub mod der;
#[cfg(feature = "devpki")]
pub mod devpki;
pub mod document;
pub mod dstu;
pub mod identity;
pub mod jks;
pub mod keystore;
pub mod load;
pub mod names;
pub mod oids;
pub mod path;
pub mod qualified;
pub mod revocation;
pub mod signature;
pub mod statement;

pub use certificate::CertificateSummary;

/// SHA-256 of `data` through OpenSSL's low-level hasher. Why not `openssl::sha::sha256`:
/// with OpenSSL 3 that one-shot call fetches the algorithm by name each time, which costs more
/// than hashing a cookie or a certificate (docs/performance.md).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h = openssl::sha::Sha256::new();
    h.update(data);
    h.finish()
}

/// Lower-case hex of `bytes` (ids, digests, fingerprints); one allocation, no formatting
/// machinery — it runs on the gateway's per-request path.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}
pub use identity::{IdKind, Identifier, Identity, Organisation, SubjectKind};
pub use qualified::{Purpose, QcType, QualifiedStatus};

use std::path::PathBuf;

/// Everything that can go wrong in this crate. [`Error::code`] is a stable machine-readable code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("malformed certificate: {0}")]
    /// Not a well-formed certificate, CMS structure or key file.
    Malformed(String),
    #[error("the password does not open {0}")]
    /// The password is wrong for this container.
    WrongPassword(String),
    #[error("{0} needs a password")]
    /// The container is encrypted and no password was given.
    PasswordRequired(String),
    #[error("{0}: not a certificate, PKCS#7 bundle or PKCS#12 file that Brama can read")]
    /// A file in none of the formats Brama reads.
    UnsupportedFile(String),
    #[error("{path}: {source}")]
    /// A file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    #[error("{0} already holds a PKI; pass --force to replace it")]
    /// `brama-certs init` would overwrite a PKI.
    AlreadyExists(PathBuf),
    #[error("cryptography failed: {0}")]
    /// OpenSSL refused an operation.
    Crypto(String),
}

impl Error {
    pub(crate) fn malformed(message: impl Into<String>) -> Error {
        Error::Malformed(message.into())
    }

    /// Prefix a malformed-input message with where it was found.
    pub(crate) fn within(self, place: &str) -> Error {
        match self {
            Error::Malformed(m) => Error::Malformed(format!("{place}: {m}")),
            other => other,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// A stable code for APIs and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "malformed_certificate",
            Error::WrongPassword(_) => "wrong_password",
            Error::PasswordRequired(_) => "password_required",
            Error::UnsupportedFile(_) => "unsupported_file",
            Error::Io { .. } => "io_error",
            Error::AlreadyExists(_) => "already_exists",
            Error::Crypto(_) => "crypto_error",
        }
    }
}

impl From<openssl::error::ErrorStack> for Error {
    fn from(e: openssl::error::ErrorStack) -> Error {
        Error::Crypto(e.to_string())
    }
}

/// Parse one DER certificate, refusing trailing bytes. Never panics on hostile input.
pub fn parse(der: &[u8]) -> Result<x509_parser::certificate::X509Certificate<'_>, Error> {
    let (rest, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| Error::malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(Error::malformed("trailing bytes after the certificate"));
    }
    Ok(cert)
}

/// A file of the repository's `fixtures/` folder, for unit tests.
#[cfg(test)]
pub(crate) fn fixture(path: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
