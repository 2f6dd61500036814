//! Helpers shared by the gateway's integration tests: a dev PKI, the trust policy over it,
//! and signatures made the way the agent makes them.
#![allow(dead_code)]

use std::path::PathBuf;

use certs::cms::{self, Content, Digest, SignRequest};
use certs::devpki::{self, Manifest, Options};
use certs::statement::LoginStatement;
use gateway::verify::chain::{self, KeyUsageRule, Qualified, TrustPolicy};
use openssl::x509::X509;

pub const ORIGIN: &str = "https://cabinet.example";

pub struct Pki {
    pub _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub m: Manifest,
}

pub fn pki() -> Pki {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let m = devpki::init(&Options::new(&dir)).unwrap();
    Pki { _tmp: tmp, dir, m }
}

pub fn policy(p: &Pki) -> TrustPolicy {
    let pem = |f: &str| X509::from_pem(&std::fs::read(p.dir.join(f)).unwrap()).unwrap();
    TrustPolicy {
        anchors: vec![pem("root.pem")],
        intermediates: vec![pem("ica.pem")],
        crls: vec![],
        qualified: Qualified::Required,
        key_usage: KeyUsageRule::Either,
        allowed_eku: chain::default_allowed_eku(),
        policies_allow: vec![],
        policies_deny: vec![],
    }
}

pub fn statement(challenge: &str) -> Vec<u8> {
    LoginStatement::new(
        ORIGIN,
        challenge,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )
    .to_bytes()
}

/// What the agent makes: Brama's builder with the key from the container.
pub fn sign_with(
    p: &Pki,
    name: &str,
    content_type: &str,
    content: Content<'_>,
    tweak: impl FnOnce(&mut SignRequest<'_>),
) -> Vec<u8> {
    let e = p.m.certificate(name).unwrap();
    let opened = certs::load::pkcs12(
        &std::fs::read(p.dir.join(e.pkcs12.as_ref().unwrap())).unwrap(),
        name,
        &e.password,
    )
    .unwrap();
    let mut req = SignRequest {
        content_type,
        content,
        digest: Digest::Sha256,
        certificate: &opened.certificate,
        chain: &[],
        signing_time: time::OffsetDateTime::now_utc(),
        signing_certificate: None,
    };
    tweak(&mut req);
    cms::sign(&req, &opened.key).unwrap()
}

/// A login statement for `origin` and `challenge`, signed as the agent would.
pub fn sign_statement(p: &Pki, name: &str, origin: &str, challenge: &str) -> Vec<u8> {
    let s = LoginStatement::new(
        origin,
        challenge,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )
    .to_bytes();
    sign_with(
        p,
        name,
        certs::statement::CONTENT_TYPE,
        Content::Attached(&s),
        |_| {},
    )
}

/// A `Set-Cookie` header of `r` for cookie `name`, whole (`name=value; Path=/; …`).
pub fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(String::from)
}

/// What `POST /auth/challenge` gave the login page.
pub struct Challenge {
    /// The whole `Set-Cookie` of the login cookie.
    pub set_cookie: String,
    /// `__Host-brama-login=<value>`, as the browser sends it back.
    pub cookie: String,
    pub challenge: String,
    pub origin: String,
}

/// Ask the gateway at `base` for a challenge, as the login page does.
pub async fn challenge(http: &reqwest::Client, base: &str, next: &str) -> Challenge {
    let r = http
        .post(format!("{base}/auth/challenge"))
        .header("origin", ORIGIN)
        .json(&serde_json::json!({ "next": next }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "challenge refused");
    let set_cookie = set_cookie(&r, "__Host-brama-login").expect("login cookie");
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let body: serde_json::Value = r.json().await.unwrap();
    Challenge {
        set_cookie,
        cookie,
        challenge: body["challenge"].as_str().unwrap().to_string(),
        origin: body["origin"].as_str().unwrap().to_string(),
    }
}

/// Sign `c` as the dev-PKI entry `name` (as the agent would) and post it to `/auth/login`.
pub async fn login(
    http: &reqwest::Client,
    base: &str,
    p: &Pki,
    name: &str,
    c: &Challenge,
) -> reqwest::Response {
    use base64::Engine;
    let signature = base64::engine::general_purpose::STANDARD.encode(sign_statement(
        p,
        name,
        ORIGIN,
        &c.challenge,
    ));
    http.post(format!("{base}/auth/login"))
        .header("origin", ORIGIN)
        .header("cookie", &c.cookie)
        .json(&serde_json::json!({ "signature": signature }))
        .send()
        .await
        .unwrap()
}
