//! A real agent on a loopback port, over the dev PKI, driven over HTTP exactly as a page and
//! a person at the approval page would. The `openssl` command verifies what it signs.

use brama_testkit::agent as common;

use std::process::Command;

use agent::config::Config;
use agent::server;
use base64::Engine;
use certs::devpki::{self, Options};
use common::{b64, error_code, openssl_verify, Agent, PAGE};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn info_answers_any_origin_and_cors_goes_only_to_https() {
    let a = Agent::start(|_| {}).await;
    for origin in [Some(PAGE), Some("http://evil.example"), None] {
        let r = a.get("/v1/info", origin).await;
        assert_eq!(r.status(), StatusCode::OK);
        let acao = r
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            acao.as_deref(),
            origin.filter(|o| o.starts_with("https://")),
            "{origin:?}"
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["name"], "brama-agent");
        assert_eq!(v["api_version"], 1);
    }
    // Private Network Access preflight (older Chromium).
    let r = a
        .http
        .request(reqwest::Method::OPTIONS, a.url("/v1/authenticate"))
        .header("origin", PAGE)
        .header("access-control-request-method", "POST")
        .header("access-control-request-private-network", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["access-control-allow-private-network"], "true");
    assert_eq!(r.headers()["access-control-allow-origin"], PAGE);
    let r = a
        .http
        .request(reqwest::Method::OPTIONS, a.url("/v1/authenticate"))
        .header("origin", "null")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(r).await,
        (StatusCode::FORBIDDEN, "origin_not_allowed".into())
    );
}

#[tokio::test]
async fn only_its_own_loopback_host_is_answered() {
    let a = Agent::start(|_| {}).await;
    for host in [
        "evil.example".to_string(),
        format!("evil.example:{}", a.port),
        format!("127.0.0.1.evil.example:{}", a.port),
        "127.0.0.1".to_string(),
        format!("127.0.0.2:{}", a.port),
        format!("localhost:{}", a.port + 1),
    ] {
        let r = a
            .http
            .get(a.url("/v1/info"))
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(r).await,
            (StatusCode::FORBIDDEN, "bad_host".into()),
            "{host}"
        );
    }
    for host in [format!("localhost:{}", a.port), format!("[::1]:{}", a.port)] {
        let r = a
            .http
            .get(a.url("/v1/info"))
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{host}");
    }
    // A second Host header, or an absolute-form target naming another host, is refused too.
    let own = format!("127.0.0.1:{}", a.port);
    for head in [
        format!("GET /v1/info HTTP/1.1\r\nHost: {own}\r\nHost: evil.example\r\nConnection: close\r\n\r\n"),
        format!("GET http://evil.example/v1/info HTTP/1.1\r\nHost: {own}\r\nConnection: close\r\n\r\n"),
    ] {
        let answer = brama_testkit::gateway::raw(a.port, &head).await;
        assert!(answer.contains("bad_host"), "{head}: {answer}");
    }
    let same =
        format!("GET http://{own}/v1/info HTTP/1.1\r\nHost: {own}\r\nConnection: close\r\n\r\n");
    assert!(brama_testkit::gateway::raw(a.port, &same)
        .await
        .starts_with("HTTP/1.1 200"));
    // It listens on ::1 too, and on nothing but loopback.
    let v6 = a
        .http
        .get(format!("http://[::1]:{}/v1/info", a.port))
        .send()
        .await;
    assert!(v6.is_ok_and(|r| r.status() == StatusCode::OK), "::1");
}

