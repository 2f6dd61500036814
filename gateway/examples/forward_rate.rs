//! Requests/s through the gateway with a valid session against the backend directly, in one
//! run, with `wrk` (Debian package) as the load: same connections and duration for both.
//! Run: cargo run --release -p gateway --example forward_rate [-- SECONDS]
//! (The benchmark issue adds nginx, pinning and the full table; this is the first figure.)

use std::process::Command;

use base64::Engine;
use certs::cms::{self, Content, Digest, SignRequest};
use certs::statement::LoginStatement;

const ORIGIN: &str = "https://cabinet.example";

fn wrk(url: &str, cookie: Option<&str>, seconds: u32) -> (f64, String) {
    let mut c = Command::new("wrk");
    c.args(["-t1", "-c32", &format!("-d{seconds}s"), "--latency"]);
    if let Some(cookie) = cookie {
        c.args(["-H", &format!("Cookie: {cookie}")]);
    }
    let out = c.arg(url).output().expect("wrk (apt install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    let p50 = text
        .lines()
        .find(|l| l.trim_start().starts_with("50%"))
        .unwrap_or("")
        .trim()
        .to_string();
    assert!(!text.contains("Non-2xx"), "errors under load:\n{text}");
    (rps, p50)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let seconds: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let body = "x".repeat(1024);
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move { body }
    });
    // The backend runs on its own thread and runtime: the gateway's one worker thread does
    // only the gateway's work.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let backend = l.local_addr().unwrap();
    l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                let l = tokio::net::TcpListener::from_std(l).unwrap();
                axum::serve(l, app).await.unwrap()
            })
    });

    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    let m = certs::devpki::init(&certs::devpki::Options::new(&pki)).unwrap();
    let toml = format!(
        "listen = \"127.0.0.1:0\"\npublic_origin = \"{ORIGIN}\"\nbackend = \"http://{backend}\"\ndatabase = \"sqlite://{}\"\n[trust]\nanchors = [\"{}\"]\nintermediates = [\"{}\"]\n[revocation]\nmode = \"off\"\n[admin]\nlisten = \"\"\n",
        tmp.path().join("brama.db").display(), pki.join("root.pem").display(), pki.join("ica.pem").display());
    std::fs::write(tmp.path().join("g.toml"), toml).unwrap();
    let config = gateway::config::Config::load(Some(&tmp.path().join("g.toml"))).unwrap();
    let g = gateway::server::start(config, None).await.unwrap();
    let base = format!("http://127.0.0.1:{}", g.port);

    // Sign in once, as the login page would.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/auth/challenge"))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    let login_cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let c: serde_json::Value = r.json().await.unwrap();
    let e = m.certificate("citizen-p256").unwrap();
    let opened = certs::load::pkcs12(
        &std::fs::read(pki.join(e.pkcs12.as_ref().unwrap())).unwrap(),
        "c",
        &e.password,
    )
    .unwrap();
    let statement = LoginStatement::new(ORIGIN, c["challenge"].as_str().unwrap(), 0).to_bytes();
    let req = SignRequest {
        content_type: certs::statement::CONTENT_TYPE,
        content: Content::Attached(&statement),
        digest: Digest::Sha256,
        certificate: &opened.certificate,
        chain: &[],
        signing_time: time::OffsetDateTime::now_utc(),
        signing_certificate: None,
    };
    let sig =
        base64::engine::general_purpose::STANDARD.encode(cms::sign(&req, &opened.key).unwrap());
    let r = http
        .post(format!("{base}/auth/login"))
        .header("origin", ORIGIN)
        .header("cookie", login_cookie)
        .json(&serde_json::json!({"signature": sig}))
        .send()
        .await
        .unwrap();
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("__Host-brama-session"))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();

    let direct = tokio::task::spawn_blocking(move || {
        wrk(&format!("http://{backend}/cabinet"), None, seconds)
    })
    .await
    .unwrap();
    let url = format!("{base}/cabinet");
    let through = tokio::task::spawn_blocking(move || wrk(&url, Some(&session), seconds))
        .await
        .unwrap();
    println!(
        "wrk -t1 -c32 -d{seconds}s, 1 KiB answer, gateway on one runtime worker thread, backend on its own thread, SQLite"
    );
    println!(
        "backend direct      {:>9.0} req/s   p50 {}",
        direct.0, direct.1
    );
    println!(
        "through the gateway {:>9.0} req/s   p50 {}",
        through.0, through.1
    );
    println!("ratio gateway/direct {:.2}", through.0 / direct.0);
}
