//! The demo: today it builds the development PKI (once) and shows what it made and how real
//! qualified certificates read. Later issues make it run agent, gateway and cabinet.

use std::path::PathBuf;
use std::process::ExitCode;

use certs::devpki::{self, Manifest, Options};
use certs::CertificateSummary;

fn main() -> ExitCode {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let dir = root.join("target/demo/pki");
    let manifest = if dir.join("manifest.json").exists() {
        println!("Using the development PKI in {}", dir.display());
        Manifest::load(&dir)
    } else {
        println!("Writing a development PKI to {}", dir.display());
        let mut opts = Options::new(&dir);
        opts.password = Some("brama-demo".into());
        devpki::init(&opts)
    };
    let manifest = match manifest {
        Ok(m) => m,
        Err(e) => {
            eprintln!("brama-demo: error [{}]: {e}", e.code());
            return ExitCode::FAILURE;
        }
    };
    println!(
        "\n{:<22} {:<12} {:<27} who",
        "certificate", "key", "expected outcome"
    );
    for e in &manifest.certificates {
        let who = std::fs::read(dir.join(&e.certificate_der))
            .ok()
            .and_then(|der| CertificateSummary::from_der(&der).ok())
            .map(|s| s.identity.display_name())
            .unwrap_or_default();
        println!(
            "{:<22} {:<12} {:<27} {}",
            e.name, e.key_type, e.expected, who
        );
    }
    println!(
        "\nKeys: <name>.p12 and <name>.key.pem, password in {}",
        dir.join("manifest.json").display()
    );
    println!(
        "Look at one:  cargo run -q -p certs -- show {} --password {}",
        dir.join("representative-p256.p12").display(),
        manifest
            .certificate("representative-p256")
            .map(|e| e.password.as_str())
            .unwrap_or("")
    );
    println!("A real one:   cargo run -q -p certs -- show ../shared/fixtures/ua-real/diia-test-sign-7775603.cer");
    ExitCode::SUCCESS
}
