//! The demo: a cabinet backend, and agent + gateway + backend started together.
//!
//! The backend trusts only what the gateway forwards (`X-Brama-*`), greets the person by
//! name, shows the role, and asks a new account for city and phone.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn forwarded(h: &HeaderMap, name: &str) -> Option<String> {
    let v = h.get(format!("x-brama-{name}"))?.to_str().ok()?;
    Some(
        percent_encoding::percent_decode_str(v)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

type Profiles = Arc<Mutex<HashMap<String, (String, String)>>>;

async fn cabinet(State(profiles): State<Profiles>, h: HeaderMap) -> Response {
    let Some(account) = forwarded(&h, "account-id") else {
        return (
            axum::http::StatusCode::FORBIDDEN,
            "This cabinet is served only through brama-gateway.",
        )
            .into_response();
    };
    let given = forwarded(&h, "given-name").unwrap_or_default();
    let surname = forwarded(&h, "surname").unwrap_or_default();
    let role = forwarded(&h, "role").unwrap_or_default();
    let mut body = format!("<h1>Вітаємо, {} {}!</h1>", escape(&given), escape(&surname));
    body.push_str(&match forwarded(&h, "org-name") {
        Some(org) => format!(
            "<p id=\"role\">Роль: представник {} / Role: representative</p>",
            escape(&org)
        ),
        None => format!(
            "<p id=\"role\">Роль: громадянин / Role: {}</p>",
            escape(&role)
        ),
    });
    let profile = profiles.lock().unwrap().get(&account).cloned();
    match profile {
        Some((city, phone)) => body.push_str(&format!(
            "<p id=\"profile\">{} · {}</p>",
            escape(&city),
            escape(&phone)
        )),
        // The gateway says "new account" on the first request after registration only: that
        // is when the cabinet asks for what the certificate does not hold.
        None if forwarded(&h, "new-account").as_deref() == Some("true") => body.push_str(
            "<form id=\"complete-profile\" method=\"post\" action=\"/cabinet/profile\"><h2>Заповніть профіль (новий обліковий запис)</h2>\
             <label>Місто / City <input name=\"city\" required></label>\
             <label>Телефон / Phone <input name=\"phone\" required></label><button>Зберегти / Save</button></form>",
        ),
        None => {}
    }
    body.push_str("<p><a href=\"/auth/role?next=/cabinet\">Змінити роль / Switch role</a></p>\
                   <form method=\"post\" action=\"/auth/logout\"><button id=\"logout\">Вийти / Sign out</button></form>");
    Html(format!("<!doctype html><html lang=\"uk\"><head><meta charset=\"utf-8\"><title>Кабінет</title></head><body>{body}</body></html>")).into_response()
}

#[derive(serde::Deserialize)]
struct Profile {
    city: String,
    phone: String,
}

async fn save_profile(
    State(profiles): State<Profiles>,
    h: HeaderMap,
    Form(p): Form<Profile>,
) -> Response {
    let Some(account) = forwarded(&h, "account-id") else {
        return axum::http::StatusCode::FORBIDDEN.into_response();
    };
    profiles.lock().unwrap().insert(account, (p.city, p.phone));
    Redirect::to("/cabinet").into_response()
}

/// The demo cabinet backend on `addr` (port 0 for any).
pub async fn start_backend(addr: &str) -> std::io::Result<SocketAddr> {
    let app = Router::new()
        .route("/", get(|| async { Redirect::to("/cabinet") }))
        .route("/cabinet", get(cabinet))
        .route("/cabinet/profile", post(save_profile))
        .with_state(Profiles::default());
    let l = tokio::net::TcpListener::bind(addr).await?;
    let bound = l.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    Ok(bound)
}

/// Where the demo runs.
pub struct Ports {
    /// The host of the cabinet's public origin (`localhost`, or `127.0.0.1` for the browser
    /// tests, which tell Chromium to treat that address as public).
    pub gateway_host: &'static str,
    pub gateway: u16,
    pub backend: u16,
    pub agent: u16,
    /// Run the agent in this process; otherwise one is expected at `agent` (the browser tests
    /// start and stop it themselves).
    pub start_agent: bool,
    /// The gateway's admin listener (`/healthz`, `/readyz`, `/metrics`).
    pub admin: u16,
}

pub struct Demo {
    pub pki: PathBuf,
    pub gateway_url: String,
    pub agent_url: String,
    pub password: String,
    pub agent: Option<agent::server::Running>,
    pub gateway: gateway::server::Running,
}

/// Start agent, demo backend and gateway over the dev PKI in `dir` (made if absent).
pub async fn start(dir: &Path, ports: &Ports) -> Result<Demo, String> {
    let pki = dir.join("pki");
    let manifest = if pki.join("manifest.json").exists() {
        certs::devpki::Manifest::load(&pki).map_err(|e| e.to_string())?
    } else {
        let mut opts = certs::devpki::Options::new(&pki);
        opts.password = Some("brama-demo".into());
        certs::devpki::init(&opts).map_err(|e| e.to_string())?
    };
    let password = manifest
        .certificate("citizen-p256")
        .map(|e| e.password.clone())
        .unwrap_or_default();
    // The DSTU citizen's key as Diia issues one: a GOST PKCS#12 holding the key alone, the
    // certificate beside it (the agent pairs them by key identifier).
    let dstu_keys = dir.join("dstu-keys");
    std::fs::create_dir_all(&dstu_keys).map_err(|e| e.to_string())?;
    for file in ["dstu-citizen.p12", "dstu-citizen.cer"] {
        std::fs::copy(pki.join("dstu").join(file), dstu_keys.join(file))
            .map_err(|e| format!("{file}: {e}"))?;
    }
    let agent = if ports.start_agent {
        Some(
            agent::server::start(agent::config::Config {
                port: ports.agent,
                https_port: if ports.agent == 0 { 0 } else { ports.agent + 1 },
                data_dir: dir.join("agent"),
                containers: vec![pki.clone(), dstu_keys],
                removable_media: false,
                dev_mode: true,
                ..agent::config::Config::default()
            })
            .await
            .map_err(|e| format!("agent: {e}"))?,
        )
    } else {
        None
    };
    let agent_url = format!(
        "http://127.0.0.1:{}",
        agent.as_ref().map_or(ports.agent, |a| a.port)
    );
    let backend = start_backend(&format!("127.0.0.1:{}", ports.backend))
        .await
        .map_err(|e| format!("backend: {e}"))?;
    let gateway_url = format!("http://{}:{}", ports.gateway_host, ports.gateway);
    // Revocation from the dev PKI's own CRL and delta CRL files, published fresh.
    certs::devpki::crl::republish(&pki, time::OffsetDateTime::now_utc())
        .map_err(|e| format!("CRLs: {e}"))?;
    let (ica, crl, delta) = (
        pki.join("ica.pem").display().to_string(),
        pki.join("crl.der").display().to_string(),
        pki.join("delta.der").display().to_string(),
    );
    let (dstu_root, dstu_ca, dstu_crl) = (
        pki.join("dstu/dstu-root.pem").display().to_string(),
        pki.join("dstu/dstu-ca.pem").display().to_string(),
        pki.join("dstu/dstu-ca.crl").display().to_string(),
    );
    let toml = format!(
        "listen = \"127.0.0.1:{}\"\npublic_origin = \"{gateway_url}\"\nbackend = \"http://{backend}\"\nagent_url = \"{agent_url}\"\n\
         database = \"sqlite://{}\"\n[trust]\nanchors = [\"{}\", \"{dstu_root}\"]\nintermediates = [\"{}\", \"{dstu_ca}\"]\n[revocation]\nmode = \"fail-closed\"\n[[revocation.issuer]]\nca = \"{ica}\"\nocsp_url = \"\"\ncrls = [\"{crl}\"]\ndelta_crls = [\"{delta}\"]\n[[revocation.issuer]]\nca = \"{dstu_ca}\"\nocsp_url = \"\"\ncrls = [\"{dstu_crl}\"]\n[admin]\nlisten = \"127.0.0.1:{}\"\n",
        ports.gateway,
        dir.join("brama.db").display(),
        pki.join("root.pem").display(),
        pki.join("ica.pem").display(),
        ports.admin
    );
    let file = dir.join("gateway.toml");
    std::fs::write(&file, toml).map_err(|e| e.to_string())?;
    let config = gateway::config::Config::load(Some(&file)).map_err(|e| e.to_string())?;
    let gateway = gateway::server::start(config, None)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Demo {
        pki,
        gateway_url,
        agent_url,
        password,
        agent,
        gateway,
    })
}

