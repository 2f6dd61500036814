//! The gateway over real sockets: challenge → agent-style signature → login → forwarded
//! requests with identity headers, against a real backend that echoes what it received.

use brama_testkit::gateway as common;

use common::{
    challenge, client, echo_backend, login, raw, set_cookie, sign_in, start, start_with, Fixture,
    Pki, ORIGIN,
};
use gateway::server::Running;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_then_forward_with_identity_and_hygiene() {
    let (p, _db, g, base, http) = Fixture::new().await.parts();

    // No session: a page gets the login page with next; an API call gets 401 JSON.
    let r = http
        .get(format!("{base}/cabinet/profile?tab=1"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(
        r.headers()["location"],
        "/auth/login?next=%2Fcabinet%2Fprofile%3Ftab%3D1"
    );
    let r = http.get(format!("{base}/api/data")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Public paths pass without a session, still stripped of identity claims.
    let r: Value = http
        .get(format!("{base}/public/style.css"))
        .header("X-Brama-Account-Id", "victim")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["path"], "/public/style.css");
    assert!(r["headers"].get("x-brama-account-id").is_none());
    // ...matched on the normalised path: /public/%2e%2e/cabinet is /cabinet, which needs a session.
    let answer = raw(
        g.port,
        "GET /public/%2e%2e/cabinet HTTP/1.1\r\nHost: cabinet.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    let (session, login) = sign_in(&g, &p, "citizen-p256", "/cabinet").await;
    assert_eq!(login["redirect"], "/cabinet");
    assert_eq!(login["new_account"], true);

    let answer = raw(g.port, &format!("GET /public/%2E%2E/cabinet/x?y=1 HTTP/1.1\r\nHost: cabinet.example\r\nCookie: {session}\r\nConnection: close\r\n\r\n")).await;
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains(r#""path":"/cabinet/x""#),
        "the normalised path is forwarded: {answer}"
    );
    let r = http
        .get(format!("{base}/public/../cabinet/x?y=1"))
        .header("cookie", format!("theme=dark; {session}"))
        .header("X-Brama-Account-Id", "victim")
        .header("x_brama_role", "admin")
        .header("X-BRAMA-SURNAME", "Evil")
        .header("Forwarded", "for=6.6.6.6")
        .header("X-Forwarded-For", "6.6.6.6")
        .header("X-Real-IP", "6.6.6.6")
        .header("Connection", "X-Secret")
        .header("X-Secret", "hop")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("__Host-brama-session")),
        "backend set a gateway cookie"
    );
    assert_eq!(r.headers()["x-backend"], "yes");
    let seen: Value = r.json().await.unwrap();
    let h = &seen["headers"];
    assert_eq!(seen["path"], "/cabinet/x");
    assert_eq!(seen["query"], "y=1");
    assert_ne!(h["x-brama-account-id"], "victim");
    assert_eq!(h["x-brama-account-id"].as_str().unwrap().len(), 32);
    assert_eq!(h["x-brama-role"], "citizen");
    assert_eq!(
        h["x-brama-surname"], "%D0%A8%D0%B5%D0%B2%D1%87%D0%B5%D0%BD%D0%BA%D0%BE",
        "Шевченко, UTF-8 percent-encoded"
    );
    assert!(h["x-brama-tax-number"]
        .as_str()
        .unwrap()
        .starts_with("301234567"));
    assert!(
        h.get("x_brama_role").is_none()
            && h.get("forwarded").is_none()
            && h.get("x-real-ip").is_none()
            && h.get("x-secret").is_none()
    );
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(h["x-forwarded-host"], "cabinet.example");
    assert_eq!(
        h["cookie"], "theme=dark",
        "the gateway's cookies stay with the gateway"
    );

    // /auth/me and logout.
    let me: Value = http
        .get(format!("{base}/auth/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["surname"], "Шевченко");
    let r = http
        .post(format!("{base}/auth/logout"))
        .header("origin", ORIGIN)
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(set_cookie(&r, "__Host-brama-session")
        .unwrap()
        .contains("Max-Age=0"));
    let r = http
        .get(format!("{base}/cabinet"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "logged out");
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_over_http() {
    let (p, _db, g, base, http) = Fixture::new().await.parts();
    // /auth POSTs check Origin.
    for origin in [None, Some("https://evil.example"), Some("null")] {
        let mut req = http.post(format!("{base}/auth/challenge"));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{origin:?}");
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"]["code"],
            "forbidden_origin"
        );
    }
    // An expired certificate is refused with its code, and no session cookie.
    let c = challenge(&http, &base, "/").await;
    let r = login(&http, &base, &p, "expired", &c).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&r, "__Host-brama-session").is_none());
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "certificate_expired"
    );
    // Not base64, not JSON.
    let r = http
        .post(format!("{base}/auth/login"))
        .header("origin", ORIGIN)
        .json(&json!({"signature": "%%%"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "malformed_signature"
    );
    let r = http
        .post(format!("{base}/auth/login"))
        .header("origin", ORIGIN)
        .body("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "bad_request"
    );
    // A path that climbs above the root is refused, never forwarded.
    let (session, _) = sign_in(&g, &p, "citizen-p384", "/").await;
    let answer = raw(g.port, &format!("GET /a/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: cabinet.example\r\nCookie: {session}\r\nConnection: close\r\n\r\n")).await;
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("bad_path"),
        "{answer}"
    );
    // An h2c upgrade is not forwarded: neither Upgrade nor HTTP2-Settings reaches the backend,
    // and the answer is the backend's plain HTTP/1.1 one.
    let answer = raw(g.port, "GET /public/h2c HTTP/1.1\r\nHost: cabinet.example\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(
        !lower.contains("\"upgrade\"") && !lower.contains("http2-settings"),
        "{answer}"
    );
    // A badly framed chunked body is the client's fault: 400, not the backend's 502.
    for chunks in [
        "zz\r\nabc\r\n0\r\n\r\n",                 // not a hex size
        "ffffffffffffffffff\r\nabc\r\n0\r\n\r\n", // a size that overflows
        "3;ext\rX\r\nabc\r\n0\r\n\r\n",           // CR inside a chunk extension
    ] {
        let answer = raw(g.port, &format!("POST /public/upload HTTP/1.1\r\nHost: cabinet.example\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunks}")).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{chunks:?}: {answer}");
    }
    g.stop().await;
}

/// Every refusal of design.md §4 over real HTTP: the status, the code, and no session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_login_refusal_over_http_has_its_status_and_code() {
    use certs::cms::{self, Content, Digest};
    use certs::statement::{LoginStatement, CONTENT_TYPE};
    let (p, _db, g, base, http) = Fixture::with(common::NO_LIMITS).await.parts();
    let fresh = |c: &str| {
        LoginStatement::new(ORIGIN, c, time::OffsetDateTime::now_utc().unix_timestamp()).to_bytes()
    };
    let p384_cert = std::fs::read(
        p.dir.join(
            &p.manifest
                .certificate("citizen-p384")
                .unwrap()
                .certificate_der,
        ),
    )
    .unwrap();

    // (what, signature for a challenge, the status and code the person gets)
    type Make<'a> = Box<dyn Fn(&str) -> Vec<u8> + 'a>;
    let pr = &p;
    let by = |name: &'static str| -> Make {
        Box::new(move |c: &str| pr.sign_statement(name, ORIGIN, c))
    };
    let cases: Vec<(&str, Make, u16, &str)> = vec![
        (
            "expired certificate",
            by("expired"),
            401,
            "certificate_expired",
        ),
        (
            "not yet valid",
            by("not-yet-valid"),
            401,
            "certificate_not_yet_valid",
        ),
        ("untrusted CA", by("untrusted"), 401, "untrusted_issuer"),
        ("not qualified", by("not-qualified"), 401, "not_qualified"),
        ("an e-seal", by("seal-p256"), 401, "not_a_person"),
        (
            "key-agreement key",
            by("citizen-p256-kep"),
            401,
            "wrong_key_usage",
        ),
        ("RSA-1024", by("rsa1024"), 401, "weak_key"),
        ("SHA-1 certificate", by("sha1"), 401, "weak_algorithm"),
        (
            "two tax numbers in one certificate",
            by("ambiguous-tin"),
            401,
            "ambiguous_identity",
        ),
        (
            "another site's statement",
            Box::new(|c: &str| p.sign_statement("citizen-p256", "https://evil.example", c)),
            401,
            "wrong_origin",
        ),
        (
            "tampered content",
            Box::new(|c: &str| {
                let mut der = p.sign_statement("citizen-p256", ORIGIN, c);
                // The statement's time moved by a second after signing: still fresh, not signed.
                let at = der.windows(6).position(|w| w == b"\"iat\":").unwrap() + 6;
                let end = at + der[at..].iter().position(|b| !b.is_ascii_digit()).unwrap() - 1;
                der[end] = if der[end] == b'0' { b'1' } else { der[end] - 1 };
                der
            }),
            401,
            "bad_signature",
        ),
        (
            "a hash-mode document signature over the statement's digest",
            Box::new(|c: &str| {
                let digest = Digest::Sha256.hash(&fresh(c));
                p.sign_with(
                    "citizen-p256",
                    cms::ID_DATA,
                    Content::Detached { digest: &digest },
                    |_| {},
                )
            }),
            400,
            "wrong_content_type",
        ),
        (
            "signing-certificate-v2 naming another certificate",
            Box::new(|c: &str| {
                let s = fresh(c);
                let other = p384_cert.clone();
                p.sign_with(
                    "citizen-p256",
                    CONTENT_TYPE,
                    Content::Attached(&s),
                    move |r| {
                        r.signing_certificate = Some(Box::leak(other.into_boxed_slice()));
                    },
                )
            }),
            401,
            "signer_certificate_mismatch",
        ),
        (
            "a statement issued an hour ago",
            Box::new(|c: &str| {
                let hour_ago = time::OffsetDateTime::now_utc().unix_timestamp() - 3600;
                let s = LoginStatement::new(ORIGIN, c, hour_ago).to_bytes();
                p.sign_with("citizen-p256", CONTENT_TYPE, Content::Attached(&s), |_| {})
            }),
            400,
            "bad_statement",
        ),
        (
            "a statement with a member beyond the design's four",
            Box::new(|c: &str| {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let s = format!(
                    r#"{{"v":1,"origin":"{ORIGIN}","challenge":"{c}","iat":{now},"role":"admin"}}"#
                );
                p.sign_with(
                    "citizen-p256",
                    CONTENT_TYPE,
                    Content::Attached(s.as_bytes()),
                    |_| {},
                )
            }),
            400,
            "bad_statement",
        ),
    ];
    for (what, make, status, code) in cases {
        let c = challenge(&http, &base, "/").await;
        let r = common::post_signature(&http, &base, &c.cookie, &make(&c.challenge)).await;
        assert_eq!(r.status().as_u16(), status, "{what}");
        assert!(set_cookie(&r, "__Host-brama-session").is_none(), "{what}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        assert!(
            !body["error"]["message"].as_str().unwrap().is_empty(),
            "{what}"
        );
    }

    // A challenge used twice: the second time it is a replay.
    let c = challenge(&http, &base, "/").await;
    let der = p.sign_statement("citizen-p256", ORIGIN, &c.challenge);
    assert_eq!(
        common::post_signature(&http, &base, &c.cookie, &der)
            .await
            .status(),
        200
    );
    let r = common::post_signature(&http, &base, &c.cookie, &der).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "challenge_replayed"
    );

    // A challenge fetched by another browser (another login cookie).
    let mine = challenge(&http, &base, "/").await;
    let theirs = challenge(&http, &base, "/").await;
    let der = p.sign_statement("citizen-p256", ORIGIN, &theirs.challenge);
    let r = common::post_signature(&http, &base, &mine.cookie, &der).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "challenge_wrong_browser"
    );

    // An expired challenge: issued with the gateway's own keys ten minutes ago (a clock
    // injected through the issuing time, no sleeping).
    let browser = mine.cookie.split_once('=').unwrap().1;
    let past = time::OffsetDateTime::now_utc().unix_timestamp() - 600;
    let (old, _) = g.gateway.keys.issue(browser, "/", past, 300);
    let der = p.sign_statement("citizen-p256", ORIGIN, &old);
    let r = common::post_signature(&http, &base, &mine.cookie, &der).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "challenge_expired"
    );

    // A blocked account: refused with the reason.
    let id = g.gateway.store.account_ids().await.unwrap()[0].clone();
    g.gateway
        .store
        .set_blocked(&id, Some("рішення суду № 1"), past + 600)
        .await
        .unwrap();
    let c = challenge(&http, &base, "/").await;
    let r = login(&http, &base, &p, "citizen-p256", &c).await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "account_blocked");
    assert_eq!(
        body["error"]["reason"], "рішення суду № 1",
        "the page shows the operator's reason on its own"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("рішення суду № 1"),
        "{body}"
    );
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_down_is_a_502_not_a_hang() {
    let p = Pki::new();
    // A port nobody listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (_db, g) = start(&p, &format!("http://{free}")).await;
    let (session, _) = sign_in(&g, &p, "citizen-rsa2048", "/").await;
    let r = client()
        .get(format!("http://127.0.0.1:{}/cabinet", g.port))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "backend_unavailable"
    );
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_framed_two_ways_is_refused() {
    let Fixture { db: _db, g, .. } = Fixture::new().await;
    // Content-Length and Transfer-Encoding together, in either order, alone or after a
    // well-framed request on the same connection: 400, and nothing reaches the backend.
    for head in [
        "POST /public/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /public/smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /public/x HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n",
        "POST /public/ok HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbodyPOST /public/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ] {
        let answer = raw_all(g.port, head).await;
        let refused = answer.find("HTTP/1.1 400").unwrap_or_else(|| panic!("{answer}"));
        assert!(answer[refused..].contains("\"ambiguous_framing\""), "{answer}");
        assert!(!answer.contains("/public/x") && !answer.contains("/public/smuggled"), "{answer}");
        if head.starts_with("POST /public/ok") {
            assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("/public/ok"), "{answer}");
        }
    }
    g.stop().await;
}

