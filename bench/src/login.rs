//! Scenario 2, login verification: logins/s through `POST /auth/login` on one gateway worker
//! pinned to one CPU — fresh challenges, distinct P-256 certificates, revocation checked
//! fail-closed against a local `openssl ocsp` responder with its cache warm — against
//! `openssl speed ecdsap256` verify/s on the same CPU in the same run. A login needs two
//! verifications (the CMS signature and the leaf certificate; the CA's is cached), so half
//! the openssl figure is the ceiling.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::gateway::{self, Signer};
use crate::report::{Report, Row};
use crate::tools::{self, Proc};
use crate::Plan;

/// Post every `(cookie, signature)` with `concurrency` clients; panics on the first refusal.
async fn post_all(base: &str, logins: Vec<(String, String)>, concurrency: usize) {
    let queue = Arc::new(Mutex::new(logins));
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (queue, http, base) = (queue.clone(), http.clone(), base.to_string());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().expect("queue").pop();
                let Some((cookie, signature)) = next else {
                    break;
                };
                if let Err(e) = gateway::login(&http, &base, &cookie, &signature).await {
                    panic!("login refused under load: {e}");
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("login client");
    }
}

pub async fn run(plan: &Plan, report: &mut Report) {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let pki = tmp.path().join("pki");
    let ocsp_port = tools::free_port();
    let mut opts = certs::devpki::Options::new(&pki);
    opts.bulk = plan.certificates;
    opts.password = Some("bench".into());
    opts.ocsp_url = format!("http://127.0.0.1:{ocsp_port}/");
    let manifest = certs::devpki::init(&opts).expect("dev PKI");

    // Line-buffered, so its ACCEPT line arrives at once.
    let mut ocsp = Command::new("stdbuf");
    ocsp.current_dir(&pki).args([
        "-oL",
        "openssl",
        "ocsp",
        "-index",
        "index.txt",
        "-CA",
        "ica.pem",
        "-rsigner",
        "ocsp.pem",
        "-rkey",
        "ocsp.key",
        "-nmin",
        "5",
        "-port",
        &ocsp_port.to_string(),
    ]);
    let _responder = Proc::start_until("openssl ocsp", ocsp, "ACCEPT");

    // The backend is never reached by a login; any closed port will do.
    let dir = tmp.path().join("gateway");
    std::fs::create_dir_all(&dir).expect("folder");
    let (_g, port) = gateway::start(&gateway::Setup {
        bin_dir: &plan.bin_dir,
        dir: &dir,
        pki: &pki,
        backend_port: tools::free_port(),
        workers: 1,
        cpus: &plan.proxy_cpu,
        revocation: "fail-closed",
    });
    let base = format!("http://127.0.0.1:{port}");
    let signers: Vec<Signer> = (1..=plan.certificates)
        .map(|i| Signer::open(&pki, &manifest, &format!("bulk-{i:04}")))
        .collect();

    // Warm-up: every certificate signs in once (its account registered, its OCSP answer
    // cached), so the measured logins are the steady state of returning citizens. One at a
    // time: `openssl ocsp` serves one connection at a time.
    let http = reqwest::Client::new();
    let mut warm = Vec::new();
    for s in &signers {
        let c = gateway::challenge(&http, &base).await;
        warm.push((c.cookie, s.sign_login(&c.challenge)));
    }
    post_all(&base, warm, 1).await;

    // Fresh challenges, signed before the clock starts: only the gateway's work is timed.
    let mut logins = Vec::with_capacity(plan.logins);
    for i in 0..plan.logins {
        let c = gateway::challenge(&http, &base).await;
        logins.push((
            c.cookie,
            signers[i % signers.len()].sign_login(&c.challenge),
        ));
    }
    let started = Instant::now();
    post_all(&base, logins, plan.connections as usize).await;
    let per_sec = plan.logins as f64 / started.elapsed().as_secs_f64();

    let verify = tools::openssl_verify_per_sec(&plan.proxy_cpu, plan.openssl_seconds);
    let ceiling = verify / 2.0;
    report.push(Row {
        scenario: format!(
            "login verification: {} logins, {} P-256 certificates, OCSP cache warm, 1 worker on CPU {}",
            plan.logins, plan.certificates, plan.proxy_cpu
        ),
        figure: format!("{per_sec:.0} logins/s"),
        ratio: format!(
            "{:.2} of the two-verify ceiling ({ceiling:.0}/s = openssl speed {verify:.0} verify/s ÷ 2)",
            per_sec / ceiling
        ),
    });
}
