//! `openssl cms -verify -cades` (the command, an independent peer) verifies every signature
//! `certs::cms` makes: each key type, attached and detached, content and precomputed hash.

use std::path::Path;
use std::process::{Command, Output};

use certs::cms::{self, Content, Digest, SignRequest};
use certs::devpki::{self, Manifest, Options};
use certs::load;
use certs::statement::{self, LoginStatement};

fn pki() -> (tempfile::TempDir, Manifest) {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = devpki::init(&Options::new(tmp.path().join("pki"))).unwrap();
    (tmp, manifest)
}

fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl command")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Signer {
    key: openssl::pkey::PKey<openssl::pkey::Private>,
    cert: Vec<u8>,
    chain: Vec<Vec<u8>>,
}

fn signer(dir: &Path, m: &Manifest, name: &str) -> Signer {
    let e = m.certificate(name).unwrap();
    let opened = load::pkcs12(
        &std::fs::read(dir.join(e.pkcs12.as_ref().unwrap())).unwrap(),
        name,
        &e.password,
    )
    .unwrap();
    Signer {
        key: opened.key,
        cert: opened.certificate,
        chain: opened.chain,
    }
}

fn make(s: &Signer, content_type: &str, content: Content<'_>, digest: Digest) -> Vec<u8> {
    let req = SignRequest {
        content_type,
        content,
        digest,
        certificate: &s.cert,
        chain: &s.chain,
        signing_time: time::OffsetDateTime::now_utc(),
        signing_certificate: None,
    };
    cms::sign(&req, &s.key).unwrap()
}

fn verify(dir: &Path, sig: &[u8], detached_content: Option<&[u8]>) -> Output {
    std::fs::write(dir.join("sig.der"), sig).unwrap();
    let mut args = vec![
        "cms",
        "-verify",
        "-cades",
        "-binary",
        "-inform",
        "DER",
        "-in",
        "sig.der",
        "-CAfile",
        "chain.pem",
        "-purpose",
        "any",
        "-out",
        "out.bin",
    ];
    if let Some(c) = detached_content {
        std::fs::write(dir.join("content.bin"), c).unwrap();
        args.extend(["-content", "content.bin"]);
    }
    openssl(dir, &args)
}

#[test]
fn openssl_verifies_login_statements_and_documents_for_every_key_type() {
    let (tmp, m) = pki();
    let dir = tmp.path().join("pki");
    let document = "Заява про надання статусу безробітного\n"
        .repeat(100)
        .into_bytes();
    for name in ["citizen-p256", "citizen-p384", "citizen-rsa2048"] {
        let s = signer(&dir, &m, name);

        let login =
            LoginStatement::new("https://cabinet.example", "ch-123", 1_800_000_000).to_bytes();
        let sig = make(
            &s,
            statement::CONTENT_TYPE,
            Content::Attached(&login),
            Digest::Sha256,
        );
        let out = verify(&dir, &sig, None);
        assert!(
            text(&out).contains("Verification successful"),
            "{name} login: {}",
            text(&out)
        );
        assert_eq!(
            std::fs::read(dir.join("out.bin")).unwrap(),
            login,
            "{name}: content"
        );

        let sig = make(
            &s,
            cms::ID_DATA,
            Content::Attached(&document),
            Digest::Sha256,
        );
        let out = verify(&dir, &sig, None);
        assert!(
            text(&out).contains("Verification successful"),
            "{name} attached: {}",
            text(&out)
        );
        assert_eq!(std::fs::read(dir.join("out.bin")).unwrap(), document);

        let digest = Digest::Sha256.hash(&document);
        let sig = make(
            &s,
            cms::ID_DATA,
            Content::Detached { digest: &digest },
            Digest::Sha256,
        );
        let out = verify(&dir, &sig, Some(&document));
        assert!(
            text(&out).contains("Verification successful"),
            "{name} detached: {}",
            text(&out)
        );

        // The detached signature does not verify against other content.
        let out = verify(&dir, &sig, Some(b"something else"));
        assert!(
            !out.status.success(),
            "{name}: detached signature accepted other content"
        );
    }
}

#[test]
fn sha384_and_sha512_hash_mode_verify() {
    let (tmp, m) = pki();
    let dir = tmp.path().join("pki");
    let s = signer(&dir, &m, "citizen-p384");
    let data = b"hash mode".to_vec();
    for d in [Digest::Sha384, Digest::Sha512] {
        let sig = make(
            &s,
            cms::ID_DATA,
            Content::Detached {
                digest: &d.hash(&data),
            },
            d,
        );
        let out = verify(&dir, &sig, Some(&data));
        assert!(
            text(&out).contains("Verification successful"),
            "{d:?}: {}",
            text(&out)
        );
    }
    // A digest of the wrong length is refused before anything is signed.
    let req = SignRequest {
        content_type: cms::ID_DATA,
        content: Content::Detached { digest: &[0u8; 20] },
        digest: Digest::Sha256,
        certificate: &s.cert,
        chain: &s.chain,
        signing_time: time::OffsetDateTime::now_utc(),
        signing_certificate: None,
    };
    let e = cms::sign(&req, &s.key).unwrap_err();
    assert!(e.to_string().contains("32 bytes, got 20"), "{e}");
}

#[test]
fn signed_attributes_are_cades_bes_with_matching_content_type() {
    let (tmp, m) = pki();
    let dir = tmp.path().join("pki");
    let s = signer(&dir, &m, "citizen-p256");
    let login = LoginStatement::new("https://cabinet.example", "c", 1).to_bytes();
    let sig = make(
        &s,
        statement::CONTENT_TYPE,
        Content::Attached(&login),
        Digest::Sha256,
    );
    std::fs::write(dir.join("sig.der"), &sig).unwrap();
    let printed = text(&openssl(
        &dir,
        &[
            "cms", "-cmsout", "-print", "-inform", "DER", "-in", "sig.der",
        ],
    ));
    // eContentType and the signed content-type attribute are both the login OID.
    assert_eq!(
        printed.matches(statement::CONTENT_TYPE).count(),
        2,
        "{printed}"
    );
    for attr in [
        "contentType",
        "signingTime",
        "messageDigest",
        "id-smime-aa-signingCertificateV2",
    ] {
        assert!(printed.contains(attr), "missing {attr}: {printed}");
    }
    assert!(printed.contains("version: 3"), "{printed}");

    let doc = make(&s, cms::ID_DATA, Content::Attached(b"doc"), Digest::Sha256);
    std::fs::write(dir.join("doc.der"), &doc).unwrap();
    let printed = text(&openssl(
        &dir,
        &[
            "cms", "-cmsout", "-print", "-inform", "DER", "-in", "doc.der",
        ],
    ));
    assert!(!printed.contains(statement::CONTENT_TYPE));
    assert!(printed.contains("version: 1"), "{printed}");
}
