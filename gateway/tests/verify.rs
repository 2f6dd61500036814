//! The login verifier (design.md §4 steps 1–5) on real signatures: made by Brama's CMS
//! builder (what the agent sends) and by the `openssl cms -sign` command (any other client).

use brama_testkit::gateway as common;

use std::path::Path;
use std::process::Command;

use certs::cms::{self, Content, Digest};
use certs::statement::{self, LoginStatement};
use common::{statement, Pki, ORIGIN};
use gateway::verify::chain::{KeyUsageRule, Qualified, TrustPolicy};
use gateway::verify::{VerifiedLogin, Verifier};
use gateway::LoginError;

fn login(p: &Pki, name: &str) -> Vec<u8> {
    let s = statement("ch");
    p.sign_with(name, statement::CONTENT_TYPE, Content::Attached(&s), |_| {})
}

fn verify(p: &Pki, der: &[u8]) -> Result<VerifiedLogin, LoginError> {
    verify_by(&Verifier::new(p.policy()), der)
}

/// Verify with `v` (and what it remembers from earlier logins).
fn verify_by(v: &Verifier, der: &[u8]) -> Result<VerifiedLogin, LoginError> {
    v.verify_login(der, time::OffsetDateTime::now_utc(), |s| {
        if s.origin == ORIGIN {
            Ok(())
        } else {
            Err(LoginError::WrongOrigin(s.origin.clone()))
        }
    })
}

/// Verify under `policy`, with no statement check.
fn verify_under(policy: TrustPolicy, der: &[u8]) -> Result<VerifiedLogin, LoginError> {
    Verifier::new(policy).verify_login(der, time::OffsetDateTime::now_utc(), |_| Ok(()))
}

fn code(r: Result<VerifiedLogin, LoginError>) -> String {
    match r {
        Ok(_) => "valid".into(),
        Err(e) => e.code().into(),
    }
}

#[test]
fn every_dev_pki_certificate_gets_its_expected_verdict() {
    let p = Pki::new();
    let verifier = Verifier::new(p.policy());
    for e in &p.manifest.certificates {
        check_expected(&p, &verifier, e, "untrusted_ca", "untrusted-ca.cer");
    }
}

/// `e` signs a login and gets its manifest verdict from `verifier` (steps 1–5: revocation is a
/// later step, so a revoked certificate passes). A certificate of the untrusted CA `untrusted`
/// brings that CA (`ca_file`) in the signature, as a client might.
fn check_expected(
    p: &Pki,
    verifier: &Verifier,
    e: &certs::devpki::Entry,
    untrusted: &str,
    ca_file: &str,
) {
    let expected = if e.expected == "certificate_revoked" {
        "valid"
    } else {
        e.expected.as_str()
    };
    let der = if e.issuer == untrusted {
        let s = statement("ch");
        let chain = vec![std::fs::read(p.dir.join(ca_file)).unwrap()];
        p.sign_with(
            &e.name,
            statement::CONTENT_TYPE,
            Content::Attached(&s),
            |r| r.chain = Box::leak(chain.into_boxed_slice()),
        )
    } else {
        login(p, &e.name)
    };
    assert_eq!(
        code(verify_by(verifier, &der)),
        expected,
        "{}: {}",
        e.name,
        e.description
    );
}

