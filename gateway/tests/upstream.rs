//! The gateway's own backend client (`gateway::proxy::upstream`) against backends written
//! byte by byte over real sockets: the framings a backend may choose, a kept connection the
//! backend closed, and the answers that must be refused rather than passed on.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gateway::proxy::upstream::Upstream;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Read one request head (and a body of `Content-Length`, or a chunked one to its end).
async fn read_request(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_lowercase();
    if let Some(n) = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|n| n.trim().parse::<usize>().ok())
    {
        let mut body = vec![0u8; n];
        s.read_exact(&mut body).await.ok()?;
        buf.extend(body);
    } else if head.contains("transfer-encoding: chunked") {
        while !buf.ends_with(b"0\r\n\r\n") {
            if s.read(&mut byte).await.ok()? == 0 {
                return None;
            }
            buf.push(byte[0]);
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// A backend that answers each request on a connection with the next of `answers` (the
/// request is sent back through `seen`), closing the connection after `per_connection`.
async fn backend(
    answers: Vec<&'static [u8]>,
    per_connection: usize,
) -> (Upstream, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut answers = answers.into_iter();
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            for _ in 0..per_connection {
                let Some(req) = read_request(&mut s).await else {
                    break;
                };
                let _ = seen.send(req);
                let Some(a) = answers.next() else { return };
                s.write_all(a).await.unwrap();
            }
        }
    });
    let authority = format!("127.0.0.1:{port}").parse().unwrap();
    (Upstream::new(&authority), rx)
}

fn get(path: &str) -> Request<Body> {
    Request::get(format!("http://backend{path}"))
        .header("x-test", "1")
        .body(Body::empty())
        .unwrap()
}

async fn body(r: axum::http::Response<Body>) -> Result<String, String> {
    r.into_body()
        .collect()
        .await
        .map(|c| String::from_utf8_lossy(&c.to_bytes()).into_owned())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn every_framing_reads_to_its_end_and_the_connection_is_reused() {
    let (up, mut seen) = backend(
        vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nend",
        ],
        4,
    )
    .await;
    let up = Arc::new(up);
    let r = up.send(get("/a?q=1")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(body(r).await.unwrap(), "hello");
    let first = seen.recv().await.unwrap();
    assert!(first.starts_with("GET /a?q=1 HTTP/1.1\r\n"), "{first}");
    assert!(first.contains("host: 127.0.0.1:") && first.contains("x-test: 1"));

    let r = up.send(get("/b")).await.unwrap();
    assert!(!r.headers().contains_key("transfer-encoding"));
    assert_eq!(body(r).await.unwrap(), "abcde");
    let r = up.send(get("/c")).await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(body(r).await.unwrap(), "");
    // All four on one connection: the backend accepts only once per four requests.
    let r = up.send(get("/d")).await.unwrap();
    assert_eq!(body(r).await.unwrap(), "end");
    for _ in 0..3 {
        seen.recv().await.unwrap();
    }
}

/// A body of unknown length, in pieces (popped from the end).
struct Pieces(Vec<&'static str>);

impl hyper::body::Body for Pieces {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(
            self.0
                .pop()
                .map(|p| Ok(hyper::body::Frame::data(axum::body::Bytes::from(p)))),
        )
    }
}

#[tokio::test]
async fn request_bodies_are_framed_for_the_backend() {
    let (up, mut seen) = backend(
        vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
        ],
        2,
    )
    .await;
    let up = Arc::new(up);
    let sized = Request::post("http://backend/s")
        .body(Body::from("12345"))
        .unwrap();
    up.send(sized).await.unwrap();
    let req = seen.recv().await.unwrap();
    assert!(
        req.contains("content-length: 5\r\n") && req.ends_with("\r\n\r\n12345"),
        "{req}"
    );

    let chunked = Request::post("http://backend/c")
        .body(Body::new(Pieces(vec!["cde", "ab"])))
        .unwrap();
    up.send(chunked).await.unwrap();
    let req = seen.recv().await.unwrap();
    assert!(
        req.contains("transfer-encoding: chunked\r\n")
            && req.ends_with("\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"),
        "{req}"
    );
}

