//! The shared PKI fixture is a working PKI for the end-to-end tests that build on it.

use std::process::Command;

#[test]
fn the_pki_fixture_verifies_with_openssl() {
    let pki = brama_testkit::Pki::new();
    for entry in pki
        .manifest
        .certificates
        .iter()
        .filter(|e| e.expected == "valid")
    {
        let out = Command::new("openssl")
            .args([
                "verify",
                "-auth_level",
                "2",
                "-purpose",
                "smimesign",
                "-crl_check",
                "-CRLfile",
            ])
            .arg(pki.path(&pki.manifest.trust.crl))
            .arg("-CAfile")
            .arg(pki.path(&pki.manifest.trust.root))
            .arg("-untrusted")
            .arg(pki.path(&pki.manifest.trust.issuing_ca))
            .arg(pki.path(&entry.certificate))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            entry.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
