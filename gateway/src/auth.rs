//! The `/auth` routes: thin handlers over [`crate::login`], [`crate::challenge`] and the
//! session store. Each checks the request's shape and the cabinet's origin, calls one plain
//! function and turns its outcome into a response; refusals are [`GatewayError`]s.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use serde_json::json;

use crate::challenge;
use crate::cookies::{cookie, set_cookie, LOGIN_COOKIE, SESSION_COOKIE};
use crate::error::GatewayError;
use crate::login::{self, Context};
use crate::proxy::wants_html;
use crate::request_log::LoggedAccount;
use crate::state::Gateway;
use crate::store::{Outcome, Role};

type Answer = Result<Response, GatewayError>;

#[derive(serde::Deserialize, Default)]
struct ChallengeBody {
    next: Option<String>,
}

/// `POST /auth/challenge`: a sealed challenge bound to the browser's login cookie.
pub async fn challenge(
    State(g): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Answer {
    g.check_cabinet_origin(&headers)?;
    let client = crate::limits::client_key(peer.ip(), &headers, &g.config.trusted_proxies);
    g.limits
        .challenges_by_address
        .check(client, g.now().unix_timestamp())
        .map_err(|retry_after| GatewayError::RateLimited { retry_after })?;
    let body: ChallengeBody = if body.is_empty() {
        ChallengeBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| GatewayError::BadRequest(e.to_string()))?
    };
    // Keep the browser's login cookie when it has one, so two tabs do not undo each other.
    let browser = cookie(&headers, LOGIN_COOKIE)
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
        g.now().unix_timestamp(),
        ttl,
    );
    let expires = crate::revocation::rfc3339(opened.expires_at);
    let mut resp =
        Json(json!({ "challenge": c, "origin": g.config.public_origin, "expires_at": expires }))
            .into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, &browser, ttl, "Strict"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    signature: String,
}

/// `POST /auth/login`: a signed statement in, a session out ([`login::login`]).
pub async fn login(
    State(g): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Answer {
    g.check_cabinet_origin(&headers)?;
    let client = crate::limits::client_key(peer.ip(), &headers, &g.config.trusted_proxies);
    if let Err(retry_after) = g
        .limits
        .logins_by_address
        .check(client, g.now().unix_timestamp())
    {
        g.metrics.login("rate_limited");
        return Err(GatewayError::RateLimited { retry_after });
    }
    let LoginBody { signature } = serde_json::from_slice(&body).map_err(|_| {
        GatewayError::BadRequest("expected {\"signature\": \"<base64 DER CMS>\"}".into())
    })?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|_| GatewayError::NotBase64)?;
    let ctx = Context {
        public_origin: &g.config.public_origin,
        keys: &g.keys,
        verifier: &g.verifier,
        store: &g.store,
        session_ttl: g.config.session.ttl as i64,
        per_certificate: Some(&g.limits.logins_by_certificate),
        revocation: g.revocation.as_ref(),
    };
    let result = login::login(&ctx, &der, cookie(&headers, LOGIN_COOKIE), g.now()).await;
    g.metrics.login(match &result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    });
    let ok = result?;
    if let Some(why) = &ok.revocation_soft_fail {
        tracing::warn!("login accepted without a revocation answer (soft-fail): {why}");
        g.metrics.revocation_soft_fail();
    }
    let mut resp = Json(json!({
        "redirect": ok.next,
        "choose_role": ok.choose_role,
        "new_account": ok.outcome == Outcome::Registered,
    }))
    .into_response();
    let h = resp.headers_mut();
    let ttl = g.config.session.ttl as i64;
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &ok.session_id, ttl, "Lax"),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, "", 0, "Strict"),
    );
    resp.extensions_mut().insert(LoggedAccount(ok.account.id));
    Ok(resp)
}

/// Where a person lands after signing out: the login page, which says they did.
const SIGNED_OUT: &str = "/auth/login?signed_out=1";

/// `POST /auth/logout`: the session ends here and in the database.
pub async fn logout(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> Answer {
    g.check_cabinet_origin(&headers)?;
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        g.sessions.forget(id);
        g.store.delete_session(id).await?;
    }
    // A plain form post (the cabinet's "sign out" button) gets a redirect; fetch() gets JSON.
    let mut resp = if wants_html(&headers) {
        (StatusCode::SEE_OTHER, [(header::LOCATION, SIGNED_OUT)]).into_response()
    } else {
        Json(json!({ "redirect": SIGNED_OUT })).into_response()
    };
    resp.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, "Lax"));
    Ok(resp)
}

/// `GET /auth/me`: who the session is, for the cabinet's own scripts.
pub async fn me(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> Answer {
    let (live, a) = g
        .signed_in(&headers)
        .await?
        .ok_or(GatewayError::NotSignedIn)?;
    let s = &live.entry;
    let organisation = (!s.org_key.is_empty()).then_some(&s.org_key);
    let roles: Vec<_> = a
        .roles
        .iter()
        .map(
            |r| json!({"role": r.role, "organisation": r.org_key, "organisation_name": r.org_name}),
        )
        .collect();
    let body = Json(json!({
        "account_id": a.id, "role": s.role, "organisation": organisation,
        "surname": a.names.surname, "given_name": a.names.given_name,
        "patronymic": a.names.patronymic, "full_name": a.names.full_name,
        "roles": roles,
    }));
    Ok((Extension(LoggedAccount(a.id.clone())), body).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
    #[serde(default)]
    organisation: String,
}

/// `POST /auth/role`: switch the session's role to one the account holds (citizen, or
/// representative of one of its organisations). The next forwarded request carries the new
/// role and a new assertion.
pub async fn role(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Answer {
    g.check_cabinet_origin(&headers)?;
    let RoleBody { role, organisation } = serde_json::from_slice(&body).map_err(|_| {
        GatewayError::BadRequest(
            "expected {\"role\": \"citizen\" | \"representative\", \"organisation\": \"…\"}".into(),
        )
    })?;
    let id = cookie(&headers, SESSION_COOKIE).ok_or(GatewayError::NotSignedIn)?;
    let (_, account) = g
        .signed_in(&headers)
        .await?
        .ok_or(GatewayError::NotSignedIn)?;
    let role = Role::parse(&role)
        .filter(|r| account.holds(*r, &organisation))
        .ok_or(GatewayError::RoleNotAllowed)?;
    g.store.set_session_role(id, role, &organisation).await?;
    g.sessions.forget(id);
    Ok(Json(json!({ "role": role, "organisation": organisation })).into_response())
}

/// `GET /auth/.well-known/jwks.json`: the key the backend checks assertions with.
pub async fn jwks(State(g): State<Arc<Gateway>>) -> Response {
    let mut resp = Json(g.assertions.jwks()).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    resp
}
