//! Watches the bytes of one HTTP/1 connection as hyper reads them, to refuse a request that
//! carries both `Content-Length` and `Transfer-Encoding` (design.md §5).
//!
//! hyper accepts such a request the way RFC 9112 §6.3 permits (chunked wins, the connection
//! closes after it) and drops `Content-Length` before a handler could see it. That is safe for
//! the gateway itself, but a request framed two ways is the signature of a smuggling attempt
//! against whatever stands in front of the gateway, so it is refused with `400` instead.
//!
//! The watcher follows the message framing (head, fixed-length body, chunked body) to know
//! where each request head starts, and queues one verdict per head in order. HTTP/1 requests
//! on a connection are served in order, so the service takes verdicts front to back. A head
//! with no line starting `Content-Length` or `Transfer-Encoding` (most of them) is judged
//! without a second parse. Whatever it cannot follow (bytes after an upgrade, a head naming a
//! body header that hyper will refuse anyway) stops the watching for that connection: hyper's
//! own handling still applies there.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Heads longer than this are hyper's to refuse; the watcher gives up on them.
const MAX_HEAD: usize = 64 * 1024;
const MAX_LINE: usize = 4 * 1024;

/// One verdict per request head, in the order the heads arrived: `true` when the head carried
/// both `Content-Length` and `Transfer-Encoding`.
#[derive(Clone, Default)]
pub struct Verdicts(Arc<Mutex<VecDeque<bool>>>);

impl Verdicts {
    /// The verdict for the next request the connection serves (`false` once watching stopped).
    pub fn next(&self) -> bool {
        self.0
            .lock()
            .expect("verdicts")
            .pop_front()
            .unwrap_or(false)
    }

    fn push(&self, ambiguous: bool) {
        self.0.lock().expect("verdicts").push_back(ambiguous);
    }
}

enum State {
    /// Collecting a request head (leading empty lines included).
    Head(Vec<u8>),
    /// Inside a body of known length.
    Fixed(u64),
    /// Collecting a chunk-size line.
    ChunkSize(Vec<u8>),
    /// Inside chunk data; then the CRLF that ends it.
    ChunkData(u64),
    ChunkEnd(u8),
    /// Trailer lines after the last chunk, up to an empty line.
    Trailers(Vec<u8>),
    /// Not following any more.
    Stopped,
}

/// The framing follower: feed it every byte read, in order.
pub struct Watcher {
    state: State,
    verdicts: Verdicts,
}

