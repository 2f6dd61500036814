//! A key with several signing certificates and a request that names none: the approval page
//! lists them and the person picks one (issue 16, item 3). The store is made by the `openssl`
//! command with its defaults, so its certificates stay hidden until the first unlock.

use brama_testkit::agent::{b64, csrf_token, Agent, PAGE};
use brama_testkit::pki::{openssl_pkcs12_export, openssl_self_signed};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn sha256_hex(der: &[u8]) -> String {
    openssl::sha::sha256(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn post_form(a: &Agent, url: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let r = a
        .http
        .post(url)
        .header("origin", a.own_origin())
        .header("sec-fetch-site", "same-origin")
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn listed(a: &Agent) -> Value {
    let list = a.containers_as_approved().await;
    list["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == "renewed")
        .unwrap_or_else(|| panic!("not listed: {list}"))
        .clone()
}

#[tokio::test]
async fn several_signing_certificates_are_chosen_on_the_approval_page() {
    let mut dir = std::path::PathBuf::new();
    let a = Agent::start(|c| {
        dir = c.data_dir.parent().unwrap().join("renewed");
        c.containers.push(dir.clone());
    })
    .await;
    std::fs::create_dir_all(&dir).unwrap();
    let work = a._tmp.path().join("openssl");
    std::fs::create_dir_all(&work).unwrap();
    // One key, certified twice (a renewal): both certificates can sign.
    let first = openssl_self_signed(&work, None, "/C=UA/SN=Перша/GN=Олена/CN=Перша Олена");
    std::fs::rename(work.join("c.pem"), work.join("first.pem")).unwrap();
    let key = std::fs::read(work.join("k.pem")).unwrap();
    let second = openssl_self_signed(&work, Some(&key), "/C=UA/SN=Друга/GN=Олена/CN=Друга Олена");
    openssl_pkcs12_export(
        &work,
        "first.pem",
        Some("c.pem"),
        "renewed-1",
        &dir.join("renewed.pfx"),
    );

    let c = listed(&a).await;
    assert!(
        c["certificates"].as_array().unwrap().is_empty(),
        "hidden before the password"
    );
    assert_eq!(c["medium_type"], "file");

    let pending = a.pending_login(c["id"].as_str().unwrap(), "renewal").await;
    let url = pending["approve_url"].as_str().unwrap();
    let id = pending["request"].as_str().unwrap();

    // The first unlock learns the two certificates, and the page asks which one.
    let (status, page) = a.answer(url, "approve", "renewed-1", false).await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("data-code=\"choose_certificate\""), "{page}");
    for (der, holder) in [(&first, "Перша Олена"), (&second, "Друга Олена")] {
        assert!(
            page.contains(&format!(
                "name=\"certificate\" value=\"{}\"",
                sha256_hex(der)
            )) && page.contains(holder),
            "{holder} is offered: {page}"
        );
    }
    assert_eq!(
        a.poll(id, PAGE).await.status(),
        StatusCode::ACCEPTED,
        "still pending"
    );

    // A certificate that is not this key's is refused and changes nothing.
    let token = csrf_token(&page).unwrap();
    let (status, page) = post_form(
        &a,
        url,
        &[
            ("csrf_token", &token),
            ("decision", "approve"),
            ("password", "renewed-1"),
            ("certificate", "00"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("data-code=\"unknown_certificate\""), "{page}");

    // The second one, chosen: it signs.
    let chosen = sha256_hex(&second);
    let (status, page) = post_form(
        &a,
        url,
        &[
            ("csrf_token", &token),
            ("decision", "approve"),
            ("password", "renewed-1"),
            ("certificate", &chosen),
            ("lang", "en"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("Done."),
        "the answer keeps the page's language: {page}"
    );
    let done: Value = a.poll(id, PAGE).await.json().await.unwrap();
    assert_eq!(b64(done["result"]["certificate"].as_str().unwrap()), second);

    // From now on the list shows both holders, and a page may also name one itself.
    let c = listed(&a).await;
    let names: Vec<&str> = c["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{c}");
    let done = a
        .approved(
            "/v1/authenticate",
            json!({"container": c["id"], "certificate": sha256_hex(&first), "challenge": "named"}),
            "renewed-1",
        )
        .await;
    assert_eq!(b64(done["result"]["certificate"].as_str().unwrap()), first);
}
