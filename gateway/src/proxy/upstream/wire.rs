//! The bytes on the wire to the backend: the request head written, the response head read,
//! and how each body is framed (RFC 9112 §6.3).

use std::io;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use bytes::{Buf, BytesMut};

use super::chunked::Decoder;
use super::invalid;

const MAX_HEADERS: usize = 128;

/// How the request body travels.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Outgoing {
    Empty,
    /// `Content-Length` (the client's, or the body's exact size).
    Sized,
    Chunked,
}

pub(super) fn encode_head(
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

/// A response head as read.
pub(super) struct Head {
    pub(super) status: StatusCode,
    pub(super) version: Version,
    pub(super) headers: HeaderMap,
    pub(super) keep_alive: bool,
}

/// How the response body is framed (RFC 9112 §6.3).
pub(super) enum Incoming {
    Fixed(u64),
    Chunked(Decoder),
    /// Until the backend closes the connection (never reused).
    UntilClose,
    Done,
}

/// The head at the front of `buf`, consumed, when it is complete (1xx heads are skipped).
pub(super) fn parse_head(
    buf: &mut BytesMut,
    head_request: bool,
) -> io::Result<Option<(Head, Incoming)>> {
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
