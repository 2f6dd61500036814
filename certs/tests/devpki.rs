//! The development PKI, checked by an independent peer: the `openssl` command.

use std::path::Path;
use std::process::{Command, Output};

use certs::devpki::{self, Manifest, Options};
use certs::{load, CertificateSummary, Error, IdKind, Purpose, SubjectKind};

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
        .expect("the openssl command is installed")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn summary(dir: &Path, m: &Manifest, name: &str) -> CertificateSummary {
    let entry = m.certificate(name).unwrap();
    CertificateSummary::from_der(&std::fs::read(dir.join(&entry.certificate_der)).unwrap()).unwrap()
}

#[test]
fn manifest_lists_every_case_and_every_file_exists() {
    let (tmp, m) = pki();
    let dir = tmp.path().join("pki");
    let mut expected: Vec<&str> = m.certificates.iter().map(|e| e.expected.as_str()).collect();
    expected.sort();
    expected.dedup();
    assert_eq!(
        expected,
        [
            "ambiguous_identity",
            "certificate_expired",
            "certificate_not_yet_valid",
            "certificate_revoked",
            "not_a_person",
            "not_qualified",
            "untrusted_issuer",
            "valid",
            "weak_algorithm",
            "weak_key",
            "wrong_key_usage",
        ]
    );
    let key_types: Vec<&str> = m
        .certificates
        .iter()
        .filter(|e| e.expected == "valid")
        .map(|e| e.key_type.as_str())
        .collect();
    for k in ["ECDSA P-256", "ECDSA P-384", "RSA-2048"] {
        assert!(key_types.contains(&k), "no valid {k} certificate");
    }
    for f in &m.files {
        assert!(dir.join(&f.path).is_file(), "{} listed but missing", f.path);
        assert!(!f.description.is_empty());
    }
    let t = &m.trust;
    for f in [
        &t.root,
        &t.issuing_ca,
        &t.chain,
        &t.ocsp_responder,
        &t.ocsp_key,
        &t.crl,
        &t.crl_der,
        &t.index,
        &t.untrusted_root,
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let passwords: std::collections::HashSet<&str> =
        m.certificates.iter().map(|e| e.password.as_str()).collect();
    assert_eq!(
        passwords.len(),
        m.certificates.len(),
        "each key has its own password"
    );
    // The manifest on disk is what init returned.
    let on_disk = Manifest::load(&dir).unwrap();
    assert_eq!(on_disk.certificates.len(), m.certificates.len());
    assert_eq!(on_disk.ocsp_url, devpki::DEFAULT_OCSP_URL);
}

/// `openssl verify` with the flags that express Brama's policy.
fn verify(dir: &Path, cert: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "verify",
        "-auth_level",
        "2",
        "-purpose",
        "smimesign",
        "-crl_check",
        "-CRLfile",
        "crl.pem",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "ica.pem",
        "-untrusted",
        "untrusted-ca.pem",
    ];
    args.extend_from_slice(extra);
    args.push(cert);
    openssl(dir, &args)
}

#[test]
fn openssl_accepts_the_valid_and_refuses_each_negative_case_for_its_reason() {
    let (tmp, m) = pki();
    let dir = tmp.path().join("pki");
    for e in &m.certificates {
        let out = verify(&dir, &e.certificate, &[]);
        let reason = match e.expected.as_str() {
            // Qualified status and person-ness are Brama's own verdicts: openssl has no such notion.
            "valid" | "not_qualified" | "not_a_person" | "ambiguous_identity" => None,
            "certificate_expired" => Some("certificate has expired"),
            "certificate_not_yet_valid" => Some("certificate is not yet valid"),
            "certificate_revoked" => Some("certificate revoked"),
            "wrong_key_usage" => Some("unsuitable certificate purpose"),
            "untrusted_issuer" => Some("unable to get local issuer certificate"),
            "weak_key" => Some("EE certificate key too weak"),
            "weak_algorithm" => Some("CA signature digest algorithm too weak"),
            other => panic!("no openssl expectation for {other}"),
        };
        match reason {
            None => assert!(out.status.success(), "{}: {}", e.name, text(&out)),
            Some(r) => {
                assert!(!out.status.success(), "{} passed openssl verify", e.name);
                assert!(
                    text(&out).contains(r),
                    "{}: expected '{r}', got {}",
                    e.name,
                    text(&out)
                );
            }
        }
    }
    // Brama's own verdicts for the cases openssl accepts.
    assert!(!summary(&dir, &m, "not-qualified").qualified.is_qualified());
    assert!(summary(&dir, &m, "citizen-p256")
        .qualified
        .is_qualified_esign());
    let seal = summary(&dir, &m, "seal-p256");
    assert_eq!(seal.identity.kind, SubjectKind::Organisation);
    assert!(seal.qualified.is_qualified() && !seal.qualified.is_qualified_esign());
}

