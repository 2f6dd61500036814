//! A response body read from its backend connection as the client reads it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use axum::body::Bytes;
use bytes::BytesMut;
use hyper::body::Frame;

use super::chunked::Step;
use super::wire::Incoming;
use super::{invalid, Conn, Upstream, READ_SIZE};

/// A response body read from its connection as the client reads it; the connection goes back
/// to the pool when the body ends exactly where its framing said.
pub(super) struct UpstreamBody {
    pub(super) conn: Option<Conn>,
    pub(super) framing: Incoming,
    pub(super) keep_alive: bool,
    pub(super) pool: Arc<Upstream>,
}

impl UpstreamBody {
    pub(super) fn finish_if_done(&mut self) {
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