impl Watcher {
    pub fn new(verdicts: Verdicts) -> Watcher {
        Watcher {
            state: State::Head(Vec::new()),
            verdicts,
        }
    }

    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let state = std::mem::replace(&mut self.state, State::Stopped);
            self.state = match state {
                State::Stopped => return,
                State::Head(mut head) => {
                    let end = match head.is_empty() {
                        true => find_head_end_fresh(bytes),
                        false => find_head_end(&head, bytes),
                    };
                    let take = end.unwrap_or(bytes.len());
                    let (this, rest) = bytes.split_at(take);
                    bytes = rest;
                    match end {
                        // The usual case, a head within one read: judged where it lies.
                        Some(_) if head.is_empty() => self.head_done(this, head),
                        Some(_) => {
                            head.extend_from_slice(this);
                            let whole = std::mem::take(&mut head);
                            self.head_done(&whole, head)
                        }
                        None if head.len() + this.len() > MAX_HEAD => State::Stopped,
                        None => {
                            head.extend_from_slice(this);
                            State::Head(head)
                        }
                    }
                }
                State::Fixed(left) => {
                    let n = left.min(bytes.len() as u64);
                    bytes = &bytes[n as usize..];
                    if left == n {
                        State::Head(Vec::new())
                    } else {
                        State::Fixed(left - n)
                    }
                }
                State::ChunkSize(line) => match take_line(line, &mut bytes) {
                    Line::Done(line) => match chunk_size(&line) {
                        Some(0) => State::Trailers(Vec::new()),
                        Some(n) => State::ChunkData(n),
                        None => State::Stopped,
                    },
                    Line::More(line) => State::ChunkSize(line),
                    Line::TooLong => State::Stopped,
                },
                State::ChunkData(left) => {
                    let n = left.min(bytes.len() as u64);
                    bytes = &bytes[n as usize..];
                    if left == n {
                        State::ChunkEnd(2)
                    } else {
                        State::ChunkData(left - n)
                    }
                }
                State::ChunkEnd(left) => {
                    bytes = &bytes[1..];
                    if left == 1 {
                        State::ChunkSize(Vec::new())
                    } else {
                        State::ChunkEnd(left - 1)
                    }
                }
                State::Trailers(line) => match take_line(line, &mut bytes) {
                    Line::Done(line) if line.is_empty() || line == b"\r" => State::Head(Vec::new()),
                    Line::Done(_) => State::Trailers(Vec::new()),
                    Line::More(line) => State::Trailers(line),
                    Line::TooLong => State::Stopped,
                },
            };
        }
    }

    /// A complete head: record its verdict and follow its body. `spare` is an empty buffer
    /// the next head may be collected in (kept to reuse its allocation).
    fn head_done(&mut self, head: &[u8], mut spare: Vec<u8>) -> State {
        // Most heads name neither header (a GET): then there is no body to follow and no
        // second parse to make. A header name starts a line, as hyper reads it.
        if !names_a_body_header(head) {
            self.verdicts.push(false);
            spare.clear();
            return State::Head(spare);
        }
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut req = httparse::Request::new(&mut headers);
        if !matches!(req.parse(head), Ok(httparse::Status::Complete(_))) {
            return State::Stopped;
        }
        let (mut length, mut chunked, mut te) = (None, false, false);
        for h in req.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                length = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .or(Some(u64::MAX));
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                te = true;
                chunked = h
                    .value
                    .rsplit(|&b| b == b',')
                    .next()
                    .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            }
        }
        self.verdicts.push(te && length.is_some());
        match (te, length) {
            (true, _) if chunked => State::ChunkSize(Vec::new()),
            (true, _) => State::Stopped,
            (false, Some(u64::MAX)) => State::Stopped,
            (false, Some(0)) | (false, None) => State::Head(Vec::new()),
            (false, Some(n)) => State::Fixed(n),
        }
    }
}

/// Whether a line of `head` starts with `Content-Length` or `Transfer-Encoding` in any letter
/// case (a superset of the heads that carry either: those go to the full parse).
fn names_a_body_header(head: &[u8]) -> bool {
    head.split(|&b| b == b'\n').skip(1).any(|line| {
        let starts =
            |name: &[u8]| line.len() >= name.len() && line[..name.len()].eq_ignore_ascii_case(name);
        starts(b"content-length") || starts(b"transfer-encoding")
    })
}

/// [`find_head_end`] with nothing before: the usual case, a head that starts a read. Searched
/// with `memchr`'s vectorised `memmem` instead of a byte at a time.
fn find_head_end_fresh(more: &[u8]) -> Option<usize> {
    let start = more.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let rest = &more[start..];
    let crlf = memchr::memmem::find(rest, b"\r\n\r\n").map(|i| i + 4);
    let lf = memchr::memmem::find(rest, b"\n\n").map(|i| i + 2);
    let end = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    Some(start + end)
}

/// Where the head ends in `more` (index just past the blank line), given what came before.
/// Empty lines before the request line are skipped the way parsers do. The last four bytes
/// ride in a `u32`, so the scan costs a shift per byte.
fn find_head_end(before: &[u8], more: &[u8]) -> Option<usize> {
    const CRLFCRLF: u32 = u32::from_be_bytes(*b"\r\n\r\n");
    const LFLF: u32 = u32::from_be_bytes([0, 0, b'\n', b'\n']);
    let mut last = before[before.len().saturating_sub(3)..]
        .iter()
        .fold(0u32, |acc, &b| acc << 8 | b as u32);
    let mut started = before.iter().any(|&b| b != b'\r' && b != b'\n');
    for (i, &b) in more.iter().enumerate() {
        last = last << 8 | b as u32;
        if b != b'\r' && b != b'\n' {
            started = true;
        } else if started && b == b'\n' && (last == CRLFCRLF || last & 0xffff == LFLF) {
            return Some(i + 1);
        }
    }
    None
}

enum Line {
    /// The line without its `\n`.
    Done(Vec<u8>),
    More(Vec<u8>),
    TooLong,
}

