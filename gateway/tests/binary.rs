//! The `brama-gateway` binary: `serve` as a process, `accounts` working on the same database
//! from another process (blocking ends the live session).

use brama_testkit::gateway as common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Pki, ORIGIN};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_brama-gateway");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_then_manage_accounts_from_another_process() {
    let p = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.toml");
    std::fs::write(&config, format!(
        "listen = \"127.0.0.1:0\"\npublic_origin = \"{ORIGIN}\"\nbackend = \"http://127.0.0.1:9\"\ndatabase = \"sqlite://{}\"\n[trust]\nanchors = [\"{}\"]\nintermediates = [\"{}\"]\n[revocation]\nmode = \"off\"\n[session]\ncache_ttl = 1\n[admin]\nlisten = \"127.0.0.1:0\"\n",
        dir.path().join("brama.db").display(), p.dir.join("root.pem").display(), p.dir.join("ica.pem").display())).unwrap();
    let cfg = config.to_str().unwrap();
    let mut child = Command::new(BIN)
        .args(["--config", cfg, "--log-format", "json", "serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    let port: u16 = line
        .split(':')
        .nth(2)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    let c = common::challenge(&http, &base, "/").await;
    let r = common::login(&http, &base, &p, "citizen-p256", &c).await;
    assert_eq!(r.status(), 200);
    let session = common::set_cookie(&r, "__Host-brama-session")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let me: Value = http
        .get(format!("{base}/auth/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = me["account_id"].as_str().unwrap().to_string();

    let accounts = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(["--config", cfg, "accounts"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, list) = accounts(&["list"]);
    assert_eq!(code, Some(0), "{list}");
    assert!(
        list.contains(&id)
            && list.contains("Шевченко Тарас Григорович")
            && list.contains("[active]"),
        "{list}"
    );
    let (code, out) = accounts(&["block", &id, "--reason", "рішення суду"]);
    assert_eq!(code, Some(0), "{out}");
    // This node may serve the session from memory for session.cache_ttl (1 s here), no longer.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = http
        .get(format!("{base}/auth/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "blocking ended the live session within cache_ttl"
    );
    let (_, shown) = accounts(&["show", &id]);
    assert!(
        shown.contains("blocked: рішення суду") && shown.contains("role     citizen"),
        "{shown}"
    );
    assert_eq!(accounts(&["unblock", &id]).0, Some(0));
    let (code, out) = accounts(&["show", "no-such-account"]);
    assert_eq!(code, Some(1));
    assert!(out.contains("no account no-such-account"), "{out}");
    // SIGTERM: a graceful stop, exit status 0.
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "serve stopped on SIGTERM with {status}");

    // One JSON object per log line; one line per request with the request id and the account
    // id when there is one, and no personal data.
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let requests: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert!(requests.len() >= 4, "{logs}");
    assert!(requests
        .iter()
        .all(|r| r["request_id"].as_str().is_some_and(|i| i.len() >= 16) && r["status"].is_u64()));
    assert!(
        requests
            .iter()
            .any(|r| r["path"] == "/auth/me" && r["account"] == id.as_str()),
        "{logs}"
    );
    for personal in ["Шевченко", "Тарас", "2834567895", "3312345678"] {
        assert!(!logs.contains(personal), "{personal} in the logs: {logs}");
    }
}

/// The certificate `openssl s_client` is served (its subject line).
fn served_subject(port: u16) -> String {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with("subject="))
        .unwrap_or("")
        .to_string()
}

#[test]
fn sighup_reloads_the_tls_certificate() {
    let p = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = common::tls_files(dir.path(), "before");
    let config = dir.path().join("gateway.toml");
    std::fs::write(&config, format!(
        "listen = \"127.0.0.1:0\"\npublic_origin = \"{ORIGIN}\"\nbackend = \"http://127.0.0.1:9\"\ndatabase = \"sqlite://{}\"\n[trust]\nanchors = [\"{}\"]\n[revocation]\nmode = \"off\"\n[admin]\nlisten = \"\"\n[tls]\ncert = \"before.pem\"\nkey = \"before.key\"\nreload_interval = 3600\n",
        dir.path().join("brama.db").display(), p.dir.join("root.pem").display())).unwrap();
    let mut child = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("https://127.0.0.1:"), "{line}");
    let port: u16 = line
        .split(':')
        .nth(2)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    assert!(
        served_subject(port).contains("before"),
        "{}",
        served_subject(port)
    );
    let (new_cert, new_key) = common::tls_files(dir.path(), "after");
    std::fs::copy(new_key, &key).unwrap();
    std::fs::copy(new_cert, &cert).unwrap();
    // Files changed, but checks are hourly here: only the signal reloads now.
    assert!(served_subject(port).contains("before"));
    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let mut subject = String::new();
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        subject = served_subject(port);
        if subject.contains("after") {
            break;
        }
    }
    assert!(subject.contains("after"), "{subject}");
    let _ = child.kill();
    let _ = child.wait();
}
