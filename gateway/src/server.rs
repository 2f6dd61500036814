//! Listener → routes. `/auth/*` are the gateway's own (thin handlers over [`crate::login`]);
//! everything else is forwarded to the backend when the session allows (design.md §5).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::assertion::{Assertions, Subject};
use crate::challenge::{self, Keys};
use crate::config::Config;
use crate::limits::Limiter;
use crate::login::{self, Context};
use crate::proxy::{self, LOGIN_COOKIE, SESSION_COOKIE};
use crate::store::{Account, Session, Store};
use crate::verify::chain::TrustPolicy;
use crate::LoginError;

pub struct Gateway {
    pub config: Config,
    pub policy: TrustPolicy,
    pub keys: Keys,
    pub store: Store,
    pub assertions: Assertions,
    client: Client<HttpConnector, Body>,
    /// Sessions served from memory for `session.cache_ttl` seconds: the hot path stays off
    /// the database. Keyed by the SHA-256 of the cookie value.
    sessions: std::sync::Mutex<std::collections::HashMap<String, (Session, Account, i64)>>,
    challenges_by_address: Limiter<std::net::IpAddr>,
    logins_by_address: Limiter<std::net::IpAddr>,
    logins_by_certificate: Limiter<String>,
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// `{"error": {"code", "message"}}` with a status.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

/// `429` with `Retry-After`.
fn too_many(wait: u64, message: &str) -> Response {
    let mut resp = error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
    resp.headers_mut().insert(header::RETRY_AFTER, wait.into());
    resp
}

fn login_status(e: &LoginError) -> StatusCode {
    use LoginError::*;
    match e {
        TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        MalformedSignature(_)
        | SignerCount(_)
        | WrongContentType(_)
        | ContentMissing
        | BadStatement(_) => StatusCode::BAD_REQUEST,
        AccountBlocked(_) => StatusCode::FORBIDDEN,
        RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNAUTHORIZED,
    }
}

impl Gateway {
    pub async fn new(config: Config, config_dir: Option<&Path>) -> Result<Gateway, String> {
        let policy = config.trust_policy(config_dir).map_err(|e| e.to_string())?;
        let store = Store::connect(&config.database)
            .await
            .map_err(|e| e.to_string())?;
        let keys = store
            .challenge_keys(now().unix_timestamp())
            .await
            .map_err(|e| e.to_string())?;
        config
            .backend
            .parse::<Uri>()
            .map_err(|e| format!("backend: {e}"))?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        let key = store
            .assertion_key(now().unix_timestamp())
            .await
            .map_err(|e| e.to_string())?;
        let assertions = Assertions::new(key, &config.public_origin, &config.backend);
        let (challenges_by_address, logins_by_address, logins_by_certificate) = (
            Limiter::new(config.limits.challenge_per_minute),
            Limiter::new(config.limits.login_per_minute),
            Limiter::new(config.limits.certificate_per_minute),
        );
        Ok(Gateway {
            config,
            policy,
            keys,
            store,
            assertions,
            client,
            sessions: Default::default(),
            challenges_by_address,
            logins_by_address,
            logins_by_certificate,
        })
    }

    fn secure(&self) -> bool {
        self.config.public_origin.starts_with("https://")
    }

    /// `/auth` POSTs must come from the cabinet's own origin (a CSRF guard).
    fn check_cabinet_origin(&self, h: &HeaderMap) -> Result<(), Box<Response>> {
        let origin = h.get(header::ORIGIN).and_then(|o| o.to_str().ok());
        if origin == Some(self.config.public_origin.as_str()) {
            return Ok(());
        }
        Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            "the request does not come from the cabinet's own pages",
        )))
    }

    fn cookie(&self, name: &str, value: &str, max_age: i64, same_site: &str) -> HeaderValue {
        // Always Secure: `__Host-` cookies require it, and browsers accept Secure cookies
        // from http://localhost, so a development gateway works too.
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite={same_site}; Secure"
        ))
        .expect("cookie is ASCII")
    }
}

