//! The gateway's own pages and their assets: the login page, the role choice, their scripts
//! and style, and the agent's browser client (`brama-agent.js`). Each page carries the
//! strict headers of design.md §5.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
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

pub async fn login_page(State(g): State<Arc<Gateway>>) -> Response {
    let agent = g.config.agent_url.replace('"', "");
    page(
        &g,
        include_str!("../pages/login.html").replace("{{AGENT_URL}}", &agent),
    )
}

pub async fn role_page(State(g): State<Arc<Gateway>>) -> Response {
    page(&g, include_str!("../pages/role.html").to_string())
}