#[tokio::test]
async fn data_only_for_approved_origins() {
    let a = Agent::start(|_| {}).await;
    let (status, code) = error_code(a.get("/v1/containers", None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "origin_required")
    );
    let (status, code) =
        error_code(a.get("/v1/containers", Some("http://evil.example")).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "origin_not_allowed")
    );

    // Unapproved: a pending request on the agent's own origin, nothing else.
    let r = a.get("/v1/containers", Some(PAGE)).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let pending: Value = r.json().await.unwrap();
    let url = pending["approve_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/ui/approve/", a.own_origin())),
        "{url}"
    );
    assert!(pending.get("containers").is_none());
    let id = pending["request"].as_str().unwrap();
    assert_eq!(id.len(), 32);
    // Another origin cannot see the request.
    assert_eq!(
        error_code(a.poll(id, "https://other.example").await)
            .await
            .1,
        "unknown_request"
    );
    assert_eq!(a.poll(id, PAGE).await.status(), StatusCode::ACCEPTED);

    let (status, page) = a.answer(url, "approve", "", false).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let r = a.poll(id, PAGE).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let list = v["result"]["containers"].as_array().unwrap();
    assert_eq!(list.len(), a.manifest.certificates.len());
    let kep = list
        .iter()
        .find(|c| c["label"] == "citizen-p256-kep")
        .unwrap();
    assert_eq!(
        kep["certificates"][0]["can_sign"], false,
        "key-agreement certificate offered for signing"
    );
    assert_eq!(kep["certificates"][0]["purpose"], "key_agreement");
    let citizen = list.iter().find(|c| c["label"] == "citizen-p256").unwrap();
    assert_eq!(citizen["state"], "needs_unlock");
    assert_eq!(
        citizen["certificates"][0]["identity"]["surname"],
        "Шевченко"
    );
    assert_eq!(citizen["certificates"][0]["qualified_esign"], true);
    assert_eq!(
        citizen["medium"],
        "folder: ".to_string() + &a._tmp.path().join("keys").display().to_string()
    );
    // Delivered once.
    assert_eq!(
        error_code(a.poll(id, PAGE).await).await.1,
        "unknown_request"
    );
    // Now approved: the list directly.
    assert_eq!(
        a.get("/v1/containers", Some(PAGE)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn login_statement_binds_the_origin_the_agent_saw() {
    let a = Agent::start(|_| {}).await;
    for name in ["citizen-p256", "citizen-p384", "citizen-rsa2048"] {
        let (container, certificate) = a.container_of(name).await;
        let v = a
            .approved(
                "/v1/authenticate",
                json!({"container": container, "certificate": certificate, "challenge": "ch-42"}),
                &a.password(name),
            )
            .await;
        let signature = b64(v["result"]["signature"].as_str().unwrap());
        let content = openssl_verify(&a.pki, &signature, None);
        let statement = certs::statement::LoginStatement::parse(&content).unwrap();
        assert_eq!(statement.origin, PAGE, "{name}");
        assert_eq!(statement.challenge, "ch-42");
        assert_eq!(v["result"]["detached"], false);
    }
    // A body may not smuggle an origin in.
    let (container, _) = a.container_of("citizen-p256").await;
    let r = a
        .post(
            "/v1/authenticate",
            PAGE,
            json!({"container": container, "challenge": "c", "origin": "https://evil"}),
        )
        .await;
    assert_eq!(error_code(r).await.1, "bad_request");
}

#[tokio::test]
async fn documents_attached_detached_and_hash_verify_with_openssl() {
    let a = Agent::start(|_| {}).await;
    let doc = "Заява\nПрошу надати статус безробітного.\n"
        .as_bytes()
        .to_vec();
    let enc = base64::engine::general_purpose::STANDARD.encode(&doc);
    for name in ["citizen-p256", "citizen-p384", "citizen-rsa2048"] {
        let (container, certificate) = a.container_of(name).await;
        let pw = a.password(name);
        let v = a.approved("/v1/sign", json!({"container": container, "certificate": certificate, "name": "zaiava.txt", "content": enc}), &pw).await;
        assert_eq!(
            openssl_verify(
                &a.pki,
                &b64(v["result"]["signature"].as_str().unwrap()),
                None
            ),
            doc,
            "{name} attached"
        );

        let v = a
            .approved(
                "/v1/sign",
                json!({"container": container, "content": enc, "detached": true}),
                &pw,
            )
            .await;
        assert_eq!(v["result"]["detached"], true);
        openssl_verify(
            &a.pki,
            &b64(v["result"]["signature"].as_str().unwrap()),
            Some(&doc),
        );

        let hash =
            base64::engine::general_purpose::STANDARD.encode(certs::cms::Digest::Sha384.hash(&doc));
        let v = a
            .approved(
                "/v1/sign",
                json!({"container": container, "hash": hash, "hash_algorithm": "sha384"}),
                &pw,
            )
            .await;
        openssl_verify(
            &a.pki,
            &b64(v["result"]["signature"].as_str().unwrap()),
            Some(&doc),
        );
    }
}

#[tokio::test]
async fn the_approval_page_shows_what_is_signed() {
    let a = Agent::start(|_| {}).await;
    let (container, _) = a.container_of("citizen-p256").await;
    let enc = base64::engine::general_purpose::STANDARD.encode(b"<script>alert(1)</script> text");
    let r = a
        .post(
            "/v1/sign",
            PAGE,
            json!({"container": container, "name": "a<b>.txt", "content": enc}),
        )
        .await;
    let pending: Value = r.json().await.unwrap();
    let page = a
        .http
        .get(pending["approve_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let h = page.headers().clone();
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(h["cross-origin-opener-policy"], "same-origin");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h.get("access-control-allow-origin").is_none());
    let html = page.text().await.unwrap();
    // One language at a time, Ukrainian by default; the site by name, its origin beneath.
    assert!(
        html.contains("Підписати документ для сайту cabinet.example")
            && html.contains("<small class=\"origin\">https://cabinet.example</small>")
            && html.contains("<html lang=\"uk\">")
            && !html.contains("Sign a document"),
        "{html}"
    );
    let in_lang = |query: &'static str, accept: &'static str| {
        let url = format!("{}{query}", pending["approve_url"].as_str().unwrap());
        let req = a.http.get(url).header("accept-language", accept);
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    let en = in_lang("?lang=en", "ru").await;
    assert!(
        en.contains("Sign a document for the site cabinet.example")
            && en.contains("<html lang=\"en\">")
            && en.contains("href=\"/ui/approve/")
            && en.contains(">Українська</a>"),
        "the page that asked chose English: {en}"
    );
    let ru = in_lang("", "de, ru;q=0.9, en;q=0.5").await;
    assert!(
        ru.contains("Подписать документ для сайта cabinet.example")
            && ru.contains("Кнопки станут доступны"),
        "the browser prefers Russian: {ru}"
    );
    // Escaped, whichever entities the template engine writes (`&lt;` or `&#60;`).
    let shown = |raw: &str| {
        !html.contains(raw)
            && (html.contains(&raw.replace('<', "&lt;").replace('>', "&gt;"))
                || html.contains(&raw.replace('<', "&#60;").replace('>', "&#62;")))
    };
    assert!(shown("a<b>.txt"), "file name escaped: {html}");
    assert!(
        shown("<script>alert(1)</script> text"),
        "preview escaped: {html}"
    );
    assert!(html.contains("Шевченко Тарас Григорович"));
    assert!(html.contains(" disabled>"), "buttons start disabled");
    let sha = certs::cms::Digest::Sha256.hash(b"<script>alert(1)</script> text");
    assert!(html.contains(&sha.iter().map(|b| format!("{b:02x}")).collect::<String>()));

    let r = a
        .post(
            "/v1/authenticate",
            PAGE,
            json!({"container": container, "challenge": "c"}),
        )
        .await;
    let pending: Value = r.json().await.unwrap();
    let html = a.page(pending["approve_url"].as_str().unwrap()).await;
    assert!(html.contains("Увійти на сайт cabinet.example"), "{html}");
}

#[tokio::test]
async fn approval_posts_must_come_from_the_agents_own_page() {
    let a = Agent::start(|_| {}).await;
    let r = a.get("/v1/containers", Some(PAGE)).await;
    let pending: Value = r.json().await.unwrap();
    let url = pending["approve_url"].as_str().unwrap();
    let page = a.http.get(url).send().await.unwrap().text().await.unwrap();
    let token = common::csrf_token(&page).unwrap();
    let form = [("csrf_token", token.as_str()), ("decision", "approve")];
    for (origin, site) in [
        (Some(PAGE), Some("cross-site")),
        (Some("null"), Some("same-origin")),
        (None, Some("same-origin")),
        (Some(a.own_origin().as_str()), None),
        (Some(PAGE), Some("same-origin")),
    ] {
        let mut req = a.http.post(url).form(&form);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{origin:?} {site:?}");
        assert!(r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors"));
    }
    // Right origin, wrong token.
    let r = a
        .http
        .post(url)
        .header("origin", a.own_origin())
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("csrf_token", "0".repeat(32).as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        a.poll(pending["request"].as_str().unwrap(), PAGE)
            .await
            .status(),
        StatusCode::ACCEPTED,
        "still pending"
    );
}

#[tokio::test]
async fn wrong_password_never_signs_backs_off_and_locks() {
    let a = Agent::start(|c| c.lockout_after = 3).await;
    let (container, _) = a.container_of("citizen-p256").await;
    let r = a
        .post(
            "/v1/authenticate",
            PAGE,
            json!({"container": container, "challenge": "c"}),
        )
        .await;
    let pending: Value = r.json().await.unwrap();
    let url = pending["approve_url"].as_str().unwrap();
    let id = pending["request"].as_str().unwrap();

    let (status, html) = a.answer(url, "approve", "wrong", false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("data-code=\"wrong_password\""), "{html}");
    assert!(html.contains("Залишилось спроб: 2"), "{html}");
    assert_eq!(
        a.poll(id, PAGE).await.status(),
        StatusCode::ACCEPTED,
        "still pending after a wrong password"
    );
    // Backing off: an immediate retry is refused even with the right password.
    let (status, html) = a
        .answer(url, "approve", &a.password("citizen-p256"), false)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{html}");
    assert!(html.contains("locked_out"));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _) = a.answer(url, "approve", "wrong", false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, html) = a.answer(url, "approve", "wrong again", false).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "third wrong password locks"
    );
    assert!(html.contains("Забагато неправильних паролів"), "{html}");
    let list = a
        .get("/v1/containers", Some(PAGE))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let c = list["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == container.as_str())
        .unwrap()
        .clone();
    assert_eq!(c["state"], "locked_out");
}

#[tokio::test]
async fn remember_skips_the_password_but_never_masks_a_wrong_one() {
    let a = Agent::start(|_| {}).await;
    let (container, _) = a.container_of("citizen-p256").await;
    let body = json!({"container": container, "challenge": "c"});
    let r = a.post("/v1/authenticate", PAGE, body.clone()).await;
    let p: Value = r.json().await.unwrap();
    let (status, _) = a
        .answer(
            p["approve_url"].as_str().unwrap(),
            "approve",
            &a.password("citizen-p256"),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let list = a
        .get("/v1/containers", Some(PAGE))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert!(list["containers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == container.as_str() && c["state"] == "ready"));

    // Confirmation is still needed, the password is not.
    let r = a.post("/v1/authenticate", PAGE, body.clone()).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let p: Value = r.json().await.unwrap();
    let (status, _) = a
        .answer(p["approve_url"].as_str().unwrap(), "approve", "", false)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        a.poll(p["request"].as_str().unwrap(), PAGE).await.status(),
        StatusCode::OK
    );

    // A typed wrong password is checked, not masked by the remembered key.
    let r = a.post("/v1/authenticate", PAGE, body.clone()).await;
    let p: Value = r.json().await.unwrap();
    let (status, html) = a.retry(&p, "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{html}");

    // Another origin gets no benefit from this origin's remember (after the back-off).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let other = "https://other.example";
    a.running
        .as_ref()
        .unwrap()
        .app
        .origins
        .approve(other)
        .unwrap();
    let r = a.post("/v1/authenticate", other, body).await;
    let p: Value = r.json().await.unwrap();
    let (status, html) = a
        .answer(p["approve_url"].as_str().unwrap(), "approve", "", false)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("needs_unlock"), "{html}");
}

#[tokio::test]
async fn denial_suppresses_new_requests_for_a_while() {
    let a = Agent::start(|_| {}).await;
    let r = a.get("/v1/containers", Some(PAGE)).await;
    let p: Value = r.json().await.unwrap();
    let (status, _) = a
        .answer(p["approve_url"].as_str().unwrap(), "deny", "", false)
        .await;
    assert_eq!(status, StatusCode::OK);
    let r = a.poll(p["request"].as_str().unwrap(), PAGE).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(error_code(r).await.1, "origin_denied");
    let r = a.get("/v1/containers", Some(PAGE)).await;
    assert_eq!(
        error_code(r).await,
        (StatusCode::FORBIDDEN, "origin_denied".into())
    );
    // Other origins are unaffected.
    assert_eq!(
        a.get("/v1/containers", Some("https://other.example"))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn a_closed_approval_window_ends_the_request_without_a_denial() {
    let a = Agent::start(|_| {}).await;
    let p: Value = a
        .get("/v1/containers", Some(PAGE))
        .await
        .json()
        .await
        .unwrap();
    let url = p["approve_url"].as_str().unwrap();
    let page = a.http.get(url).send().await.unwrap().text().await.unwrap();
    let token = common::csrf_token(&page).unwrap();
    let closed = format!("{url}/closed");
    let beacon = |token: String, origin: &'static str| {
        a.http
            .post(&closed)
            .header("origin", origin)
            .header("sec-fetch-site", "same-origin")
            .form(&[("csrf_token", token)])
            .send()
    };
    // Only the page itself can say so: another site, or a wrong token, is refused.
    let r = beacon(token.clone(), "https://evil.example").await.unwrap();
    assert_eq!(
        error_code(r).await,
        (StatusCode::FORBIDDEN, "csrf_refused".into())
    );
    let own = Box::leak(a.own_origin().into_boxed_str());
    let r = beacon("wrong".into(), own).await.unwrap();
    assert_eq!(
        error_code(r).await,
        (StatusCode::FORBIDDEN, "csrf_refused".into())
    );
    assert_eq!(
        a.poll(p["request"].as_str().unwrap(), PAGE).await.status(),
        StatusCode::ACCEPTED
    );
    let r = beacon(token, own).await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = a.poll(p["request"].as_str().unwrap(), PAGE).await;
    assert_eq!(
        error_code(r).await,
        (StatusCode::GONE, "approval_window_closed".into())
    );
    // Not a denial: the site may ask again at once.
    assert_eq!(
        a.get("/v1/containers", Some(PAGE)).await.status(),
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn one_pending_request_per_origin_and_expiry() {
    let a = Agent::start(|c| c.request_ttl = 1).await;
    let (container, _) = a.container_of("citizen-p256").await;
    let body = json!({"container": container, "challenge": "c"});
    let first: Value = a
        .post("/v1/authenticate", PAGE, body.clone())
        .await
        .json()
        .await
        .unwrap();
    let second: Value = a
        .post("/v1/authenticate", PAGE, body)
        .await
        .json()
        .await
        .unwrap();
    let r = a
        .http
        .get(first["approve_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("request_superseded"));
    assert_eq!(
        error_code(a.poll(first["request"].as_str().unwrap(), PAGE).await)
            .await
            .1,
        "request_superseded"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        error_code(a.poll(second["request"].as_str().unwrap(), PAGE).await).await,
        (StatusCode::GONE, "request_expired".into())
    );
}

#[tokio::test]
async fn bad_documents_and_requests_get_typed_errors() {
    let a = Agent::start(|c| c.max_document = 1000).await;
    let (container, _) = a.container_of("citizen-p256").await;
    let enc = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let cases = [
        (
            json!({"container": container, "content": enc(br#"{"v":1,"origin":"https://cabinet.example","challenge":"x","iat":1}"#)}),
            StatusCode::BAD_REQUEST,
            "login_statement_as_document",
        ),
        (
            json!({"container": container, "content": enc(&[b'a'; 1001])}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "content_too_large",
        ),
        (
            json!({"container": container, "content": enc(&[b'a'; 5000])}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "content_too_large",
        ),
        (
            json!({"container": container, "hash": enc(&[0; 20])}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            // "zaiava\u{202E}fdp.exe" would show as "zaiavaexe.pdf".
            json!({"container": container, "name": "zaiava\u{202E}fdp.exe", "content": enc(b"x")}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"container": container, "content": "%%%"}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"container": container}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"container": "c-nope", "content": enc(b"x")}),
            StatusCode::NOT_FOUND,
            "unknown_container",
        ),
        (
            json!({"container": container, "certificate": "00", "content": enc(b"x")}),
            StatusCode::NOT_FOUND,
            "unknown_certificate",
        ),
    ];
    for (body, status, code) in cases {
        let r = a.post("/v1/sign", PAGE, body.clone()).await;
        assert_eq!(error_code(r).await, (status, code.to_string()), "{body}");
    }
    let (kep, _) = a.container_of("citizen-p256-kep").await;
    let r = a
        .post(
            "/v1/authenticate",
            PAGE,
            json!({"container": kep, "challenge": "c"}),
        )
        .await;
    assert_eq!(
        error_code(r).await.1,
        "not_for_signing",
        "only a key-agreement certificate: the person is told it cannot sign"
    );
    let kep_cert = a.containers_as_approved().await["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == kep.as_str())
        .unwrap()["certificates"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = a
        .post(
            "/v1/authenticate",
            PAGE,
            json!({"container": kep, "certificate": kep_cert, "challenge": "c"}),
        )
        .await;
    assert_eq!(
        error_code(r).await,
        (StatusCode::BAD_REQUEST, "not_for_signing".into())
    );
    for challenge in ["", "with space", "ü"] {
        let r = a
            .post(
                "/v1/authenticate",
                PAGE,
                json!({"container": container, "challenge": challenge}),
            )
            .await;
        assert_eq!(error_code(r).await.1, "bad_request", "{challenge:?}");
    }
    let r = a
        .http
        .post(a.url("/v1/authenticate"))
        .header("origin", PAGE)
        .body("not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await.1, "bad_request");
}

#[tokio::test]
async fn encrypted_pem_key_with_its_certificate_is_a_container() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    let m = devpki::init(&Options::new(&pki)).unwrap();
    let keys = tmp.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    std::fs::copy(
        pki.join("citizen-p384.key.pem"),
        keys.join("citizen-p384.key.pem"),
    )
    .unwrap();
    std::fs::copy(pki.join("citizen-p384.pem"), keys.join("citizen-p384.pem")).unwrap();
    // A key in the clear is not a container; a key without its certificate is listed as
    // locked, and says "no certificate" once opened.
    std::fs::copy(pki.join("ocsp.key"), keys.join("clear.key")).unwrap();
    std::fs::copy(
        pki.join("citizen-p256.key.pem"),
        keys.join("orphan.key.pem"),
    )
    .unwrap();
    let config = Config {
        port: 0,
        https_port: 0,
        data_dir: tmp.path().join("data"),
        containers: vec![keys],
        removable_media: false,
        approval_delay_ms: 0,
        ..Config::default()
    };
    let running = server::start(config).await.unwrap();
    running.app.origins.approve(PAGE).unwrap();
    let http = Client::new();
    let base = format!("http://127.0.0.1:{}", running.port);
    let list = common::get_as_page(&http, &base, "/v1/containers").await;
    let list = list["containers"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0]["kind"], "encrypted_pkcs8");
    assert_eq!(list[0]["label"], "citizen-p384");
    let orphan = &list[1];
    assert_eq!(
        (&orphan["label"], &orphan["state"]),
        (&json!("orphan"), &json!("needs_unlock"))
    );
    assert!(orphan["certificates"].as_array().unwrap().is_empty());
    assert!(orphan["message"].as_str().unwrap().contains("first unlock"));
    // Opened with its password, the orphan has no certificate anywhere: the error names where
    // the agent looked, and the list says so from then on.
    let (status, page, _) = common::request_and_answer(
        &http,
        &base,
        "/v1/authenticate",
        json!({"container": orphan["id"], "challenge": "orphan"}),
        &m.certificate("citizen-p256").unwrap().password,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(
        page.contains("no_certificate") && page.contains("import-cert"),
        "{page}"
    );
    let again = common::get_as_page(&http, &base, "/v1/containers").await;
    let orphan = &again["containers"][1];
    assert_eq!(orphan["state"], "no_certificate", "{orphan}");
    assert!(
        orphan["message"].as_str().unwrap().contains("keys"),
        "names the folder"
    );
    let (status, _, p) = common::request_and_answer(
        &http,
        &base,
        "/v1/authenticate",
        json!({"container": list[0]["id"], "challenge": "pem"}),
        &m.certificate("citizen-p384").unwrap().password,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let request = format!("/v1/requests/{}", p["request"].as_str().unwrap());
    let v = common::get_as_page(&http, &base, &request).await;
    let content = openssl_verify(&pki, &b64(v["result"]["signature"].as_str().unwrap()), None);
    assert_eq!(
        certs::statement::LoginStatement::parse(&content)
            .unwrap()
            .challenge,
        "pem"
    );
    running.stop().await;
}

// Multi-threaded: the test blocks on curl while the in-process agent answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_uses_a_name_constrained_local_ca_whose_key_is_gone() {
    let a = Agent::start(|_| {}).await;
    let https = a
        .running
        .as_ref()
        .unwrap()
        .https_port
        .expect("HTTPS is on by default");
    let tls = a._tmp.path().join("data/tls");
    let ca = tls.join("ca.pem");
    let curl = |url: &str, host: Option<&str>| {
        let mut c = Command::new("curl");
        c.args(["-s", "--max-time", "10", "--cacert"]).arg(&ca);
        if let Some(h) = host {
            c.args(["-H", &format!("Host: {h}")]);
        }
        let out = c.arg(url).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    // curl, an independent TLS client, trusts the agent through its local CA alone.
    for url in [
        format!("https://127.0.0.1:{https}/v1/info"),
        format!("https://localhost:{https}/v1/info"),
        format!("https://[::1]:{https}/v1/info"),
    ] {
        let (code, body) = curl(&url, None);
        assert_eq!(code, Some(0), "{url}");
        assert!(body.contains("\"api_version\":1"), "{url}: {body}");
    }
    // The guard runs on HTTPS too: the Host must carry the HTTPS port.
    let (_, body) = curl(
        &format!("https://127.0.0.1:{https}/v1/info"),
        Some(&format!("127.0.0.1:{}", a.port)),
    );
    assert!(body.contains("bad_host"), "{body}");

    // The CA may only vouch for loopback names, and its key was never stored.
    let out = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-ext",
            "nameConstraints,basicConstraints",
            "-in",
        ])
        .arg(&ca)
        .output()
        .unwrap();
    let ext = String::from_utf8_lossy(&out.stdout);
    assert!(
        ext.contains("DNS:localhost") && ext.contains("IP:127.0.0.1/255.255.255.255"),
        "{ext}"
    );
    assert!(ext.contains("pathlen:0"), "{ext}");
    let mut files: Vec<String> = std::fs::read_dir(&tls)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["ca.pem", "server.key", "server.pem"]);
    for f in ["ca.pem", "server.pem"] {
        assert!(
            !std::fs::read_to_string(tls.join(f))
                .unwrap()
                .contains("PRIVATE KEY"),
            "{f}"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(tls.join("server.key"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    // openssl verifies the server certificate under the constraints.
    let out = Command::new("openssl")
        .args(["verify", "-x509_strict", "-CAfile"])
        .arg(&ca)
        .arg(tls.join("server.pem"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A restart keeps the same certificate (the CA cannot issue another).
    let before = std::fs::read(tls.join("server.pem")).unwrap();
    agent::tls::load_or_create(&agent::tls::TlsFiles::new(&a._tmp.path().join("data"))).unwrap();
    assert_eq!(std::fs::read(tls.join("server.pem")).unwrap(), before);
}

#[tokio::test]
async fn documents_stream_as_octet_stream() {
    let a = Agent::start(|c| c.max_document = 300_000).await;
    let (container, _) = a.container_of("citizen-p256").await;
    let pw = a.password("citizen-p256");
    // 200 kB in many chunks: hashed as it arrives.
    let doc: Vec<u8> = (0..200_000u32)
        .map(|i| b"abcdefghij\n"[(i % 11) as usize])
        .collect();
    let stream_body = || {
        reqwest::Body::wrap_stream(futures_stream(
            doc.chunks(7_000).map(|c| Ok(c.to_vec())).collect(),
        ))
    };
    for detached in [false, true] {
        let r = a
            .http
            .post(a.url(&format!(
                "/v1/sign?container={container}&name=big.txt&detached={detached}"
            )))
            .header("origin", PAGE)
            .header("content-type", "application/octet-stream")
            .body(stream_body())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let p: Value = r.json().await.unwrap();
        let html = a
            .http
            .get(p["approve_url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("200000 байт") && html.contains("big.txt"),
            "{html}"
        );
        let sha: String = certs::cms::Digest::Sha256
            .hash(&doc)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(html.contains(&sha));
        let (status, _) = a
            .answer(p["approve_url"].as_str().unwrap(), "approve", &pw, false)
            .await;
        assert_eq!(status, StatusCode::OK);
        let v: Value = a
            .poll(p["request"].as_str().unwrap(), PAGE)
            .await
            .json()
            .await
            .unwrap();
        let sig = b64(v["result"]["signature"].as_str().unwrap());
        if detached {
            openssl_verify(&a.pki, &sig, Some(&doc));
        } else {
            assert_eq!(openssl_verify(&a.pki, &sig, None), doc);
        }
    }
    let post = |query: String, content_type: &'static str, body: Vec<u8>| {
        let req = a
            .http
            .post(a.url(&format!("/v1/sign?{query}")))
            .header("origin", PAGE)
            .header("content-type", content_type)
            .body(body);
        async move { error_code(req.send().await.unwrap()).await }
    };
    let big = vec![b'x'; 300_001];
    assert_eq!(
        post(
            format!("container={container}&detached=true"),
            "application/octet-stream",
            big
        )
        .await,
        (StatusCode::PAYLOAD_TOO_LARGE, "content_too_large".into())
    );
    let statement =
        br#"{"v":1,"origin":"https://cabinet.example","challenge":"x","iat":1}"#.to_vec();
    assert_eq!(
        post(
            format!("container={container}&detached=true"),
            "application/octet-stream",
            statement
        )
        .await
        .1,
        "login_statement_as_document"
    );
    assert_eq!(
        post("name=a".into(), "application/octet-stream", b"x".to_vec())
            .await
            .1,
        "bad_request"
    );
    assert_eq!(
        post(
            format!("container={container}&bogus=1"),
            "application/octet-stream",
            b"x".to_vec()
        )
        .await
        .1,
        "bad_request"
    );
    assert_eq!(
        post(
            format!("container={container}"),
            "text/plain",
            b"x".to_vec()
        )
        .await
        .1,
        "bad_request"
    );
}

/// A stream of body chunks without pulling in a futures crate.
fn futures_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    struct S(std::collections::VecDeque<Result<Vec<u8>, std::io::Error>>);
    impl futures_core::Stream for S {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.pop_front())
        }
    }
    S(chunks.into())
}

#[tokio::test]
async fn origins_page_lists_and_revokes_and_the_api_has_no_password_field() {
    let a = Agent::start(|_| {}).await;
    let (container, _) = a.container_of("citizen-p256").await; // approves PAGE
    let html = a
        .http
        .get(a.url("/ui/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(PAGE), "{html}");
    // Revoking needs a same-origin post, like every /ui post.
    let r = a
        .http
        .post(a.url("/ui/origins/revoke"))
        .header("origin", PAGE)
        .header("sec-fetch-site", "cross-site")
        .form(&[("origin", PAGE)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(a.running.as_ref().unwrap().app.origins.is_approved(PAGE));
    let r = a
        .http
        .post(a.url("/ui/origins/revoke"))
        .header("origin", a.own_origin())
        .header("sec-fetch-site", "same-origin")
        .form(&[("origin", PAGE)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!r
        .text()
        .await
        .unwrap()
        .contains("<span>https://cabinet.example</span>"));
    assert_eq!(
        a.get("/v1/containers", Some(PAGE)).await.status(),
        StatusCode::ACCEPTED,
        "revoked: asks again"
    );

    // The password is typed only on the agent's page: the API has no field for it.
    for (path, body) in [
        (
            "/v1/authenticate",
            json!({"container": container, "challenge": "c", "password": "x"}),
        ),
        (
            "/v1/sign",
            json!({"container": container, "content": "eA==", "password": "x"}),
        ),
    ] {
        assert_eq!(
            error_code(a.post(path, PAGE, body).await).await.1,
            "bad_request",
            "{path}"
        );
    }
    let r = a
        .http
        .post(a.url(&format!("/v1/sign?container={container}&password=x")))
        .header("origin", PAGE)
        .header("content-type", "application/octet-stream")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await.1, "bad_request");
}

/// `brama-agent origins revoke` on the command line reaches the running agent at once, and the
/// running agent's next approval does not bring the origin back (issue: origins.json was read
/// once at start and rewritten from that stale copy).
#[tokio::test]
async fn origins_changed_on_the_command_line_reach_the_running_agent() {
    let a = Agent::start(|_| {}).await;
    a.containers_as_approved().await; // approves PAGE in the running agent
    let cli = |args: &[&str]| {
        let args: Vec<&std::ffi::OsStr> = ["origins"]
            .iter()
            .chain(args)
            .map(std::ffi::OsStr::new)
            .collect();
        a.cli(&args)
    };
    assert!(cli(&["list"]).contains(PAGE));
    cli(&["revoke", PAGE]);
    let r = a.get("/v1/containers", Some(PAGE)).await;
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "no longer approved: asks the person again"
    );
    // Another site approved in the running agent: the revoked one stays revoked.
    a.running
        .as_ref()
        .unwrap()
        .app
        .origins
        .approve("https://other.example")
        .unwrap();
    let listed = cli(&["list"]);
    assert!(
        listed.contains("https://other.example") && !listed.contains(PAGE),
        "{listed}"
    );
    // And an origin allowed on the command line is approved at once.
    cli(&["allow", "https://third.example"]);
    let r = a.get("/v1/containers", Some("https://third.example")).await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// Requests and their documents do not outlive their expiry, and a flood is refused: 20 origins
/// with large documents once took the agent from 12 MB to 426 MB for good.
#[tokio::test]
async fn waiting_documents_are_capped_and_dropped_when_they_expire() {
    let a = Agent::start(|c| {
        c.max_document = 4096;
        c.request_ttl = 1;
    })
    .await;
    let (container, _) = a.container_of("citizen-p256").await;
    let sign = |origin: String| {
        let body = json!({"container": container, "content": base64::engine::general_purpose::STANDARD.encode([7u8; 3000])});
        let http = a.http.clone();
        let url = a.url("/v1/sign");
        async move {
            http.post(url)
                .header("origin", origin)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let app = &a.running.as_ref().unwrap().app;
    assert_eq!(
        sign("https://a.example".into()).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        sign("https://b.example".into()).await.status(),
        StatusCode::ACCEPTED
    );
    // A third 3,000-byte document would hold more than twice max_document.
    let (status, code) = error_code(sign("https://c.example".into()).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
    );
    assert_eq!(app.requests.held_bytes(), 6000);
    // Nobody polls: the server's timer drops them with their documents.
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    assert_eq!(app.requests.held_bytes(), 0);
    assert_eq!(
        sign("https://c.example".into()).await.status(),
        StatusCode::ACCEPTED
    );
}

/// A request head that never ends is cut off: another user's process cannot hold the agent's
/// connections open with slow headers (agent::listener::HEADER_READ_TIMEOUT).
#[tokio::test]
async fn a_request_head_that_never_ends_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let a = Agent::start(|_| {}).await;
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", a.port))
        .await
        .unwrap();
    tcp.write_all(
        format!(
            "GET /v1/info HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Slow: a",
            a.port
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        agent::listener::HEADER_READ_TIMEOUT + std::time::Duration::from_secs(5),
        tcp.read_to_end(&mut rest),
    )
    .await;
    assert!(closed.is_ok(), "the connection is still open");
    assert!(
        started.elapsed()
            >= agent::listener::HEADER_READ_TIMEOUT - std::time::Duration::from_secs(1)
    );
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"));
}

/// An OCSP responder's certificate (EKU OCSPSigning) is a service's, never a person's key: it
/// is marked and never offered for signing.
#[tokio::test]
async fn a_service_certificate_is_never_offered_for_signing() {
    // The whole development PKI folder, its OCSP responder's PKCS#12 included.
    let a = Agent::start(|c| {
        let pki = c.data_dir.parent().unwrap().join("pki");
        c.containers.push(pki);
    })
    .await;
    let list = a.containers_as_approved().await;
    let ocsp = list["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == "ocsp")
        .unwrap_or_else(|| panic!("ocsp not listed: {list}"));
    let cert = &ocsp["certificates"][0];
    assert_eq!(
        (&cert["service"], &cert["can_sign"]),
        (&json!(true), &json!(false))
    );
    let (status, code) = error_code(
        a.post(
            "/v1/authenticate",
            PAGE,
            json!({"container": ocsp["id"], "challenge": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "not_for_signing")
    );
    let citizen = list["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == "citizen-p256")
        .unwrap();
    assert_eq!(citizen["certificates"][0]["service"], false);
}