#[test]
fn negative_cases_fail_only_for_their_reason() {
    let (tmp, m) = pki();
    let dir = tmp.path().join("pki");
    // Inside their own validity window the expired and not-yet-valid certificates verify.
    for (name, offset) in [("expired", -1.5), ("not-yet-valid", 2.0)] {
        let at = (time::OffsetDateTime::now_utc().unix_timestamp() as f64
            + offset * 365.0 * 86400.0) as i64;
        // Outside the CRL's window too, so check without -crl_check.
        let out = openssl(
            &dir,
            &[
                "verify",
                "-auth_level",
                "2",
                "-purpose",
                "smimesign",
                "-attime",
                &at.to_string(),
                "-CAfile",
                "root.pem",
                "-untrusted",
                "ica.pem",
                &m.certificate(name).unwrap().certificate,
            ],
        );
        assert!(
            out.status.success(),
            "{name} at its own time: {}",
            text(&out)
        );
    }
    // Without the CRL the revoked certificate verifies: the refusal is revocation alone.
    let out = openssl(
        &dir,
        &[
            "verify",
            "-auth_level",
            "2",
            "-purpose",
            "smimesign",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "ica.pem",
            "revoked.pem",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    // With the untrusted root as anchor, the untrusted chain verifies.
    let out = openssl(
        &dir,
        &[
            "verify",
            "-auth_level",
            "2",
            "-purpose",
            "smimesign",
            "-CAfile",
            "untrusted-root.pem",
            "-untrusted",
            "untrusted-ca.pem",
            "untrusted.pem",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    // At the default security level the weak ones pass: -auth_level 2 is what refuses them.
    for name in ["rsa1024.pem", "sha1.pem"] {
        let out = openssl(
            &dir,
            &[
                "verify",
                "-auth_level",
                "0",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "ica.pem",
                name,
            ],
        );
        assert!(out.status.success(), "{name}: {}", text(&out));
    }
}

#[test]
fn openssl_ocsp_serves_the_index() {
    let (tmp, m) = pki();
    let dir = tmp.path().join("pki");
    for (name, status) in [("citizen-p256", ": good"), ("revoked", ": revoked")] {
        let cert = &m.certificate(name).unwrap().certificate;
        let req = openssl(
            &dir,
            &[
                "ocsp",
                "-issuer",
                "ica.pem",
                "-cert",
                cert,
                "-no_nonce",
                "-reqout",
                "req.der",
            ],
        );
        assert!(req.status.success(), "{}", text(&req));
        let resp = openssl(
            &dir,
            &[
                "ocsp",
                "-index",
                "index.txt",
                "-CA",
                "ica.pem",
                "-rsigner",
                "ocsp.pem",
                "-rkey",
                "ocsp.key",
                "-reqin",
                "req.der",
                "-respout",
                "resp.der",
                "-nmin",
                "5",
            ],
        );
        assert!(resp.status.success(), "{}", text(&resp));
        let check = openssl(
            &dir,
            &[
                "ocsp",
                "-respin",
                "resp.der",
                "-issuer",
                "ica.pem",
                "-cert",
                cert,
                "-no_nonce",
                "-CAfile",
                "chain.pem",
            ],
        );
        let out = text(&check);
        assert!(out.contains("Response verify OK"), "{name}: {out}");
        assert!(out.contains(status), "{name}: expected {status}: {out}");
    }
    let crl = text(&openssl(
        &dir,
        &["crl", "-in", "crl.pem", "-noout", "-text"],
    ));
    assert!(
        crl.contains(&m.certificate("revoked").unwrap().serial),
        "{crl}"
    );
    assert!(crl.contains("Key Compromise"), "{crl}");
}

#[test]
fn init_never_silently_overwrites() {
    let (tmp, m) = pki();
    let dir = tmp.path().join("pki");
    let before = std::fs::read(dir.join("manifest.json")).unwrap();
    let e = devpki::init(&Options::new(&dir)).unwrap_err();
    assert!(matches!(e, Error::AlreadyExists(_)));
    assert!(e.to_string().contains("--force"), "{e}");
    assert_eq!(
        std::fs::read(dir.join("manifest.json")).unwrap(),
        before,
        "refusal changed the PKI"
    );

    let mut opts = Options::new(&dir);
    opts.force = true;
    let again = devpki::init(&opts).unwrap();
    assert_ne!(again.certificates[0].serial, m.certificates[0].serial);
    assert_eq!(
        Manifest::load(&dir).unwrap().certificates[0].serial,
        again.certificates[0].serial
    );
    // No staging or backup folders left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[test]
fn every_key_opens_with_its_password_only() {
    let (tmp, m) = pki();
    let dir = tmp.path().join("pki");
    for e in m.certificates.iter().chain(&m.authorities) {
        let p12 = std::fs::read(dir.join(e.pkcs12.as_ref().unwrap())).unwrap();
        let opened = load::pkcs12(&p12, &e.name, &e.password).unwrap();
        assert_eq!(
            opened.certificate,
            std::fs::read(dir.join(&e.certificate_der)).unwrap(),
            "{}",
            e.name
        );
        let cert = openssl::x509::X509::from_der(&opened.certificate).unwrap();
        assert!(
            opened.key.public_eq(&cert.public_key().unwrap()),
            "{}: key does not match",
            e.name
        );
        assert!(matches!(
            load::pkcs12(&p12, &e.name, "wrong"),
            Err(Error::WrongPassword(_))
        ));
        assert!(matches!(
            load::pkcs12(&p12, &e.name, "a\0b"),
            Err(Error::WrongPassword(_))
        ));

        let pem = std::fs::read(dir.join(&e.key)).unwrap();
        assert!(String::from_utf8_lossy(&pem).contains("ENCRYPTED PRIVATE KEY"));
        let key = load::encrypted_pem_key(&pem, &e.name, &e.password).unwrap();
        assert!(key.public_eq(&cert.public_key().unwrap()));
        assert!(matches!(
            load::encrypted_pem_key(&pem, &e.name, "wrong"),
            Err(Error::WrongPassword(_))
        ));
    }
    // The OCSP key is also in the clear for `openssl ocsp`.
    let clear = std::fs::read_to_string(dir.join("ocsp.key")).unwrap();
    assert!(clear.contains("BEGIN PRIVATE KEY"));
    // One password for all, on request.
    let mut opts = Options::new(tmp.path().join("same"));
    opts.password = Some("brama-demo".into());
    let same = devpki::init(&opts).unwrap();
    assert!(same.certificates.iter().all(|e| e.password == "brama-demo"));
}

#[test]
fn generated_identities_read_back() {
    let (tmp, m) = pki();
    let dir = tmp.path().join("pki");
    let s = summary(&dir, &m, "citizen-p256");
    let id = &s.identity;
    assert_eq!(id.kind, SubjectKind::Person);
    assert_eq!(
        (
            id.surname.as_deref(),
            id.given_name.as_deref(),
            id.patronymic.as_deref()
        ),
        (Some("Шевченко"), Some("Тарас"), Some("Григорович"))
    );
    let key = id.account_key().unwrap();
    assert_eq!((key.kind, key.country.as_str()), (IdKind::TaxNumber, "UA"));
    assert_eq!(
        key.value,
        devpki::rnokpp_with_check_digit(&key.value[..9]),
        "check digit"
    );
    assert_eq!(s.key_algorithm, "ECDSA P-256");
    assert_eq!(s.purpose, Purpose::Signing);

    let p384 = summary(&dir, &m, "citizen-p384");
    assert_eq!(p384.identity.surname.as_deref(), Some("Коваль-Ярошенко"));
    assert_eq!(p384.identity.given_name.as_deref(), Some("Марʼяна"));
    assert_eq!(p384.key_algorithm, "ECDSA P-384");
    assert_eq!(
        summary(&dir, &m, "citizen-rsa2048").key_algorithm,
        "RSA-2048"
    );
    assert_eq!(summary(&dir, &m, "rsa1024").key_algorithm, "RSA-1024");

    let rep = summary(&dir, &m, "representative-p256").identity;
    assert_eq!(rep.kind, SubjectKind::Person);
    assert_eq!(rep.title.as_deref(), Some("Директор"));
    let org = rep.organisation.unwrap();
    assert_eq!(org.name.as_deref(), Some("ТОВ «Брама Тест»"));
    assert_eq!(org.edrpou(), Some("12345678"));

    // The citizen's two certificates: same person, one for signing, one for key agreement.
    let kep = summary(&dir, &m, "citizen-p256-kep");
    assert_eq!(kep.purpose, Purpose::KeyAgreement);
    assert_eq!(kep.identity.account_key(), s.identity.account_key());
    assert_eq!(summary(&dir, &m, "wrong-key-usage").purpose, Purpose::Other);
    assert_eq!(
        summary(&dir, &m, "ica").purpose,
        Purpose::CertificateAuthority
    );
}

#[test]
fn show_prints_identity_as_text_and_json() {
    let (tmp, m) = pki();
    let dir = tmp.path().join("pki");
    let bin = env!("CARGO_BIN_EXE_brama-certs");
    let rep = m.certificate("representative-p256").unwrap();
    let out = Command::new(bin)
        .current_dir(&dir)
        .args([
            "show",
            rep.pkcs12.as_deref().unwrap(),
            "--password",
            &rep.password,
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The PKCS#12 holds the certificate and its chain.
    let leaf = &json[0];
    assert_eq!(leaf["identity"]["surname"], "Франко");
    assert_eq!(
        leaf["identity"]["organisation"]["identifier"]["value"],
        "12345678"
    );
    assert_eq!(leaf["identity"]["national_ids"][0]["kind"], "tax_number");
    assert_eq!(leaf["qualified"]["qc_compliance"], true);
    assert_eq!(leaf["purpose"], "signing");
    assert_eq!(json[1]["purpose"], "certificate_authority");

    let out = Command::new(bin)
        .current_dir(&dir)
        .args(["show", "citizen-p256.cer"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(
        t.contains("Full name       Шевченко Тарас Григорович"),
        "{t}"
    );
    assert!(t.contains("(account key)"), "{t}");
    assert!(
        t.contains("Qualified       yes, for electronic signatures"),
        "{t}"
    );

    // The dev PKI's PKCS#12 files keep certificates unencrypted: readable without the password.
    let out = Command::new(bin)
        .current_dir(&dir)
        .args(["show", "citizen-p256.p12"])
        .env_remove("BRAMA_CERTS_PASSWORD")
        .output()
        .unwrap();
    assert!(
        text(&out).contains("Шевченко Тарас Григорович"),
        "{}",
        text(&out)
    );
    // One whose certificates are encrypted needs it. Errors: a code and a message, status 1.
    let password = &m.certificate("citizen-p256").unwrap().password;
    let made = Command::new("openssl")
        .current_dir(&dir)
        .args([
            "pkcs12",
            "-export",
            "-in",
            "citizen-p256.pem",
            "-inkey",
            "citizen-p256.key.pem",
        ])
        .args([
            "-passin",
            &format!("pass:{password}"),
            "-passout",
            "pass:x",
            "-out",
            "sealed.p12",
        ])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made));
    let out = Command::new(bin)
        .current_dir(&dir)
        .args(["show", "sealed.p12"])
        .env_remove("BRAMA_CERTS_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("error [password_required]: sealed.p12 needs a password"),
        "{}",
        text(&out)
    );
    let out = Command::new(bin)
        .current_dir(&dir)
        .args(["show", "sealed.p12", "--password", "x"])
        .output()
        .unwrap();
    assert!(
        text(&out).contains("Шевченко Тарас Григорович"),
        "{}",
        text(&out)
    );
    let out = Command::new(bin)
        .current_dir(&dir)
        .args(["show", "citizen-p256.p12", "--password", "nope"])
        .output()
        .unwrap();
    assert!(
        text(&out).contains("error [wrong_password]"),
        "{}",
        text(&out)
    );
    let out = Command::new(bin)
        .current_dir(&dir)
        .args(["show", "index.txt"])
        .output()
        .unwrap();
    assert!(
        text(&out).contains("error [unsupported_file]"),
        "{}",
        text(&out)
    );
    let out = Command::new(bin)
        .current_dir(&dir)
        .args(["init", "--out", "."])
        .output()
        .unwrap();
    assert!(
        text(&out).contains("error [already_exists]"),
        "{}",
        text(&out)
    );
}

#[test]
fn pkcs12_certificates_are_listed_without_the_password() {
    let (tmp, m) = pki();
    let dir = tmp.path().join("pki");
    let e = m.certificate("representative-p256").unwrap();
    let p12 = std::fs::read(dir.join(e.pkcs12.as_ref().unwrap())).unwrap();
    let certs = load::pkcs12_public_certificates(&p12).unwrap();
    assert_eq!(certs.len(), 3, "leaf, issuing CA, root");
    assert!(certs.contains(&std::fs::read(dir.join(&e.certificate_der)).unwrap()));
    assert!(load::pkcs12_public_certificates(b"\x30\x03\x02\x01\x03").is_err());
}

/// `brama-certs revoke` keeps index.txt, the base CRL and the delta CRL consistent, as
/// `openssl verify` (with delta CRLs) reads them; the gateway's tests run `openssl ocsp` on it.
#[test]
fn revoke_updates_index_and_crls_together() {
    let (tmp, m) = pki();
    let dir = tmp.path().join("pki");
    let bin = env!("CARGO_BIN_EXE_brama-certs");
    let revoke = |args: &[&str]| {
        let out = Command::new(bin)
            .args(["revoke", "--dir", dir.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), text(&out))
    };
    let with_deltas = |cert: &str| {
        openssl(
            &dir,
            &[
                "verify",
                "-crl_check",
                "-extended_crl",
                "-use_deltas",
                "-CRLfile",
                "crl.pem",
                "-CRLfile",
                "delta.pem",
                "-CAfile",
                "chain.pem",
                cert,
            ],
        )
    };
    assert!(with_deltas("citizen-p384.pem").status.success());
    // Into the delta only: the base CRL does not list it, the delta does, OCSP says revoked.
    let (code, out) = revoke(&["citizen-p384", "--delta", "--reason", "superseded"]);
    assert_eq!(code, Some(0), "{out}");
    let v = with_deltas("citizen-p384.pem");
    assert!(text(&v).contains("certificate revoked"), "{}", text(&v));
    assert!(
        verify(&dir, "citizen-p384.pem", &[]).status.success(),
        "the base CRL alone does not list it"
    );
    let index = std::fs::read_to_string(dir.join("index.txt")).unwrap();
    let serial = &m.certificate("citizen-p384").unwrap().serial;
    assert!(
        index
            .lines()
            .any(|l| l.starts_with('R') && l.contains(serial.as_str()) && l.contains("superseded")),
        "{index}"
    );
    // Into a new base CRL: now the base lists both revocations.
    let (code, out) = revoke(&["citizen-rsa2048"]);
    assert_eq!(code, Some(0), "{out}");
    for cert in ["citizen-p384.pem", "citizen-rsa2048.pem"] {
        assert!(
            text(&verify(&dir, cert, &[])).contains("certificate revoked"),
            "{cert}"
        );
    }
    assert!(with_deltas("citizen-p256.pem").status.success());
    // Refusals: twice, unknown names and reasons.
    let (code, out) = revoke(&["citizen-rsa2048"]);
    assert_eq!(code, Some(1));
    assert!(out.contains("already revoked"), "{out}");
    let (code, out) = revoke(&["nobody"]);
    assert_eq!(code, Some(1));
    assert!(out.contains("no certificate named nobody"), "{out}");
    let (code, out) = revoke(&["citizen-p256", "--reason", "boredom"]);
    assert_eq!(code, Some(1));
    assert!(out.contains("unknown reason boredom"), "{out}");
}