#[test]
fn a_valid_login_yields_the_statement_and_the_person() {
    let p = Pki::new();
    let v = verify(&p, &login(&p, "representative-p256")).unwrap();
    assert_eq!(v.statement.origin, ORIGIN);
    assert_eq!(v.statement.challenge, "ch");
    let id = &v.checked.summary.identity;
    assert_eq!(id.surname.as_deref(), Some("Франко"));
    assert_eq!(id.organisation.as_ref().unwrap().edrpou(), Some("12345678"));
    assert_eq!(v.checked.chain.len(), 3, "leaf, issuing CA, root");
}

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// `openssl cms -sign` over `statement.json` in the PKI folder, as the dev-PKI entry `name`,
/// with `flags`; returns the DER written to `out`.
fn openssl_sign(p: &Pki, name: &str, flags: &[&str], out: &str) -> Vec<u8> {
    let e = p.manifest.certificate(name).unwrap();
    let pass = format!("pass:{}", e.password);
    let mut args = vec![
        "cms",
        "-sign",
        "-nodetach",
        "-binary",
        "-econtent_type",
        statement::CONTENT_TYPE,
        "-outform",
        "DER",
    ];
    args.extend_from_slice(flags);
    args.extend([
        "-in",
        "statement.json",
        "-out",
        out,
        "-signer",
        &e.certificate,
        "-inkey",
        &e.key,
        "-passin",
        &pass,
    ]);
    let result = openssl(&p.dir, &args);
    assert!(
        result.status.success(),
        "openssl cms -sign: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    std::fs::read(p.dir.join(out)).unwrap()
}

#[test]
fn openssl_signed_statements_are_accepted_like_the_agents() {
    let p = Pki::new();
    for name in ["citizen-p256", "citizen-p384", "citizen-rsa2048"] {
        std::fs::write(p.dir.join("statement.json"), statement("from-openssl")).unwrap();
        let der = openssl_sign(&p, name, &["-cades", "-md", "sha256"], "login.der");
        let v = verify(&p, &der).unwrap_or_else(|err| panic!("{name}: {} {err}", err.code()));
        assert_eq!(v.statement.challenge, "from-openssl");
    }
}

#[test]
fn attacks_on_the_signature_get_their_codes() {
    let p = Pki::new();
    let s = statement("ch");
    // A document signature (id-data), attached.
    let doc = p.sign_with("citizen-p256", cms::ID_DATA, Content::Attached(&s), |_| {});
    assert_eq!(code(verify(&p, &doc)), "wrong_content_type");
    // A hash-mode document signature over the statement's digest.
    let digest = Digest::Sha256.hash(&s);
    let hashed = p.sign_with(
        "citizen-p256",
        cms::ID_DATA,
        Content::Detached { digest: &digest },
        |_| {},
    );
    assert_eq!(code(verify(&p, &hashed)), "wrong_content_type");
    // A detached login statement.
    let detached = p.sign_with(
        "citizen-p256",
        statement::CONTENT_TYPE,
        Content::Detached { digest: &digest },
        |_| {},
    );
    assert_eq!(code(verify(&p, &detached)), "content_missing");

    // Tampered content: the challenge changed after signing (same length).
    let good = login(&p, "citizen-p256");
    let at = good.windows(4).position(|w| w == b"\"ch\"").unwrap();
    let mut tampered = good.clone();
    tampered[at + 1] = b'x';
    assert_eq!(code(verify(&p, &tampered)), "bad_signature");
    // Tampered signature value (last byte of the DER is in the signature).
    let mut bad_sig = good.clone();
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 0x55;
    assert_eq!(code(verify(&p, &bad_sig)), "bad_signature");

    // Another site's statement.
    let other = LoginStatement::new("https://evil.example", "ch", 1).to_bytes();
    let evil = p.sign_with(
        "citizen-p256",
        statement::CONTENT_TYPE,
        Content::Attached(&other),
        |_| {},
    );
    assert_eq!(code(verify(&p, &evil)), "wrong_origin");
    // Garbage, truncation, oversize, a non-statement content.
    assert_eq!(code(verify(&p, b"not a signature")), "malformed_signature");
    assert_eq!(
        code(verify(&p, &good[..good.len() / 2])),
        "malformed_signature"
    );
    assert_eq!(code(verify(&p, &vec![0x30; 70_000])), "too_large");
    let junk = p.sign_with(
        "citizen-p256",
        statement::CONTENT_TYPE,
        Content::Attached(b"{\"v\":1}"),
        |_| {},
    );
    assert_eq!(code(verify(&p, &junk)), "bad_statement");
}

#[test]
fn signer_certificate_must_be_the_one_signing_certificate_v2_names() {
    let p = Pki::new();
    // A second certificate for the citizen's key, issued by the same CA (openssl x509 -req).
    let e = p.manifest.certificate("citizen-p256").unwrap();
    let ica = p.manifest.certificate("ica").unwrap();
    let out = openssl(
        &p.dir,
        &[
            "req",
            "-new",
            "-key",
            &e.key,
            "-passin",
            &format!("pass:{}", e.password),
            "-subj",
            "/CN=Other/C=UA",
            "-out",
            "other.csr",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        p.dir.join("ext.cnf"),
        "keyUsage=critical,digitalSignature\n",
    )
    .unwrap();
    let out = openssl(
        &p.dir,
        &[
            "x509",
            "-req",
            "-in",
            "other.csr",
            "-CA",
            "ica.pem",
            "-CAkey",
            &ica.key,
            "-passin",
            &format!("pass:{}", ica.password),
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-outform",
            "DER",
            "-out",
            "other.der",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let other = std::fs::read(p.dir.join("other.der")).unwrap();
    let real = std::fs::read(p.dir.join(&e.certificate_der)).unwrap();
    let s = statement("ch");
    // Signed and embedded as the other certificate, but signing-certificate-v2 names the real one.
    let forged = p.sign_with(
        "citizen-p256",
        statement::CONTENT_TYPE,
        Content::Attached(&s),
        |r| {
            r.certificate = Box::leak(other.clone().into_boxed_slice());
            r.signing_certificate = Some(Box::leak(real.clone().into_boxed_slice()));
        },
    );
    assert_eq!(code(verify(&p, &forged)), "signer_certificate_mismatch");

    // Without any embedded certificate the signer cannot be found.
    std::fs::write(p.dir.join("statement.json"), &s).unwrap();
    let nocerts = openssl_sign(&p, "citizen-p256", &["-cades", "-nocerts"], "nocerts.der");
    assert_eq!(code(verify(&p, &nocerts)), "signer_certificate_missing");

    // Two signers.
    let r = p.manifest.certificate("citizen-rsa2048").unwrap();
    openssl_sign(&p, "citizen-p256", &[], "two.der");
    let out = openssl(
        &p.dir,
        &[
            "cms",
            "-resign",
            "-inform",
            "DER",
            "-in",
            "two.der",
            "-outform",
            "DER",
            "-out",
            "two2.der",
            "-signer",
            &r.certificate,
            "-inkey",
            &r.key,
            "-passin",
            &format!("pass:{}", r.password),
        ],
    );
    assert!(
        out.status.success(),
        "openssl cms -resign: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        code(verify(&p, &std::fs::read(p.dir.join("two2.der")).unwrap())),
        "signer_count"
    );
}

#[test]
fn qualified_any_accepts_the_non_qualified_and_policies_filter() {
    let p = Pki::new();
    let der = login(&p, "not-qualified");
    let any = || TrustPolicy {
        qualified: Qualified::Any,
        ..p.policy()
    };
    assert!(verify_under(any(), &der).is_ok());
    // Seals stay refused even under "any": not a person.
    let seal = login(&p, "seal-p256");
    assert_eq!(
        verify_under(any(), &seal).unwrap_err().code(),
        "not_a_person"
    );

    let citizen = login(&p, "citizen-p256");
    let mut deny = p.policy();
    deny.policies_deny = vec![certs::oids::UA_QUALIFIED_POLICY.into()];
    assert_eq!(
        verify_under(deny, &citizen).unwrap_err().code(),
        "policy_not_allowed"
    );
    let mut allow = p.policy();
    allow.policies_allow = vec!["1.2.3.4".into()];
    assert_eq!(
        verify_under(allow, &citizen).unwrap_err().code(),
        "policy_not_allowed"
    );
    let mut nr_only = p.policy();
    nr_only.key_usage = KeyUsageRule::NonRepudiation;
    assert!(verify_under(nr_only, &citizen).is_ok());
    // Step 2 runs before the costly steps: a refusing statement check wins over a bad chain.
    let untrusted_root_only = TrustPolicy {
        anchors: vec![],
        ..p.policy()
    };
    let r = Verifier::new(untrusted_root_only).verify_login(
        &citizen,
        time::OffsetDateTime::now_utc(),
        |_| Err(LoginError::ChallengeExpired),
    );
    assert_eq!(r.unwrap_err().code(), "challenge_expired");
}

#[test]
fn a_ca_validated_once_is_trusted_again_only_under_the_same_anchors() {
    let p = Pki::new();
    let citizen = login(&p, "citizen-p256");
    // The first login validates the issuing CA up to the root; the second goes through the
    // remembered CA (one signature to check) and gets the same verdict and chain.
    let mut verifier = Verifier::new(p.policy());
    let first = verify_by(&verifier, &citizen).unwrap();
    let second = verify_by(&verifier, &citizen).unwrap();
    assert_eq!(first.checked.chain, second.checked.chain);
    assert_eq!(second.checked.chain.len(), 3, "leaf, CA, anchor");
    // Under other anchors the same CA is not trusted because it was once.
    let other_root = openssl::x509::X509::from_pem(
        &std::fs::read(p.dir.join(&p.manifest.trust.untrusted_root)).unwrap(),
    )
    .unwrap();
    let anchors = std::mem::replace(&mut verifier.policy.anchors, vec![other_root]);
    assert_eq!(code(verify_by(&verifier, &citizen)), "untrusted_issuer");
    verifier.policy.anchors = anchors;
    // A defect of the leaf behind a remembered CA keeps its code.
    for (name, expected) in [
        ("expired", "certificate_expired"),
        ("sha1", "weak_algorithm"),
        ("rsa1024", "weak_key"),
    ] {
        assert_eq!(
            code(verify_by(&verifier, &login(&p, name))),
            expected,
            "{name}"
        );
    }
}

/// A leaf that passed steps 4–5 is remembered (verify::remembered), but only within its
/// path's validity: outside it the same bytes get the clock's verdict again, and inside it
/// the login is still accepted afterwards.
#[test]
fn a_remembered_leaf_is_checked_against_the_clock_again() {
    let p = Pki::new();
    let citizen = login(&p, "citizen-p256");
    let verifier = Verifier::new(p.policy());
    let at = |t: time::OffsetDateTime| verifier.verify_login(&citizen, t, |_| Ok(()));
    let now = time::OffsetDateTime::now_utc();
    let first = at(now).unwrap();
    let epoch = openssl::asn1::Asn1Time::from_unix(0).unwrap();
    let unix = |t: &openssl::asn1::Asn1TimeRef| {
        let d = epoch.diff(t).unwrap();
        time::OffsetDateTime::from_unix_timestamp(d.days as i64 * 86400 + d.secs as i64).unwrap()
    };
    let leaf = &first.checked.chain[0];
    let (not_before, not_after) = (unix(leaf.not_before()), unix(leaf.not_after()));
    assert_eq!(at(now).unwrap().checked.chain, first.checked.chain);
    assert_eq!(
        code(at(not_after + time::Duration::seconds(1))),
        "certificate_expired"
    );
    assert_eq!(
        code(at(not_before - time::Duration::seconds(1))),
        "certificate_not_yet_valid"
    );
    assert!(at(now).is_ok(), "still valid now");
}

/// Every refusal of steps 1–5 once with ECDSA and once with DSTU 4145: the dev PKI's `dstu-`
/// twins get the same codes as their ECDSA originals, under one policy that trusts both roots.
#[test]
fn every_refusal_has_a_dstu_twin_with_the_same_code() {
    let p = Pki::new();
    let verifier = Verifier::new(p.policy_with_dstu());
    let leaves: Vec<_> = p
        .manifest
        .dstu
        .iter()
        .filter(|e| e.key.ends_with(".dat") || e.pkcs12.is_some())
        .filter(|e| !["dstu-root", "dstu-ca", "dstu-ocsp"].contains(&e.name.as_str()))
        .collect();
    for e in &leaves {
        check_expected(
            &p,
            &verifier,
            e,
            "dstu-untrusted-ca",
            "dstu/dstu-untrusted-ca.cer",
        );
    }
    // Each ECDSA case has its twin: the same set of codes.
    let codes = |list: &mut dyn Iterator<Item = &String>| {
        let mut v: Vec<String> = list.cloned().collect();
        v.sort();
        v.dedup();
        v
    };
    assert_eq!(
        codes(&mut p.manifest.certificates.iter().map(|e| &e.expected)),
        codes(&mut leaves.iter().map(|e| &e.expected)),
    );
    // The same ECDSA cases still get their codes under the policy that trusts both roots.
    for e in &p.manifest.certificates {
        if e.issuer == "untrusted_ca" || e.expected == "certificate_revoked" {
            continue;
        }
        assert_eq!(
            code(verify_by(&verifier, &login(&p, &e.name))),
            e.expected,
            "{}",
            e.name
        );
    }
}

#[test]
fn a_dstu_login_yields_the_person_and_the_organisation() {
    let p = Pki::new();
    let verifier = Verifier::new(p.policy_with_dstu());
    let v = verify_by(&verifier, &login(&p, "dstu-representative")).unwrap();
    let id = &v.checked.summary.identity;
    assert_eq!(id.surname.as_deref(), Some("Українка"));
    assert_eq!(id.organisation.as_ref().unwrap().edrpou(), Some("12345678"));
    assert_eq!(v.checked.summary.key_algorithm, "DSTU 4145");
    assert_eq!(v.checked.chain.len(), 3, "leaf, DSTU CA, DSTU root");
    // Mixed chains both ways.
    for name in ["mixed-ecdsa-citizen", "mixed-dstu-citizen"] {
        let v = verify_by(&verifier, &login(&p, name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.checked.chain.len(), 3, "{name}");
    }
    // Under the ECDSA-only policy the DSTU citizen has no path.
    assert_eq!(
        code(verify(&p, &login(&p, "dstu-citizen"))),
        "untrusted_issuer"
    );
}

#[test]
fn attacks_on_a_dstu_signature_get_the_ecdsa_codes() {
    let p = Pki::new();
    let verifier = Verifier::new(p.policy_with_dstu());
    let good = login(&p, "dstu-citizen");
    assert_eq!(code(verify_by(&verifier, &good)), "valid");
    let at = good.windows(4).position(|w| w == b"\"ch\"").unwrap();
    let mut tampered = good.clone();
    tampered[at + 1] = b'x';
    assert_eq!(code(verify_by(&verifier, &tampered)), "bad_signature");
    let mut bad_sig = good.clone();
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 0x55;
    assert_eq!(code(verify_by(&verifier, &bad_sig)), "bad_signature");
    let s = statement("ch");
    let doc = p.sign_with("dstu-citizen", cms::ID_DATA, Content::Attached(&s), |_| {});
    assert_eq!(code(verify_by(&verifier, &doc)), "wrong_content_type");
    let other = LoginStatement::new("https://evil.example", "ch", 1).to_bytes();
    let evil = p.sign_with(
        "dstu-citizen",
        statement::CONTENT_TYPE,
        Content::Attached(&other),
        |_| {},
    );
    assert_eq!(code(verify_by(&verifier, &evil)), "wrong_origin");
    // signing-certificate-v2 naming the kep certificate of the same citizen.
    let kep = std::fs::read(p.dir.join("dstu/dstu-citizen-kep.cer")).unwrap();
    let kep: &'static [u8] = Box::leak(kep.into_boxed_slice());
    let forged = p.sign_with(
        "dstu-citizen",
        statement::CONTENT_TYPE,
        Content::Attached(&s),
        |r| r.signing_certificate = Some(kep),
    );
    assert_eq!(
        code(verify_by(&verifier, &forged)),
        "signer_certificate_mismatch"
    );
}
