//! End-to-end test harness shared by the tests in `tests/tests/`: a development PKI made once
//! per test.
//!
//! [`demo`] starts the agent, the gateway and the demo cabinet together.

pub mod demo;

use std::path::PathBuf;

use certs::devpki::{self, Manifest, Options};

/// A fresh development PKI in a temporary folder, removed on drop.
pub struct Pki {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Pki {
    pub fn new() -> Pki {
        let tmp = tempfile::tempdir().expect("temporary folder");
        let dir = tmp.path().join("pki");
        let manifest = devpki::init(&Options::new(&dir)).expect("dev PKI");
        Pki {
            _tmp: tmp,
            dir,
            manifest,
        }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

impl Default for Pki {
    fn default() -> Self {
        Pki::new()
    }
}
