//! Finding each key's certificate. Ukrainian stores usually hold keys alone: the
//! certificates sit beside the key file, come from the CA, or were imported.
//!
//! A key is paired with a certificate by its PKCS#12 localKeyID = the certificate's
//! subjectKeyIdentifier (what Diia and IIT write), else by comparing public keys; candidates
//! are the container's own certificates, the certificate files in its folder (`*.cer`, `*.crt`,
//! `*.pem`, `*.p7b`, `*.der`) and the agent's certificate folder.

use std::path::{Path, PathBuf};

use certs::keystore::{Format, Opened, Visible};

use super::{is_ca, memory, Pairing, Places};

/// What listing learnt about a container's certificates.
pub struct Paired {
    pub certificates: Vec<Vec<u8>>,
    pub chain: Vec<Vec<u8>>,
    pub pairing: Pairing,
}

/// A certificate's subjectKeyIdentifier.
pub fn subject_key_id(der: &[u8]) -> Option<Vec<u8>> {
    let cert = certs::parse(der).ok()?;
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
}

fn is_certificate_file(path: &Path) -> bool {
    let lower = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    !lower.ends_with(".key.pem")
        && [".cer", ".crt", ".pem", ".p7b", ".der"]
            .iter()
            .any(|e| lower.ends_with(e))
}

/// Every certificate in the certificate files of `dir` (unreadable files are skipped).
pub fn certificates_in(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && is_certificate_file(p))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        // A certificate file is small; anything large is not one.
        if std::fs::metadata(&p).is_ok_and(|m| m.len() > 1 << 20) {
            continue;
        }
        if let Ok(bytes) = std::fs::read(&p) {
            out.extend(
                certs::load::certificates(&bytes, &p.display().to_string(), None)
                    .unwrap_or_default(),
            );
        }
    }
    out
}

/// Certificates in a file beside `store` with the same stem (`name.key.pem` + `name.pem`).
fn same_stem(store: &Path) -> Vec<Vec<u8>> {
    let label = super::label_of(store);
    for ext in ["pem", "cer", "crt"] {
        let p = store.with_file_name(format!("{label}.{ext}"));
        if let Ok(bytes) = std::fs::read(&p) {
            if let Ok(c) = certs::load::certificates(&bytes, &p.display().to_string(), None) {
                return c;
            }
        }
    }
    Vec::new()
}

/// Where the agent looked, for a "no certificate" message.
pub fn looked_in(store: &Path, places: &Places) -> Vec<String> {
    let folder = store
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    vec![
        format!("the container {}", store.display()),
        format!("the folder {folder}"),
        format!("the agent's certificates {}", places.certificates.display()),
    ]
}

fn candidates(store: &Path, places: &Places) -> Vec<Vec<u8>> {
    let mut all = store.parent().map(certificates_in).unwrap_or_default();
    all.extend(certificates_in(&places.certificates));
    all
}

fn split(certs: Vec<Vec<u8>>) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut ee: Vec<Vec<u8>> = Vec::new();
    let mut ca: Vec<Vec<u8>> = Vec::new();
    for c in certs {
        let list = if is_ca(&c) { &mut ca } else { &mut ee };
        if !list.contains(&c) {
            list.push(c);
        }
    }
    (ee, ca)
}

/// Pairing before any password: see the module documentation.
pub fn at_listing(
    store: &Path,
    bytes: &[u8],
    _format: Format,
    visible: Visible,
    places: &Places,
) -> Paired {
    let (own, chain) = split(visible.certificates);
    if !own.is_empty() {
        return Paired {
            certificates: own,
            chain,
            pairing: Pairing::Paired,
        };
    }
    if !visible.local_key_ids.is_empty() {
        let found: Vec<Vec<u8>> = candidates(store, places)
            .into_iter()
            .filter(|c| subject_key_id(c).is_some_and(|ski| visible.local_key_ids.contains(&ski)))
            .collect();
        let (found, _) = split(found);
        let pairing = if found.is_empty() {
            Pairing::NoCertificate {
                looked_in: looked_in(store, places),
            }
        } else {
            Pairing::Paired
        };
        return Paired {
            certificates: found,
            chain,
            pairing,
        };
    }
    match memory::recall(places, bytes) {
        Some(memory::Recalled::Certificates(found)) => Paired {
            certificates: found,
            chain,
            pairing: Pairing::Paired,
        },
        Some(memory::Recalled::NoCertificate) => Paired {
            certificates: Vec::new(),
            chain,
            pairing: Pairing::NoCertificate {
                looked_in: looked_in(store, places),
            },
        },
        None => {
            let (beside, beside_chain) = split(same_stem(store));
            let pairing = if beside.is_empty() {
                Pairing::Hidden
            } else {
                Pairing::Paired
            };
            Paired {
                certificates: beside,
                chain: [chain, beside_chain].concat(),
                pairing,
            }
        }
    }
}

/// Each opened key's certificates (a signing one first: a key may have both a signing and a
/// key-agreement certificate, or a renewed one), and the CAs seen.
pub fn at_unlock(
    store: &Path,
    known: &[Vec<u8>],
    opened: &Opened,
    places: &Places,
) -> (Vec<Vec<Vec<u8>>>, Vec<Vec<u8>>) {
    let mut all: Vec<Vec<u8>> = opened.certificates.clone();
    all.extend(known.iter().cloned());
    all.extend(candidates(store, places));
    let (ee, ca) = split(all);
    let can_sign = |c: &Vec<u8>| super::CertificateView::of(c).is_some_and(|v| v.can_sign);
    let certs = opened
        .keys
        .iter()
        .map(|k| {
            let by_id = |c: &&Vec<u8>| {
                k.local_key_id
                    .as_ref()
                    .is_some_and(|id| subject_key_id(c).as_ref() == Some(id))
            };
            let mut mine: Vec<Vec<u8>> = ee.iter().filter(|c| k.key.matches(c)).cloned().collect();
            // localKeyID = subjectKeyIdentifier first, then signing before key agreement.
            mine.sort_by_key(|c| (!by_id(&c), !can_sign(c)));
            mine
        })
        .collect();
    (certs, ca)
}
