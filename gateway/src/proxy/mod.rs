//! Forwarding to the cabinet backend (design.md §5), in the phases of a proxied request:
//!
//! 1. [`authenticate`]: the normalised path is public, or the session cookie names a live
//!    session — else a browser is sent to the login page and an API client gets `401`.
//! 2. [`upstream_request`]: the backend's request from the client's parts and the identity
//!    (header assembly is the pure [`headers::upstream_headers`]).
//! 3. [`send`]: to the backend, bounded in time.
//! 4. [`downstream_response`]: the backend's answer without hop-by-hop headers and without
//!    any attempt to set the gateway's cookies; an upgrade (WebSocket) is spliced both ways.

pub mod headers;
pub mod identity;
pub mod upstream;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, request, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::assertion::Subject;
use crate::error::GatewayError;
use crate::request_log::LoggedAccount;
use crate::sessions::{cookie_hash, Live};
use crate::state::Gateway;
use headers::{Identity, Upstream, SESSION_COOKIE};

/// How long the backend may take to answer (the head of its response).
const BACKEND_TIMEOUT: Duration = Duration::from_secs(60);

/// The router's fallback: an `/auth/…` path that is not the gateway's own.
pub async fn forward(
    State(g): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    forward_from(&g, peer, req).await
}

/// Forward one request from `peer` (crate::front calls this for every path outside `/auth/`).
pub async fn forward_from(g: &Gateway, peer: SocketAddr, req: Request) -> Response {
    run(g, peer, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn run(g: &Gateway, peer: SocketAddr, mut req: Request) -> Result<Response, GatewayError> {
    // A WebSocket (or other upgrade) is asked of the backend with the same headers, and once
    // both sides switched the bytes are copied both ways.
    let upgrade = upgrade_protocol(&req).map(|p| (p, hyper::upgrade::on(&mut req)));
    let (parts, body) = req.into_parts();
    // Content-Length with Transfer-Encoding never gets here: the listener refuses it
    // (crate::framing).
    let target = Target::of(&parts.uri)?;
    let identity = match authenticate(g, &parts, &target).await? {
        Access::Public => None,
        Access::SignedIn(live) => Some(live),
        Access::Refused(resp) => return Ok(resp),
    };
    let html = wants_html(&parts.headers);
    // Only a log line reads it: no copy (and no extensions map) when none will be written.
    let account = identity
        .as_ref()
        .filter(|_| tracing::enabled!(tracing::Level::INFO))
        .map(|l| LoggedAccount(l.entry.account_id.to_string()));
    let protocol = upgrade.as_ref().map(|(p, _)| p.clone());
    let failed = Arc::new(AtomicBool::new(false));
    let body = Body::new(ClientBody {
        inner: body,
        failed: failed.clone(),
    });
    let upstream = upstream_request(g, parts, body, peer, &target, identity, protocol).await?;
    let resp = match send(g, upstream, html, upgrade.is_some()).await {
        // A switch the client did not ask for (or was not let through) is never passed on.
        Ok(r) if r.status() == StatusCode::SWITCHING_PROTOCOLS && upgrade.is_none() => {
            tracing::warn!("the backend switched protocols unasked");
            return Err(GatewayError::BackendUnavailable { html });
        }
        // The client's own body broke (a malformed chunk): the client's fault, not the backend's.
        Err(GatewayError::BackendUnavailable { .. }) if failed.load(Ordering::Relaxed) => {
            return Err(GatewayError::BadRequest(
                "the request body is not well framed".into(),
            ))
        }
        other => other?,
    };
    Ok(downstream_response(resp, upgrade.map(|(_, u)| u), account))
}

/// The client's body on its way to the backend, noting whether reading it failed.
struct ClientBody {
    inner: Body,
    failed: Arc<AtomicBool>,
}

impl hyper::body::Body for ClientBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Err(_))) = &polled {
            self.failed.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Where a request goes on the backend: its path normalised ([`headers::normalise_path`]).
/// Nearly every path is already normal and is then used as it came, with its query: no copy,
/// and no new URI to parse.
struct Target {
    /// The normalised path when it differs from the request's.
    rewritten: Option<String>,
}

impl Target {
    fn of(uri: &axum::http::Uri) -> Result<Target, GatewayError> {
        let rewritten = match headers::is_normal_path(uri.path()) {
            true => None,
            false => Some(headers::normalise_path(uri.path()).ok_or(GatewayError::BadPath)?),
        };
        Ok(Target { rewritten })
    }