/// Everything the gateway answers on one connection until it closes it.
async fn raw_all(port: u16, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_account_is_announced_once_and_proxies_must_be_trusted() {
    let p = Pki::new();
    let backend = echo_backend().await;
    let base_of = |g: &Running| format!("http://127.0.0.1:{}", g.port);
    let (_db, g) = start(&p, &format!("http://{backend}")).await;
    let http = client();
    let (session, _) = sign_in(&g, &p, "citizen-p256", "/").await;
    let get = |session: String, url: String| {
        let http = http.clone();
        async move {
            http.get(url)
                .header("cookie", session)
                .header("x-forwarded-for", "6.6.6.6")
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let first = get(session.clone(), format!("{}/cabinet", base_of(&g))).await;
    assert_eq!(first["headers"]["x-brama-new-account"], "true");
    assert_eq!(
        first["headers"]["x-forwarded-for"], "127.0.0.1",
        "an untrusted client's X-Forwarded-For is dropped"
    );
    let second = get(session, format!("{}/cabinet", base_of(&g))).await;
    assert!(
        second["headers"].get("x-brama-new-account").is_none(),
        "announced once"
    );
    let (again, login) = sign_in(&g, &p, "citizen-p256", "/").await;
    assert_eq!(login["new_account"], false);
    assert!(
        get(again, format!("{}/cabinet", base_of(&g))).await["headers"]
            .get("x-brama-new-account")
            .is_none()
    );
    g.stop().await;

    let (_db2, g) = start_with(
        &p,
        &format!("http://{backend}"),
        r#"trusted_proxies = ["127.0.0.1"]"#,
    )
    .await;
    let (session, _) = sign_in(&g, &p, "citizen-p256", "/").await;
    let seen = get(session, format!("{}/cabinet", base_of(&g))).await;
    assert_eq!(
        seen["headers"]["x-forwarded-for"], "6.6.6.6, 127.0.0.1",
        "a trusted proxy's chain is kept and extended"
    );
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assertion_is_minted_once_per_session_and_published_in_jwks() {
    use base64::Engine;
    let Fixture {
        p,
        backend,
        db: _db,
        g,
        base,
        http,
    } = Fixture::new().await;
    let jwks: Value = http
        .get(format!("{base}/auth/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = &jwks["keys"][0];
    assert_eq!(
        (
            jwk["kty"].as_str(),
            jwk["crv"].as_str(),
            jwk["alg"].as_str()
        ),
        (Some("EC"), Some("P-256"), Some("ES256"))
    );
    assert!(jwk.get("d").is_none(), "no private part in the JWKS");

    let (session, _) = sign_in(&g, &p, "citizen-p256", "/").await;
    let fetch = || {
        let (http, base, session) = (http.clone(), base.clone(), session.clone());
        async move {
            let seen: Value = http
                .get(format!("{base}/cabinet"))
                .header("cookie", session)
                .header("X-Brama-Assertion", "forged")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            seen["headers"]["x-brama-assertion"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let first = fetch().await;
    assert_ne!(first, "forged");
    assert_eq!(fetch().await, first, "reused, not re-signed per request");
    let part = |t: &str, i: usize| -> Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t.split('.').nth(i).unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(part(&first, 0)["kid"], jwk["kid"]);
    let claims = part(&first, 1);
    assert_eq!(claims["aud"], format!("http://{backend}"));
    assert_eq!(claims["iss"], ORIGIN);
    assert_eq!(claims["role"], "citizen");
    let id = claims["sub"].as_str().unwrap().to_string();

    // A new account version (blocked and unblocked) never reuses the old assertion.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    g.gateway
        .store
        .set_blocked(&id, Some("x"), now)
        .await
        .unwrap();
    g.gateway.store.set_blocked(&id, None, now).await.unwrap();
    let (session2, _) = sign_in(&g, &p, "citizen-p256", "/").await;
    let seen: Value = http
        .get(format!("{base}/cabinet"))
        .header("cookie", session2)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let third = seen["headers"]["x-brama-assertion"].as_str().unwrap();
    assert_ne!(third, first);
    assert_eq!(part(third, 1)["ver"], 3);
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_page_headers_and_the_role_switch() {
    let (p, _db, g, base, http) = Fixture::new().await.parts();

    let r = http
        .get(format!("{base}/auth/login?next=/cabinet"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'")
            && csp.contains("connect-src 'self' http://127.0.0.1:47560")
            && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h["strict-transport-security"]
        .to_str()
        .unwrap()
        .contains("max-age="));
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r#"data-agent="http://127.0.0.1:47560""#)
            && html.contains(r#"data-download="/auth/agent""#)
            && html.contains(r#"<html lang="uk">"#)
            && html.contains(r#"src="/auth/login.js""#)
    );
    // The browser's language picks the page's, among the three it is written in.
    for (accept, lang) in [
        ("ru-RU,ru;q=0.9", "ru"),
        ("de, en;q=0.8, uk;q=0.5", "en"),
        ("fr", "uk"),
    ] {
        for path in ["/auth/login", "/auth/role", "/auth/agent"] {
            let html = http
                .get(format!("{base}{path}"))
                .header("accept-language", accept)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(
                html.contains(&format!("<html lang=\"{lang}\">")),
                "{path} {accept}: {html}"
            );
        }
    }
    let js = http
        .get(format!("{base}/auth/brama-agent.js"))
        .send()
        .await
        .unwrap();
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.text().await.unwrap().contains("export class BramaAgent"));
    for asset in [
        "/auth/login.js",
        "/auth/i18n.js",
        "/auth/agent.js",
        "/auth/role.js",
        "/auth/style.css",
        "/auth/role",
    ] {
        assert_eq!(
            http.get(format!("{base}{asset}"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK,
            "{asset}"
        );
    }

    // A representative chooses a role, and the backend sees the organisation.
    let (session, login) = sign_in(&g, &p, "representative-p256", "/cabinet").await;
    assert_eq!(login["choose_role"], true);
    let role = |body: Value, origin: &'static str| {
        let (http, base, session) = (http.clone(), base.clone(), session.clone());
        async move {
            http.post(format!("{base}/auth/role"))
                .header("origin", origin)
                .header("cookie", session)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let org = "registration:UA:12345678";
    assert_eq!(
        role(
            json!({"role": "representative", "organisation": org}),
            "https://evil.example"
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    let r = role(
        json!({"role": "representative", "organisation": "registration:UA:99999999"}),
        ORIGIN,
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "role_not_allowed"
    );
    assert_eq!(
        role(
            json!({"role": "representative", "organisation": org}),
            ORIGIN
        )
        .await
        .status(),
        StatusCode::OK
    );
    let seen: Value = http
        .get(format!("{base}/cabinet"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let h = &seen["headers"];
    assert_eq!(h["x-brama-role"], "representative");
    assert_eq!(h["x-brama-org-id"], "registration%3AUA%3A12345678");
    assert_eq!(h["x-brama-org-name"], "%D0%A2%D0%9E%D0%92%20%C2%AB%D0%91%D1%80%D0%B0%D0%BC%D0%B0%20%D0%A2%D0%B5%D1%81%D1%82%C2%BB", "ТОВ «Брама Тест»");
    let me: Value = http
        .get(format!("{base}/auth/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "representative");
    // And back.
    assert_eq!(
        role(json!({"role": "citizen"}), ORIGIN).await.status(),
        StatusCode::OK
    );
    let seen: Value = http
        .get(format!("{base}/cabinet"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["headers"]["x-brama-role"], "citizen");
    assert!(seen["headers"].get("x-brama-org-id").is_none());
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_form_is_redirected_to_the_login_page() {
    let Fixture { p, db: _db, g, .. } = Fixture::new().await;
    let (session, _) = sign_in(&g, &p, "citizen-p256", "/").await;
    let r = client()
        .post(format!("http://127.0.0.1:{}/auth/logout", g.port))
        .header("origin", ORIGIN)
        .header("accept", "text/html")
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/auth/login?signed_out=1");
    assert!(set_cookie(&r, "__Host-brama-session")
        .unwrap()
        .contains("Max-Age=0"));
    g.stop().await;
}

/// The limits count in one-minute windows: start well inside one so the test cannot straddle two.
async fn inside_one_minute() {
    let s = time::OffsetDateTime::now_utc()
        .unix_timestamp()
        .rem_euclid(60);
    if s > 40 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - s) as u64)).await;
    }
}

/// Behind the recommended load balancer (a trusted proxy) each citizen has their own bucket:
/// one client cannot lock everyone out by spending the balancer's.
#[tokio::test]
async fn rate_limits_count_the_client_a_trusted_proxy_reports() {
    inside_one_minute().await;
    let (_p, _db, g, base, http) = Fixture::with(
        "trusted_proxies = [\"127.0.0.1\"]\n[limits]\nchallenge_per_minute = 2\nlogin_per_minute = 0\ncertificate_per_minute = 0",
    )
    .await
    .parts();
    let ask = |client: &'static str| {
        let http = http.clone();
        let base = base.clone();
        async move {
            http.post(format!("{base}/auth/challenge"))
                .header("origin", ORIGIN)
                .header("x-forwarded-for", client)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(ask("203.0.113.5").await, StatusCode::OK);
    assert_eq!(ask("203.0.113.5").await, StatusCode::OK);
    assert_eq!(ask("203.0.113.5").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(ask("198.51.100.9").await, StatusCode::OK, "another citizen");
    // IPv6 clients by /64: another address of the same /64 shares the bucket.
    assert_eq!(ask("2001:db8:0:1::1").await, StatusCode::OK);
    assert_eq!(ask("2001:db8:0:1::2").await, StatusCode::OK);
    assert_eq!(ask("2001:db8:0:1::3").await, StatusCode::TOO_MANY_REQUESTS);
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_by_address_and_by_verified_certificate() {
    use base64::Engine;
    let p = Pki::new();
    let backend = echo_backend().await;
    inside_one_minute().await;
    let (_db, g) = start_with(
        &p,
        &format!("http://{backend}"),
        "[limits]\nchallenge_per_minute = 3\nlogin_per_minute = 0\ncertificate_per_minute = 1",
    )
    .await;
    let base = format!("http://127.0.0.1:{}", g.port);
    let http = client();
    for _ in 0..3 {
        assert_eq!(
            http.post(format!("{base}/auth/challenge"))
                .header("origin", ORIGIN)
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    let r = http
        .post(format!("{base}/auth/challenge"))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            <= 60
    );
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "rate_limited"
    );
    g.stop().await;

    let (_db2, g) = start_with(
        &p,
        &format!("http://{backend}"),
        "[limits]\nchallenge_per_minute = 0\nlogin_per_minute = 0\ncertificate_per_minute = 1",
    )
    .await;
    let base = format!("http://127.0.0.1:{}", g.port);
    // Garbage in the victim's name never verifies, so it never counts against the certificate.
    let good = p.sign_statement("citizen-p256", ORIGIN, "whatever");
    let mut tampered = good.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    for _ in 0..5 {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&tampered);
        let r = http
            .post(format!("{base}/auth/login"))
            .header("origin", ORIGIN)
            .json(&json!({"signature": b64}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    sign_in(&g, &p, "citizen-p256", "/").await;
    // The limit counts verified logins: the second one within the minute waits.
    let c = challenge(&http, &base, "/").await;
    let r = login(&http, &base, &p, "citizen-p256", &c).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "rate_limited"
    );
    // Another person is unaffected.
    sign_in(&g, &p, "citizen-p384", "/").await;
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_pass_through_and_browsers_get_an_html_502() {
    let (p, _db, g, base, http) = Fixture::new().await.parts();
    let r = http
        .get(format!("{base}/public/x"))
        .header("x-request-id", "abc-123.X_y")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123.X_y");
    let seen: Value = r.json().await.unwrap();
    assert_eq!(
        seen["headers"]["x-request-id"], "abc-123.X_y",
        "the backend gets the same id"
    );
    let r = http
        .get(format!("{base}/public/x"))
        .header("x-request-id", "not a token; <script>")
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 24, "a malformed id is replaced: {id}");
    let seen: Value = r.json().await.unwrap();
    assert_eq!(seen["headers"]["x-request-id"], id.as_str());
    g.stop().await;

    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (_db2, g) = start(&p, &format!("http://{free}")).await;
    let (session, _) = sign_in(&g, &p, "citizen-p256", "/").await;
    let r = http
        .get(format!("http://127.0.0.1:{}/cabinet", g.port))
        .header("cookie", &session)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Кабінет тимчасово недоступний"));
    g.stop().await;
}
