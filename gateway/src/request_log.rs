//! One log line per request (method, path without the query, status, time, request id, the
//! account it ran as), the metrics for it, and the request id passed to the backend and back
//! to the client. No personal data beyond the account id.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

use crate::metrics::{route_label, Metrics};

/// The account a request ran as, set by the handler that knows it (a response extension).
#[derive(Clone)]
pub struct LoggedAccount(pub String);

/// A new request id: a random per-process prefix and a counter. Unique without a call to
/// the random generator per request.
fn new_request_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut b = [0u8; 8];
        openssl::rand::rand_bytes(&mut b).expect("OpenSSL random");
        hex::encode(b)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
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

/// The middleware.
pub async fn request_log(
    State(metrics): State<Arc<Metrics>>,
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
    metrics.request(route_label(&path), status, elapsed.as_secs_f64());
    let account = resp
        .extensions()
        .get::<LoggedAccount>()
        .map(|a| a.0.as_str())
        .unwrap_or("-");
    tracing::info!(%method, %path, status, ms = elapsed.as_millis() as u64, request_id = %id, account, "request");
    resp
}
