//! The `brama-agent` binary: serve (log without secrets, another OS user refused) and the
//! management commands.
#![allow(unsafe_code)] // libc::getuid: root cannot be refused by file permissions

use brama_testkit::agent as common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use certs::devpki::{self, Options};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_brama-agent");
const PAGE: &str = "https://cabinet.example";

fn agent_cmd(data: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("BRAMA_AGENT_DATA_DIR", data)
        .env("BRAMA_AGENT_HTTPS_PORT", "0")
        .env("BRAMA_AGENT_REMOVABLE_MEDIA", "false")
        .env("BRAMA_AGENT_APPROVAL_DELAY_MS", "0");
    c
}

#[tokio::test]
async fn serve_logs_requests_but_never_secrets_and_refuses_other_users() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    let m = devpki::init(&Options::new(&pki)).unwrap();
    let keys = tmp.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    std::fs::copy(pki.join("citizen-p256.p12"), keys.join("citizen-p256.p12")).unwrap();
    let password = m.certificate("citizen-p256").unwrap().password.clone();
    let log = tmp.path().join("agent.log");

    let mut child = agent_cmd(&tmp.path().join("data"))
        .args(["serve", "--port", "0", "--containers"])
        .arg(&keys)
        .env("BRAMA_AGENT_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{line}"));
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    // Approve the origin and sign in, typing the password on the agent's page.
    let r = brama_testkit::agent::get_as_page(&http, &base, "/v1/containers").await;
    let approve = |url: String, password: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            common::answer(&http, &url, &base, "approve", &password, false)
                .await
                .0
        }
    };
    approve(r["approve_url"].as_str().unwrap().into(), String::new()).await;
    let list: Value = http
        .get(format!("{base}/v1/containers"))
        .header("origin", PAGE)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let container = list["containers"][0]["id"].as_str().unwrap().to_string();
    let r: Value = http
        .post(format!("{base}/v1/authenticate"))
        .header("origin", PAGE)
        .json(&json!({"container": container, "challenge": "c1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        approve(
            r["approve_url"].as_str().unwrap().into(),
            "wrong-password-123".into()
        )
        .await,
        401
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        approve(r["approve_url"].as_str().unwrap().into(), password.clone()).await,
        200
    );

    // Another OS user on the same machine cannot use the agent (needs root to switch user).
    let is_root = unsafe { libc::getuid() } == 0;
    if is_root && Path::new("/usr/sbin/runuser").exists() && Path::new("/usr/bin/curl").exists() {
        let curl = |user: Option<&str>| {
            let mut c = match user {
                Some(u) => {
                    let mut c = Command::new("runuser");
                    c.args(["-u", u, "--", "curl"]);
                    c
                }
                None => Command::new("curl"),
            };
            String::from_utf8(
                c.args(["-s", &format!("{base}/v1/info")])
                    .output()
                    .unwrap()
                    .stdout,
            )
            .unwrap()
        };
        assert!(
            curl(None).contains("brama-agent"),
            "control: same user is served"
        );
        let foreign = curl(Some("nobody"));
        assert!(
            foreign.contains("foreign_user"),
            "another user was served: {foreign}"
        );
    } else {
        eprintln!("skipped the other-user check: needs root, runuser and curl");
    }

    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("/v1/authenticate"),
        "request lines are logged: {text}"
    );
    for secret in [password.as_str(), "wrong-password-123", "PRIVATE KEY"] {
        assert!(!text.contains(secret), "the log holds a secret ({secret})");
    }
}

#[test]
fn management_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    let m = devpki::init(&Options::new(&pki)).unwrap();
    let data = tmp.path().join("data");
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = agent_cmd(&data)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let p12 = pki.join("citizen-rsa2048.p12");
    let p12 = p12.to_str().unwrap();
    let password = &m.certificate("citizen-rsa2048").unwrap().password;

    let (code, out) = run(&["import", p12], Some("wrong\n"));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("the password does not open"), "{out}");
    assert!(
        !data.join("containers/citizen-rsa2048.p12").exists(),
        "a failed import copied the file"
    );
    let (code, out) = run(&["import", p12], Some(&format!("{password}\n")));
    assert_eq!(code, Some(0), "{out}");
    assert!(data.join("containers/citizen-rsa2048.p12").exists());
    let (code, out) = run(&["import", p12], Some(&format!("{password}\n")));
    assert_eq!(code, Some(1));
    assert!(out.contains("already exists"), "{out}");

    let (code, out) = run(&["containers", "--json"], None);
    assert_eq!(code, Some(0), "{out}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["label"], "citizen-rsa2048");
    assert_eq!(list[0]["medium"], "agent");
    assert_eq!(list[0]["certificates"][0]["identity"]["surname"], "Косач");

    assert_eq!(run(&["origins", "allow", PAGE], None).0, Some(0));
    assert!(run(&["origins", "list"], None).1.contains(PAGE));
    let (code, out) = run(&["origins", "allow", "https://Evil.example/path"], None);
    assert_eq!(code, Some(1));
    assert!(out.contains("is not an origin"), "{out}");
    assert_eq!(run(&["origins", "revoke", PAGE], None).0, Some(0));
    assert!(!run(&["origins", "list"], None).1.contains(PAGE));
    assert_eq!(run(&["origins", "revoke", PAGE], None).0, Some(1));

    // trust --print: the exact commands, with the CA it made.
    let (code, out) = run(&["trust", "--print"], None);
    assert_eq!(code, Some(0), "{out}");
    let ca = data.join("tls/ca.pem");
    assert!(ca.exists());
    assert!(
        out.contains(&format!(
            "cp {} /usr/local/share/ca-certificates/brama-agent.crt",
            ca.display()
        )),
        "{out}"
    );
    assert!(out.contains("update-ca-certificates"), "{out}");
    assert!(
        out.contains("certutil -d sql:") && out.contains("'Brama agent local CA'"),
        "{out}"
    );

    // Configuration errors name the problem and exit with 2.
    let (code, out) = run(&["--config", "/nonexistent.toml", "containers"], None);
    assert_eq!(code, Some(2));
    assert!(out.contains("/nonexistent.toml does not exist"), "{out}");
    let out = agent_cmd(&data)
        .env("BRAMA_AGENT_PORT", "many")
        .args(["containers"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PORT") && err.contains("BRAMA_AGENT_"),
        "{err}"
    );
}
