//! Scenario 3, the agent: median and p99 of a whole login signature with an unlocked
//! (remembered) software P-256 key — `POST /v1/authenticate`, the approval page and its form,
//! the poll that returns the signature — against `GET /v1/info`, the round trip through the
//! agent's guard with no work behind it, in the same run.

use std::time::{Duration, Instant};

use agent::config::Config;
use serde_json::{json, Value};

use crate::report::{Report, Row};
use crate::Plan;

const PAGE: &str = "https://cabinet.example";

fn csrf_token(page: &str) -> String {
    let at = page
        .find("name=\"csrf_token\" value=\"")
        .expect("csrf token")
        + "name=\"csrf_token\" value=\"".len();
    page[at..].split('"').next().unwrap_or_default().to_string()
}

/// (median, p99) in milliseconds.
fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (
        ms(v[v.len() / 2]),
        ms(v[(v.len() * 99 / 100).min(v.len() - 1)]),
    )
}

struct Client {
    http: reqwest::Client,
    base: String,
    container: String,
}

impl Client {
    /// One login signature: request, approval (with `password`, or the remembered key when
    /// empty), poll.
    async fn login_signature(&self, password: &str, remember: bool) {
        let p: Value = self
            .http
            .post(format!("{}/v1/authenticate", self.base))
            .header("origin", PAGE)
            .json(&json!({"container": self.container, "challenge": "latency"}))
            .send()
            .await
            .expect("authenticate")
            .json()
            .await
            .expect("pending request");
        let url = p["approve_url"].as_str().expect("approve_url");
        let page = self
            .http
            .get(url)
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("page");
        let mut form = vec![
            ("csrf_token", csrf_token(&page)),
            ("decision", "approve".to_string()),
            ("password", password.to_string()),
        ];
        if remember {
            form.push(("remember", "1".into()));
        }
        let r = self
            .http
            .post(url)
            .header("origin", &self.base)
            .header("sec-fetch-site", "same-origin")
            .form(&form)
            .send()
            .await
            .expect("approve");
        assert_eq!(r.status(), 200, "approval refused");
        let r = self
            .http
            .get(format!(
                "{}/v1/requests/{}",
                self.base,
                p["request"].as_str().expect("id")
            ))
            .header("origin", PAGE)
            .send()
            .await
            .expect("poll");
        let v: Value = r.json().await.expect("result");
        assert!(v["result"]["signature"].is_string(), "no signature: {v}");
    }
}

pub async fn run(plan: &Plan, report: &mut Report) {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let pki = tmp.path().join("pki");
    let m = certs::devpki::init(&certs::devpki::Options::new(&pki)).expect("dev PKI");
    let keys = tmp.path().join("keys");
    std::fs::create_dir(&keys).expect("folder");
    std::fs::copy(pki.join("citizen-p256.p12"), keys.join("citizen-p256.p12")).expect("copy");
    let config = Config {
        port: 0,
        https: false,
        data_dir: tmp.path().join("data"),
        containers: vec![keys],
        removable_media: false,
        approval_delay_ms: 0,
        pkcs11_probe: false,
        ..Config::default()
    };
    let running = agent::server::start(config).await.expect("agent");
    running.app.origins.approve(PAGE).expect("approve origin");
    let base = format!("http://127.0.0.1:{}", running.port);
    let http = reqwest::Client::new();
    let list: Value = http
        .get(format!("{base}/v1/containers"))
        .header("origin", PAGE)
        .send()
        .await
        .expect("containers")
        .json()
        .await
        .expect("list");
    let client = Client {
        http: http.clone(),
        container: list["containers"][0]["id"]
            .as_str()
            .expect("container")
            .into(),
        base: base.clone(),
    };
    // Unlock once with the password and remember it: the measured signatures use the key.
    let password = m
        .certificate("citizen-p256")
        .expect("entry")
        .password
        .clone();
    client.login_signature(&password, true).await;

    let (mut info, mut round) = (Vec::new(), Vec::new());
    for _ in 0..plan.agent_rounds {
        let t = Instant::now();
        http.get(format!("{base}/v1/info"))
            .header("origin", PAGE)
            .send()
            .await
            .expect("info")
            .bytes()
            .await
            .expect("info");
        info.push(t.elapsed());
        let t = Instant::now();
        client.login_signature("", false).await;
        round.push(t.elapsed());
    }
    running.stop().await;
    let (info50, info99) = percentiles(info);
    let (r50, r99) = percentiles(round);
    report.push(Row {
        scenario: "agent: GET /v1/info".into(),
        figure: format!("median {info50:.3} ms, p99 {info99:.3} ms"),
        ratio: String::new(),
    });
    report.push(Row {
        scenario: format!(
            "agent: /v1/authenticate → approval → signature, unlocked P-256 key ({} rounds)",
            plan.agent_rounds
        ),
        figure: format!("median {r50:.3} ms, p99 {r99:.3} ms"),
        ratio: format!("{:.1}× info (median)", r50 / info50),
    });
}
