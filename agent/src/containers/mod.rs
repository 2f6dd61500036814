//! Key containers: files in the container folders in every format [`certs::keystore`] reads
//! (PKCS#12 under OpenSSL's or the Ukrainian algorithms, IIT's `Key-6.dat` in both layouts,
//! encrypted PKCS#8 PEM keys, Java KeyStores), and the certificates on hardware tokens
//! ([`token_containers`]).
//!
//! Listing never needs a password. A key's certificate is found ([`pairing`]) in the
//! container, beside it in its folder, in the agent's certificate folder
//! (`brama-agent import-cert`), or — for a store that shows nothing without its password — in
//! what the agent remembered at its first unlock ([`memory`]). The folders are read on every
//! listing, so a USB stick inserted or removed shows up at once.

pub mod memory;
pub mod pairing;

use std::path::{Path, PathBuf};

use certs::keystore::{self, Format};
use certs::{CertificateSummary, Purpose};
use serde::Serialize;

use crate::tokens::{TokenKey, TokenRef};

/// What holds the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// PKCS#12 under OpenSSL's algorithms.
    Pkcs12,
    /// PKCS#12 under the Ukrainian algorithms (Diia, IIT).
    Pkcs12Gost,
    /// An encrypted PKCS#8 key: IIT's `Key-6.dat` or a `.key.pem`.
    EncryptedPkcs8,
    /// IIT's older `Key-6.dat` layout.
    Iit,
    /// Java KeyStore.
    Jks,
    /// A hardware token through PKCS#11: `path` is the module.
    Token,
}

impl Kind {
    fn of(format: Format) -> Kind {
        match format {
            Format::Pkcs12 => Kind::Pkcs12,
            Format::Pkcs12Gost => Kind::Pkcs12Gost,
            Format::EncryptedPkcs8 => Kind::EncryptedPkcs8,
            Format::Iit => Kind::Iit,
            Format::Jks => Kind::Jks,
        }
    }

    /// The store format of a file container.
    pub fn format(self) -> Option<Format> {
        Some(match self {
            Kind::Pkcs12 => Format::Pkcs12,
            Kind::Pkcs12Gost => Format::Pkcs12Gost,
            Kind::EncryptedPkcs8 => Format::EncryptedPkcs8,
            Kind::Iit => Format::Iit,
            Kind::Jks => Format::Jks,
            Kind::Token => return None,
        })
    }
}

/// Whether the agent knows a container's certificates before it is unlocked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Pairing {
    /// Its certificates are known (listed).
    Paired,
    /// The store shows nothing without its password: the holder is known after the first
    /// unlock.
    Hidden,
    /// A key without a certificate anywhere the agent looked.
    NoCertificate {
        /// The places searched, for the message.
        looked_in: Vec<String>,
    },
}

/// A key container.
#[derive(Debug, Clone)]
pub struct Container {
    /// Stable id: derived from the file (or the token certificate).
    pub id: String,
    pub label: String,
    pub medium: String,
    pub kind: Kind,
    pub path: PathBuf,
    /// End-entity certificates of the container's keys (DER).
    pub certificates: Vec<Vec<u8>>,
    /// CA certificates that came with the container (DER).
    pub chain: Vec<Vec<u8>>,
    pub pairing: Pairing,
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
    /// A service's certificate (OCSP responder, time-stamping): never a person's key, never
    /// offered, not shown on a login page.
    pub service: bool,
}

/// id-kp-timeStamping and id-kp-OCSPSigning.
const SERVICE_EKUS: [&str; 2] = ["1.3.6.1.5.5.7.3.8", "1.3.6.1.5.5.7.3.9"];

fn is_service(der: &[u8]) -> bool {
    certs::parse(der).is_ok_and(|c| {
        c.extended_key_usage().ok().flatten().is_some_and(|eku| {
            let e = &eku.value;
            e.time_stamping
                || e.ocsp_signing
                || e.other
                    .iter()
                    .any(|o| SERVICE_EKUS.contains(&certs::oids::dotted(o).as_str()))
        })
    })
}