/// The whole flow as a page and a person would do it, over HTTP: the page asks the agent
/// for containers (the person approves the site), asks the gateway for a challenge, asks the
/// agent to sign (the person types the password on the agent's page), logs in, and opens the
/// cabinet. Returns the cabinet page.
pub async fn sign_in(demo: &Demo, container_label: &str, password: &str) -> Result<String, String> {
    use serde_json::{json, Value};
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let page = demo.gateway_url.as_str();
    let agent = demo.agent_url.as_str();
    let gw = format!("http://127.0.0.1:{}", demo.gateway.port);
    let e = |x: reqwest::Error| x.to_string();

    let approve = |url: String, password: String| {
        let http = http.clone();
        let agent = agent.to_string();
        async move {
            let html = http
                .get(&url)
                .send()
                .await
                .map_err(e)?
                .text()
                .await
                .map_err(e)?;
            let at = html
                .find("name=\"csrf_token\" value=\"")
                .ok_or("no csrf token")?
                + 25;
            let token = html[at..].split('"').next().unwrap_or_default().to_string();
            let r = http
                .post(&url)
                .header("origin", &agent)
                .header("sec-fetch-site", "same-origin")
                .form(&[
                    ("csrf_token", token),
                    ("decision", "approve".into()),
                    ("password", password),
                ])
                .send()
                .await
                .map_err(e)?;
            if !r.status().is_success() {
                return Err(format!("approval refused: {}", r.status()));
            }
            Ok::<(), String>(())
        }
    };
    let poll = |id: String| {
        let http = http.clone();
        let agent = agent.to_string();
        let page = page.to_string();
        async move {
            let v: Value = http
                .get(format!("{agent}/v1/requests/{id}"))
                .header("origin", page)
                .send()
                .await
                .map_err(e)?
                .json()
                .await
                .map_err(e)?;
            Ok::<Value, String>(v["result"].clone())
        }
    };

    let r = http
        .get(format!("{agent}/v1/containers"))
        .header("origin", page)
        .send()
        .await
        .map_err(e)?;
    let list: Value = if r.status() == 202 {
        let p: Value = r.json().await.map_err(e)?;
        approve(
            p["approve_url"].as_str().unwrap_or_default().into(),
            String::new(),
        )
        .await?;
        poll(p["request"].as_str().unwrap_or_default().into()).await?
    } else {
        r.json().await.map_err(e)?
    };
    let container = list["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["label"] == container_label)
        .ok_or(format!("{container_label} not listed by the agent"))?;

    let r = http
        .post(format!("{gw}/auth/challenge"))
        .header("origin", page)
        .json(&json!({"next": "/cabinet"}))
        .send()
        .await
        .map_err(e)?;
    let login_cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .ok_or("no login cookie")?
        .to_string();
    let challenge: Value = r.json().await.map_err(e)?;
    let p: Value = http
        .post(format!("{agent}/v1/authenticate"))
        .header("origin", page)
        .json(&json!({"container": container["id"], "challenge": challenge["challenge"]}))
        .send()
        .await
        .map_err(e)?
        .json()
        .await
        .map_err(e)?;
    approve(
        p["approve_url"].as_str().unwrap_or_default().into(),
        password.into(),
    )
    .await?;
    let signed = poll(p["request"].as_str().unwrap_or_default().into()).await?;

    let r = http
        .post(format!("{gw}/auth/login"))
        .header("origin", page)
        .header("cookie", &login_cookie)
        .json(&json!({"signature": signed["signature"]}))
        .send()
        .await
        .map_err(e)?;
    if !r.status().is_success() {
        return Err(format!(
            "login refused: {}",
            r.text().await.unwrap_or_default()
        ));
    }
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("__Host-brama-session="))
        .and_then(|c| c.split(';').next())
        .ok_or("no session cookie")?
        .to_string();
    let cabinet = http
        .get(format!("{gw}/cabinet"))
        .header("cookie", session)
        .header("accept", "text/html")
        .send()
        .await
        .map_err(e)?;
    cabinet.text().await.map_err(e)
}