pub fn router(g: Arc<Gateway>) -> Router {
    Router::new()
        .route("/auth/challenge", post(challenge_handler))
        .route("/auth/logout", post(logout_handler))
        .route("/auth/me", get(me_handler))
        .route("/auth/.well-known/jwks.json", get(jwks_handler))
        .route("/auth/login", get(login_page).post(login_handler))
        .route("/auth/role", get(role_page).post(role_handler))
        .route(
            "/auth/login.js",
            get(|| asset("text/javascript", include_str!("../pages/login.js"))),
        )
        .route(
            "/auth/role.js",
            get(|| asset("text/javascript", include_str!("../pages/role.js"))),
        )
        .route(
            "/auth/style.css",
            get(|| asset("text/css", include_str!("../pages/style.css"))),
        )
        .route(
            "/auth/brama-agent.js",
            get(|| {
                asset(
                    "text/javascript",
                    include_str!("../../agent/web/brama-agent.js"),
                )
            }),
        )
        .fallback(forward)
        .layer(axum::middleware::from_fn(request_log))
        .with_state(g)
}

/// A request id from the client when it is a plain token, else a new one.
fn request_id(h: &HeaderMap) -> String {
    h.get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_string)
        .unwrap_or_else(|| {
            let mut b = [0u8; 12];
            openssl::rand::rand_bytes(&mut b).expect("OpenSSL random");
            b.iter().map(|x| format!("{x:02x}")).collect()
        })
}

/// One log line per request (method, path without the query, status, time, request id), and
/// the request id passed to the backend and back to the client. No personal data.
async fn request_log(mut req: Request, next: axum::middleware::Next) -> Response {
    let id = request_id(req.headers());
    let value = HeaderValue::from_str(&id).expect("validated token");
    req.headers_mut().insert("x-request-id", value.clone());
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let start = std::time::Instant::now();
    let mut resp = next.run(req).await;
    resp.headers_mut().insert("x-request-id", value);
    tracing::info!(%method, %path, status = resp.status().as_u16(), ms = start.elapsed().as_millis() as u64, request_id = %id, "request");
    resp
}

#[derive(serde::Deserialize, Default)]
struct ChallengeBody {
    next: Option<String>,
}

async fn challenge_handler(
    State(g): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(refused) = g.check_cabinet_origin(&headers) {
        return *refused;
    }
    if let Err(wait) = g
        .challenges_by_address
        .check(peer.ip(), now().unix_timestamp())
    {
        return too_many(
            wait,
            "too many sign-in attempts from this address; try again shortly",
        );
    }
    let body: ChallengeBody = if body.is_empty() {
        ChallengeBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", &e.to_string()),
        }
    };
    // Keep the browser's login cookie when it has one, so two tabs do not undo each other.
    let browser = proxy::cookie(&headers, LOGIN_COOKIE)
        .filter(|v| {
            v.len() == 22
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(challenge::new_browser_id);
    let ttl = g.config.challenge.ttl as i64;
    let (c, opened) = g.keys.issue(
        &browser,
        body.next.as_deref().unwrap_or("/"),
        now().unix_timestamp(),
        ttl,
    );
    let expires = time::OffsetDateTime::from_unix_timestamp(opened.expires_at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let mut resp =
        Json(json!({ "challenge": c, "origin": g.config.public_origin, "expires_at": expires }))
            .into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        g.cookie(LOGIN_COOKIE, &browser, ttl, "Strict"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    signature: String,
}

async fn login_handler(
    State(g): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(refused) = g.check_cabinet_origin(&headers) {
        return *refused;
    }
    if let Err(wait) = g.logins_by_address.check(peer.ip(), now().unix_timestamp()) {
        return too_many(
            wait,
            "too many sign-in attempts from this address; try again shortly",
        );
    }
    let Ok(LoginBody { signature }) = serde_json::from_slice::<LoginBody>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "expected {\"signature\": \"<base64 DER CMS>\"}",
        );
    };
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "malformed_signature",
            "the signature is not base64",
        );
    };
    let ctx = Context {
        public_origin: &g.config.public_origin,
        keys: &g.keys,
        policy: &g.policy,
        store: &g.store,
        session_ttl: g.config.session.ttl as i64,
        per_certificate: Some(&g.logins_by_certificate),
    };
    match login::login(&ctx, &der, proxy::cookie(&headers, LOGIN_COOKIE), now()).await {
        Ok(ok) => {
            let mut resp = Json(json!({ "redirect": ok.next, "choose_role": ok.choose_role, "new_account": ok.outcome == crate::store::Outcome::Registered })).into_response();
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                g.cookie(
                    SESSION_COOKIE,
                    &ok.session_id,
                    g.config.session.ttl as i64,
                    "Lax",
                ),
            );
            h.append(header::SET_COOKIE, g.cookie(LOGIN_COOKIE, "", 0, "Strict"));
            resp
        }
        Err(LoginError::RateLimited(wait)) => {
            too_many(wait, &LoginError::RateLimited(wait).to_string())
        }
        Err(e) => error(login_status(&e), e.code(), &e.to_string()),
    }
}

