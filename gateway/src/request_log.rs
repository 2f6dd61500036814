//! One log line per request (method, path without the query, status, time, request id, the
//! account it ran as), the metrics for it, and the request id passed to the backend and back
//! to the client. No personal data beyond the account id.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;

use crate::metrics::{route_label, Metrics};

/// The account a request ran as, set by the handler that knows it (a response extension).
#[derive(Clone)]
pub struct LoggedAccount(pub String);

/// The header that carries the request id both ways.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A new request id: a random per-process prefix and a counter in hex. Unique without
/// a call to the random generator per request, and written straight into its header value.
fn new_request_id() -> HeaderValue {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    static PREFIX: OnceLock<[u8; 8]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut b = [0u8; 8];
        openssl::rand::rand_bytes(&mut b).expect("OpenSSL random");
        b
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes();
    // 24 digits until the counter passes 2^32, then 32: never a repeat.
    let counter = if n[..4] == [0; 4] { &n[4..] } else { &n[..] };
    let mut buf = [0u8; 32];
    let len = 2 * (prefix.len() + counter.len());
    for (i, byte) in prefix.iter().chain(counter).enumerate() {
        buf[2 * i] = DIGITS[(byte >> 4) as usize];
        buf[2 * i + 1] = DIGITS[(byte & 15) as usize];
    }
    HeaderValue::from_bytes(&buf[..len]).expect("hex digits")
}

/// The client's request id when it is a plain token (shared, not copied), else a new one.
fn request_id(h: &HeaderMap) -> HeaderValue {
    h.get(X_REQUEST_ID)
        .filter(|v| {
            let v = v.as_bytes();
            !v.is_empty()
                && v.len() <= 64
                && v.iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
        })
        .cloned()
        .unwrap_or_else(new_request_id)
}

/// The middleware of the router (the gateway's `/auth` routes).
pub async fn request_log(
    State(metrics): State<Arc<Metrics>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    around(&metrics, req, |r| next.run(r)).await
}

/// Runs `handle` on `req` with its request id (kept from the client when it is a plain token,
/// passed to the backend and back to the client), then counts and logs the request. The
/// forwarding path calls it directly, without a middleware stack.
pub async fn around<F, Fut>(metrics: &Metrics, mut req: Request, handle: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let value = request_id(req.headers());
    req.headers_mut().insert(X_REQUEST_ID, value.clone());
    let route = route_label(req.uri().path());
    // The path is kept for the log line only when one will be written.
    let path = tracing::enabled!(tracing::Level::INFO).then(|| req.uri().path().to_string());
    let method = req.method().clone();
    let start = std::time::Instant::now();
    let mut resp = handle(req).await;
    let id = value.clone();
    resp.headers_mut().insert(X_REQUEST_ID, value);
    let (status, elapsed) = (resp.status().as_u16(), start.elapsed());
    metrics.request(route, status, elapsed.as_secs_f64());
    if let Some(path) = path {
        let account = resp
            .extensions()
            .get::<LoggedAccount>()
            .map(|a| a.0.as_str())
            .unwrap_or("-");
        let id = id.to_str().unwrap_or("-");
        tracing::info!(%method, %path, status, ms = elapsed.as_millis() as u64, request_id = %id, account, "request");
    }
    resp
}
