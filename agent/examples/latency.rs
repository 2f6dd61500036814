//! Measures, in one run, the median and p99 of:
//!   info         GET /v1/info (the reference: an HTTP round trip through the guard)
//!   authenticate POST /v1/authenticate (202, a pending request)
//!   approve      POST /ui/approve/{id} with a remembered P-256 key: the signature itself
//!   round        authenticate + approval page + approve + poll: a whole login signature
//! Run: cargo run --release -p agent --example latency [-- ROUNDS]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use agent::config::Config;
use certs::devpki::{self, Options};
use serde_json::{json, Value};

const PAGE: &str = "https://cabinet.example";

fn stats(name: &str, mut v: Vec<Duration>, reference: Option<Duration>) -> Duration {
    v.sort();
    let median = v[v.len() / 2];
    let p99 = v[(v.len() * 99 / 100).min(v.len() - 1)];
    let ratio = reference
        .map(|r| format!("  ({:.1}× info)", median.as_secs_f64() / r.as_secs_f64()))
        .unwrap_or_default();
    println!(
        "{name:<13} median {:>8.3} ms   p99 {:>8.3} ms{ratio}",
        median.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    median
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    let m = devpki::init(&Options::new(&pki)).unwrap();
    let keys = tmp.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    std::fs::copy(pki.join("citizen-p256.p12"), keys.join("citizen-p256.p12")).unwrap();
    let config = Config {
        port: 0,
        https: false,
        data_dir: tmp.path().join("data"),
        containers: vec![keys],
        removable_media: false,
        approval_delay_ms: 0,
        ..Config::default()
    };
    let running = agent::server::start(config).await.unwrap();
    running.app.origins.approve(PAGE).unwrap();
    let base = format!("http://127.0.0.1:{}", running.port);
    let http = reqwest::Client::new();
    let list: Value = http
        .get(format!("{base}/v1/containers"))
        .header("origin", PAGE)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let container = list["containers"][0]["id"].as_str().unwrap().to_string();
    let password = m.certificate("citizen-p256").unwrap().password.clone();

    let approve = |url: String, password: String, remember: bool| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let page = http.get(&url).send().await.unwrap().text().await.unwrap();
            let mut form = vec![
                ("csrf_token", common::csrf_token(&page).expect("csrf token")),
                ("decision", "approve".to_string()),
                ("password", password),
            ];
            if remember {
                form.push(("remember", "1".into()));
            }
            let t = Instant::now();
            let status = http
                .post(&url)
                .header("origin", &base)
                .header("sec-fetch-site", "same-origin")
                .form(&form)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200);
            t.elapsed()
        }
    };
    let authenticate = || {
        let (http, base, container) = (http.clone(), base.clone(), container.clone());
        async move {
            let t = Instant::now();
            let p: Value = http
                .post(format!("{base}/v1/authenticate"))
                .header("origin", PAGE)
                .json(&json!({"container": container, "challenge": "latency"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (t.elapsed(), p)
        }
    };
    // Unlock once with the password and remember: later signatures use the unlocked key.
    let (_, p) = authenticate().await;
    approve(p["approve_url"].as_str().unwrap().into(), password, true).await;
    http.get(format!(
        "{base}/v1/requests/{}",
        p["request"].as_str().unwrap()
    ))
    .header("origin", PAGE)
    .send()
    .await
    .unwrap();

    let (mut info, mut auth, mut sign, mut round) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let t = Instant::now();
        http.get(format!("{base}/v1/info"))
            .header("origin", PAGE)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        info.push(t.elapsed());

        let start = Instant::now();
        let (a, p) = authenticate().await;
        auth.push(a);
        sign.push(
            approve(
                p["approve_url"].as_str().unwrap().into(),
                String::new(),
                false,
            )
            .await,
        );
        let r = http
            .get(format!(
                "{base}/v1/requests/{}",
                p["request"].as_str().unwrap()
            ))
            .header("origin", PAGE)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        round.push(start.elapsed());
    }
    println!("{rounds} rounds, P-256 software key, loopback HTTP, release build");
    let reference = stats("info", info, None);
    stats("authenticate", auth, Some(reference));
    stats("approve+sign", sign, Some(reference));
    stats("round", round, Some(reference));
    running.stop().await;
}