    /// The normalised path of the request whose URI is `uri`.
    fn path<'a>(&'a self, uri: &'a axum::http::Uri) -> &'a str {
        self.rewritten.as_deref().unwrap_or(uri.path())
    }
}

/// The backend's address, split once: its scheme and authority, and the path prefix that
/// every forwarded path follows (empty for `http://host:port` or `…/`).
pub struct Backend {
    scheme: axum::http::uri::Scheme,
    authority: axum::http::uri::Authority,
    prefix: String,
}

impl Backend {
    /// An absolute `http(s)://` URL (the configuration checks the scheme).
    pub fn parse(url: &str) -> Result<Backend, axum::http::uri::InvalidUri> {
        let parts = url.parse::<axum::http::Uri>()?.into_parts();
        let (Some(scheme), Some(authority)) = (parts.scheme, parts.authority) else {
            // A relative URL: refused as an empty one would be.
            return Err("".parse::<axum::http::Uri>().unwrap_err());
        };
        Ok(Backend {
            scheme,
            authority,
            prefix: parts
                .path_and_query
                .map(|p| p.path().trim_end_matches('/').to_string())
                .unwrap_or_default(),
        })
    }

    /// The authority of a plain `http://` backend (the gateway's own client speaks to it).
    pub fn plain_http(&self) -> Option<&axum::http::uri::Authority> {
        (self.scheme == axum::http::uri::Scheme::HTTP).then_some(&self.authority)
    }

    /// The backend's URI for `target` of a request whose URI is `uri`.
    fn uri(&self, uri: &axum::http::Uri, target: &Target) -> Result<axum::http::Uri, GatewayError> {
        use axum::http::uri::{Parts, PathAndQuery};
        let path_and_query = match (&target.rewritten, uri.path_and_query()) {
            (None, Some(pq)) if self.prefix.is_empty() => pq.clone(),
            _ => {
                let (path, query) = (target.path(uri), uri.query());
                let mut s = String::with_capacity(
                    self.prefix.len() + path.len() + query.map_or(0, |q| q.len() + 1),
                );
                s.push_str(&self.prefix);
                s.push_str(path);
                if let Some(q) = query {
                    s.push('?');
                    s.push_str(q);
                }
                PathAndQuery::from_maybe_shared(s).map_err(|_| GatewayError::UnforwardablePath)?
            }
        };
        let mut parts = Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path_and_query);
        axum::http::Uri::from_parts(parts).map_err(|_| GatewayError::UnforwardablePath)
    }
}

/// What phase 1 decided.
enum Access {
    Public,
    SignedIn(Live),
    /// No session: the answer to give instead of forwarding.
    Refused(Response),
}

/// Phase 1: public path, live session, or the way to the login page.
async fn authenticate(
    g: &Gateway,
    parts: &request::Parts,
    target: &Target,
) -> Result<Access, GatewayError> {
    let path = target.path(&parts.uri);
    if is_public(path, &g.config.public_paths) {
        return Ok(Access::Public);
    }
    match g.session(&parts.headers).await? {
        Some(live) => Ok(Access::SignedIn(live)),
        None if wants_html(&parts.headers) && parts.method == Method::GET => {
            let next = percent_encoding::utf8_percent_encode(
                &match parts.uri.query() {
                    Some(q) => format!("{path}?{q}"),
                    None => path.to_string(),
                },
                percent_encoding::NON_ALPHANUMERIC,
            )
            .to_string();
            Ok(Access::Refused(
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, format!("/auth/login?next={next}"))],
                )
                    .into_response(),
            ))
        }
        None => Err(GatewayError::NotSignedIn),
    }
}

