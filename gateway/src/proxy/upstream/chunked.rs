//! Decoding a backend's `Transfer-Encoding: chunked` body (RFC 9112 §7.1) as it arrives, for
//! the backend client ([`super`]). Chunk extensions are ignored and trailers dropped (the
//! gateway does not forward trailers); every line is bounded, so a backend cannot make the
//! gateway buffer without end.

use std::io;

use axum::body::Bytes;
use bytes::{Buf, BytesMut};

/// A size line or a trailer line longer than this is refused.
const MAX_LINE: usize = 4096;
/// All trailer lines together.
const MAX_TRAILERS: usize = 64 * 1024;

/// What one call to [`Decoder::decode`] found.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Body bytes (a chunk's data or part of it).
    Data(Bytes),
    /// The buffer ends before the next step can be taken: read more.
    NeedMore,
    /// The last chunk and the trailers have been read: the body is complete.
    Done,
}

#[derive(Debug)]
enum State {
    Size,
    Data(u64),
    DataEnd,
    Trailers(usize),
    Done,
}

#[derive(Debug)]
pub struct Decoder {
    state: State,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("chunked body: {what}"))
}

/// The line at the start of `buf` without its CRLF, and its length with it.
fn line(buf: &[u8]) -> Result<Option<(&[u8], usize)>, io::Error> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(end) if end <= MAX_LINE => Ok(Some((&buf[..end], end + 2))),
        Some(_) => Err(invalid("line too long")),
        None if buf.len() > MAX_LINE => Err(invalid("line too long")),
        None => Ok(None),
    }
}

/// `1*HEXDIG [ BWS ";" extensions ]`, at most 15 digits (no overflow).
fn chunk_size(line: &[u8]) -> Result<u64, io::Error> {
    let digits = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let rest = &line[digits..];
    let rest_ok = rest.is_empty() || rest.trim_ascii_start().starts_with(b";");
    if digits == 0 || digits > 15 || !rest_ok {
        return Err(invalid("bad chunk size"));
    }
    let hex = std::str::from_utf8(&line[..digits]).map_err(|_| invalid("bad chunk size"))?;
    u64::from_str_radix(hex, 16).map_err(|_| invalid("bad chunk size"))
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder { state: State::Size }
    }
}

impl Decoder {
    /// Take the next step from the front of `buf`, consuming what it used.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Step, io::Error> {
        loop {
            match self.state {
                State::Done => return Ok(Step::Done),
                State::Size => {
                    let Some((l, used)) = line(buf)? else {
                        return Ok(Step::NeedMore);
                    };
                    let size = chunk_size(l)?;
                    buf.advance(used);
                    self.state = match size {
                        0 => State::Trailers(0),
                        n => State::Data(n),
                    };
                }
                State::Data(left) => {
                    if buf.is_empty() {
                        return Ok(Step::NeedMore);
                    }
                    let take = (buf.len() as u64).min(left) as usize;
                    let data = buf.split_to(take).freeze();
                    self.state = match left - take as u64 {
                        0 => State::DataEnd,
                        n => State::Data(n),
                    };
                    return Ok(Step::Data(data));
                }
                State::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(Step::NeedMore);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(invalid("chunk data not followed by CRLF"));
                    }
                    buf.advance(2);
                    self.state = State::Size;
                }
                State::Trailers(seen) => {
                    let Some((l, used)) = line(buf)? else {
                        return Ok(Step::NeedMore);
                    };
                    let empty = l.is_empty();
                    buf.advance(used);
                    if empty {
                        self.state = State::Done;
                    } else if seen + used > MAX_TRAILERS {
                        return Err(invalid("trailers too long"));
                    } else {
                        self.state = State::Trailers(seen + used);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `input` in pieces of `step` bytes; the body, or the first error.
    fn run(input: &[u8], step: usize) -> Result<(Vec<u8>, BytesMut), io::Error> {
        let mut d = Decoder::default();
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut pieces = input.chunks(step.max(1));
        loop {
            match d.decode(&mut buf)? {
                Step::Data(b) => body.extend_from_slice(&b),
                Step::Done => return Ok((body, buf)),
                Step::NeedMore => match pieces.next() {
                    Some(p) => buf.extend_from_slice(p),
                    None => return Err(invalid("ended early")),
                },
            }
        }
    }

    #[test]
    fn bodies_decode_whatever_the_reads() {
        let input = b"5\r\nhello\r\n7;name=v\r\n, world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for step in [1, 2, 3, 7, 100] {
            let (body, rest) = run(input, step).unwrap();
            assert_eq!(body, b"hello, world", "step {step}");
            // What follows the body stays for the next response.
            assert!(b"NEXT".starts_with(&rest[..]), "step {step}");
        }
        assert_eq!(run(b"0\r\n\r\n", 1).unwrap().0, b"");
        assert_eq!(
            run(b"A\r\n0123456789\r\n0\r\n\r\n", 4).unwrap().0,
            b"0123456789"
        );
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for bad in [
            &b"x\r\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhelloXX0\r\n\r\n",
            b"-5\r\nhello\r\n0\r\n\r\n",
            b"5 x\r\nhello\r\n0\r\n\r\n",
            b"1000000000000000\r\n",
            b"\r\n",
        ] {
            assert!(
                run(bad, 3).is_err_and(|e| e.kind() == io::ErrorKind::InvalidData),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = vec![b'1'; MAX_LINE + 10];
        assert!(run(&long, 64).is_err());
        let mut trailers = b"0\r\n".to_vec();
        for _ in 0..MAX_TRAILERS / 10 + 1 {
            trailers.extend_from_slice(b"X-Tr: 12\r\n");
        }
        assert!(run(&trailers, 512).is_err(), "trailers are bounded");
    }
}
