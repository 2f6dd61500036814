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
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use serde_json::json;

use crate::server::Gateway;

/// The gateway's Prometheus metrics. Each gateway has its own recorder (not the process-wide
/// one), so several gateways in one process — the tests — count separately.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

const DURATION: &str = "brama_request_duration_seconds";

impl Default for Metrics {
    fn default() -> Metrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(DURATION.into()),
                &[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            )
            .expect("bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        Metrics { recorder, handle }
    }
}

impl Metrics {
    /// One request: `route` is a fixed label (an `/auth` route or `forward`), never the path,
    /// so the number of series stays bounded.
    pub fn request(&self, route: &'static str, status: u16, seconds: f64) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!("brama_requests_total", "route" => route, "status" => status.to_string())
                .increment(1);
            metrics::histogram!(DURATION, "route" => route).record(seconds);
        });
    }

    /// One login attempt by outcome: `ok` or the error code the person got.
    pub fn login(&self, outcome: &str) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!("brama_logins_total", "outcome" => outcome.to_string()).increment(1);
        });
    }

    /// A login let through by `soft-fail` without a revocation answer.
    pub fn revocation_soft_fail(&self) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!("brama_revocation_soft_fail_total").increment(1);
        });
    }

    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Histograms hold raw samples until rendered; without a scraper they must still be
    /// folded regularly or memory grows with traffic.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// The fixed route label for a path.
pub fn route_label(path: &str) -> &'static str {
    match path {
        "/auth/challenge" => "/auth/challenge",
        "/auth/login" => "/auth/login",
        "/auth/logout" => "/auth/logout",
        "/auth/me" => "/auth/me",
        "/auth/role" => "/auth/role",
        p if p.starts_with("/auth/") => "/auth/other",
        _ => "forward",
    }
}

pub fn router(g: Arc<Gateway>) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_handler))
        .with_state(g)
}

async fn metrics_handler(State(g): State<Arc<Gateway>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        g.metrics.render(),
    )
        .into_response()
}

/// Ready when the database answers and the backend accepts a connection.
async fn readyz(State(g): State<Arc<Gateway>>) -> Response {
    let database = match tokio::time::timeout(Duration::from_secs(2), g.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 2 s".to_string()),
    };
    let backend = backend_reachable(&g.config.backend).await;
    let status = if database.is_ok() && backend.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let show = |r: &Result<(), String>| match r {
        Ok(()) => json!({ "ok": true }),
        Err(e) => json!({ "ok": false, "error": e }),
    };
    (
        status,
        Json(json!({ "database": show(&database), "backend": show(&backend) })),
    )
        .into_response()
}

/// A TCP connection to the backend's host and port within 2 s.
async fn backend_reachable(url: &str) -> Result<(), String> {
    let uri: axum::http::Uri = url.parse().map_err(|e| format!("{e}"))?;
    let host = uri.host().ok_or("no host")?.trim_matches(['[', ']']);
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
        Ok(Err(e)) => Err(format!("{host}:{port}: {e}")),
        Err(_) => Err(format!("{host}:{port}: no answer within 2 s")),
    }
}