#[tokio::test]
async fn a_kept_connection_the_backend_closed_is_not_a_failure() {
    // One answer per connection, then the backend closes it: the second request finds the
    // kept connection closed and goes out on a new one.
    // Found closed before use (the close seen by then), or only when the answer does not come
    // (no pause): both end in the answer from a new connection.
    for pause in [20, 0] {
        let (up, _seen) = backend(
            vec![
                b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n1",
                b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n2",
                b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n3",
            ],
            1,
        )
        .await;
        let up = Arc::new(up);
        for want in ["1", "2", "3"] {
            let r = up.send(get("/")).await.unwrap();
            assert_eq!(body(r).await.unwrap(), want, "pause {pause} ms");
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        }
    }
}

#[tokio::test]
async fn a_post_is_never_sent_twice() {
    // The backend reads the POST and closes without an answer: the client gets an error, and
    // the backend saw the request once.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        // The first connection answers one GET and stays open; then the POST on it is read
        // and the connection closed unanswered.
        let (mut s, _) = listener.accept().await.unwrap();
        read_request(&mut s).await.unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        let post = read_request(&mut s).await.unwrap();
        let _ = seen.send(post);
        drop(s);
        while let Ok((mut s, _)) = listener.accept().await {
            if let Some(again) = read_request(&mut s).await {
                let _ = seen.send(again);
            }
        }
    });
    let up = Arc::new(Upstream::new(&format!("127.0.0.1:{port}").parse().unwrap()));
    up.send(get("/")).await.unwrap();
    let post = Request::post("http://backend/pay")
        .body(Body::empty())
        .unwrap();
    assert!(up.send(post).await.is_err());
    assert!(rx.recv().await.unwrap().starts_with("POST /pay"));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(rx.try_recv().is_err(), "the POST was repeated");
}

#[tokio::test]
async fn answers_framed_two_ways_or_cut_short_are_refused() {
    for (answer, what) in [
        (
            &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 7\r\n\r\nhello"[..],
            "conflicting Content-Length",
        ),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
            "invalid Content-Length",
        ),
        (
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "switched protocols",
        ),
        (b"garbage\r\n\r\n", "invalid response head"),
    ] {
        let (up, _seen) = backend(vec![answer], 1).await;
        let e = Arc::new(up).send(get("/")).await.unwrap_err();
        assert!(e.to_string().contains(what), "{what}: {e}");
    }
    // A body shorter than announced ends in an error, never in a short 200 passed as whole.
    let (up, _seen) = backend(
        vec![b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort"],
        1,
    )
    .await;
    let r = Arc::new(up).send(get("/")).await.unwrap();
    assert!(body(r)
        .await
        .unwrap_err()
        .contains("before the end of the body"));
    // A broken chunked body too.
    let (up, _seen) = backend(
        vec![b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"],
        1,
    )
    .await;
    let r = Arc::new(up).send(get("/")).await.unwrap();
    assert!(body(r).await.unwrap_err().contains("chunk"));
}

#[tokio::test]
async fn the_host_header_names_host_and_port_only() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let req = read_request(&mut s).await.unwrap();
        let host = req
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("host:"))
            .unwrap_or("")
            .to_string();
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{host}",
            host.len()
        );
        s.write_all(answer.as_bytes()).await.unwrap();
    });
    // A backend URL with user information: it never reaches the wire.
    let up = Arc::new(Upstream::new(
        &format!("user:secret@127.0.0.1:{port}").parse().unwrap(),
    ));
    let r = up.send(get("/")).await.unwrap();
    assert_eq!(body(r).await.unwrap(), format!("host: 127.0.0.1:{port}"));
}

#[tokio::test]
async fn a_backend_that_is_not_there_is_an_error() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let authority = free.local_addr().unwrap().to_string().parse().unwrap();
    drop(free);
    let up = Arc::new(Upstream::new(&authority));
    assert!(up.send(get("/")).await.is_err());
}
