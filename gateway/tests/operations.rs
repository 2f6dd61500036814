//! Operating the gateway: HTTPS with HTTP/2 and certificate reload, an https backend, the
//! admin listener (health, readiness, metrics), WebSocket pass-through, many logins at once,
//! and a graceful stop — all over real sockets.

use brama_testkit::gateway as common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{client, echo_backend, sign_in, start_with, tls_files, Pki};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::Value;

/// A TLS connection to the gateway, trusting `cas`, offering `alpn`, limited to `versions`.
async fn tls_connect(
    port: u16,
    cas: &[&Path],
    alpn: &[&[u8]],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        roots
            .add(CertificateDer::from_pem_file(ca).unwrap())
            .unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

fn served_cn(tls: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> String {
    let der = &tls.get_ref().1.peer_certificates().unwrap()[0];
    let cert = openssl::x509::X509::from_der(der).unwrap();
    let cn = cert
        .subject_name()
        .entries_by_nid(openssl::nid::Nid::COMMONNAME)
        .next()
        .unwrap()
        .data()
        .as_slice()
        .to_vec();
    String::from_utf8(cn).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_http2_tls12_and_certificate_reload() {
    let p = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls_files(dir.path(), "first");
    let backend = echo_backend().await;
    let extra = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\nreload_interval = 1\n",
        cert.display(),
        key.display()
    );
    let (_db, g) = start_with(&p, &format!("http://{backend}"), &extra).await;

    // TLS 1.3, HTTP/2 chosen by ALPN, a request forwarded over it.
    let tls = tls_connect(
        g.port,
        &[&cert],
        &[b"h2", b"http/1.1"],
        &[&rustls::version::TLS13],
    )
    .await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(served_cn(&tls), "first");
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get("https://localhost/public/h2?x=1")
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let seen: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(seen["path"], "/public/h2");
    assert_eq!(seen["headers"]["x-forwarded-proto"], "https");

    // TLS 1.2 with HTTP/1.1 works too; the login page carries HSTS.
    let tls = tls_connect(g.port, &[&cert], &[b"http/1.1"], &[&rustls::version::TLS12]).await;
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get("/auth/login")
        .header("host", "localhost")
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp
        .headers()
        .get("strict-transport-security")
        .is_some_and(|v| v.to_str().unwrap().contains("max-age=")));

    // TLS 1.1 is refused: `openssl s_client` as an independent peer.
    let out = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{}", g.port),
            "-tls1_1",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "TLS 1.1 handshake succeeded: {text}");
    // The server's refusal (an alert it sent), not the client declining to try.
    assert!(
        text.contains("alert protocol version") || text.contains("alert handshake failure"),
        "{text}"
    );

    // A renewed certificate written over the files is served without a restart.
    let first = dir.path().join("first-copy.pem");
    std::fs::copy(&cert, &first).unwrap();
    let (new_cert, new_key) = tls_files(dir.path(), "second");
    std::fs::copy(&new_key, &key).unwrap();
    std::fs::copy(&new_cert, &cert).unwrap();
    let mut served = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        served = served_cn(
            &tls_connect(
                g.port,
                &[&new_cert, &first],
                &[],
                &[&rustls::version::TLS13],
            )
            .await,
        );
        if served == "second" {
            break;
        }
    }
    assert_eq!(served, "second", "the renewed certificate is served");
    // A broken renewal keeps the working certificate in service.
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nbroken\n").unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        served_cn(
            &tls_connect(
                g.port,
                &[&new_cert, &first],
                &[],
                &[&rustls::version::TLS13]
            )
            .await
        ),
        "second"
    );
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_backend_is_reached_with_the_configured_ca() {
    let p = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls_files(dir.path(), "backend");
    // The backend: a small router served over TLS by the gateway's own listener.
    let app = axum::Router::new()
        .fallback(|uri: axum::http::Uri| async move { format!("tls backend saw {}", uri.path()) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = gateway::tls::ReloadingCert::load(&cert, &key).unwrap();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(gateway::listener::serve(
        listener,
        app,
        Some(gateway::tls::server_config(served).unwrap()),
        stopped,
        Duration::from_secs(1),
        gateway::listener::Timeouts {
            head: Duration::from_secs(20),
            idle: Duration::from_secs(75),
        },
    ));
    let backend = format!("https://localhost:{port}");

    let extra = format!("backend_ca = \"{}\"\n", cert.display());
    let (_db, g) = start_with(&p, &backend, &extra).await;
    let r = client()
        .get(format!("http://127.0.0.1:{}/public/over-tls", g.port))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "tls backend saw /public/over-tls");
    g.stop().await;

    // With the system's roots only, the private backend certificate is not trusted: 502.
    let (_db, g) = start_with(&p, &backend, "").await;
    let r = client()
        .get(format!("http://127.0.0.1:{}/public/over-tls", g.port))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "backend_unavailable"
    );
    g.stop().await;
}

