//! The development PKI: `brama-certs init --out DIR`.
//!
//! One run writes a root CA, a qualified issuing CA, an OCSP responder, a CRL, an `index.txt`
//! for `openssl ocsp`, citizens and an organisation representative with Ukrainian-profile
//! qualified certificates, and one certificate for each reason the gateway must refuse a
//! login. Every key is also written as a password-protected PKCS#12 and an encrypted PKCS#8
//! PEM. `manifest.json` says what each file is for and what verifying it must give.
//!
//! The PKI is generated in a temporary folder beside `DIR` and moved into place at the end,
//! so a failed run never leaves half a PKI, and an existing one is replaced only with `force`.
#![allow(missing_docs)] // a development tool behind the `devpki` feature; manifest.json documents its output

mod cases;
pub mod crl;
pub mod dstu;
pub mod ext;
pub mod keys;
mod profile;

use std::path::{Path, PathBuf};

use openssl::pkcs12::Pkcs12;
use openssl::stack::Stack;
use openssl::symm::Cipher;
use openssl::x509::X509;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

pub use keys::{DevKey, KeyType};
pub use profile::rnokpp_with_check_digit;

use crate::Error;

/// Defaults for where the dev PKI's certificates say revocation information lives.
pub const DEFAULT_OCSP_URL: &str = "http://127.0.0.1:2560/";
pub const DEFAULT_CRL_URL: &str = "http://127.0.0.1:2561/ica.crl";

#[derive(Debug, Clone)]
pub struct Options {
    pub out: PathBuf,
    /// Replace an existing PKI in `out`.
    pub force: bool,
    pub ocsp_url: String,
    pub crl_url: String,
    /// One password for every key; `None` gives each key its own random password.
    pub password: Option<String>,
    /// Extra valid P-256 citizens (`bulk-0001` …) beyond the fixed cases.
    pub bulk: usize,
}

impl Options {
    pub fn new(out: impl Into<PathBuf>) -> Options {
        Options {
            out: out.into(),
            force: false,
            ocsp_url: DEFAULT_OCSP_URL.into(),
            crl_url: DEFAULT_CRL_URL.into(),
            password: None,
            bulk: 0,
        }
    }
}

/// `manifest.json`: every file, what it is for, the expected verification outcome, passwords.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub created: String,
    pub ocsp_url: String,
    pub crl_url: String,
    /// The files a test or a gateway configuration needs, by role.
    pub trust: TrustFiles,
    /// CA and responder certificates with their keys.
    pub authorities: Vec<Entry>,
    /// End-entity certificates: the valid ones and one per refusal reason.
    pub certificates: Vec<Entry>,
    /// The DSTU 4145 side (`dstu/`): its authorities, its citizens, one twin of each refusal
    /// case, and the mixed chains. DSTU keys are `.dat` key stores (PKCS#8 under PBES2 with
    /// GOST 28147 and HMAC-GOST 34.311, the manifest's password); ECDSA keys here have PKCS#12.
    #[serde(default)]
    pub dstu: Vec<Entry>,
    /// Every file written, with what it is for.
    pub files: Vec<FileNote>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrustFiles {
    /// Trust anchor (self-signed root), PEM.
    pub root: String,
    /// Qualified issuing CA, PEM.
    pub issuing_ca: String,
    /// Issuing CA then root, PEM: the `-CAfile` for `openssl cms -verify`.
    pub chain: String,
    pub ocsp_responder: String,
    /// The OCSP responder's key, unencrypted so `openssl ocsp -rkey` can load it.
    pub ocsp_key: String,
    pub crl: String,
    pub crl_der: String,
    /// The delta CRL (FreshestCRL of the leaves), PEM and DER.
    #[serde(default)]
    pub delta_crl: String,
    #[serde(default)]
    pub delta_crl_der: String,
    /// `openssl ocsp -index` database.
    pub index: String,
    pub untrusted_root: String,
    pub untrusted_ca: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub description: String,
    /// The verification outcome code: `valid`, or the gateway's refusal code.
    pub expected: String,
    pub key_type: String,
    /// Certificate, PEM and DER.
    pub certificate: String,
    pub certificate_der: String,
    /// Encrypted PKCS#8 PEM private key.
    pub key: String,
    pub pkcs12: Option<String>,
    pub password: String,
    pub serial: String,
    pub subject: String,
    /// Which authority issued it (`issuing_ca`, `untrusted_ca`, `root`, or itself).
    pub issuer: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileNote {
    pub path: String,
    pub description: String,
}

impl Manifest {
    pub fn load(dir: &Path) -> Result<Manifest, Error> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::Malformed(format!("{}: {e}", path.display())))
    }

    /// A DSTU entry's key (opened from its `.dat` store with the manifest's password) and its
    /// certificate, DER; `dir` is the PKI's folder.
    pub fn dstu_key(
        &self,
        dir: &Path,
        name: &str,
    ) -> Result<(crate::dstu::SecretKey, Vec<u8>), Error> {
        let e = self
            .certificate(name)
            .ok_or_else(|| Error::Malformed(format!("no entry named {name}")))?;
        let store = std::fs::read(dir.join(&e.key)).map_err(Error::io(dir.join(&e.key)))?;
        let key = crate::dstu::SecretKey::from_store(&store, e.password.as_bytes())
            .map_err(|err| Error::Malformed(err.to_string()))?;
        let cert = dir.join(&e.certificate_der);
        Ok((key, std::fs::read(&cert).map_err(Error::io(cert))?))
    }

    pub fn certificate(&self, name: &str) -> Option<&Entry> {
        self.certificates
            .iter()
            .chain(&self.authorities)
            .chain(&self.dstu)
            .find(|e| e.name == name)
    }
}

