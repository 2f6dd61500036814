//! The client for a plain-HTTP backend: HTTP/1.1 over pooled keep-alive connections, spoken
//! inside the forwarded request's own task.
//!
//! Why not hyper-util's client here: counted per forwarded request it was over a third of the
//! gateway's instructions (docs/performance.md) — a pool keyed by scheme and authority behind
//! a lock, a connect future raced against every checkout, a second task per connection and a
//! channel hop each way. A gateway talks to one backend; this client writes the request head
//! into one buffer, reads the response head with `httparse` (hyper's own parser), and hands
//! the body to the client as it arrives. An `https://` backend and WebSocket upgrades still go
//! through hyper-util (`Gateway::client`), where TLS and the upgrade machinery live.
//!
//! What it guards: a head over 64 KiB or with more than 128 headers, a broken chunked body,
//! conflicting `Content-Length` values — refused as an invalid response (502), never passed
//! on; a connection is reused only after its response was read to the exact end.
//!
//! Its rooms: this file the pool and the exchange, `wire` the heads and the framing rules,
//! `body` the response body as the client reads it, `chunked` the chunked-body decoder.

mod body;
mod chunked;
mod wire;

use std::io;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, Response};
use bytes::BytesMut;
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use body::UpstreamBody;
use wire::{encode_head, parse_head, Head, Incoming, Outgoing};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// An idle connection older than this is closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle connections kept at most (more are closed when their response ends).
const MAX_IDLE: usize = 256;
const MAX_HEAD: usize = 64 * 1024;
const READ_SIZE: usize = 16 * 1024;

/// The pool of connections to one backend.
pub struct Upstream {
    /// `host:port` to connect to.
    address: String,
    /// The `Host` header every request carries.
    host: HeaderValue,
    idle: Mutex<Vec<(Conn, Instant)>>,
}

struct Conn {
    io: TcpStream,
    /// Bytes read and not yet used.
    buf: BytesMut,
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

impl Upstream {
    /// For `http://authority` (the port defaults to 80).
    pub fn new(authority: &axum::http::uri::Authority) -> Upstream {
        let port = authority.port_u16().unwrap_or(80);
        Upstream {
            address: format!("{}:{port}", authority.host()),
            // Host and port only: user information in the backend URL never goes on the wire.
            host: HeaderValue::from_str(&match authority.port() {
                Some(p) => format!("{}:{p}", authority.host()),
                None => authority.host().to_string(),
            })
            .unwrap_or_else(|_| HeaderValue::from_static("localhost")),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle connection that is still open, if one is kept.
    fn checkout(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some((conn, since)) = idle.pop() {
            if since.elapsed() > IDLE_TIMEOUT {
                continue;
            }
            // An idle connection has nothing to read. If the reactor saw it readable, the
            // backend closed it (or wrote unasked): look, without waiting.
            let mut cx = Context::from_waker(std::task::Waker::noop());
            match conn.io.poll_read_ready(&mut cx) {
                Poll::Pending => return Some(conn),
                Poll::Ready(_) => {
                    let mut probe = [0u8; 1];
                    match conn.io.try_read(&mut probe) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Some(conn),
                        _ => continue,
                    }
                }
            }
        }
        None
    }

    fn checkin(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push((conn, Instant::now()));
        }
    }

    async fn connect(&self) -> io::Result<Conn> {
        let io = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.address))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        io.set_nodelay(true)?;
        Ok(Conn {
            io,
            buf: BytesMut::with_capacity(READ_SIZE),
        })
    }

    /// Send `req` (its URI in origin form is taken from its path and query) and read the
    /// response head; the body follows as the client reads it.
    pub async fn send(self: &Arc<Self>, req: Request<Body>) -> io::Result<Response<Body>> {
        let (parts, mut body) = req.into_parts();
        let head_request = parts.method == Method::HEAD;
        let mut head = Vec::with_capacity(1024);
        let framing = encode_head(&parts, &self.host, &body, &mut head);
        // An idempotent request without a body can be sent again on a fresh connection when
        // a kept one turns out to have been closed by the backend (RFC 9110 §9.2.2: a POST
        // the backend may have acted on before it closed is never repeated).
        let idempotent = matches!(
            parts.method,
            Method::GET
                | Method::HEAD
                | Method::OPTIONS
                | Method::TRACE
                | Method::PUT
                | Method::DELETE
        );
        let mut retry = idempotent && framing == Outgoing::Empty;
        loop {
            let (mut conn, reused) = match self.checkout() {
                Some(c) => (c, true),
                None => (self.connect().await?, false),
            };
            let sent = async {
                conn.io.write_all(&head).await?;
                send_body(&mut conn.io, &mut body, framing).await
            }
            .await;
            let answer = match sent {
                Ok(()) => read_head(&mut conn, head_request).await,
                Err(e) => Err(e),
            };
            match answer {
                Ok((resp, framing)) => return Ok(self.respond(resp, framing, conn)),
                Err(e) if reused && retry && closed_early(&e) => {
                    retry = false;
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn respond(self: &Arc<Self>, resp: Head, framing: Incoming, conn: Conn) -> Response<Body> {
        let Head {
            status,
            version,
            headers,
            keep_alive,
        } = resp;
        let mut body = UpstreamBody {
            conn: Some(conn),
            framing,
            keep_alive,
            pool: self.clone(),
        };
        // A response without a body frees its connection at once.
        body.finish_if_done();
        let mut r = Response::new(Body::new(body));
        *r.status_mut() = status;
        *r.version_mut() = version;
        *r.headers_mut() = headers;
        r
    }
}

/// Whether a failure on a reused connection means the backend had closed it before reading
/// the request (then sending it again is safe).
fn closed_early(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    ) && e
        .get_ref()
        .is_none_or(|inner| inner.to_string() == NOTHING_READ)
}

const NOTHING_READ: &str = "the backend closed the connection before answering";

async fn send_body(io: &mut TcpStream, body: &mut Body, framing: Outgoing) -> io::Result<()> {
    if framing == Outgoing::Empty {
        return Ok(());
    }
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| io::Error::other(format!("request body: {e}")))?;
        // Trailers are not forwarded.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        if framing == Outgoing::Chunked {
            io.write_all(format!("{:x}\r\n", data.len()).as_bytes())
                .await?;
            io.write_all(&data).await?;
            io.write_all(b"\r\n").await?;
        } else {
            io.write_all(&data).await?;
        }
    }
    if framing == Outgoing::Chunked {
        io.write_all(b"0\r\n\r\n").await?;
    }
    Ok(())
}

async fn read_head(conn: &mut Conn, head_request: bool) -> io::Result<(Head, Incoming)> {
    let mut read_any = false;
    loop {
        if let Some(parsed) = parse_head(&mut conn.buf, head_request)? {
            return Ok(parsed);
        }
        if conn.buf.len() > MAX_HEAD {
            return Err(invalid("response head too long"));
        }
        conn.buf.reserve(READ_SIZE);
        let n = tokio::io::AsyncReadExt::read_buf(&mut conn.io, &mut conn.buf).await?;
        if n == 0 {
            return Err(if read_any {
                io::Error::new(io::ErrorKind::UnexpectedEof, "the backend closed mid-head")
            } else {
                io::Error::new(io::ErrorKind::UnexpectedEof, NOTHING_READ)
            });
        }
        read_any = true;
    }
}
