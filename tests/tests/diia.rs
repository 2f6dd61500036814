//! The strongest proof the project can give that a Ukrainian citizen's real key works: the
//! Diia test key (`test-diia.p12`, made by Diia's CA, from UAPKI's test data) held by the
//! agent signs in through the agent's API and approval page to a gateway that trusts the
//! real Ukrainian root (ЦЗО) with the Diia CA as intermediate. The gateway's clock is set to
//! 2023-06-01, inside the certificate's validity (it expired in 2024); revocation is off for
//! this test only, since the certificate's OCSP and CRL endpoints are on the internet.
//!
//! The certificate is the Diia test organisation's qualified seal, so the gateway runs with
//! `trust.persons_only = false` and registers the organisation's account (ЄДРПОУ 43395033).
//! jkurwa, the independent DSTU implementation, verifies what the agent signed.

use brama_testkit::agent::{b64, Agent, PAGE};
use brama_testkit::gateway::{self as gw, ORIGIN};
use brama_testkit::jkurwa::{self, fixture};
use serde_json::{json, Value};

const SIGN: &str = "ua-real/diia-test-sign-7775603.cer";
const KEP: &str = "ua-real/diia-test-kep-7775604.cer";

/// A folder as a citizen has it from Diia: the key file, its two certificates beside it.
fn diia_folder(dir: &std::path::Path) -> std::path::PathBuf {
    let folder = dir.join("diia");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("test-diia.p12"),
        fixture("ua-dstu/test-diia.p12"),
    )
    .unwrap();
    std::fs::write(folder.join("sign.cer"), fixture(SIGN)).unwrap();
    std::fs::write(folder.join("kep.cer"), fixture(KEP)).unwrap();
    folder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_diia_key_signs_in_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = diia_folder(tmp.path());
    // Both clocks at a time the certificate was valid: jkurwa, like any verifier, wants the
    // signing time inside the signer's validity.
    let then = time::OffsetDateTime::from_unix_timestamp(1_685_620_800).unwrap(); // 2023-06-01 12:00 UTC
    let offset = then - time::OffsetDateTime::now_utc();
    let agent = Agent::start(|c| {
        c.containers.push(folder.clone());
        c.clock_offset = offset;
    })
    .await;

    // Listed by holder, with both keys' purposes, before any password.
    let list = agent.containers_as_approved().await;
    let diia = list["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == "test-diia")
        .unwrap_or_else(|| panic!("test-diia not listed: {list}"))
        .clone();
    assert_eq!(diia["kind"], "pkcs12_gost");
    let certs = diia["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2, "{diia}");
    for c in certs {
        assert_eq!(c["name"], "ДП ДІЯ (Тестування)");
        assert_eq!(c["key_algorithm"], "DSTU 4145");
    }
    let signing: Vec<&Value> = certs.iter().filter(|c| c["can_sign"] == true).collect();
    assert_eq!(signing.len(), 1, "the key-agreement key is never offered");
    assert_eq!(
        certs.iter().find(|c| c["can_sign"] == false).unwrap()["purpose"],
        "key_agreement"
    );

    // A gateway trusting the real root, at a time the certificate was valid.
    let backend = gw::echo_backend().await;
    let (_db, g) =
        gw::start_trusting_files(
            &[jkurwa::root()
                .join("fixtures/ua-real/CAO-05E19E2CD92EA2990100000001000000C1000000.cer")],
            &[jkurwa::root()
                .join("fixtures/ua-real/diia-CA-05E19E2CD92EA2990100000001000000E1000000.cer")],
            &format!("http://{backend}"),
            "",
            |c| {
                c.trust.persons_only = false;
                c.clock_offset = offset;
            },
        )
        .await;
    let base = format!("http://127.0.0.1:{}", g.port);
    let http = gw::client();
    let challenge = gw::challenge(&http, &base, "/").await;

    // The page asks the agent; the person approves with the key's password.
    let done = agent
        .approved(
            "/v1/authenticate",
            json!({"container": diia["id"], "challenge": challenge.challenge}),
            "testpassword",
        )
        .await;
    let signature = b64(done["result"]["signature"].as_str().unwrap());
    assert_eq!(
        b64(done["result"]["certificate"].as_str().unwrap()),
        fixture(SIGN),
        "signed with the signing key, not the key-agreement one"
    );

    // jkurwa verifies the agent's DSTU login signature.
    let file = tmp.path().join("login.p7s");
    std::fs::write(&file, &signature).unwrap();
    let verdict = jkurwa::run(&["verify-cms", file.to_str().unwrap()]);
    assert_eq!(verdict["valid"], true, "{verdict}");
    // …and is no rubber stamp: the same message with one bit of the signature value flipped
    // (the value closes the SignerInfo, the last element of the message) is refused.
    let mut tampered = signature.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    std::fs::write(&file, &tampered).unwrap();
    let verdict = jkurwa::run(&["verify-cms", file.to_str().unwrap()]);
    assert_eq!(verdict["valid"], false, "{verdict}");

    // The gateway verifies the chain to the real root and registers the organisation.
    let r = gw::post_signature(&http, &base, &challenge.cookie, &signature).await;
    let status = r.status();
    let session = gw::set_cookie(&r, "__Host-brama-session");
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let session = session.unwrap().split(';').next().unwrap().to_string();
    let me = gw::me(&g, &session).await;
    let text = me.to_string();
    assert!(text.contains("ДП ДІЯ (Тестування)"), "{me}");
    assert!(text.contains("43395033"), "{me}");
    assert_eq!(ORIGIN, PAGE, "the agent signs for the cabinet's origin");
    g.stop().await;
}
