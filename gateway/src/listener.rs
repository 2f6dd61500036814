//! The public listener: accept → (TLS) → one hyper connection (HTTP/1.1 or HTTP/2, upgrades
//! allowed) serving [`crate::front::Front`]. Written out rather than `axum::serve` for what that lacks:
//! TLS, the framing guard of [`crate::framing`], timeouts for connections that send nothing
//! (HTTP/1 and HTTP/2 alike: hyper times out only HTTP/1 heads), and a bounded graceful
//! shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::front::Serve;
use axum::body::Body;
use axum::http::Request;
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::error::GatewayError;
use crate::framing::{Verdicts, Watched};

const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may keep a connection without using it (`[limits]`).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To send the first request head (HTTP/1 and HTTP/2 alike: a connection that never asks
    /// for anything, slow-header attacks); also each later HTTP/1 head.
    pub head: Duration,
    /// Between requests, with none in flight: then the connection is closed gracefully.
    pub idle: Duration,
}

/// Serve until `stop` turns true; then stop accepting and give requests in flight `grace`
/// to finish before their connections are dropped.
pub async fn serve<S: Serve>(
    listener: TcpListener,
    front: S,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
    timeouts: Timeouts,
) {
    // Every connection task holds a sender; `recv` answers `None` once all are gone.
    let (alive, mut all_closed) = mpsc::channel::<()>(1);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
        };
        let _ = tcp.set_nodelay(true);
        let (front, acceptor, stop, alive) =
            (front.clone(), acceptor.clone(), stop.clone(), alive.clone());
        tokio::spawn(async move {
            let _alive = alive;
            match acceptor {
                None => connection(tcp, peer, front, stop, timeouts).await,
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => connection(tls, peer, front, stop, timeouts).await,
                        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    drop(alive);
    if tokio::time::timeout(grace, all_closed.recv())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still in flight after {} s of shutdown were cut off",
            grace.as_secs()
        );
    }
}

/// What a connection's requests are doing, for its timers.
struct Activity {
    opened: Instant,
    /// (requests in flight, requests started so far, when the last one started or ended)
    state: Mutex<(usize, u64, Instant)>,
}

impl Activity {
    fn new() -> Activity {
        let now = Instant::now();
        Activity {
            opened: now,
            state: Mutex::new((0, 0, now)),
        }
    }

    fn started(&self) -> InFlight<'_> {
        let mut s = self.state.lock().expect("activity");
        *s = (s.0 + 1, s.1 + 1, Instant::now());
        InFlight(self)
    }

    /// When the connection has been unused too long, or `None` while a request is in flight.
    fn deadline(&self, t: Timeouts) -> Option<Instant> {
        let (in_flight, started, last) = *self.state.lock().expect("activity");
        match (in_flight, started) {
            (0, 0) => Some(self.opened + t.head),
            (0, _) => Some(last + t.idle),
            _ => None,
        }
    }
}

/// A request in flight; its end counts as activity.
struct InFlight<'a>(&'a Activity);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut s = self.0.state.lock().expect("activity");
        *s = (s.0 - 1, s.1, Instant::now());
    }
}

async fn connection<I, S: Serve>(
    io: I,
    peer: SocketAddr,
    front: S,
    mut stop: watch::Receiver<bool>,
    timeouts: Timeouts,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let verdicts = Verdicts::default();
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched::new(io, verdicts.clone()));
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let ambiguous = verdicts.next();
        let (front, activity) = (front.clone(), requests.clone());
        async move {
            let _in_flight = activity.started();
            if ambiguous {
                return Ok::<_, Infallible>(GatewayError::AmbiguousFraming.into_response());
            }
            Ok(front.serve(peer, req.map(Body::new)).await)
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.head);
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(conn);
    // Set once the connection was asked to close: by the shutdown, or for being unused.
    let mut closing: Option<Instant> = None;
    loop {
        // Unused: closed gracefully. Still open `head` after that (a peer that does not read
        // the GOAWAY or the close): dropped.
        let deadline = match (closing, activity.deadline(timeouts)) {
            (Some(since), Some(_)) => since + timeouts.head,
            (None, Some(unused)) => unused,
            // A request in flight: look again later.
            (_, None) => Instant::now() + timeouts.idle,
        };
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(%peer, "connection ended: {e}");
                }
                return;
            }
            _ = stop.wait_for(|s| *s), if closing.is_none() => {
                closing = Some(Instant::now());
                conn.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep_until(deadline) => {
                match (closing, activity.deadline(timeouts)) {
                    (Some(_), Some(_)) => {
                        tracing::debug!(%peer, "connection dropped: still open after closing");
                        return;
                    }
                    (None, Some(unused)) if unused <= Instant::now() => {
                        tracing::debug!(%peer, "connection unused: closing");
                        closing = Some(Instant::now());
                        conn.as_mut().graceful_shutdown();
                    }
                    _ => {}
                }
            }
        }
    }
}
