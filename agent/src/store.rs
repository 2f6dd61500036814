//! Key containers found in folders: PKCS#12 (`.p12`, `.pfx`) and encrypted PKCS#8 PEM keys
//! with their certificate beside them (`name.key.pem` + `name.pem`/`.cer`/`.crt`); and the
//! certificates on hardware tokens ([`token_containers`]).
//!
//! Listing never needs a password: certificates come from unencrypted PKCS#12 bags or from a
//! certificate file beside the container. The folders are read on every listing, so a USB
//! stick inserted or removed shows up at once.

use std::path::{Path, PathBuf};

use certs::{load, CertificateSummary, Purpose};

use crate::tokens::{TokenKey, TokenRef};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Pkcs12,
    Pem,
    /// A hardware token through PKCS#11: `path` is the module.
    Token,
}

/// A key container on disk.
#[derive(Debug, Clone)]
pub struct Container {
    /// Stable id: derived from the certificates (or the file when they are unreadable).
    pub id: String,
    pub label: String,
    pub medium: String,
    pub kind: Kind,
    pub path: PathBuf,
    /// The certificate file beside a PEM key.
    pub certificate_path: Option<PathBuf>,
    /// End-entity certificates (DER) readable without the password.
    pub certificates: Vec<Vec<u8>>,
    /// CA certificates that came with the container (DER).
    pub chain: Vec<Vec<u8>>,
    /// Where the key is when the container is a token.
    pub token: Option<TokenRef>,
}

/// What the API shows of one certificate.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateView {
    /// SHA-256 of the DER certificate: the id `authenticate` and `sign` take.
    pub id: String,
    pub name: String,
    #[serde(flatten)]
    pub summary: CertificateSummary,
    /// Qualified for a person's signature.
    pub qualified_esign: bool,
    /// Offered for signing: a signing key usage. Key-agreement certificates never are.
    pub can_sign: bool,
}

impl CertificateView {
    pub fn of(der: &[u8]) -> Option<CertificateView> {
        let summary = CertificateSummary::from_der(der).ok()?;
        Some(CertificateView {
            id: summary.sha256.clone(),
            name: summary.identity.display_name(),
            qualified_esign: summary.qualified.is_qualified_esign(),
            can_sign: summary.purpose.can_sign(),
            summary,
        })
    }
}

impl Container {
    pub fn views(&self) -> Vec<CertificateView> {
        self.certificates
            .iter()
            .filter_map(|c| CertificateView::of(c))
            .collect()
    }

    /// The certificate a request names, or the only signing certificate when it names none.
    pub fn signing_certificate(&self, id: Option<&str>) -> Result<Vec<u8>, crate::ApiError> {
        let views = self.views();
        let chosen = match id {
            Some(id) => views.iter().position(|v| v.id.eq_ignore_ascii_case(id)),
            None => {
                let signing: Vec<usize> = (0..views.len()).filter(|i| views[*i].can_sign).collect();
                if signing.len() == 1 {
                    Some(signing[0])
                } else {
                    None
                }
            }
        };
        let i = chosen.ok_or(crate::ApiError::UnknownCertificate)?;
        if !views[i].can_sign {
            return Err(crate::ApiError::NotForSigning);
        }
        Ok(self.certificates[i].clone())
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    certs::hex(&openssl::sha::sha256(bytes))
}

fn is_ca(der: &[u8]) -> bool {
    certs::parse(der)
        .ok()
        .and_then(|c| Purpose::read(&c).ok())
        .is_some_and(|p| p == Purpose::CertificateAuthority)
}

/// Split certificates into end-entity ones and CAs.
fn split(certs: Vec<Vec<u8>>) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    certs.into_iter().partition(|c| !is_ca(c))
}

/// Certificates from a file beside `path` with the same stem.
fn sidecar(stem_path: &Path) -> Option<(PathBuf, Vec<Vec<u8>>)> {
    for ext in ["pem", "cer", "crt"] {
        let p = stem_path.with_extension(ext);
        if let Ok(bytes) = std::fs::read(&p) {
            if let Ok(certs) = load::certificates(&bytes, &p.display().to_string(), None) {
                return Some((p, certs));
            }
        }
    }
    None
}

fn read_container(path: &Path, medium: &str) -> Option<Container> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let lower = name.to_ascii_lowercase();
    let bytes = std::fs::read(path).ok()?;
    let (kind, label, certificate_path, all) = if lower.ends_with(".p12") || lower.ends_with(".pfx")
    {
        let stem = &name[..name.len() - 4];
        let mut certs = load::pkcs12_public_certificates(&bytes).unwrap_or_default();
        let mut cert_path = None;
        if certs.is_empty() {
            if let Some((p, c)) = sidecar(&path.with_file_name(stem)) {
                cert_path = Some(p);
                certs = c;
            }
        }
        (Kind::Pkcs12, stem.to_string(), cert_path, certs)
    } else if lower.ends_with(".key.pem") || lower.ends_with(".key") {
        // Only encrypted keys: a key in the clear is not a container Brama will use.
        if !String::from_utf8_lossy(&bytes).contains("BEGIN ENCRYPTED PRIVATE KEY") {
            return None;
        }
        let stem = name
            .trim_end_matches(".pem")
            .trim_end_matches(".key")
            .to_string();
        let (p, certs) = sidecar(&path.with_file_name(&stem))?;
        (Kind::Pem, stem, Some(p), certs)
    } else {
        return None;
    };
    let (certificates, chain) = split(all);
    let id_source = certificates.first().map(Vec::as_slice).unwrap_or(&bytes);
    Some(Container {
        id: format!("c-{}", &sha256_hex(id_source)[..20]),
        label,
        medium: medium.to_string(),
        kind,
        path: path.to_path_buf(),
        certificate_path,
        certificates,
        chain,
        token: None,
    })
}

/// One container per signing certificate on a token; the token's CA certificates are its
/// chain. Ids start with `t-` so a certificate both on a token and in a file is two choices.
pub fn token_containers(keys: Vec<TokenKey>) -> Vec<Container> {
    let (cas, leaves): (Vec<TokenKey>, Vec<TokenKey>) =
        keys.into_iter().partition(|k| is_ca(&k.der));
    leaves
        .into_iter()
        .map(|k| {
            let t = &k.token;
            let chain = cas
                .iter()
                .filter(|c| c.module == k.module && c.token.serial == t.serial)
                .map(|c| c.der.clone())
                .collect();
            let label = if k.label.is_empty() {
                t.label.clone()
            } else {
                k.label.clone()
            };
            Container {
                id: format!("t-{}", &sha256_hex(&k.der)[..20]),
                label,
                medium: format!("token: {} {} {}", t.manufacturer, t.model, t.serial),
                kind: Kind::Token,
                path: k.module.clone(),
                certificate_path: None,
                certificates: vec![k.der],
                chain,
                token: Some(TokenRef {
                    module: k.module,
                    serial: t.serial.clone(),
                    key_id: k.key_id,
                    pin: t.pin,
                }),
            }
        })
        .collect()
}

/// Every container in `roots` (folder, medium), one per id, in a stable order.
pub fn scan(roots: &[(PathBuf, String)]) -> Vec<Container> {
    let mut out: Vec<Container> = Vec::new();
    for (dir, medium) in roots {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        for p in paths {
            if let Some(c) = read_container(&p, medium) {
                if !out.iter().any(|o| o.id == c.id) {
                    out.push(c);
                }
            }
        }
    }
    out
}

pub fn find(roots: &[(PathBuf, String)], id: &str) -> Option<Container> {
    scan(roots).into_iter().find(|c| c.id == id)
}