/// Generate the PKI into `opts.out`. Refuses to replace an existing, non-empty folder unless
/// `opts.force`.
pub fn init(opts: &Options) -> Result<Manifest, Error> {
    let out = &opts.out;
    let occupied = out.exists()
        && std::fs::read_dir(out)
            .map_err(Error::io(out))?
            .next()
            .is_some();
    if occupied && !opts.force {
        return Err(Error::AlreadyExists(out.clone()));
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
    let stem = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staging = parent.join(format!(".{stem}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir(&staging).map_err(Error::io(&staging))?;

    let result = profile::generate(opts, &staging).and_then(|manifest| {
        let json = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
        write(&staging, "manifest.json", json.as_bytes())?;
        Ok(manifest)
    });
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if out.exists() {
        let old = parent.join(format!(".{stem}.old-{}", std::process::id()));
        std::fs::rename(out, &old).map_err(Error::io(out))?;
        std::fs::rename(&staging, out).map_err(Error::io(out))?;
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(&staging, out).map_err(Error::io(out))?;
    }
    Ok(manifest)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(Error::io(&path))
}

/// Write a key pair's files (cert PEM + DER, encrypted PKCS#8, PKCS#12 with `ca_chain`).
pub(crate) fn write_key_files(
    dir: &Path,
    name: &str,
    cert_der: &[u8],
    key: &DevKey,
    password: &str,
    ca_chain: &[&[u8]],
) -> Result<(String, String, String, String), Error> {
    let cert = X509::from_der(cert_der)?;
    let (pem, der, key_file, p12_file) = (
        format!("{name}.pem"),
        format!("{name}.cer"),
        format!("{name}.key.pem"),
        format!("{name}.p12"),
    );
    write(dir, &pem, &cert.to_pem()?)?;
    write(dir, &der, cert_der)?;
    let encrypted = key
        .pkey
        .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), password.as_bytes())?;
    write(dir, &key_file, &encrypted)?;
    let mut chain = Stack::new()?;
    for ca in ca_chain {
        chain.push(X509::from_der(ca)?)?;
    }
    // Certificates unencrypted (`-certpbe NONE`), as many real PKCS#12 files keep them, so the
    // agent can list a container without its password; the key stays encrypted.
    let p12 = Pkcs12::builder()
        .name(name)
        .pkey(&key.pkey)
        .cert(&cert)
        .ca(chain)
        .cert_algorithm(openssl::nid::Nid::from_raw(-1))
        .build2(password)?;
    write(dir, &p12_file, &p12.to_der()?)?;
    Ok((pem, der, key_file, p12_file))
}

pub(crate) fn now() -> OffsetDateTime {
    // Whole seconds: certificate times have no fractions, and equal values compare cleanly.
    let t = OffsetDateTime::now_utc();
    t - Duration::nanoseconds(t.nanosecond() as i64)
}
