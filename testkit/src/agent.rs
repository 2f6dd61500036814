//! Helpers shared by the agent's tests: a running agent over the
//! dev PKI, and answering its approval page exactly as a browser on the agent's own origin
//! does.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use agent::config::Config;
use agent::server::{self, Running};
use base64::Engine;
use certs::devpki::{self, Manifest, Options};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

/// The CSRF token the approval page carries in its form.
pub fn csrf_token(page: &str) -> Option<String> {
    let at = page.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    Some(page[at..].split('"').next()?.to_string())
}

/// Load the approval page at `url` and post its form from `own_origin` (the agent's origin):
/// `decision` is approve or deny. Returns the status and the page that came back.
pub async fn answer(
    http: &Client,
    url: &str,
    own_origin: &str,
    decision: &str,
    password: &str,
    remember: bool,
) -> (StatusCode, String) {
    let page = http.get(url).send().await.unwrap().text().await.unwrap();
    let token = csrf_token(&page).unwrap_or_else(|| panic!("no csrf token in {page}"));
    let mut form = vec![
        ("csrf_token", token),
        ("decision", decision.to_string()),
        ("password", password.to_string()),
    ];
    if remember {
        form.push(("remember", "1".into()));
    }
    let r = http
        .post(url)
        .header("origin", own_origin)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.text().await.unwrap())
}

/// `POST path` from [`PAGE`] to the agent at `base`, then approve its request with
/// `password` on the approval page: the status and page that came back, and the pending
/// request's JSON (`request`, `approve_url`).
pub async fn request_and_answer(
    http: &Client,
    base: &str,
    path: &str,
    body: Value,
    password: &str,
) -> (StatusCode, String, Value) {
    let r = http
        .post(format!("{base}{path}"))
        .header("origin", PAGE)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "{}",
        r.text().await.unwrap()
    );
    let pending: Value = r.json().await.unwrap();
    let url = pending["approve_url"].as_str().unwrap();
    let (status, page) = answer(http, url, base, "approve", password, false).await;
    (status, page, pending)
}

