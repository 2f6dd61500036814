//! The accept loop: accept → one HTTP/1.1 connection serving the router. Written out rather
//! than `axum::serve` for what that lacks and a local attacker would use: a time limit for a
//! request head (slow headers from another user's process would otherwise hold descriptors
//! forever, before the peer check can run) and a cap on open connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

use crate::tls::Peer;

/// Connections served at once; past it, new ones wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 256;
/// A client gets this long to send a request head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests in flight get this long to finish when the agent stops.
const GRACE: Duration = Duration::from_secs(5);

/// Serve `router` on `listener` until `stopped` turns true.
pub async fn serve<L>(mut listener: L, router: Router, mut stopped: watch::Receiver<bool>)
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    L::Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = stopped.wait_for(|s| *s) => break,
        };
        let (io, addr) = tokio::select! {
            a = listener.accept() => a,
            _ = stopped.wait_for(|s| *s) => break,
        };
        let (router, watcher) = (router.clone(), graceful.watcher());
        tokio::spawn(async move {
            let _slot = permit;
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(Peer(addr)));
                router.clone().oneshot(req.map(Body::new))
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(io), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(peer = %addr, "connection ended: {e}");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight when the agent stopped were cut off");
    }
}
