//! Scenario 4, memory: the gateway's resident memory when started, after 100,000 sessions
//! (made in its SQLite database through the gateway's own store, then each used once through
//! the gateway so its session cache holds them all), and after a minute of load.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::gateway::{self, Signer, SESSION_COOKIE};
use crate::report::{Report, Row};
use crate::tools;
use crate::Plan;

/// One request per session cookie through the gateway, `concurrency` at a time.
async fn use_each(base: &str, sessions: Arc<Vec<String>>, concurrency: usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (next, sessions, http) = (next.clone(), sessions.clone(), http.clone());
        let url = format!("{base}/cabinet");
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = sessions.get(i) else { break };
                let r = http
                    .get(&url)
                    .header("cookie", format!("{SESSION_COOKIE}={id}"))
                    .send()
                    .await
                    .expect("request");
                assert_eq!(r.status(), 200, "a created session was not accepted");
                r.bytes().await.expect("body");
            }
        }));
    }
    for t in tasks {
        t.await.expect("client");
    }
}

pub async fn run(plan: &Plan, report: &mut Report) {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let pki = tmp.path().join("pki");
    let manifest = certs::devpki::init(&certs::devpki::Options::new(&pki)).expect("dev PKI");
    let (_backend, backend_port) = crate::forward::start_backend(plan);
    let (g, port) = gateway::start(&gateway::Setup::new(
        &plan.bin_dir,
        tmp.path(),
        &pki,
        backend_port,
        2,
        "0,1",
    ));
    let base = format!("http://127.0.0.1:{port}");
    let signer = Signer::open(&pki, &manifest, "citizen-p256");
    let cookie = gateway::sign_in(&reqwest::Client::new(), &base, &signer).await;
    let started = g.rss_mib();

    let store = ::gateway::store::Store::connect(&format!(
        "sqlite://{}",
        tmp.path().join("brama.db").display()
    ))
    .await
    .expect("the gateway's database");
    let account = store.account_ids().await.expect("accounts")[0].clone();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut sessions = Vec::with_capacity(plan.sessions);
    for _ in 0..plan.sessions {
        sessions.push(
            store
                .create_session(
                    &account,
                    ::gateway::store::Role::Citizen,
                    "",
                    now,
                    8 * 3600,
                    false,
                )
                .await
                .expect("session"),
        );
    }
    use_each(&base, Arc::new(sessions), plan.connections as usize).await;
    let with_sessions = g.rss_mib();

    let url = format!("{base}/cabinet");
    let seconds = plan.memory_load_seconds;
    let conns = plan.connections;
    tokio::task::spawn_blocking(move || tools::wrk(&url, Some(&cookie), seconds, conns))
        .await
        .expect("wrk");
    let after_load = g.rss_mib();
    drop(g);

    report.push(Row {
        scenario: "memory: gateway RSS when started (one session)".into(),
        figure: format!("{started:.1} MiB"),
        ratio: String::new(),
    });
    report.push(Row {
        scenario: format!(
            "memory: gateway RSS with {} sessions, each used once",
            plan.sessions
        ),
        figure: format!("{with_sessions:.1} MiB"),
        ratio: format!(
            "{:.2} KiB per session",
            (with_sessions - started) * 1024.0 / plan.sessions as f64
        ),
    });
    report.push(Row {
        scenario: format!("memory: gateway RSS after {seconds} s more of wrk load"),
        figure: format!("{after_load:.1} MiB"),
        ratio: String::new(),
    });
}
