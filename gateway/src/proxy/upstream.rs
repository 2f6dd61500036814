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

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{
    header, HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Version,
};
use bytes::{Buf, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Frame;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::chunked::{Decoder, Step};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// An idle connection older than this is closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle connections kept at most (more are closed when their response ends).
const MAX_IDLE: usize = 256;
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;
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
            host: HeaderValue::from_str(authority.as_str())
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

/// How the request body travels.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Outgoing {
    Empty,
    /// `Content-Length` (the client's, or the body's exact size).
    Sized,
    Chunked,
}

fn encode_head(
    parts: &axum::http::request::Parts,
    host: &HeaderValue,
    body: &Body,
    out: &mut Vec<u8>,
) -> Outgoing {
    use hyper::body::Body as _;
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(
        parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .as_bytes(),
    );
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        // The hygiene removed hop-by-hop headers and the client's Host; framing is this
        // client's to write.
        if name == header::HOST || name == header::TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let framing = if parts.headers.contains_key(header::CONTENT_LENGTH) {
        Outgoing::Sized
    } else if body.is_end_stream() {
        // As hyper does: a method that normally has a body says it has none.
        if matches!(parts.method, Method::POST | Method::PUT | Method::PATCH) {
            out.extend_from_slice(b"content-length: 0\r\n");
        }
        Outgoing::Empty
    } else if let Some(n) = body.size_hint().exact() {
        out.extend_from_slice(format!("content-length: {n}\r\n").as_bytes());
        Outgoing::Sized
    } else {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        Outgoing::Chunked
    };
    out.extend_from_slice(b"\r\n");
    framing
}

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

/// A response head as read.
struct Head {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    keep_alive: bool,
}

/// How the response body is framed (RFC 9112 §6.3).
enum Incoming {
    Fixed(u64),
    Chunked(Decoder),
    /// Until the backend closes the connection (never reused).
    UntilClose,
    Done,
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

/// The head at the front of `buf`, consumed, when it is complete (1xx heads are skipped).
fn parse_head(buf: &mut BytesMut, head_request: bool) -> io::Result<Option<(Head, Incoming)>> {
    loop {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut r = httparse::Response::new(&mut slots);
        let len = match r.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(invalid(format!("invalid response head: {e}"))),
        };
        let code = r.code.unwrap_or(0);
        let status = StatusCode::from_u16(code).map_err(|_| invalid("invalid status"))?;
        let version = match r.version {
            Some(1) => Version::HTTP_11,
            _ => Version::HTTP_10,
        };
        let mut headers = HeaderMap::with_capacity(r.headers.len());
        for h in r.headers.iter() {
            let name = HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|_| invalid("invalid header name"))?;
            let value =
                HeaderValue::from_bytes(h.value).map_err(|_| invalid("invalid header value"))?;
            headers.append(name, value);
        }
        buf.advance(len);
        if status.is_informational() {
            if status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(invalid("the backend switched protocols unasked"));
            }
            continue;
        }
        let incoming = framing(&headers, status, head_request)?;
        let close = headers
            .get_all(header::CONNECTION)
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
        let keep_alive =
            version == Version::HTTP_11 && !close && !matches!(incoming, Incoming::UntilClose);
        headers.remove(header::TRANSFER_ENCODING);
        return Ok(Some((
            Head {
                status,
                version: Version::HTTP_11,
                headers,
                keep_alive,
            },
            incoming,
        )));
    }
}

fn framing(headers: &HeaderMap, status: StatusCode, head_request: bool) -> io::Result<Incoming> {
    if head_request || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return Ok(Incoming::Done);
    }
    if let Some(te) = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .next_back()
    {
        let last = te
            .as_bytes()
            .rsplit(|b| *b == b',')
            .next()
            .unwrap_or_default();
        return Ok(match last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            true => Incoming::Chunked(Decoder::default()),
            false => Incoming::UntilClose,
        });
    }
    let mut length = None;
    for v in headers.get_all(header::CONTENT_LENGTH) {
        for part in v.as_bytes().split(|b| *b == b',') {
            let n = std::str::from_utf8(part.trim_ascii())
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| invalid("invalid Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(invalid("conflicting Content-Length values"));
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(0) => Incoming::Done,
        Some(n) => Incoming::Fixed(n),
        None => Incoming::UntilClose,
    })
}

/// A response body read from its connection as the client reads it; the connection goes back
/// to the pool when the body ends exactly where its framing said.
struct UpstreamBody {
    conn: Option<Conn>,
    framing: Incoming,
    keep_alive: bool,
    pool: Arc<Upstream>,
}

