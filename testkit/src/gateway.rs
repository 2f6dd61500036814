//! A gateway on loopback in front of an echo backend, and the login page's side of a login
//! (challenge, signature, `/auth/login`) over real HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::http::HeaderMap;
use gateway::config::Config;
use gateway::server::{self, Running};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

pub use crate::pki::{statement, Pki, ORIGIN};

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
    let der = p.sign_statement(name, ORIGIN, &c.challenge);
    post_signature(http, base, &c.cookie, &der).await
}

/// Post a signature (DER CMS) to `/auth/login` with the login cookie `cookie`.
pub async fn post_signature(
    http: &reqwest::Client,
    base: &str,
    cookie: &str,
    der: &[u8],
) -> reqwest::Response {
    use base64::Engine;
    let signature = base64::engine::general_purpose::STANDARD.encode(der);
    http.post(format!("{base}/auth/login"))
        .header("origin", ORIGIN)
        .header("cookie", cookie)
        .json(&serde_json::json!({ "signature": signature }))
        .send()
        .await
        .unwrap()
}

/// A backend that answers with the path and headers it saw, and tries to set a gateway cookie.
pub async fn echo_backend() -> SocketAddr {
    let app = axum::Router::new().fallback(|uri: axum::http::Uri, headers: HeaderMap| async move {
        let h: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Value::String(v.to_str().unwrap_or("").into()),
                )
            })
            .collect();
        (
            [
                ("set-cookie", "__Host-brama-session=forged; Path=/"),
                ("x-backend", "yes"),
            ],
            axum::Json(json!({ "path": uri.path(), "query": uri.query(), "headers": h })),
        )
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

pub async fn start(p: &Pki, backend: &str) -> (tempfile::TempDir, Running) {
    start_with(p, backend, "").await
}

pub async fn start_with(p: &Pki, backend: &str, extra: &str) -> (tempfile::TempDir, Running) {
    start_trusting(p, backend, extra, &["root.pem"], &["ica.pem"]).await
}

/// Trusting both sides of the dev PKI: the ECDSA and DSTU roots, every CA of both.
pub async fn start_with_dstu(p: &Pki, backend: &str, extra: &str) -> (tempfile::TempDir, Running) {
    start_trusting(
        p,
        backend,
        extra,
        &["root.pem", "dstu/dstu-root.pem"],
        &[
            "ica.pem",
            "dstu/dstu-ca.pem",
            "dstu/ecdsa-ca-under-dstu-root.pem",
            "dstu/dstu-ca-under-ecdsa-root.pem",
        ],
    )
    .await
}

async fn start_trusting(
    p: &Pki,
    backend: &str,
    extra: &str,
    anchors: &[&str],
    intermediates: &[&str],
) -> (tempfile::TempDir, Running) {
    let paths = |files: &[&str]| files.iter().map(|f| p.dir.join(f)).collect::<Vec<_>>();
    start_trusting_files(
        &paths(anchors),
        &paths(intermediates),
        backend,
        extra,
        |_| {},
    )
    .await
}