/// `GET path` on the agent at `base` as [`PAGE`], as JSON.
pub async fn get_as_page(http: &Client, base: &str, path: &str) -> Value {
    http.get(format!("{base}{path}"))
        .header("origin", PAGE)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub const PAGE: &str = "https://cabinet.example";

/// A real agent on a loopback port over a fresh dev PKI, its PKCS#12 files as containers.
pub struct Agent {
    pub _tmp: tempfile::TempDir,
    pub pki: PathBuf,
    pub manifest: Manifest,
    pub running: Option<Running>,
    pub port: u16,
    pub http: Client,
}

impl Agent {
    pub async fn start(tune: impl FnOnce(&mut Config)) -> Agent {
        let tmp = tempfile::tempdir().unwrap();
        let pki = tmp.path().join("pki");
        let manifest = devpki::init(&Options::new(&pki)).unwrap();
        // Only the keys' files: the PKCS#12 containers and the PEM keys with their certificates.
        let containers = tmp.path().join("keys");
        std::fs::create_dir(&containers).unwrap();
        for e in &manifest.certificates {
            std::fs::copy(
                pki.join(e.pkcs12.as_ref().unwrap()),
                containers.join(e.pkcs12.as_ref().unwrap()),
            )
            .unwrap();
        }
        let mut config = Config {
            port: 0,
            https_port: 0,
            data_dir: tmp.path().join("data"),
            containers: vec![containers],
            removable_media: false,
            approval_delay_ms: 0,
            // Hermetic: no token modules unless a test configures one.
            pkcs11_probe: false,
            ..Config::default()
        };
        tune(&mut config);
        let running = server::start(config).await.unwrap();
        let port = running.port;
        Agent {
            _tmp: tmp,
            pki,
            manifest,
            running: Some(running),
            port,
            http: Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn own_origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn get(&self, path: &str, origin: Option<&str>) -> Response {
        let mut r = self.http.get(self.url(path));
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send().await.unwrap()
    }

    pub async fn post(&self, path: &str, origin: &str, body: Value) -> Response {
        self.http
            .post(self.url(path))
            .header("origin", origin)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub fn password(&self, name: &str) -> String {
        self.manifest.certificate(name).unwrap().password.clone()
    }

    /// The container id and signing certificate id the agent lists for a dev-PKI entry.
    pub async fn container_of(&self, name: &str) -> (String, String) {
        let list = self.containers_as_approved().await;
        let label = name.to_string();
        let c = list["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["label"] == label.as_str())
            .unwrap_or_else(|| panic!("{name} not listed: {list}"));
        let cert = c["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["can_sign"] == true)
            .map(|v| v["id"].as_str().unwrap().to_string());
        (
            c["id"].as_str().unwrap().to_string(),
            cert.unwrap_or_default(),
        )
    }

    pub async fn containers_as_approved(&self) -> Value {
        self.running
            .as_ref()
            .unwrap()
            .app
            .origins
            .approve(PAGE)
            .unwrap();
        let r = self.get("/v1/containers", Some(PAGE)).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    /// Load the approval page and post the form as a browser on the agent's origin would.
    pub async fn answer(
        &self,
        approve_url: &str,
        decision: &str,
        password: &str,
        remember: bool,
    ) -> (StatusCode, String) {
        answer(
            &self.http,
            approve_url,
            &self.own_origin(),
            decision,
            password,
            remember,
        )
        .await
    }

    /// `POST /v1/authenticate` from the page for `container`: the pending request's JSON
    /// (`request`, `approve_url`).
    pub async fn pending_login(&self, container: &str, challenge: &str) -> Value {
        let r = self
            .post(
                "/v1/authenticate",
                PAGE,
                serde_json::json!({ "container": container, "challenge": challenge }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        r.json().await.unwrap()
    }

    /// The HTML of an agent page (the approval page at `url`).
    pub async fn page(&self, url: &str) -> String {
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn poll(&self, id: &str, origin: &str) -> Response {
        self.get(&format!("/v1/requests/{id}"), Some(origin)).await
    }

    /// `brama-agent ARGS…` on the command line over this agent's data folder: its standard
    /// output (a failure fails the test with the program's message).
    pub fn cli(&self, args: &[&std::ffi::OsStr]) -> String {
        let out = Command::new(crate::programs::program("agent", "brama-agent"))
            .env("BRAMA_AGENT_DATA_DIR", self._tmp.path().join("data"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "brama-agent {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Approve the pending request `pending` (its JSON: `approve_url`) with `password` once
    /// more, as a person retrying on the same approval page: the status and page.
    pub async fn retry(&self, pending: &Value, password: &str) -> (StatusCode, String) {
        self.answer(
            pending["approve_url"].as_str().unwrap(),
            "approve",
            password,
            false,
        )
        .await
    }

    /// Start a request and approve it with `password`: the approval's status and page.
    pub async fn decide(&self, path: &str, body: Value, password: &str) -> (StatusCode, String) {
        let (status, page, _) =
            request_and_answer(&self.http, &self.own_origin(), path, body, password).await;
        (status, page)
    }

    /// Start a request, approve it with `password`, and return the poll's JSON.
    pub async fn approved(&self, path: &str, body: Value, password: &str) -> Value {
        let (status, page, pending) =
            request_and_answer(&self.http, &self.own_origin(), path, body, password).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let r = self.poll(pending["request"].as_str().unwrap(), PAGE).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }
}

pub fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

pub async fn error_code(r: Response) -> (StatusCode, String) {
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    (
        status,
        v["error"]["code"].as_str().unwrap_or_default().to_string(),
    )
}

/// `openssl cms -verify` over a signature; returns the verified content.
pub fn openssl_verify(pki: &Path, signature: &[u8], detached: Option<&[u8]>) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sig.der"), signature).unwrap();
    let mut cmd = Command::new("openssl");
    cmd.current_dir(dir.path())
        .args([
            "cms", "-verify", "-cades", "-binary", "-inform", "DER", "-in", "sig.der", "-purpose",
            "any", "-out", "out.bin", "-CAfile",
        ])
        .arg(pki.join("chain.pem"));
    if let Some(c) = detached {
        std::fs::write(dir.path().join("content.bin"), c).unwrap();
        cmd.args(["-content", "content.bin"]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "openssl cms -verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.path().join("out.bin")).unwrap()
}