async fn logout_handler(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if let Err(refused) = g.check_cabinet_origin(&headers) {
        return *refused;
    }
    if let Some(id) = proxy::cookie(&headers, SESSION_COOKIE) {
        g.sessions
            .lock()
            .expect("session cache")
            .remove(&cookie_hash(id));
        if let Err(e) = g.store.delete_session(id).await {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                &e.to_string(),
            );
        }
    }
    // A plain form post (the cabinet's "sign out" button) gets a redirect; fetch() gets JSON.
    let mut resp = if wants_html(&headers) {
        (StatusCode::SEE_OTHER, [(header::LOCATION, "/auth/login")]).into_response()
    } else {
        Json(json!({ "redirect": "/auth/login" })).into_response()
    };
    resp.headers_mut()
        .insert(header::SET_COOKIE, g.cookie(SESSION_COOKIE, "", 0, "Lax"));
    resp
}

fn cookie_hash(id: &str) -> String {
    openssl::sha::sha256(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The session's account, or why there is none: from memory while fresh, else the store.
async fn session_account(
    g: &Gateway,
    headers: &HeaderMap,
) -> Result<Option<(Session, Account)>, String> {
    let Some(id) = proxy::cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let at = now().unix_timestamp();
    let key = cookie_hash(id);
    let ttl = g.config.session.cache_ttl as i64;
    if ttl > 0 {
        let cache = g.sessions.lock().expect("session cache");
        if let Some((s, a, cached)) = cache.get(&key) {
            // The absolute lifetime is checked on every request, cached or not.
            if at - cached < ttl && at < s.expires_at {
                return Ok(Some((s.clone(), a.clone())));
            }
        }
    }
    let found = match g
        .store
        .session(id, at, g.config.session.idle_timeout as i64)
        .await
        .map_err(|e| e.to_string())?
    {
        Some(session) => {
            let account = g
                .store
                .account(&session.account_id)
                .await
                .map_err(|e| e.to_string())?;
            account
                .filter(|a| a.blocked_reason.is_none())
                .map(|a| (session, a))
        }
        None => None,
    };
    let mut cache = g.sessions.lock().expect("session cache");
    match &found {
        Some((s, a)) if ttl > 0 => {
            if cache.len() >= 200_000 {
                cache.retain(|_, (_, _, cached)| at - *cached < ttl);
            }
            let mut s = s.clone();
            s.new_account = false; // announced by the request that read it from the store
            cache.insert(key, (s, a.clone(), at));
        }
        _ => {
            cache.remove(&key);
        }
    }
    Ok(found)
}

async fn me_handler(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    match session_account(&g, &headers).await {
        Ok(Some((s, a))) => Json(json!({
            "account_id": a.id, "role": s.role, "organisation": if s.org_key.is_empty() { None } else { Some(&s.org_key) },
            "surname": a.names.surname, "given_name": a.names.given_name, "patronymic": a.names.patronymic,
            "full_name": a.names.full_name,
            "roles": a.roles.iter().map(|r| json!({"role": r.role, "organisation": r.org_key, "organisation_name": r.org_name})).collect::<Vec<_>>(),
        }))
        .into_response(),
        Ok(None) => error(StatusCode::UNAUTHORIZED, "not_signed_in", "sign in first"),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", &e),
    }
}

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

async fn login_page(State(g): State<Arc<Gateway>>) -> Response {
    let agent = g.config.agent_url.replace('"', "");
    page(
        &g,
        include_str!("../pages/login.html").replace("{{AGENT_URL}}", &agent),
    )
}

async fn role_page(State(g): State<Arc<Gateway>>) -> Response {
    page(&g, include_str!("../pages/role.html").to_string())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
    #[serde(default)]
    organisation: String,
}

/// Switch the session's role to one the account holds (citizen, or representative of one of
/// its organisations). The next forwarded request carries the new role and a new assertion.
async fn role_handler(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(refused) = g.check_cabinet_origin(&headers) {
        return *refused;
    }
    let Ok(RoleBody { role, organisation }) = serde_json::from_slice::<RoleBody>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "expected {\"role\": \"citizen\" | \"representative\", \"organisation\": \"…\"}",
        );
    };
    let Some(id) = proxy::cookie(&headers, SESSION_COOKIE) else {
        return error(StatusCode::UNAUTHORIZED, "not_signed_in", "sign in first");
    };
    let account = match session_account(&g, &headers).await {
        Ok(Some((_, a))) => a,
        Ok(None) => return error(StatusCode::UNAUTHORIZED, "not_signed_in", "sign in first"),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", &e),
    };
    if !account
        .roles
        .iter()
        .any(|r| r.role == role && r.org_key == organisation)
    {
        return error(
            StatusCode::FORBIDDEN,
            "role_not_allowed",
            "this account does not hold that role",
        );
    }
    if let Err(e) = g.store.set_session_role(id, &role, &organisation).await {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            &e.to_string(),
        );
    }
    g.sessions
        .lock()
        .expect("session cache")
        .remove(&cookie_hash(id));
    Json(json!({ "role": role, "organisation": organisation })).into_response()
}

