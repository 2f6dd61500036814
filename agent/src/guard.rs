//! One middleware in front of every route: the agent's security boundary (design.md §7).
//!
//! 1. `Host` must be exactly a loopback name with this listener's port (DNS rebinding).
//! 2. On Linux the peer socket must belong to the agent's own OS user (shared machines).
//! 3. `/v1`: CORS for https origins (and loopback origins in development mode), the Private
//!    Network Access preflight; the page origin is passed to handlers as [`PageOrigin`].
//! 4. `/ui`: never CORS; posts need `Sec-Fetch-Site: same-origin` and this agent's own
//!    `Origin`; every page gets a strict CSP, `frame-ancestors 'none'` and COOP.

use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};

use crate::tls::Peer;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::origins::is_well_formed;
use crate::ApiError;

/// Which listener a request came in on.
#[derive(Clone)]
pub struct Listener {
    pub scheme: &'static str,
    pub port: u16,
    pub dev_mode: bool,
}

impl Listener {
    pub fn allowed_hosts(&self) -> [String; 3] {
        let p = self.port;
        [
            format!("127.0.0.1:{p}"),
            format!("[::1]:{p}"),
            format!("localhost:{p}"),
        ]
    }

    /// The origins of the agent's own pages on this listener.
    fn own_origins(&self) -> [String; 3] {
        self.allowed_hosts()
            .map(|h| format!("{}://{h}", self.scheme))
    }

    fn cors_allowed(&self, origin: &str) -> bool {
        if !is_well_formed(origin) {
            return false;
        }
        if origin.starts_with("https://") {
            return true;
        }
        self.dev_mode && {
            let host = &origin["http://".len()..];
            let name = host.rsplit_once(':').map_or(host, |(n, _)| n);
            matches!(name, "localhost" | "127.0.0.1" | "[::1]")
        }
    }
}

/// The web page's origin as the agent judged it. Handlers bind statements to `Allowed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageOrigin {
    Absent,
    Allowed(String),
    NotAllowed,
}

impl PageOrigin {
    /// The origin a data-revealing route may serve, or the error to answer.
    pub fn require(&self) -> Result<&str, ApiError> {
        match self {
            PageOrigin::Allowed(o) => Ok(o),
            PageOrigin::Absent => Err(ApiError::OriginRequired),
            PageOrigin::NotAllowed => Err(ApiError::OriginNotAllowed),
        }
    }
}

/// The validated Host, for building URLs back to this agent.
#[derive(Clone, Debug)]
pub struct OwnHost(pub String);

pub async fn guard(
    State(listener): State<Arc<Listener>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    mut req: Request,
    next: Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    // Exactly one Host, and an absolute-form target only for this same host: a proxy or a
    // second header must not smuggle another name past the allowlist.
    let one_host = req.headers().get_all(header::HOST).iter().count() == 1;
    let target_ok = req
        .uri()
        .authority()
        .is_none_or(|a| a.as_str().eq_ignore_ascii_case(&host));
    if !one_host || !target_ok || !listener.allowed_hosts().contains(&host) {
        return ApiError::BadHost.into_response();
    }
    if !crate::peer::is_own_user(peer, crate::peer::local_for(peer, listener.port)) {
        return ApiError::ForeignUser.into_response();
    }
    let path = req.uri().path().to_string();
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_string);

    if path.starts_with("/ui/") || path == "/ui" {
        if req.method() == Method::POST && !same_origin_post(req.headers(), &listener) {
            return with_ui_headers(ApiError::CsrfRefused.into_response());
        }
        req.extensions_mut().insert(OwnHost(host));
        return with_ui_headers(next.run(req).await);
    }

    let cors_origin = origin
        .as_deref()
        .filter(|o| listener.cors_allowed(o))
        .map(str::to_string);
    if req.method() == Method::OPTIONS {
        let Some(o) = cors_origin else {
            return ApiError::OriginNotAllowed.into_response();
        };
        let mut resp = StatusCode::NO_CONTENT.into_response();
        let h = resp.headers_mut();
        cors_headers(h, &o);
        h.insert(
            "access-control-allow-methods",
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            "access-control-allow-headers",
            HeaderValue::from_static("content-type"),
        );
        h.insert("access-control-max-age", HeaderValue::from_static("600"));
        // Older Chromium's Private Network Access preflight.
        if req
            .headers()
            .get("access-control-request-private-network")
            .is_some_and(|v| v == "true")
        {
            h.insert(
                "access-control-allow-private-network",
                HeaderValue::from_static("true"),
            );
        }
        return resp;
    }
    let page_origin = match (&origin, &cors_origin) {
        (None, _) => PageOrigin::Absent,
        (Some(_), Some(o)) => PageOrigin::Allowed(o.clone()),
        (Some(_), None) => PageOrigin::NotAllowed,
    };
    req.extensions_mut().insert(page_origin);
    req.extensions_mut().insert(OwnHost(host));
    let mut resp = next.run(req).await;
    if let Some(o) = cors_origin {
        cors_headers(resp.headers_mut(), &o);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn cors_headers(h: &mut HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert("access-control-allow-origin", v);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}

fn same_origin_post(headers: &HeaderMap, listener: &Listener) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    fetch_site == Some("same-origin")
        && origin.is_some_and(|o| listener.own_origins().iter().any(|own| own == o))
}

fn with_ui_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    // `same-origin`, not `no-referrer`: under `no-referrer` browsers send `Origin: null` with
    // the page's own form posts, and the approval form would be refused as cross-site.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.remove("access-control-allow-origin");
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_only_for_https_and_dev_loopback() {
        let prod = Listener {
            scheme: "http",
            port: 1,
            dev_mode: false,
        };
        assert!(prod.cors_allowed("https://cabinet.example"));
        assert!(!prod.cors_allowed("http://localhost:8080"));
        assert!(!prod.cors_allowed("null"));
        let dev = Listener {
            dev_mode: true,
            ..prod
        };
        assert!(dev.cors_allowed("http://localhost:8080"));
        assert!(dev.cors_allowed("http://127.0.0.1:3000"));
        assert!(!dev.cors_allowed("http://evil.example"));
        assert!(!dev.cors_allowed("http://127.0.0.1.evil.example"));
    }
}
