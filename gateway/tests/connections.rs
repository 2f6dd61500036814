//! Connections that send nothing are closed: a silent TCP connection, an HTTP/2
//! prior-knowledge connection that never asks for anything, and HTTP/1 or HTTP/2 connections
//! left unused after their requests (issue 16, security item 5). hyper times out only HTTP/1
//! request heads; before these timers an HTTP/2 client could hold a connection for ever.

use brama_testkit::gateway as common;

use std::time::{Duration, Instant};

use common::{echo_backend, start_with, Pki, NO_LIMITS};
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TIMERS: &str = "header_timeout = 1\nidle_timeout = 2\n";
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
const SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

/// Read until the gateway closes the connection; how long that took, or `None` if it was still
/// open after `limit`.
async fn closed_after(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + limit).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => continue,
        }
    }
}

async fn gateway() -> (tempfile::TempDir, gateway::server::Running) {
    let backend = echo_backend().await;
    start_with(
        &Pki::new(),
        &format!("http://{backend}"),
        &format!("{NO_LIMITS}{TIMERS}"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_asks_is_closed_after_the_header_timeout() {
    let (_db, g) = gateway().await;
    // Nothing at all.
    let mut silent = TcpStream::connect(("127.0.0.1", g.port)).await.unwrap();
    let took = closed_after(&mut silent, Duration::from_secs(6)).await;
    assert!(took.is_some(), "a silent connection stayed open");
    println!("silent TCP connection closed after {:?}", took.unwrap());

    // HTTP/2 prior knowledge: the preface and SETTINGS, then no request.
    let mut h2 = TcpStream::connect(("127.0.0.1", g.port)).await.unwrap();
    h2.write_all(PREFACE).await.unwrap();
    h2.write_all(SETTINGS).await.unwrap();
    let took = closed_after(&mut h2, Duration::from_secs(6)).await;
    assert!(
        took.is_some(),
        "an HTTP/2 connection with no request stayed open"
    );
    println!(
        "HTTP/2 connection without a request closed after {:?}",
        took.unwrap()
    );

    // Half a request head.
    let mut slow = TcpStream::connect(("127.0.0.1", g.port)).await.unwrap();
    slow.write_all(b"GET /public/x HTTP/1.1\r\nHost: cabinet.example\r\n")
        .await
        .unwrap();
    assert!(closed_after(&mut slow, Duration::from_secs(6))
        .await
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_connection_is_served_then_closed_when_unused() {
    let (_db, g) = gateway().await;
    let tcp = TcpStream::connect(("127.0.0.1", g.port)).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    let driver = tokio::spawn(conn);
    // Requests a second apart, each within the idle timeout, keep it open past both timeouts.
    for i in 0..3 {
        let req = hyper::Request::get(format!("http://cabinet.example/public/h2-{i}"))
            .body(Empty::<bytes::Bytes>::new())
            .unwrap();
        let resp = send.send_request(req).await.expect("still open while used");
        assert_eq!(resp.status(), 200);
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    let unused = Instant::now();
    tokio::time::timeout(Duration::from_secs(6), driver)
        .await
        .expect("an unused HTTP/2 connection stayed open")
        .unwrap()
        .ok();
    println!(
        "HTTP/2 connection closed {:?} after it was last used",
        unused.elapsed()
    );
    assert!(unused.elapsed() >= Duration::from_millis(500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http1_keep_alive_connection_is_closed_when_unused() {
    let (_db, g) = gateway().await;
    let mut tcp = TcpStream::connect(("127.0.0.1", g.port)).await.unwrap();
    tcp.write_all(b"GET /public/keep HTTP/1.1\r\nHost: cabinet.example\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 8192];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let took = closed_after(&mut tcp, Duration::from_secs(6)).await;
    assert!(
        took.is_some(),
        "an unused keep-alive connection stayed open"
    );
}
