//! What the agent remembers about stores that show nothing without their password (IIT's
//! `Key-6.dat`, a PKCS#12 with encrypted certificates): after the first unlock, which
//! certificates the keys belong to. Certificates are public, so remembering them costs no
//! secrecy, and the container is then listed by its holder like any other.
//!
//! `pairings.json` in the data folder maps the SHA-256 of the store file to the SHA-256 of its
//! keys' certificates, which are kept as `<sha256>.cer` in the agent's certificate folder. A
//! store re-encrypted under a new password is a new file, and is learnt again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Places;

#[derive(Serialize, Deserialize, Default)]
struct File {
    /// store SHA-256 → certificate SHA-256s (empty: no certificate was found).
    stores: BTreeMap<String, Vec<String>>,
}

/// What the agent knows of a store.
pub enum Recalled {
    Certificates(Vec<Vec<u8>>),
    /// It was unlocked once and none of its keys had a certificate.
    NoCertificate,
}

fn hex_sha256(bytes: &[u8]) -> String {
    certs::hex(&openssl::sha::sha256(bytes))
}

fn load(places: &Places) -> File {
    std::fs::read(&places.memory)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// What was learnt about `store` (its bytes), if anything.
pub fn recall(places: &Places, store: &[u8]) -> Option<Recalled> {
    let ids = load(places).stores.remove(&hex_sha256(store))?;
    if ids.is_empty() {
        return Some(Recalled::NoCertificate);
    }
    let certificates: Vec<Vec<u8>> = ids
        .iter()
        .filter_map(|id| std::fs::read(places.certificates.join(format!("{id}.cer"))).ok())
        .filter(|der| ids.contains(&hex_sha256(der)))
        .collect();
    // A certificate file removed since: learn again at the next unlock.
    (certificates.len() == ids.len()).then_some(Recalled::Certificates(certificates))
}

/// Keep `certificates` (DER) as the certificates of `store`, and the files themselves.
pub fn remember(places: &Places, store: &[u8], certificates: &[Vec<u8>]) -> std::io::Result<()> {
    std::fs::create_dir_all(&places.certificates)?;
    let mut ids = Vec::new();
    for der in certificates {
        let id = hex_sha256(der);
        let path = places.certificates.join(format!("{id}.cer"));
        if !path.exists() {
            std::fs::write(&path, der)?;
        }
        ids.push(id);
    }
    let mut file = load(places);
    if file.stores.get(&hex_sha256(store)) == Some(&ids) {
        return Ok(());
    }
    file.stores.insert(hex_sha256(store), ids);
    let tmp = places.memory.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&file).expect("serialises"))?;
    std::fs::rename(&tmp, &places.memory)
}

/// Copy a certificate file's certificates into the agent's certificate folder
/// (`brama-agent import-cert`); returns how many were new.
pub fn import(places: &Places, certificates: &[Vec<u8>]) -> std::io::Result<usize> {
    std::fs::create_dir_all(&places.certificates)?;
    let mut new = 0;
    for der in certificates {
        let path = places.certificates.join(format!("{}.cer", hex_sha256(der)));
        if !path.exists() {
            std::fs::write(&path, der)?;
            new += 1;
        }
    }
    Ok(new)
}
