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
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::{self, Metrics};
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
    pub metrics: Metrics,
    /// Step 7; `None` when `[revocation] mode = "off"`.
    pub revocation: Option<crate::revocation::Checker>,
    client: Client<HttpsConnector<HttpConnector>, Body>,
    /// Sessions served from memory for `session.cache_ttl` seconds: the hot path stays off
    /// the database. Keyed by the SHA-256 of the cookie value.
    sessions: std::sync::Mutex<std::collections::HashMap<[u8; 32], (Session, Account, i64)>>,
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
        RevocationUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
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
        connector.enforce_http(false);
        let backend_ca = config
            .backend_ca
            .as_deref()
            .map(|p| crate::config::resolve(config_dir, p));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::tls::client_config(backend_ca.as_deref())?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        let key = store
            .assertion_key(now().unix_timestamp())
            .await
            .map_err(|e| e.to_string())?;
        let assertions = Assertions::new(key, &config.public_origin, &config.backend);
        let revocation = match config.revocation.mode {
            crate::revocation::Mode::Off => None,
            _ => Some(crate::revocation::Checker::new(
                config
                    .revocation_settings(config_dir)
                    .map_err(|e| e.to_string())?,
            )?),
        };
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
            metrics: Metrics::default(),
            revocation,
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
        .layer(axum::middleware::from_fn_with_state(g.clone(), request_log))
        .with_state(g)
}

/// A new request id: a random per-process prefix and a counter. Unique without a call to
/// the random generator per request.
fn new_request_id() -> String {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut b = [0u8; 8];
        openssl::rand::rand_bytes(&mut b).expect("OpenSSL random");
        certs::hex(&b)
    });
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}{n:08x}")
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
        .unwrap_or_else(new_request_id)
}