impl UpstreamBody {
    fn finish_if_done(&mut self) {
        if matches!(self.framing, Incoming::Done) {
            if let Some(conn) = self.conn.take() {
                // Bytes past the framed end: a confused backend; its connection is not kept.
                if self.keep_alive && conn.buf.is_empty() {
                    self.pool.checkin(conn);
                }
            }
        }
    }

    /// Read more into the buffer: `Ok(0)` at the end of the stream.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(conn) = self.conn.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        conn.buf.reserve(READ_SIZE);
        tokio_util::io::poll_read_buf(Pin::new(&mut conn.io), cx, &mut conn.buf)
    }
}

impl hyper::body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        loop {
            let buffered = this.conn.as_ref().map_or(0, |c| c.buf.len());
            let step = match &mut this.framing {
                Incoming::Done => return Poll::Ready(None),
                Incoming::Fixed(left) if buffered > 0 => {
                    let take = (buffered as u64).min(*left) as usize;
                    *left -= take as u64;
                    let conn = this
                        .conn
                        .as_mut()
                        .expect("buffered bytes have a connection");
                    let data = conn.buf.split_to(take).freeze();
                    if *left == 0 {
                        this.framing = Incoming::Done;
                        this.finish_if_done();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Incoming::UntilClose if buffered > 0 => {
                    let conn = this
                        .conn
                        .as_mut()
                        .expect("buffered bytes have a connection");
                    let data = conn.buf.split().freeze();
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Incoming::Chunked(d) if buffered > 0 => {
                    let conn = this
                        .conn
                        .as_mut()
                        .expect("buffered bytes have a connection");
                    d.decode(&mut conn.buf)?
                }
                Incoming::Chunked(d) => {
                    let mut empty = BytesMut::new();
                    d.decode(&mut empty)?
                }
                Incoming::Fixed(_) | Incoming::UntilClose => Step::NeedMore,
            };
            match step {
                Step::Data(data) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                Step::Done => {
                    this.framing = Incoming::Done;
                    this.finish_if_done();
                    return Poll::Ready(None);
                }
                Step::NeedMore => {}
            }
            let n = ready!(this.poll_read(cx))?;
            if n == 0 {
                if matches!(this.framing, Incoming::UntilClose) {
                    this.framing = Incoming::Done;
                    this.conn = None;
                    return Poll::Ready(None);
                }
                this.conn = None;
                this.framing = Incoming::Done;
                return Poll::Ready(Some(Err(invalid(
                    "the backend closed the connection before the end of the body",
                ))));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.framing, Incoming::Done)
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self.framing {
            Incoming::Fixed(n) => hyper::body::SizeHint::with_exact(n),
            Incoming::Done => hyper::body::SizeHint::with_exact(0),
            _ => hyper::body::SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &[u8], head_request: bool) -> io::Result<Option<(Head, Incoming)>> {
        parse_head(&mut BytesMut::from(raw), head_request)
    }

    #[test]
    fn response_framing_follows_rfc_9112() {
        let (h, f) = head(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", false)
            .unwrap()
            .unwrap();
        assert!(matches!(f, Incoming::Fixed(5)) && h.keep_alive);
        let (h, f) = head(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n",
            false,
        )
        .unwrap()
        .unwrap();
        assert!(matches!(f, Incoming::Chunked(_)), "chunked wins");
        assert!(!h.headers.contains_key(header::TRANSFER_ENCODING));
        let (h, f) = head(b"HTTP/1.1 200 OK\r\n\r\n", false).unwrap().unwrap();
        assert!(matches!(f, Incoming::UntilClose) && !h.keep_alive);
        let (h, _) = head(b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n", false)
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive, "HTTP/1.0 is not kept");
        let (h, _) = head(
            b"HTTP/1.1 200 OK\r\nconnection: Close\r\ncontent-length: 1\r\n\r\n",
            false,
        )
        .unwrap()
        .unwrap();
        assert!(!h.keep_alive);
        let (_, f) = head(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n", true)
            .unwrap()
            .unwrap();
        assert!(matches!(f, Incoming::Done), "a HEAD answer has no body");
        let (h, f) = head(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
            false,
        )
        .unwrap()
        .unwrap();
        assert!(matches!(f, Incoming::Done) && h.status == 204);
        assert!(head(b"HTTP/1.1 200 OK\r\ncontent-le", false)
            .unwrap()
            .is_none());
    }

    #[test]
    fn malformed_heads_are_refused() {
        for bad in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 5, 6\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"NOTHTTP\r\n\r\n",
        ] {
            assert!(
                head(bad, false).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let same = head(
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 5\r\n\r\n",
            false,
        );
        assert!(matches!(same, Ok(Some((_, Incoming::Fixed(5))))));
    }
}
