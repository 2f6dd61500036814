//! The binary explains itself and refuses to pretend it can do more.

use std::process::Command;

#[test]
fn help_describes_the_gateway() {
    let out = Command::new(env!("CARGO_BIN_EXE_brama-gateway"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for w in ["reverse proxy", "challenge", "qualified", "check-cert"] {
        assert!(help.contains(w), "--help does not mention '{w}':\n{help}");
    }
    let version = Command::new(env!("CARGO_BIN_EXE_brama-gateway"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("brama-gateway {}", env!("CARGO_PKG_VERSION"))
    );
    let bare = Command::new(env!("CARGO_BIN_EXE_brama-gateway"))
        .output()
        .unwrap();
    assert_eq!(bare.status.code(), Some(2));
}

fn gateway(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_brama-gateway"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

const GOOD: &str = r#"
public_origin = "https://cabinet.example"
backend = "http://127.0.0.1:3000"
database = "sqlite://brama.db"
[trust]
anchors = ["pki/root.pem"]
intermediates = ["pki/ica.pem"]
qualified = "required"
[revocation]
mode = "off"
"#;

#[test]
fn check_config_names_the_key_that_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    certs::devpki::init(&certs::devpki::Options::new(tmp.path().join("pki"))).unwrap();
    let file = tmp.path().join("gateway.toml");
    let f = file.to_str().unwrap();
    std::fs::write(&file, GOOD).unwrap();
    let (code, out) = gateway(&["--config", f, "check-config"], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("configuration OK"), "{out}");

    let cases: Vec<(String, &str, &str)> = vec![
        (
            GOOD.replace("mode = \"off\"", "mode = \"sometimes\""),
            "revocation.mode",
            "sometimes",
        ),
        (
            GOOD.replace("mode = \"off\"", "ocsp = false\ncrl = false"),
            "revocation",
            "ocsp and crl are both off",
        ),
        (
            GOOD.replace(
                "mode = \"off\"",
                "[[revocation.issuer]]\nca = \"pki/nope.pem\"",
            ),
            "revocation.issuer[0].ca",
            "nope.pem",
        ),
        (
            GOOD.replace("https://cabinet.example", "https://cabinet.example/path"),
            "public_origin",
            "not an origin",
        ),
        (
            GOOD.replace("http://127.0.0.1:3000", "ftp://x"),
            "backend",
            "not an http(s) URL",
        ),
        (
            GOOD.replace("pki/root.pem", "pki/missing.pem"),
            "trust.anchors[0]",
            "missing.pem",
        ),
        (
            GOOD.replace("qualified = \"required\"", "qualified = \"sometimes\""),
            "trust.qualified",
            "sometimes",
        ),
        (
            format!("{GOOD}\nunknown_key = 1\n"),
            "unknown_key",
            "unknown field",
        ),
    ];
    for (text, key, what) in &cases {
        std::fs::write(&file, text).unwrap();
        let (code, out) = gateway(&["--config", f, "check-config"], &[]);
        assert_eq!(code, Some(2), "{key}: {out}");
        assert!(
            out.contains(key) && out.contains(what),
            "expected '{key}' and '{what}' in: {out}"
        );
    }
    // Environment overrides, with __ for nesting.
    std::fs::write(&file, GOOD).unwrap();
    let (code, out) = gateway(
        &["--config", f, "check-config"],
        &[("BRAMA_GATEWAY_TRUST__QUALIFIED", "sometimes")],
    );
    assert_eq!(code, Some(2));
    assert!(out.contains("trust.qualified"), "{out}");
    let (code, out) = gateway(
        &["--config", f, "check-config"],
        &[("BRAMA_GATEWAY_TRUST__QUALIFIED", "any")],
    );
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = gateway(&["--config", "/nonexistent.toml", "check-config"], &[]);
    assert_eq!(code, Some(2));
    assert!(out.contains("/nonexistent.toml does not exist"), "{out}");
}

#[test]
fn check_cert_gives_the_login_verdict_for_one_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let m = certs::devpki::init(&certs::devpki::Options::new(&dir)).unwrap();
    let file = tmp.path().join("gateway.toml");
    std::fs::write(&file, GOOD).unwrap();
    let f = file.to_str().unwrap();
    let path = |name: &str| {
        dir.join(&m.certificate(name).unwrap().certificate)
            .to_str()
            .unwrap()
            .to_string()
    };
    for (name, code, verdict) in [
        ("citizen-p256", 0, "verdict: valid"),
        ("citizen-rsa2048", 0, "verdict: valid"),
        ("expired", 1, "[certificate_expired]"),
        ("not-yet-valid", 1, "[certificate_not_yet_valid]"),
        ("not-qualified", 1, "[not_qualified]"),
        ("seal-p256", 1, "[not_a_person]"),
        ("citizen-p256-kep", 1, "[wrong_key_usage]"),
        ("wrong-key-usage", 1, "[wrong_key_usage]"),
        ("untrusted", 1, "[untrusted_issuer]"),
        ("rsa1024", 1, "[weak_key]"),
        ("sha1", 1, "[weak_algorithm]"),
        ("ambiguous-tin", 1, "[ambiguous_identity]"),
        ("revoked", 0, "verdict: valid"),
    ] {
        let (c, out) = gateway(&["--config", f, "check-cert", &path(name)], &[]);
        assert_eq!(c, Some(code), "{name}: {out}");
        assert!(out.contains(verdict), "{name}: {out}");
    }
    // With the CRL the revoked one is refused; at a time in its window the expired one passes.
    let crl = dir.join("crl.pem");
    let (c, out) = gateway(
        &[
            "--config",
            f,
            "check-cert",
            &path("revoked"),
            "--crl",
            crl.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(c, Some(1), "{out}");
    assert!(out.contains("[certificate_revoked]"), "{out}");
    let (c, _) = gateway(
        &[
            "--config",
            f,
            "check-cert",
            &path("citizen-p256"),
            "--crl",
            crl.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(c, Some(0));
    let year_and_half_ago = (time::OffsetDateTime::now_utc() - time::Duration::days(548))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (c, out) = gateway(
        &[
            "--config",
            f,
            "check-cert",
            &path("expired"),
            "--at",
            &year_and_half_ago,
        ],
        &[],
    );
    assert_eq!(c, Some(0), "{out}");
    // Without a config, from flags; --any accepts the non-qualified; --json for scripts.
    let root = dir.join("root.pem");
    let ica = dir.join("ica.pem");
    let (c, out) = gateway(
        &[
            "check-cert",
            &path("not-qualified"),
            "--anchors",
            root.to_str().unwrap(),
            "--intermediates",
            ica.to_str().unwrap(),
            "--any",
            "--json",
        ],
        &[],
    );
    assert_eq!(c, Some(0), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["certificate"]["identity"]["surname"], "Ткаченко");
    let (c, out) = gateway(
        &[
            "check-cert",
            &path("expired"),
            "--anchors",
            root.to_str().unwrap(),
            "--intermediates",
            ica.to_str().unwrap(),
            "--json",
        ],
        &[],
    );
    assert_eq!(c, Some(1));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["code"].as_str(), v["etsi"]["indication"].as_str()),
        (Some("certificate_expired"), Some("INDETERMINATE"))
    );
    // Usage errors: exit 2 with the reason.
    let (c, out) = gateway(&["check-cert", &path("expired")], &[]);
    assert_eq!(c, Some(2));
    assert!(out.contains("no trust anchors"), "{out}");
    let (c, out) = gateway(
        &[
            "check-cert",
            &path("expired"),
            "--anchors",
            root.to_str().unwrap(),
            "--at",
            "yesterday",
        ],
        &[],
    );
    assert_eq!(c, Some(2));
    assert!(out.contains("not an RFC 3339 time"), "{out}");
}

#[test]
fn real_dstu_certificates_get_the_same_verdicts_as_ecdsa_ones() {
    let f = |name: &str| format!("{}/../fixtures/ua-real/{name}", env!("CARGO_MANIFEST_DIR"));
    let check = |leaf: &str, intermediates: bool| {
        let leaf = f(leaf);
        let cao = f("CAO-05E19E2CD92EA2990100000001000000C1000000.cer");
        let ca = f("diia-CA-05E19E2CD92EA2990100000001000000E1000000.cer");
        let mut args = vec![
            "check-cert",
            &leaf,
            "--anchors",
            &cao,
            "--at",
            "2023-06-01T00:00:00Z",
            "--json",
        ];
        if intermediates {
            args.extend(["--intermediates", &ca]);
        }
        let (code, out) = gateway(&args, &[]);
        let v: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        (code, v)
    };
    // CAO root → Diia CA → the test signing certificate: valid and qualified — and, since
    // it names the Diia test organisation, not a person's, a login would be refused.
    let (code, v) = check("diia-test-sign-7775603.cer", true);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["code"], "not_a_person", "{v}");
    assert_eq!(v["certificate_valid"], true, "{v}");
    assert_eq!(v["certificate"]["qualified"]["ua_qualified"], true, "{v}");
    assert_eq!(v["certificate"]["qualified"]["qc_compliance"], true, "{v}");
    assert_eq!(
        v["certificate"]["identity"]["organisation"]["identifier"]["value"], "43395033",
        "the identity is read"
    );
    // The same citizen's key-agreement certificate is refused as a login would be.
    let (code, v) = check("diia-test-kep-7775604.cer", true);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["code"], "wrong_key_usage", "{v}");
    // Without the Diia CA there is no path to the root.
    let (code, v) = check("diia-test-sign-7775603.cer", false);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["code"], "untrusted_issuer", "{v}");
}

#[test]
fn a_trust_bundle_loads_self_signed_certificates_as_anchors_and_the_rest_as_cas() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    certs::devpki::init(&certs::devpki::Options::new(&pki)).unwrap();
    // A bundle written by another tool: root, issuing CA, the DSTU root and CA, one PKCS#7.
    let out = Command::new("openssl")
        .args([
            "crl2pkcs7",
            "-nocrl",
            "-outform",
            "DER",
            "-out",
            "CACertificates.p7b",
        ])
        .args(["-certfile", "root.pem", "-certfile", "ica.pem"])
        .args([
            "-certfile",
            "dstu/dstu-root.pem",
            "-certfile",
            "dstu/dstu-ca.pem",
        ])
        .current_dir(&pki)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = tmp.path().join("gateway.toml");
    let f = file.to_str().unwrap();
    let config = |trust: &str| {
        format!(
            "public_origin = \"https://cabinet.example\"\nbackend = \"http://127.0.0.1:3000\"\n\
             [trust]\n{trust}\n[revocation]\nmode = \"off\"\n"
        )
    };
    std::fs::write(&file, config("bundles = [\"pki/CACertificates.p7b\"]")).unwrap();
    let (code, out) = gateway(&["--config", f, "check-config"], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("trust: 2 anchors, 2 intermediate CAs"),
        "{out}"
    );
    // The real jkurwa bundle (CAList.cer): four self-signed CAs.
    let calist = format!(
        "{}/../fixtures/ua-real/CAList.cer",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::write(&file, config(&format!("bundles = [\"{calist}\"]"))).unwrap();
    let (code, out) = gateway(&["--config", f, "check-config"], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("trust: 4 anchors, 0 intermediate CAs"),
        "{out}"
    );
    // A bundle of CAs only (no self-signed one) trusts nothing: refused with the key named.
    std::fs::write(&file, config("bundles = [\"pki/ica.pem\"]")).unwrap();
    let (code, out) = gateway(&["--config", f, "check-config"], &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("trust.bundles"), "{out}");
    // A citizen of each side chains through the bundle.
    std::fs::write(&file, config("bundles = [\"pki/CACertificates.p7b\"]")).unwrap();
    for leaf in ["pki/citizen-p256.pem", "pki/dstu/dstu-citizen.pem"] {
        let leaf = tmp.path().join(leaf);
        let (code, out) = gateway(&["--config", f, "check-cert", leaf.to_str().unwrap()], &[]);
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("verdict: valid"), "{out}");
    }
}