/// A metric's value from the Prometheus text, by its full series name.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_listener_health_readiness_and_metrics() {
    let p = Pki::new();
    let backend = echo_backend().await;
    let (_db, g) = start_with(&p, &format!("http://{backend}"), "").await;
    let admin = format!("http://127.0.0.1:{}", g.admin_port.unwrap());
    let http = client();
    let get = |path: &str| http.get(format!("{admin}{path}")).send();

    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["database"]["ok"], true);
    assert_eq!(ready["backend"]["ok"], true);
    // The public listener does not serve them: they are cabinet paths there.
    let public = http
        .get(format!("http://127.0.0.1:{}/metrics", g.port))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 401);

    sign_in(&g, &p, "citizen-p256", "/").await;
    let base = format!("http://127.0.0.1:{}", g.port);
    let c = common::challenge(&http, &base, "/").await;
    let refused = common::login(&http, &base, &p, "expired", &c).await;
    assert_eq!(refused.status(), 401);

    let text = get("/metrics").await.unwrap().text().await.unwrap();
    assert_eq!(
        metric(&text, "brama_logins_total{outcome=\"ok\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "brama_logins_total{outcome=\"certificate_expired\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "brama_requests_total{route=\"/auth/login\",status=\"401\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "brama_requests_total{route=\"forward\",status=\"401\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        metric(
            &text,
            "brama_request_duration_seconds_count{route=\"/auth/challenge\"}"
        )
        .is_some_and(|n| n >= 2.0),
        "{text}"
    );
    assert!(
        text.contains("brama_request_duration_seconds_bucket{route=\"/auth/login\",le=\"0.1\"}"),
        "{text}"
    );
    g.stop().await;

    // Backend down: not ready, and the answer says which part is missing.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (_db, g) = start_with(&p, &format!("http://{free}"), "").await;
    let r = client()
        .get(format!("http://127.0.0.1:{}/readyz", g.admin_port.unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let r: Value = r.json().await.unwrap();
    assert_eq!(r["database"]["ok"], true);
    assert_eq!(r["backend"]["ok"], false);
    assert!(r["backend"]["error"]
        .as_str()
        .unwrap()
        .contains(&free.port().to_string()));
    g.stop().await;
}

/// A backend that switches protocols on request and then echoes bytes in upper case, after
/// first sending back the account header it was given.
async fn upgrade_backend() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if s.read(&mut b).await.unwrap() == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                let head = String::from_utf8_lossy(&head).to_lowercase();
                let account = head
                    .lines()
                    .find_map(|l| l.strip_prefix("x-brama-account-id: "))
                    .unwrap_or("none")
                    .to_string();
                let asked =
                    head.contains("upgrade: websocket") && head.contains("connection: upgrade");
                if !asked {
                    let _ = s
                        .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                }
                s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n").await.unwrap();
                s.write_all(format!("account={account};").as_bytes())
                    .await
                    .unwrap();
                let mut buf = [0u8; 1024];
                loop {
                    let n = match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let _ = s.write_all(&buf[..n].to_ascii_uppercase()).await;
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_passes_through_with_the_identity() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let p = Pki::new();
    let backend = upgrade_backend().await;
    let (_db, g) = start_with(&p, &format!("http://{backend}"), "").await;
    let (session, _) = sign_in(&g, &p, "citizen-p256", "/").await;
    let me: Value = common::me(&g, &session).await;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", g.port))
        .await
        .unwrap();
    s.write_all(format!("GET /cabinet/live HTTP/1.1\r\nHost: cabinet.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nCookie: {session}\r\n\r\n").as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let want = format!("account={};", me["account_id"].as_str().unwrap());
    while !String::from_utf8_lossy(&got).contains(&want) {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).to_string();
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    assert!(text.to_lowercase().contains("upgrade: websocket"), "{text}");
    assert!(
        text.contains("Sec-WebSocket-Accept") || text.contains("sec-websocket-accept"),
        "{text}"
    );
    // Bytes flow both ways once switched.
    s.write_all(b"hello over the socket").await.unwrap();
    let mut echoed = Vec::new();
    while echoed.len() < 21 {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        echoed.extend_from_slice(&buf[..n]);
    }
    assert_eq!(echoed, b"HELLO OVER THE SOCKET");

    // Without a session the upgrade is refused like any cabinet request.
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", g.port))
        .await
        .unwrap();
    s.write_all(b"GET /cabinet/live HTTP/1.1\r\nHost: cabinet.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n").await.unwrap();
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 401"));
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_first_logins_over_http_open_one_account() {
    let p = Arc::new(Pki::new());
    let backend = echo_backend().await;
    let (_db, g) = start_with(&p, &format!("http://{backend}"), common::NO_LIMITS).await;
    let g = Arc::new(g);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (g, p) = (g.clone(), p.clone());
            tokio::spawn(async move {
                let (session, _) = sign_in(&g, &p, "citizen-p384", "/").await;
                let me: Value = common::me(&g, &session).await;
                (session, me["account_id"].as_str().unwrap().to_string())
            })
        })
        .collect();
    let mut sessions = std::collections::HashSet::new();
    let mut accounts = std::collections::HashSet::new();
    for t in tasks {
        let (s, a) = t.await.unwrap();
        sessions.insert(s);
        accounts.insert(a);
    }
    assert_eq!(sessions.len(), 50, "each login has its own session");
    assert_eq!(accounts.len(), 1, "one person, one account: {accounts:?}");
    assert_eq!(g.gateway.store.account_ids().await.unwrap().len(), 1);
    Arc::try_unwrap(g).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_lets_requests_in_flight_finish() {
    // A backend that takes a moment to answer.
    let app = axum::Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        "slow answer"
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let p = Pki::new();
    let (_db, g) = start_with(&p, &format!("http://{backend}"), "shutdown_grace = 5\n").await;
    let url = format!("http://127.0.0.1:{}/public/slow", g.port);
    let in_flight = tokio::spawn(client().get(url.clone()).send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let port = g.port;
    g.stop().await;
    let r = in_flight.await.unwrap().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "slow answer");
    assert!(started.elapsed() < Duration::from_secs(5));
    // After the stop nothing listens.
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err());
}
