//! The admin listener (`[admin] listen`, loopback by default): `/healthz`, `/readyz`,
//! `/metrics`. Kept off the public listener so probes and metrics are not exposed to the
//! internet and cannot be confused with cabinet paths.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::metrics::Metrics;
use crate::store::Store;

/// What the admin routes read: handed over by the server at start, so this module knows
/// nothing of the public side.
#[derive(Clone)]
pub struct AdminState {
    pub metrics: Arc<Metrics>,
    pub store: Store,
    /// The backend URL `/readyz` connects to.
    pub backend: String,
}

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_handler))
        .with_state(state)
}

async fn metrics_handler(State(g): State<AdminState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        g.metrics.render(),
    )
        .into_response()
}

/// Why a dependency is not ready, as `/readyz` shows it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct NotReady(String);

/// Ready when the database answers and the backend accepts a connection.
async fn readyz(State(g): State<AdminState>) -> Response {
    let database = match tokio::time::timeout(Duration::from_secs(2), g.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(NotReady(e.to_string())),
        Err(_) => Err(NotReady("no answer within 2 s".into())),
    };
    let backend = backend_reachable(&g.backend).await;
    let status = if database.is_ok() && backend.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let show = |r: &Result<(), NotReady>| match r {
        Ok(()) => json!({ "ok": true }),
        Err(e) => json!({ "ok": false, "error": e.0 }),
    };
    (
        status,
        Json(json!({ "database": show(&database), "backend": show(&backend) })),
    )
        .into_response()
}

/// A TCP connection to the backend's host and port within 2 s.
async fn backend_reachable(url: &str) -> Result<(), NotReady> {
    let uri: axum::http::Uri = url.parse().map_err(|e| NotReady(format!("{e}")))?;
    let host = uri
        .host()
        .ok_or_else(|| NotReady("no host".into()))?
        .trim_matches(['[', ']']);
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    match tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect((host, port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(NotReady(format!("{host}:{port}: {e}"))),
        Err(_) => Err(NotReady(format!("{host}:{port}: no answer within 2 s"))),
    }
}
