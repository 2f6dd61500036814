//! What the listener serves. A forwarded request — nearly all of them — goes straight to the
//! proxy with its request id, count and log line; only the gateway's own `/auth/…` routes go
//! through the axum router and its middleware. Why: the router's matching and the middleware
//! stack's boxing cost a forwarded request more than its own work (docs/performance.md).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tower::ServiceExt;

use crate::state::Gateway;
use crate::{auth, pages, proxy, request_log};

/// What a listener hands each request to (the gateway's [`Front`]; any axum `Router`, as a
/// test's TLS backend does).
pub trait Serve: Clone + Send + Sync + 'static {
    fn serve(
        &self,
        peer: SocketAddr,
        req: Request,
    ) -> impl std::future::Future<Output = Response> + Send;
}

impl Serve for Router {
    async fn serve(&self, peer: SocketAddr, mut req: Request) -> Response {
        req.extensions_mut().insert(ConnectInfo(peer));
        match self.clone().oneshot(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        }
    }
}

/// The gateway's front door: one per gateway, cloned per connection.
#[derive(Clone)]
pub struct Front {
    gateway: Arc<Gateway>,
    router: Router,
}

impl Front {
    pub fn new(gateway: Arc<Gateway>) -> Front {
        Front {
            router: router(gateway.clone()),
            gateway,
        }
    }
}

impl Serve for Front {
    async fn serve(&self, peer: SocketAddr, req: Request) -> Response {
        if req.uri().path().starts_with("/auth/") {
            return self.router.serve(peer, req).await;
        }
        let g = &self.gateway;
        request_log::around(&g.metrics, req, |req| proxy::forward_from(g, peer, req)).await
    }
}

/// The gateway's own routes, with the request-log middleware; an unknown `/auth/…` path is
/// forwarded like any other.
pub fn router(g: Arc<Gateway>) -> Router {
    Router::new()
        .route("/auth/challenge", post(auth::challenge))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(auth::me))
        .route("/auth/.well-known/jwks.json", get(auth::jwks))
        .route("/auth/login", get(pages::login_page).post(auth::login))
        .route("/auth/role", get(pages::role_page).post(auth::role))
        .merge(pages::routes())
        .fallback(proxy::forward)
        .layer(axum::middleware::from_fn_with_state(
            g.metrics.clone(),
            request_log::request_log,
        ))
        .with_state(g)
}