/// Phase 2: the backend's request — its URL, HTTP/1.1, and the headers of
/// [`headers::upstream_headers`] with the identity and a (cached) assertion.
async fn upstream_request(
    g: &Gateway,
    mut parts: request::Parts,
    body: Body,
    peer: SocketAddr,
    target: &Target,
    identity: Option<Live>,
    upgrade: Option<HeaderValue>,
) -> Result<Request, GatewayError> {
    let cookie = headers::cookie(&parts.headers, SESSION_COOKIE).unwrap_or("");
    // The first request after registration tells the cabinet (it may ask for city and phone).
    let new_account = match &identity {
        Some(live) if live.new_account => {
            matches!(g.store.take_new_account(cookie).await, Ok(true))
        }
        _ => false,
    };
    let assertion = identity.as_ref().map(|live| {
        let e = &live.entry;
        let now = g.now().unix_timestamp();
        // The session's hash keys only the shared cache (sessions not kept in memory): a kept
        // entry holds its own assertion and needs no second hash of the cookie.
        let session = if g.sessions.caching() {
            [0u8; 32]
        } else {
            cookie_hash(cookie)
        };
        let subject = Subject {
            session: &session,
            account: &e.account_id,
            role: e.role,
            org_key: &e.org_key,
            version: e.version,
        };
        if g.sessions.caching() {
            let compact = e.assertion(now, crate::assertion::RENEW_BEFORE, || {
                g.assertions.mint(&subject, now)
            });
            g.assertions.token(&subject, &compact)
        } else {
            g.assertions.for_subject(&subject, now)
        }
    });
    let upstream = Upstream {
        prefix: &g.config.headers.prefix,
        public_origin: &g.config.public_origin,
        forwarded_host: g.forwarded_host.clone(),
        peer: peer.ip(),
        trusted_proxy: g.config.trusted_proxies.contains(&peer.ip()),
        identity: identity.as_ref().map(|live| Identity {
            packed: &live.entry.identity,
            names: &g.identity_names,
            new_account,
            assertion,
        }),
        upgrade,
    };
    headers::upstream_headers(&mut parts.headers, &upstream);
    // The backend URL may carry a path prefix; the normalised path follows it.
    parts.uri = g.backend.uri(&parts.uri, target)?;
    // The backend is spoken to in HTTP/1.1 whatever the client used (HTTP/2 over TLS).
    parts.version = axum::http::Version::HTTP_11;
    Ok(Request::from_parts(parts, body))
}

/// Phase 3: send, bounded by [`BACKEND_TIMEOUT`]: to a plain-HTTP backend by the gateway's
/// own client ([`upstream`]), to an `https://` one or with an upgrade by hyper-util's.
async fn send(
    g: &Gateway,
    upstream: Request,
    html: bool,
    upgrade: bool,
) -> Result<Response, GatewayError> {
    let unavailable = |e: &dyn std::fmt::Display| {
        tracing::warn!("backend unreachable: {e}");
        GatewayError::BackendUnavailable { html }
    };
    let sent = match (&g.upstream, upgrade) {
        (Some(client), false) => tokio::time::timeout(BACKEND_TIMEOUT, client.send(upstream))
            .await
            .map(|r| r.map_err(|e| unavailable(&e))),
        _ => tokio::time::timeout(BACKEND_TIMEOUT, g.client.request(upstream))
            .await
            .map(|r| {
                r.map(|resp| resp.map(Body::new))
                    .map_err(|e| unavailable(&e))
            }),
    };
    sent.unwrap_or(Err(GatewayError::BackendTimeout))
}

/// Phase 4: the client's response.
fn downstream_response(
    mut resp: Response,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    account: Option<LoggedAccount>,
) -> Response {
    let switched = match client_upgrade {
        Some(client) if resp.status() == StatusCode::SWITCHING_PROTOCOLS => {
            let backend = hyper::upgrade::on(&mut resp);
            tokio::spawn(splice(client, backend));
            resp.headers().get(header::UPGRADE).cloned()
        }
        _ => None,
    };
    let (mut parts, body) = resp.into_parts();
    headers::strip_hop_by_hop(&mut parts.headers);
    headers::strip_backend_cookies(&mut parts.headers);
    if let Some(protocol) = switched {
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        parts.headers.insert(header::UPGRADE, protocol);
    }
    if let Some(a) = account {
        parts.extensions.insert(a);
    }
    Response::from_parts(parts, body)
}

/// Whether the client is a browser asking for a page.
pub fn wants_html(h: &HeaderMap) -> bool {
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
/// The protocol a client asks to switch to, when the gateway lets it through: WebSocket only.
/// Anything else (h2c above all, whose bytes would skip the gateway's header cleaning after the
/// switch) is not forwarded: `Upgrade` is hop-by-hop and is dropped with `HTTP2-Settings`.
fn upgrade_protocol(req: &Request) -> Option<HeaderValue> {
    let websocket = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"));
    let asks = websocket
        && req.version() == axum::http::Version::HTTP_11
        && req
            .headers()
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    req.headers().get(header::UPGRADE).filter(|_| asks).cloned()
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
