//! The gateway's own pages and their assets: the login page, the role choice, their scripts
//! and style, and the agent's browser client (`brama-agent.js`). Each page carries the
//! strict headers of design.md §5.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::state::Gateway;

/// The routes of the pages and assets.
pub fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route(
            "/auth/login.js",
            get(|| asset(JS, include_str!("../pages/login.js"))),
        )
        .route(
            "/auth/i18n.js",
            get(|| asset(JS, include_str!("../pages/i18n.js"))),
        )
        .route("/auth/agent", get(agent_page))
        .route(
            "/auth/agent.js",
            get(|| asset(JS, include_str!("../pages/agent.js"))),
        )
        .route(
            "/auth/role.js",
            get(|| asset(JS, include_str!("../pages/role.js"))),
        )
        .route(
            "/auth/style.css",
            get(|| asset(CSS, include_str!("../pages/style.css"))),
        )
        .route(
            "/auth/brama-agent.js",
            get(|| asset(JS, include_str!("../pages/brama-agent.js"))),
        )
}

const JS: &str = "text/javascript";
const CSS: &str = "text/css";

async fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, format!("{kind}; charset=utf-8")),
            (header::CACHE_CONTROL, "max-age=300".into()),
        ],
        body,
    )
        .into_response()
}

/// A gateway page with the strict headers of design.md §5.
fn page(g: &Gateway, html: String) -> Response {
    let mut resp = axum::response::Html(html).into_response();
    let h = resp.headers_mut();
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' {}; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        g.config.agent_url
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp).expect("validated origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if g.secure() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    resp
}

/// The language the server draws a page in: the first of Ukrainian, English and Russian the
/// browser's `Accept-Language` asks for (by weight), else Ukrainian. The page's switch and the
/// person's stored choice take over in the browser.
pub fn page_lang(headers: &HeaderMap) -> &'static str {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut best = ("uk", 0.0f32);
    for item in accept.split(',').take(32) {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let lang = match tag.split('-').next().unwrap_or("") {
            "uk" => "uk",
            "en" => "en",
            "ru" => "ru",
            _ => continue,
        };
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > best.1 {
            best = (lang, q);
        }
    }
    best.0
}

/// Only characters that cannot leave an HTML attribute value.
fn attribute(value: &str) -> String {
    value.replace(['"', '<', '>', '&'], "")
}

pub async fn login_page(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let html = include_str!("../pages/login.html")
        .replace("{{AGENT_URL}}", &attribute(&g.config.agent_url))
        .replace("{{DOWNLOAD_URL}}", &attribute(&g.config.agent_download_url))
        .replace("{{LANG}}", page_lang(&headers));
    page(&g, html)
}

pub async fn role_page(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let html = include_str!("../pages/role.html").replace("{{LANG}}", page_lang(&headers));
    page(&g, html)
}

/// `/auth/agent`: the default `agent_download_url`, what the agent is and how to get it.
pub async fn agent_page(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let html = include_str!("../pages/agent.html").replace("{{LANG}}", page_lang(&headers));
    page(&g, html)
}