/// A gateway trusting `anchors` and `intermediates` (any files), revocation off, with
/// `extra` TOML at the top level and `tune` applied to the loaded configuration (what only
/// code may set, like the clock).
pub async fn start_trusting_files(
    anchors: &[PathBuf],
    intermediates: &[PathBuf],
    backend: &str,
    extra: &str,
    tune: impl FnOnce(&mut Config),
) -> (tempfile::TempDir, Running) {
    let list = |files: &[PathBuf]| {
        files
            .iter()
            .map(|f| format!("\"{}\"", f.display()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let db = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"listen = "127.0.0.1:0"
public_origin = "{ORIGIN}"
backend = "{backend}"
database = "sqlite://{}"
public_paths = ["/public/", "/favicon.ico"]
{extra}
[trust]
anchors = [{}]
intermediates = [{}]
[revocation]
mode = "off"
[admin]
listen = "127.0.0.1:0"
"#,
        db.path().join("brama.db").display(),
        list(anchors),
        list(intermediates),
        extra = extra,
    );
    let file = db.path().join("gateway.toml");
    std::fs::write(&file, toml).unwrap();
    let mut config = Config::load(Some(&file)).unwrap();
    tune(&mut config);
    (db, server::start(config, None).await.unwrap())
}

/// A request written by hand: reqwest would normalise `%2e%2e` before sending.
pub async fn raw(port: u16, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 8192];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Sign in as `name` the way the login page does; returns the session cookie value.
pub async fn sign_in(g: &Running, p: &Pki, name: &str, next: &str) -> (String, Value) {
    let base = format!("http://127.0.0.1:{}", g.port);
    let http = client();
    let c = challenge(&http, &base, next).await;
    let lc = &c.set_cookie;
    assert!(
        lc.contains("SameSite=Strict")
            && lc.contains("HttpOnly")
            && lc.contains("Secure")
            && lc.contains("Max-Age=300"),
        "{lc}"
    );
    assert_eq!(c.origin, ORIGIN);
    let r = login(&http, &base, p, name, &c).await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.headers());
    let session = set_cookie(&r, "__Host-brama-session").unwrap();
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && session.contains("Secure")
            && session.contains("Path=/"),
        "{session}"
    );
    (
        session.split(';').next().unwrap().to_string(),
        r.json().await.unwrap(),
    )
}

/// A self-signed P-256 server certificate for `localhost` and 127.0.0.1 named `cn`, written as
/// `<cn>.pem` and `<cn>.key` in `dir` (the certificate doubles as its own CA for clients).
pub fn tls_files(dir: &std::path::Path, cn: &str) -> (PathBuf, PathBuf) {
    use openssl::asn1::Asn1Time;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
    use openssl::x509::{X509Builder, X509NameBuilder};
    let key = PKey::from_ec_key(
        EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
    )
    .unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let mut serial = openssl::bn::BigNum::new().unwrap();
    serial
        .rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false)
        .unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    b.append_extension(BasicConstraints::new().critical().build().unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .build(&b.x509v3_context(None, None))
        .unwrap();
    b.append_extension(san).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let (cert, keyfile) = (dir.join(format!("{cn}.pem")), dir.join(format!("{cn}.key")));
    std::fs::write(&cert, b.build().to_pem().unwrap()).unwrap();
    std::fs::write(&keyfile, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (cert, keyfile)
}

/// Limits that never stop a test's own burst of logins.
pub const NO_LIMITS: &str =
    "[limits]\nlogin_per_minute = 0\nchallenge_per_minute = 0\ncertificate_per_minute = 0\n";

/// `GET /auth/me` with the session cookie `session` (`name=value`).
pub async fn me(g: &Running, session: &str) -> Value {
    get_json(g, "/auth/me", session).await
}

/// `GET path` on the gateway with the session cookie, as JSON (the echo backend's view of a
/// forwarded request, `/auth/me`, …).
pub async fn get_json(g: &Running, path: &str, session: &str) -> Value {
    client()
        .get(format!("http://127.0.0.1:{}{path}", g.port))
        .header("cookie", session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A dev PKI, an echo backend, a gateway in front of it and a client: the start of most
/// gateway tests.
pub struct Fixture {
    pub p: Pki,
    /// The echo backend's address.
    pub backend: SocketAddr,
    /// The gateway's folder (database, configuration); removed on drop.
    pub db: tempfile::TempDir,
    pub g: Running,
    /// `http://127.0.0.1:<port>` of the gateway.
    pub base: String,
    pub http: Client,
}

impl Fixture {
    /// With the default test configuration.
    pub async fn new() -> Fixture {
        Fixture::with("").await
    }

    /// With `extra` TOML added to the configuration (top-level keys or whole sections).
    pub async fn with(extra: &str) -> Fixture {
        let p = Pki::new();
        let backend = echo_backend().await;
        let (db, g) = start_with(&p, &format!("http://{backend}"), extra).await;
        let base = format!("http://127.0.0.1:{}", g.port);
        Fixture {
            p,
            backend,
            db,
            g,
            base,
            http: client(),
        }
    }

    /// (pki, gateway folder, gateway, base URL, client): a test's usual bindings in one line.
    pub fn parts(self) -> (Pki, tempfile::TempDir, Running, String, Client) {
        (self.p, self.db, self.g, self.base, self.http)
    }
}
