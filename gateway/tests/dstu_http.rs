//! A DSTU 4145 login end to end over real HTTP: challenge, the signed statement posted to
//! /auth/login, the account registered from the DSTU certificate's names and EDRPOU, the
//! identity forwarded to the backend; and DSTU refusals with the ECDSA statuses and codes.

use brama_testkit::gateway as common;

use common::{challenge, client, echo_backend, get_json, login, sign_in, start_with_dstu, ORIGIN};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dstu_representative_signs_in_and_the_backend_sees_the_organisation() {
    let p = common::Pki::new();
    let backend = echo_backend().await;
    let (_db, g) = start_with_dstu(&p, &format!("http://{backend}"), "").await;
    let base = format!("http://127.0.0.1:{}", g.port);
    let http = client();

    let (session, answer) = sign_in(&g, &p, "dstu-representative", "/cabinet").await;
    assert_eq!(answer["new_account"], true, "{answer}");
    assert_eq!(answer["choose_role"], true, "{answer}");
    let r = http
        .post(format!("{base}/auth/role"))
        .header("origin", ORIGIN)
        .header("cookie", &session)
        .json(&json!({"role": "representative", "organisation": "registration:UA:12345678"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let seen = get_json(&g, "/cabinet", &session).await;
    let h = &seen["headers"];
    assert_eq!(h["x-brama-role"], "representative");
    assert_eq!(h["x-brama-org-id"], "registration%3AUA%3A12345678");
    assert_eq!(
        h["x-brama-surname"], "%D0%A3%D0%BA%D1%80%D0%B0%D1%97%D0%BD%D0%BA%D0%B0",
        "Українка"
    );
    assert!(h["x-brama-tax-number"]
        .as_str()
        .unwrap()
        .starts_with("281234567"));
    let me = get_json(&g, "/auth/me", &session).await;
    assert_eq!(me["surname"], "Українка", "{me}");
    assert_eq!(me["given_name"], "Леся", "{me}");
    assert_eq!(me["patronymic"], "Петрівна", "{me}");
    assert_eq!(
        me["roles"][1]["organisation_name"], "ТОВ «Брама Тест»",
        "{me}"
    );

    // The same person again: a returning account, not a new one.
    let (_, again) = sign_in(&g, &p, "dstu-representative", "/cabinet").await;
    assert_eq!(again["new_account"], false, "{again}");
    // A citizen of the mixed chain (ECDSA root over a DSTU CA) signs in too.
    let (_, mixed) = sign_in(&g, &p, "mixed-dstu-citizen", "/").await;
    assert_eq!(mixed["new_account"], true, "{mixed}");
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dstu_refusals_over_http_have_the_ecdsa_statuses_and_codes() {
    let p = common::Pki::new();
    let backend = echo_backend().await;
    let (_db, g) = start_with_dstu(&p, &format!("http://{backend}"), common::NO_LIMITS).await;
    let base = format!("http://127.0.0.1:{}", g.port);
    let http = client();
    for (name, code) in [
        ("dstu-expired", "certificate_expired"),
        ("dstu-not-yet-valid", "certificate_not_yet_valid"),
        ("dstu-not-qualified", "not_qualified"),
        ("dstu-seal", "not_a_person"),
        ("dstu-citizen-kep", "wrong_key_usage"),
        ("dstu-wrong-key-usage", "wrong_key_usage"),
        ("dstu-weak", "weak_key"),
        ("dstu-sha1", "weak_algorithm"),
        ("dstu-ambiguous-tin", "ambiguous_identity"),
    ] {
        let c = challenge(&http, &base, "/").await;
        let r = login(&http, &base, &p, name, &c).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{name}: {body}");
        assert!(
            !body["error"]["message"].as_str().unwrap_or("").is_empty(),
            "{name}: a human message"
        );
    }
    g.stop().await;
}
