//! `brama-certs verify` on every real vector and on signatures of the dev PKI (ECDSA by the
//! `openssl cms` command, DSTU by Brama): exit status 0 only for a valid signature, and the
//! gateway's code for each refusal.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(path)
        .display()
        .to_string()
}

/// (exit status, the JSON report).
fn verify(args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_brama-certs"))
        .arg("verify")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text} {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), v)
}

/// `verify ARGS` exits 1 with `code`.
fn refused(args: &[&str], code: &str) {
    let (status, v) = verify(args);
    assert_eq!(
        (status, v["code"].as_str()),
        (1, Some(code)),
        "{args:?}: {v}"
    );
}

const CAO: &str = "ua-real/CAO-05E19E2CD92EA2990100000001000000C1000000.cer";
const DIIA_CA: &str = "ua-real/diia-CA-05E19E2CD92EA2990100000001000000E1000000.cer";

#[test]
fn the_real_ukrainian_signatures() {
    let (code, v) = verify(&[&fixture("ua-real/message.p7")]);
    assert_eq!((code, v["verdict"].as_str()), (0, Some("valid")), "{v}");
    assert_eq!(v["digest"], "GOST 34.311");

    let (code, v) = verify(&[&fixture("ua-dstu/diia-cades-bes-attached.p7s")]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signing_time"], "2023-09-19T18:17:18Z");
    assert_eq!(
        v["signer"]["identity"]["organisation"]["identifier"]["value"],
        "43395033"
    );

    let detached = fixture("ua-dstu/diia-cades-bes-detached.p7s");
    let fox = fixture("ua-dstu/test-fox.txt");
    // The detached signature over the fox text, its chain under `anchor` at `at`.
    let (ca, cao, czo) = (
        fixture(DIIA_CA),
        fixture(CAO),
        fixture("ua-real/CZOROOT.cer"),
    );
    let chain_args = |anchor: &'static str, at: &'static str| -> Vec<&str> {
        let anchor = if anchor == "CAO" { &cao } else { &czo };
        vec![
            &detached,
            "--content",
            &fox,
            "--anchors",
            anchor,
            "--certs",
            &ca,
            "--at",
            at,
        ]
    };
    let (code, v) = verify(&chain_args("CAO", "2023-06-01T00:00:00Z"));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["chain"].as_array().unwrap().len(), 3, "{v}");

    // The same text with its first byte 0xD4.
    let dir = tempfile::tempdir().unwrap();
    let d4 = dir.path().join("fox-d4.txt");
    let mut text = std::fs::read(&fox).unwrap();
    text[0] = 0xD4;
    std::fs::write(&d4, text).unwrap();
    refused(
        &[&detached, "--content", d4.to_str().unwrap()],
        "bad_signature",
    );
    // Detached without its content.
    refused(&[&detached], "content_missing");
    // The chain at a time the certificate had expired; without its CA; under another root.
    refused(
        &chain_args("CAO", "2030-01-01T00:00:00Z"),
        "certificate_expired",
    );
    refused(
        &chain_args("CZOROOT", "2023-06-01T00:00:00Z"),
        "untrusted_issuer",
    );
    // jkurwa's message under its certificates-only bundle (CAList.cer, the CACertificates.p7b
    // format), at its signing time: its signer is one of the bundle's self-signed CAs.
    let (code, v) = verify(&[
        &fixture("ua-real/message.p7"),
        "--anchors",
        &fixture("ua-real/CAList.cer"),
        "--at",
        "2018-10-22T19:25:05Z",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["chain"].as_array().unwrap().len(), 1, "{v}");
    refused(
        &[
            &fixture("ua-real/message.p7"),
            "--anchors",
            &fixture(CAO),
            "--at",
            "2018-10-22T19:25:05Z",
        ],
        "untrusted_issuer",
    );
    // Garbage.
    refused(&[&fox], "malformed_signature");
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn dev_pki_signatures_ecdsa_by_openssl_and_dstu_by_brama() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let m = certs::devpki::init(&certs::devpki::Options {
        password: Some("pw".into()),
        ..certs::devpki::Options::new(&dir)
    })
    .unwrap();
    std::fs::write(dir.join("doc.txt"), "Заява про реєстрацію").unwrap();
    // ECDSA: made by the openssl command, detached.
    let e = m.certificate("citizen-p256").unwrap();
    openssl(
        &dir,
        &[
            "cms",
            "-sign",
            "-cades",
            "-binary",
            "-in",
            "doc.txt",
            "-signer",
            &e.certificate,
            "-inkey",
            &e.key,
            "-passin",
            "pass:pw",
            "-outform",
            "DER",
            "-out",
            "doc.p7s",
        ],
    );
    let p = |f: &str| dir.join(f).display().to_string();
    let (code, v) = verify(&[
        &p("doc.p7s"),
        "--content",
        &p("doc.txt"),
        "--anchors",
        &p("root.pem"),
        "--certs",
        &p("ica.pem"),
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["digest"], "SHA-256");
    // DSTU: made by Brama's CMS builder with the dev DSTU key, attached.
    let (key, cert) = m.dstu_key(&dir, "dstu-citizen").unwrap();
    let doc = std::fs::read(dir.join("doc.txt")).unwrap();
    let p7 = certs::cms::sign(
        &certs::cms::SignRequest::new(
            certs::cms::ID_DATA,
            certs::cms::Content::Attached(&doc),
            certs::cms::Digest::Gost34311,
            &cert,
        ),
        &key,
    )
    .unwrap();
    std::fs::write(dir.join("doc-dstu.p7s"), &p7).unwrap();
    let (code, v) = verify(&[
        &p("doc-dstu.p7s"),
        "--anchors",
        &p("dstu/dstu-root.pem"),
        "--certs",
        &p("dstu/dstu-ca.pem"),
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signer"]["identity"]["surname"], "Сковорода");
    // Under the ECDSA root only: no path.
    refused(
        &[&p("doc-dstu.p7s"), "--anchors", &p("root.pem")],
        "untrusted_issuer",
    );
}