/// One log line per request (method, path without the query, status, time, request id), and
/// the request id passed to the backend and back to the client. No personal data.
async fn request_log(
    State(g): State<Arc<Gateway>>,
    mut req: Request,
    next: axum::middleware::Next,
) -> Response {
    let id = request_id(req.headers());
    let value = HeaderValue::from_str(&id).expect("validated token");
    req.headers_mut().insert("x-request-id", value.clone());
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let start = std::time::Instant::now();
    let mut resp = next.run(req).await;
    resp.headers_mut().insert("x-request-id", value);
    let (status, elapsed) = (resp.status().as_u16(), start.elapsed());
    g.metrics
        .request(admin::route_label(&path), status, elapsed.as_secs_f64());
    let account = resp
        .extensions()
        .get::<LoggedAccount>()
        .map(|a| a.0.as_str())
        .unwrap_or("-");
    tracing::info!(%method, %path, status, ms = elapsed.as_millis() as u64, request_id = %id, account, "request");
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
        g.metrics.login("rate_limited");
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
        revocation: g.revocation.as_ref(),
    };
    let result = login::login(&ctx, &der, proxy::cookie(&headers, LOGIN_COOKIE), now()).await;
    g.metrics.login(match &result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    });
    if let Ok(ok) = &result {
        if let Some(why) = &ok.revocation_soft_fail {
            tracing::warn!("login accepted without a revocation answer (soft-fail): {why}");
            g.metrics.revocation_soft_fail();
        }
    }
    match result {
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
            resp.extensions_mut()
                .insert(LoggedAccount(ok.account.id.clone()));
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

/// The session cache's key for a cookie value: its SHA-256, kept as 32 bytes.
fn cookie_hash(id: &str) -> [u8; 32] {
    openssl::sha::sha256(id.as_bytes())
}

/// The session's account, or why there is none: from memory while fresh, else the store.
/// Public for the micro-benchmark (`cargo bench -p gateway`): it runs on every request.
pub async fn session_account(
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
        Ok(Some((s, a))) => (axum::Extension(LoggedAccount(a.id.clone())), Json(json!({
            "account_id": a.id, "role": s.role, "organisation": if s.org_key.is_empty() { None } else { Some(&s.org_key) },
            "surname": a.names.surname, "given_name": a.names.given_name, "patronymic": a.names.patronymic,
            "full_name": a.names.full_name,
            "roles": a.roles.iter().map(|r| json!({"role": r.role, "organisation": r.org_key, "organisation_name": r.org_name})).collect::<Vec<_>>(),
        })))
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

/// The protocol a request asks to switch to (`Connection: upgrade` + `Upgrade`), HTTP/1.1 only.
fn upgrade_protocol(req: &Request) -> Option<HeaderValue> {
    let asks = req.version() == axum::http::Version::HTTP_11
        && req
            .headers()
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    req.headers().get(header::UPGRADE).filter(|_| asks).cloned()
}

/// The account a forwarded request ran as, for the request log (the only personal datum it
/// may hold).
#[derive(Clone)]
struct LoggedAccount(String);

async fn forward(
    State(g): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
) -> Response {
    // A WebSocket (or other upgrade) is asked of the backend with the same headers, and once
    // both sides switched the bytes are copied both ways.
    let upgrade = upgrade_protocol(&req).map(|p| (p, hyper::upgrade::on(&mut req)));
    let (mut parts, body) = req.into_parts();
    let html = wants_html(&parts.headers);
    // Content-Length with Transfer-Encoding never gets here: the listener refuses it
    // (crate::framing).
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
        let subject = Subject {
            session: certs::hex(&cookie_hash(cookie)),
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
    if let Some((protocol, _)) = &upgrade {
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(header::UPGRADE, protocol.clone());
    }
    let account = identity.as_ref().map(|(_, a)| LoggedAccount(a.id.clone()));

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
    // The backend is spoken to in HTTP/1.1 whatever the client used (HTTP/2 over TLS).
    parts.version = axum::http::Version::HTTP_11;
    let upstream = Request::from_parts(parts, body);
    match tokio::time::timeout(Duration::from_secs(60), g.client.request(upstream)).await {
        Ok(Ok(mut resp)) => {
            let switched = match upgrade {
                Some((_, client)) if resp.status() == StatusCode::SWITCHING_PROTOCOLS => {
                    let backend = hyper::upgrade::on(&mut resp);
                    tokio::spawn(splice(client, backend));
                    resp.headers().get(header::UPGRADE).cloned()
                }
                _ => None,
            };
            let (mut parts, body) = resp.into_parts();
            proxy::strip_hop_by_hop(&mut parts.headers);
            proxy::strip_backend_cookies(&mut parts.headers);
            if let Some(protocol) = switched {
                parts
                    .headers
                    .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
                parts.headers.insert(header::UPGRADE, protocol);
            }
            if let Some(a) = account {
                parts.extensions.insert(a);
            }
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

/// Copy bytes both ways between an upgraded client connection and the backend's.
async fn splice(client: hyper::upgrade::OnUpgrade, backend: hyper::upgrade::OnUpgrade) {
    match (client.await, backend.await) {
        (Ok(c), Ok(b)) => {
            let (mut c, mut b) = (
                hyper_util::rt::TokioIo::new(c),
                hyper_util::rt::TokioIo::new(b),
            );
            if let Err(e) = tokio::io::copy_bidirectional(&mut c, &mut b).await {
                tracing::debug!("upgraded connection ended: {e}");
            }
        }
        (Err(e), _) | (_, Err(e)) => tracing::warn!("upgrade failed: {e}"),
    }
}

/// A running gateway.
pub struct Running {
    pub port: u16,
    /// The admin listener's port (`/healthz`, `/readyz`, `/metrics`), unless turned off.
    pub admin_port: Option<u16>,
    pub gateway: Arc<Gateway>,
    /// The serving certificate when the gateway terminates TLS.
    pub tls: Option<Arc<crate::tls::ReloadingCert>>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stop accepting, let requests in flight finish (up to `shutdown_grace`), then return.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.background {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn bind(key: &str, address: &str) -> Result<TcpListener, String> {
    TcpListener::bind(address)
        .await
        .map_err(|e| format!("{key} {address}: {e}"))
}

pub async fn start(config: Config, config_dir: Option<&Path>) -> Result<Running, String> {
    let listener = bind("listen", &config.listen).await?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let admin = match config.admin.listen.as_str() {
        "" => None,
        a => Some(bind("admin.listen", a).await?),
    };
    let admin_port = admin
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port());
    let tls = match &config.tls {
        Some(t) => Some(crate::tls::ReloadingCert::load(
            &crate::config::resolve(config_dir, &t.cert),
            &crate::config::resolve(config_dir, &t.key),
        )?),
        None => None,
    };
    let grace = Duration::from_secs(config.shutdown_grace);
    let reload_every = Duration::from_secs(config.tls.as_ref().map_or(30, |t| t.reload_interval));
    let gateway = Arc::new(Gateway::new(config, config_dir).await?);
    let (stop, stopped) = watch::channel(false);
    let mut tasks = vec![tokio::spawn(crate::listener::serve(
        listener,
        router(gateway.clone()),
        match &tls {
            Some(cert) => Some(crate::tls::server_config(cert.clone())?),
            None => None,
        },
        stopped.clone(),
        grace,
    ))];
    if let Some(admin) = admin {
        let app = admin::router(gateway.clone());
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(admin, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!("admin listener failed: {e}");
            }
        }));
    }
    let mut background = Vec::new();
    let g = gateway.clone();
    if g.revocation.is_some() {
        let g = gateway.clone();
        background.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                if let Some(r) = &g.revocation {
                    r.refresh(now().unix_timestamp()).await;
                }
            }
        }));
    }
    background.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            g.metrics.upkeep();
        }
    }));
    if let Some(cert) = &tls {
        background.push(cert.watch(reload_every));
    }
    Ok(Running {
        port,
        admin_port,
        gateway,
        tls,
        stop,
        tasks,
        background,
    })
}