async fn jwks_handler(State(g): State<Arc<Gateway>>) -> Response {
    let mut resp = Json(g.assertions.jwks()).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    resp
}

fn wants_html(h: &HeaderMap) -> bool {
    h.get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

fn is_public(path: &str, public: &[String]) -> bool {
    public.iter().any(|p| {
        if p.ends_with('/') {
            path.starts_with(p.as_str())
        } else {
            path == p
        }
    })
}

async fn forward(
    State(g): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let html = wants_html(&parts.headers);
    // Content-Length with Transfer-Encoding: hyper has already let Transfer-Encoding win and
    // dropped Content-Length; the forwarded request is re-framed, so the backend cannot read
    // it differently. (An explicit 400 for such requests is still to come.)
    let Some(path) = proxy::normalise_path(parts.uri.path()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_path",
            "the path does not normalise",
        );
    };
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let identity = if is_public(&path, &g.config.public_paths) {
        None
    } else {
        match session_account(&g, &parts.headers).await {
            Ok(Some(found)) => Some(found),
            Ok(None) if wants_html(&parts.headers) && parts.method == Method::GET => {
                let next = percent_encoding::utf8_percent_encode(
                    &format!("{path}{query}"),
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string();
                return (
                    StatusCode::FOUND,
                    [(header::LOCATION, format!("/auth/login?next={next}"))],
                )
                    .into_response();
            }
            Ok(None) => return error(StatusCode::UNAUTHORIZED, "not_signed_in", "sign in first"),
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", &e),
        }
    };

    // The first request after registration tells the cabinet (it may ask for city and phone).
    let mut new_account = false;
    if let Some((session, _)) = &identity {
        if session.new_account {
            if let Some(id) = proxy::cookie(&parts.headers, SESSION_COOKIE) {
                new_account = matches!(g.store.take_new_account(id).await, Ok(true));
            }
        }
    }
    let assertion = identity.as_ref().map(|(session, account)| {
        let cookie = proxy::cookie(&parts.headers, SESSION_COOKIE).unwrap_or("");
        let session_hash: String = openssl::sha::sha256(cookie.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let subject = Subject {
            session: session_hash,
            account: account.id.clone(),
            role: session.role.clone(),
            org_key: session.org_key.clone(),
            version: account.version,
        };
        g.assertions.for_subject(&subject, now().unix_timestamp())
    });
    // X-Forwarded-* from the client is believed only from a configured proxy.
    let trusted_proxy = g.config.trusted_proxies.contains(&peer.ip());
    let forwarded_for = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .filter(|_| trusted_proxy)
    {
        Some(before) => format!("{before}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };

    // Header hygiene, in design.md §5's order.
    let h = &mut parts.headers;
    proxy::strip_hop_by_hop(h);
    proxy::strip_client_identity(h, &g.config.headers.prefix, trusted_proxy);
    proxy::strip_gateway_cookies(h);
    h.remove(header::HOST);
    let p = &g.config.headers.prefix;
    let mut add = |name: &str, value: HeaderValue| {
        if let Ok(n) = header::HeaderName::from_bytes(format!("{p}{name}").as_bytes()) {
            h.insert(n, value);
        }
    };
    if let Some((session, account)) = &identity {
        add(
            "Account-Id",
            HeaderValue::from_str(&account.id).expect("hex"),
        );
        add("Role", proxy::encode_value(&session.role));
        for (name, value) in [
            ("Surname", &account.names.surname),
            ("Given-Name", &account.names.given_name),
            ("Patronymic", &account.names.patronymic),
            ("Full-Name", &account.names.full_name),
        ] {
            if let Some(v) = value {
                add(name, proxy::encode_value(v));
            }
        }
        if account.key.kind == "tax_number" && account.key.country == "UA" {
            add("Tax-Number", proxy::encode_value(&account.key.value));
        }
        if session.role == "representative" {
            add("Org-Id", proxy::encode_value(&session.org_key));
            if let Some(role) = account.roles.iter().find(|r| r.org_key == session.org_key) {
                if let Some(n) = &role.org_name {
                    add("Org-Name", proxy::encode_value(n));
                }
            }
        }
        if new_account {
            add("New-Account", HeaderValue::from_static("true"));
        }
        if let Some(token) = &assertion {
            add(
                "Assertion",
                HeaderValue::from_str(token).expect("base64url"),
            );
        }
    }
    h.insert(
        "x-forwarded-for",
        HeaderValue::from_str(&forwarded_for)
            .unwrap_or_else(|_| HeaderValue::from_static("unknown")),
    );
    if !trusted_proxy || !h.contains_key("x-forwarded-proto") {
        h.insert(
            "x-forwarded-proto",
            HeaderValue::from_static(if g.secure() { "https" } else { "http" }),
        );
    }
    if let Some(host) = g.config.public_origin.split("://").nth(1) {
        h.insert(
            "x-forwarded-host",
            HeaderValue::from_str(host).expect("validated origin"),
        );
    }

    // The backend URL may carry a path prefix; the normalised path follows it.
    let uri = format!(
        "{}{}{}",
        g.config.backend.trim_end_matches('/'),
        path,
        query
    );
    parts.uri = match uri.parse() {
        Ok(u) => u,
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_path",
                "the path cannot be forwarded",
            )
        }
    };
    let upstream = Request::from_parts(parts, body);
    match tokio::time::timeout(Duration::from_secs(60), g.client.request(upstream)).await {
        Ok(Ok(resp)) => {
            let (mut parts, body) = resp.into_parts();
            proxy::strip_hop_by_hop(&mut parts.headers);
            proxy::strip_backend_cookies(&mut parts.headers);
            Response::from_parts(parts, Body::new(body))
        }
        Ok(Err(e)) => {
            tracing::warn!("backend unreachable: {e}");
            if html {
                let page = "<!doctype html><html lang=\"uk\"><head><meta charset=\"utf-8\"><title>502</title></head><body>\
                    <h1>Кабінет тимчасово недоступний</h1><p>Спробуйте за хвилину.</p>\
                    <p lang=\"en\">The cabinet is not answering. Try again in a minute.</p></body></html>";
                return (
                    StatusCode::BAD_GATEWAY,
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    page,
                )
                    .into_response();
            }
            error(
                StatusCode::BAD_GATEWAY,
                "backend_unavailable",
                "the cabinet is not answering; try again shortly",
            )
        }
        Err(_) => error(
            StatusCode::GATEWAY_TIMEOUT,
            "backend_timeout",
            "the cabinet took too long to answer",
        ),
    }
}

/// A running gateway.
pub struct Running {
    pub port: u16,
    pub gateway: Arc<Gateway>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

pub async fn start(config: Config, config_dir: Option<&Path>) -> Result<Running, String> {
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("listen {}: {e}", config.listen))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let gateway = Arc::new(Gateway::new(config, config_dir).await?);
    let app = router(gateway.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!("gateway listener failed: {e}");
        }
    });
    Ok(Running {
        port,
        gateway,
        stop,
        task,
    })
}