/// Add `bytes` to a line being collected, up to and including its `\n`.
fn take_line(mut line: Vec<u8>, bytes: &mut &[u8]) -> Line {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => {
            line.extend_from_slice(&bytes[..i]);
            *bytes = &bytes[i + 1..];
            Line::Done(line)
        }
        None => {
            line.extend_from_slice(bytes);
            *bytes = &[];
            if line.len() > MAX_LINE {
                Line::TooLong
            } else {
                Line::More(line)
            }
        }
    }
}

/// The size of a chunk from its line (`1a;ext=1\r`).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let hex = line.split(|&b| b == b';').next()?.trim_ascii();
    u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

/// An IO stream whose reads pass through a [`Watcher`].
pub struct Watched<T> {
    inner: T,
    watcher: Watcher,
}

impl<T> Watched<T> {
    pub fn new(inner: T, verdicts: Verdicts) -> Watched<T> {
        Watched {
            inner,
            watcher: Watcher::new(verdicts),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            this.watcher.feed(&buf.filled()[before..]);
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(input: &[&[u8]]) -> Vec<bool> {
        let v = Verdicts::default();
        let mut w = Watcher::new(v.clone());
        for part in input {
            w.feed(part);
        }
        let out = v.0.lock().unwrap().iter().copied().collect();
        out
    }

    #[test]
    fn follows_bodies_to_the_next_head() {
        let stream: &[u8] = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
            POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\r\n\r\n\
            GET /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(verdicts(&[stream]), [false, false, true]);
        // The same bytes one at a time give the same verdicts.
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(verdicts(&bytes), [false, false, true]);
    }

    #[test]
    fn a_body_that_looks_like_a_head_is_only_a_body() {
        let body = b"GET /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut stream =
            format!("POST /a HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        stream.extend_from_slice(body);
        stream.extend_from_slice(b"GET /b HTTP/1.1\r\n\r\n");
        assert_eq!(verdicts(&[&stream]), [false, false]);
    }

    #[test]
    fn body_headers_are_found_in_any_letter_case_and_only_as_names() {
        assert!(names_a_body_header(
            b"POST / HTTP/1.1\r\ncOnTeNt-LeNgTh: 1\r\n\r\n"
        ));
        assert!(names_a_body_header(
            b"POST / HTTP/1.1\nTRANSFER-ENCODING: chunked\n\n"
        ));
        assert!(!names_a_body_header(
            b"GET / HTTP/1.1\r\nX-Note: content-length: 5\r\n\r\n"
        ));
        assert!(!names_a_body_header(
            b"GET /content-length HTTP/1.1\r\nHost: a\r\n\r\n"
        ));
        // Pipelined: a GET, then a POST whose body must be followed, then a flagged head.
        let stream = b"GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(verdicts(&[stream]), [false, false, true]);
        assert_eq!(
            verdicts(&[&stream[..30], &stream[30..70], &stream[70..]]),
            [false, false, true]
        );
    }

    #[test]
    fn the_fast_head_search_agrees_with_the_byte_scan() {
        // Every string of up to eight bytes from CR, LF and a letter.
        let alphabet = [b'\r', b'\n', b'a'];
        for len in 0..=8u32 {
            for n in 0..3usize.pow(len) {
                let s: Vec<u8> = (0..len).map(|i| alphabet[n / 3usize.pow(i) % 3]).collect();
                assert_eq!(
                    find_head_end_fresh(&s),
                    find_head_end(&[], &s),
                    "{:?}",
                    String::from_utf8_lossy(&s)
                );
            }
        }
    }

    #[test]
    fn unreadable_input_stops_watching() {
        // A head that names a body header but does not parse stops the watching (hyper
        // refuses it and closes the connection).
        assert_eq!(
            verdicts(&[
                b"\x16\x03\x01 not http\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\nGET / HTTP/1.1\r\n\r\n"
            ]),
            [] as [bool; 0]
        );
        // One that names none has no body to follow and is never flagged.
        let v = verdicts(&[b"\x16\x03\x01 not http\r\n\r\nGET / HTTP/1.1\r\n\r\n"]);
        assert!(v.iter().all(|flagged| !flagged));
        assert_eq!(chunk_size(b"1A;x=y\r"), Some(26));
        assert_eq!(chunk_size(b"zz\r"), None);
    }
}
