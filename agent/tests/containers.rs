//! Every container format the agent reads, with keys and stores made by others: jkurwa's PBES2
//! `STORE_A040.dat`, an IIT-layout store written by gost89, UAPKI's RSA Java KeyStore, a JKS
//! with a DSTU key, the Diia PKCS#12 alone; each listed by holder and purpose, each signing,
//! and the refusals a person sees (wrong password, damaged store, no certificate).

use std::path::{Path, PathBuf};
use std::process::Command;

use brama_testkit::agent::{b64, request_and_answer, Agent, PAGE};
use brama_testkit::jkurwa::{self, fixture};
use brama_testkit::pki::{openssl_pkcs12_export, openssl_self_signed};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The listed container labelled `label`.
async fn listed(a: &Agent, label: &str) -> Value {
    let list = a.containers_as_approved().await;
    list["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == label)
        .unwrap_or_else(|| panic!("{label} not listed: {list}"))
        .clone()
}

/// jkurwa's verdict on a CMS signature.
fn jkurwa_valid(dir: &Path, signature: &[u8]) -> Value {
    let f = dir.join("sig.p7s");
    std::fs::write(&f, signature).unwrap();
    jkurwa::run(&["verify-cms", f.to_str().unwrap()])["valid"].clone()
}

/// A signing certificate of the development DSTU CA for jkurwa's `Key40A0` (the certificate
/// that came with it is for key agreement only).
fn certificate_for_key40a0(a: &Agent) -> Vec<u8> {
    let enc = fixture("ua-dstu/SELF_SIGNED_ENC_40A0.cer");
    let spki = certs::parse(&enc).unwrap().public_key().raw.to_vec();
    let (ca, _) = a.manifest.dstu_key(&a.pki, "dstu-ca").unwrap();
    let template = std::fs::read(a.pki.join("dstu/dstu-citizen.cer")).unwrap();
    certs::devpki::dstu::reissue(&template, &spki, ca).unwrap()
}

/// An end-entity certificate `c.pem` in `work` for the key `k.pem` (written from `key`, or made
/// by openssl as P-256), by the openssl command; returns it as DER. (openssl's default config
/// would make a CA.)
fn folder(a: &Agent, name: &str) -> PathBuf {
    let d = a._tmp.path().join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test]
async fn jkurwas_key_store_is_learnt_at_its_first_unlock_and_signs() {
    let mut dir = PathBuf::new();
    let a = Agent::start(|c| {
        dir = c.data_dir.parent().unwrap().join("ua");
        c.containers.push(dir.clone());
    })
    .await;
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("STORE_A040.dat"),
        fixture("ua-dstu/STORE_A040.dat"),
    )
    .unwrap();
    // Its key-agreement certificate and a signing one, under other names than the store's.
    std::fs::write(
        dir.join("enc.cer"),
        fixture("ua-dstu/SELF_SIGNED_ENC_40A0.cer"),
    )
    .unwrap();
    let signing = certificate_for_key40a0(&a);
    std::fs::write(dir.join("sign.cer"), &signing).unwrap();

    // Nothing shows without the password.
    let c = listed(&a, "STORE_A040").await;
    assert_eq!(c["kind"], "encrypted_pkcs8");
    assert_eq!(c["state"], "needs_unlock");
    assert!(c["certificates"].as_array().unwrap().is_empty());
    assert!(c["message"].as_str().unwrap().contains("first unlock"));

    // A wrong password: the agent's back-off, no key.
    let (status, page, pending) = request_and_answer(
        &a.http,
        &a.own_origin(),
        "/v1/authenticate",
        json!({"container": c["id"], "challenge": "first"}),
        "passw0rd",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("Неправильний пароль"), "{page}");
    assert!(
        page.contains("Власника ключа буде показано після введення пароля"),
        "{page}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // The right one: the signing certificate is chosen, the statement verifies in jkurwa.
    let (status, page) = a.retry(&pending, "password").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let done: Value = a
        .poll(pending["request"].as_str().unwrap(), PAGE)
        .await
        .json()
        .await
        .unwrap();
    let result = &done["result"];
    assert_eq!(b64(result["certificate"].as_str().unwrap()), signing);
    let sig = b64(result["signature"].as_str().unwrap());
    assert_eq!(jkurwa_valid(&dir, &sig), true);

    // From now on it is listed by holder, both certificates with their purposes.
    let c = listed(&a, "STORE_A040").await;
    let certs = c["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2, "{c}");
    assert!(certs
        .iter()
        .any(|v| v["can_sign"] == true && v["name"] == "Сковорода Григорій Савич"));
    assert!(certs
        .iter()
        .any(|v| v["can_sign"] == false && v["purpose"] == "key_agreement"));
    assert!(a._tmp.path().join("data/pairings.json").is_file());
}

#[tokio::test]
async fn an_iit_store_written_by_gost89_signs_a_document_jkurwa_verifies() {
    let mut dir = PathBuf::new();
    let a = Agent::start(|c| {
        dir = c.data_dir.parent().unwrap().join("iit");
        c.containers.push(dir.clone());
    })
    .await;
    std::fs::create_dir_all(&dir).unwrap();
    let key = a._tmp.path().join("Key40A0.pk8");
    std::fs::write(&key, fixture("ua-dstu/Key40A0.cer")).unwrap();
    jkurwa::run(&[
        "iit-store",
        key.to_str().unwrap(),
        "secret-6",
        dir.join("Key-6.dat").to_str().unwrap(),
    ]);
    // The certificate only in the agent's certificate folder (`import-cert`), not beside it.
    let places = agent::containers::Places::new(Vec::new(), &a._tmp.path().join("data"));
    agent::containers::memory::import(&places, &[certificate_for_key40a0(&a)]).unwrap();

    let c = listed(&a, "Key-6").await;
    assert_eq!(c["kind"], "iit");
    let done = a
        .approved(
            "/v1/sign",
            json!({"container": c["id"], "name": "заява.txt",
                   "content": base64_of(b"\xd0\x97\xd0\xb0\xd1\x8f\xd0\xb2\xd0\xb0")}),
            "secret-6",
        )
        .await;
    let sig = b64(done["result"]["signature"].as_str().unwrap());
    assert_eq!(jkurwa_valid(&dir, &sig), true);

    // A detached signature over the same document carries its GOST 34.311 digest.
    let done = a
        .approved(
            "/v1/sign",
            json!({"container": c["id"], "content": base64_of(b"detached"), "detached": true}),
            "secret-6",
        )
        .await;
    let sig = b64(done["result"]["signature"].as_str().unwrap());
    let gost = certs::dstu::Gost34311::digest(b"detached");
    assert!(
        sig.windows(32).any(|w| w == gost),
        "the messageDigest is GOST 34.311"
    );
    // And a page's hash in the wrong algorithm is refused with a clear reason.
    let (status, page) = a
        .decide("/v1/sign", json!({"container": c["id"], "hash": base64_of(&[0u8; 32]), "hash_algorithm": "sha256"}), "secret-6")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("gost34311"), "{page}");
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[tokio::test]
async fn java_keystores_rsa_from_uapki_and_dstu_from_brama_sign() {
    let mut dir = PathBuf::new();
    let a = Agent::start(|c| {
        dir = c.data_dir.parent().unwrap().join("jks");
        c.containers.push(dir.clone());
    })
    .await;
    std::fs::create_dir_all(&dir).unwrap();
    // UAPKI's RSA key alone; its certificate made here with the openssl command for its key.
    let jks = fixture("ua-dstu/test-jks.jks");
    std::fs::write(dir.join("privat.jks"), &jks).unwrap();
    let entry = certs::jks::read(&jks, "testpassword").unwrap();
    let key_pem = openssl::pkey::PKey::private_key_from_pkcs8(&entry.keys[0].pkcs8)
        .unwrap()
        .private_key_to_pem_pkcs8()
        .unwrap();
    let work = folder(&a, "work");
    openssl_self_signed(
        &work,
        Some(&key_pem),
        "/C=UA/SN=Приватний/GN=Тест/CN=Приватний Тест",
    );
    std::fs::copy(work.join("c.pem"), dir.join("privat.pem")).unwrap();
    let c = listed(&a, "privat").await;
    assert_eq!(c["kind"], "jks");
    assert_eq!(c["certificates"][0]["name"], "Приватний Тест", "{c}");
    let done = a
        .approved(
            "/v1/sign",
            json!({"container": c["id"], "content": base64_of(b"rsa in a jks")}),
            "testpassword",
        )
        .await;
    let sig = b64(done["result"]["signature"].as_str().unwrap());
    let out = Command::new("openssl")
        .args(["cms", "-verify", "-inform", "DER", "-noverify", "-binary"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(&sig)?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(
        out.stdout, b"rsa in a jks",
        "openssl verifies the RSA signature"
    );

    // A DSTU key in a JKS, its certificate chain inside: listed without the password.
    let (key, cert) = a.manifest.dstu_key(&a.pki, "dstu-citizen").unwrap();
    let dstu = certs::jks::write(
        "dstu",
        &key.to_pkcs8(false),
        std::slice::from_ref(&cert),
        "jks-пароль",
    );
    std::fs::write(dir.join("dstu.jks"), dstu).unwrap();
    let c = listed(&a, "dstu").await;
    assert_eq!(c["certificates"][0]["name"], "Сковорода Григорій Савич");
    let done = a
        .approved(
            "/v1/authenticate",
            json!({"container": c["id"], "challenge": "jks"}),
            "jks-пароль",
        )
        .await;
    let sig = b64(done["result"]["signature"].as_str().unwrap());
    assert_eq!(jkurwa_valid(&dir, &sig), true);
}

#[tokio::test]
async fn a_key_file_alone_and_a_damaged_store_say_what_is_wrong() {
    let mut dir = PathBuf::new();
    let a = Agent::start(|c| {
        dir = c.data_dir.parent().unwrap().join("alone");
        c.containers.push(dir.clone());
    })
    .await;
    std::fs::create_dir_all(&dir).unwrap();
    // Diia's key file without its certificates: the key ids are visible, nothing matches.
    std::fs::write(dir.join("test-diia.p12"), fixture("ua-dstu/test-diia.p12")).unwrap();
    let c = listed(&a, "test-diia").await;
    assert_eq!(c["state"], "no_certificate");
    let message = c["message"].as_str().unwrap();
    assert!(
        message.contains(&dir.display().to_string()) && message.contains("import-cert"),
        "{message}"
    );

    // After `import-cert`, the same file is listed by holder.
    let cert = jkurwa::root().join("fixtures/ua-real/diia-test-sign-7775603.cer");
    let out = a.cli(&["import-cert".as_ref(), cert.as_os_str()]);
    assert!(out.contains("ДП ДІЯ (Тестування)"), "{out}");
    let c = listed(&a, "test-diia").await;
    assert_eq!(c["certificates"][0]["name"], "ДП ДІЯ (Тестування)", "{c}");

    // A store cut short is listed no more (it is no store); one with a damaged cipher OID
    // opens to an error that names the cipher.
    let mut store = fixture("ua-dstu/STORE_A040.dat");
    let cfb = certs::oids::encode(certs::dstu::pbes2::OID_GOST28147_CFB);
    let at = store.windows(cfb.len()).position(|w| w == cfb).unwrap();
    store[at + cfb.len() - 1] = 9;
    std::fs::write(dir.join("odd.dat"), &store).unwrap();
    let c = listed(&a, "odd").await;
    let (status, page) = a
        .decide(
            "/v1/authenticate",
            json!({"container": c["id"], "challenge": "x"}),
            "password",
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("container_unreadable") && page.contains("1.2.804.2.1.1.1.1.1.1.9"),
        "{page}"
    );
}

/// OpenSSL 3's `openssl pkcs12 -export` with its defaults encrypts the certificate bags too:
/// such a file shows nothing before the password, is opened on the approval page, signs, and is
/// listed by holder from then on.
#[tokio::test]
async fn an_openssl_pkcs12_with_encrypted_certificates_unlocks_on_the_page_and_signs() {
    let mut dir = PathBuf::new();
    let a = Agent::start(|c| {
        dir = c.data_dir.parent().unwrap().join("exported");
        c.containers.push(dir.clone());
    })
    .await;
    std::fs::create_dir_all(&dir).unwrap();
    // A key and certificate of the openssl command's own, exported with its defaults.
    let work = folder(&a, "openssl");
    let cert = openssl_self_signed(&work, None, "/C=UA/SN=Експорт/GN=Олена/CN=Експорт Олена");
    openssl_pkcs12_export(
        &work,
        "c.pem",
        None,
        "exported-1",
        &dir.join("exported.pfx"),
    );
    assert!(
        certs::load::pkcs12_public_certificates(&std::fs::read(dir.join("exported.pfx")).unwrap())
            .unwrap()
            .is_empty(),
        "OpenSSL's defaults encrypt the certificate bags"
    );
    let c = listed(&a, "exported").await;
    assert_eq!(
        (&c["kind"], &c["state"]),
        (&json!("pkcs12"), &json!("needs_unlock"))
    );
    assert!(c["certificates"].as_array().unwrap().is_empty());
    let done = a
        .approved(
            "/v1/authenticate",
            json!({"container": c["id"], "challenge": "exported"}),
            "exported-1",
        )
        .await;
    assert_eq!(b64(done["result"]["certificate"].as_str().unwrap()), cert);
    let c = listed(&a, "exported").await;
    assert_eq!(c["certificates"][0]["name"], "Експорт Олена", "{c}");
}

/// A stick as CAs hand them out: `KEYS/Key-6.dat` one folder down. It is found.
#[tokio::test]
async fn a_key_store_one_folder_down_on_a_stick_is_found() {
    let mut media = PathBuf::new();
    let a = Agent::start(|c| {
        media = c.data_dir.parent().unwrap().join("media");
        c.removable_media = true;
        c.media_bases = Some(vec![media.clone()]);
    })
    .await;
    let keys = media.join("FLASH").join("KEYS");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join("Key-6.dat"), fixture("ua-dstu/STORE_A040.dat")).unwrap();
    let c = listed(&a, "Key-6").await;
    assert_eq!(c["medium"], "removable: FLASH/KEYS");
    assert_eq!(c["kind"], "encrypted_pkcs8");
}