impl CertificateView {
    pub fn of(der: &[u8]) -> Option<CertificateView> {
        let summary = CertificateSummary::from_der(der).ok()?;
        let service = is_service(der);
        Some(CertificateView {
            id: summary.sha256.clone(),
            name: summary.identity.display_name(),
            qualified_esign: summary.qualified.is_qualified_esign(),
            can_sign: summary.purpose.can_sign() && !service,
            service,
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

    /// The certificate a request names, or the only signing certificate when it names none;
    /// `None` while the container hides its keys (the choice is made once it is unlocked).
    pub fn signing_certificate(
        &self,
        id: Option<&str>,
    ) -> Result<Option<Vec<u8>>, crate::ApiError> {
        // Without a known certificate the key is opened first and paired then (a certificate
        // imported since the last try is found at that point).
        if self.pairing != Pairing::Paired && self.certificates.is_empty() {
            return Ok(None);
        }
        let views = self.views();
        choose(&views, id).map(|i| Some(self.certificates[i].clone()))
    }

    /// The medium as a person names it: `file`, `token` or `removable` (a disk); pages show
    /// this, never a path.
    pub fn medium_type(&self) -> &'static str {
        if self.token.is_some() {
            "token"
        } else if self.medium.starts_with("removable: ") {
            "removable"
        } else {
            "file"
        }
    }

    /// The token's label or the removable disk's name; none for a file.
    pub fn medium_name(&self) -> Option<String> {
        match self.medium_type() {
            "token" => Some(self.label.clone()),
            "removable" => {
                let rest = self.medium.trim_start_matches("removable: ");
                Some(rest.split('/').next().unwrap_or(rest).to_string())
            }
            _ => None,
        }
    }

    /// Whether the container's key may be a DSTU 4145 key (a document for it is also hashed
    /// with GOST 34.311).
    pub fn may_be_dstu(&self) -> bool {
        matches!(
            self.kind,
            Kind::Pkcs12Gost | Kind::Iit | Kind::EncryptedPkcs8
        ) || self.certificates.is_empty()
            || self.certificates.iter().any(|c| is_dstu(c))
    }
}

/// The index among `views` that `id` names, or the only signing one; with several and no
/// `id`, [`ChooseCertificate`](crate::ApiError::ChooseCertificate): the approval page asks.
pub fn choose(views: &[CertificateView], id: Option<&str>) -> Result<usize, crate::ApiError> {
    let chosen = match id {
        Some(id) => views.iter().position(|v| v.id.eq_ignore_ascii_case(id)),
        None => {
            let signing: Vec<usize> = (0..views.len()).filter(|i| views[*i].can_sign).collect();
            // Certificates, but none for signing (key agreement, a service's): say so.
            if signing.is_empty() && !views.is_empty() {
                return Err(crate::ApiError::NotForSigning);
            }
            if signing.len() > 1 {
                return Err(crate::ApiError::ChooseCertificate);
            }
            signing.first().copied()
        }
    };
    let i = chosen.ok_or(crate::ApiError::UnknownCertificate)?;
    if !views[i].can_sign {
        return Err(crate::ApiError::NotForSigning);
    }
    Ok(i)
}

fn is_dstu(der: &[u8]) -> bool {
    certs::parse(der).is_ok_and(|c| {
        certs::dstu::is_dstu_oid(&certs::oids::dotted(&c.public_key().algorithm.algorithm))
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    certs::hex(&openssl::sha::sha256(bytes))
}

pub(crate) fn is_ca(der: &[u8]) -> bool {
    certs::parse(der)
        .ok()
        .and_then(|c| Purpose::read(&c).ok())
        .is_some_and(|p| p == Purpose::CertificateAuthority)
}

/// Where the agent looks for containers and certificates.
#[derive(Debug, Clone)]
pub struct Places {
    /// Container folders with the medium each is shown as.
    pub roots: Vec<(PathBuf, String)>,
    /// The agent's certificate folder (`import-cert`, and certificates learnt at unlock).
    pub certificates: PathBuf,
    /// What the agent remembered about stores that hide their keys.
    pub memory: PathBuf,
}

impl Places {
    pub fn new(roots: Vec<(PathBuf, String)>, data_dir: &Path) -> Places {
        Places {
            roots,
            certificates: data_dir.join("certificates"),
            memory: data_dir.join("pairings.json"),
        }
    }
}

/// File names that are never key stores (certificates, notes) are skipped without reading.
fn may_be_store(path: &Path) -> bool {
    let lower = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    [
        ".p12", ".pfx", ".dat", ".jks", ".key", ".key.pem", ".pk8", ".zs2",
    ]
    .iter()
    .any(|e| lower.ends_with(e))
}

/// A store's label: its file name without the extension (`Key-6`, `test-diia`).
fn label_of(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    for ext in [
        ".key.pem", ".p12", ".pfx", ".dat", ".jks", ".key", ".pk8", ".zs2",
    ] {
        if lower.ends_with(ext) {
            return name[..name.len() - ext.len()].to_string();
        }
    }
    name
}

fn read_container(path: &Path, medium: &str, places: &Places) -> Option<Container> {
    if !may_be_store(path) {
        return None;
    }
    let bytes = zeroize::Zeroizing::new(std::fs::read(path).ok()?);
    let format = keystore::detect(&bytes)?;
    let label = label_of(path);
    let visible = keystore::visible(format, &bytes);
    let paired = pairing::at_listing(path, &bytes, format, visible, places);
    Some(Container {
        id: format!("c-{}", &sha256_hex(&bytes)[..20]),
        label,
        medium: medium.to_string(),
        kind: Kind::of(format),
        path: path.to_path_buf(),
        certificates: paired.certificates,
        chain: paired.chain,
        pairing: paired.pairing,
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
                certificates: vec![k.der],
                chain,
                pairing: Pairing::Paired,
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

/// Every container in the places' folders, one per id, in a stable order. The same key in two
/// files (`name.p12` and `name.key.pem` of one certificate) is listed once, from the first
/// file: a person should not have to choose between two identical entries.
pub fn scan(places: &Places) -> Vec<Container> {
    let mut out: Vec<Container> = Vec::new();
    for (dir, medium) in &places.roots {
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
            if let Some(c) = read_container(&p, medium, places) {
                let same_key = |o: &Container| {
                    o.id == c.id || (!c.certificates.is_empty() && o.certificates == c.certificates)
                };
                if !out.iter().any(same_key) {
                    out.push(c);
                }
            }
        }
    }
    out
}

pub fn find(places: &Places, id: &str) -> Option<Container> {
    scan(places).into_iter().find(|c| c.id == id)
}
