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
/// `http` is made before the clock starts: building a client loads the system's trust store,
/// which took longer than a hundred first logins and is no part of the gateway's work.
async fn post_all(
    http: &reqwest::Client,
    base: &str,
    logins: Vec<(String, String)>,
    concurrency: usize,
) {
    let queue = Arc::new(Mutex::new(logins));
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

/// Logins per second of `count` fresh logins by `signers` in turn, `connections` at a time.
/// Every signer signs in once first (its account registered, its revocation answer cached), so
/// the measured logins are the steady state of returning citizens; the challenges are fetched
/// and signed before the clock starts, so only the gateway's work is timed. The warm-up goes one
/// at a time: `openssl ocsp` serves one connection at a time.
async fn logins_per_sec(base: &str, signers: &[Signer], count: usize, connections: u32) -> f64 {
    let http = reqwest::Client::new();
    let mut warm = Vec::new();
    for s in signers {
        let c = gateway::challenge(&http, base).await;
        warm.push((c.cookie, s.sign_login(&c.challenge)));
    }
    post_all(&http, base, warm, 1).await;
    let mut logins = Vec::with_capacity(count);
    for i in 0..count {
        let c = gateway::challenge(&http, base).await;
        logins.push((
            c.cookie,
            signers[i % signers.len()].sign_login(&c.challenge),
        ));
    }
    let started = Instant::now();
    post_all(&http, base, logins, connections as usize).await;
    count as f64 / started.elapsed().as_secs_f64()
}

/// A one-worker gateway with revocation fail-closed, its folder `dir`, and its base URL.
/// The backend is never reached by a login; any closed port will do.
fn login_gateway(
    plan: &Plan,
    pki: &std::path::Path,
    dir: &std::path::Path,
    database: Option<&str>,
    extra: &str,
) -> (Proc, String) {
    std::fs::create_dir_all(dir).expect("folder");
    let (g, port) = gateway::start(&gateway::Setup {
        revocation: "fail-closed",
        database,
        extra,
        ..gateway::Setup::new(
            &plan.bin_dir,
            dir,
            pki,
            tools::free_port(),
            1,
            &plan.proxy_cpu,
        )
    });
    (g, format!("http://127.0.0.1:{port}"))
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

    let (_g, base) = login_gateway(plan, &pki, &tmp.path().join("gateway"), None, "");
    let signers: Vec<Signer> = (1..=plan.certificates)
        .map(|i| Signer::open(&pki, &manifest, &format!("bulk-{i:04}")))
        .collect();

    let per_sec = logins_per_sec(&base, &signers, plan.logins, plan.connections).await;

    let verify = tools::openssl_verify_per_sec(&plan.proxy_cpu, plan.openssl_seconds);
    let ceiling = verify / 2.0;
    report.push(Row {
        scenario: format!(
            "login verification: {} logins, {} P-256 certificates, OCSP cache warm, 1 worker on CPU {}",
            plan.logins, plan.certificates, plan.proxy_cpu
        ),
        figure: format!("{per_sec:.0} logins/s"),
        ratio: format!(
            "{:.2} of the two-verify ceiling ({ceiling:.0}/s = openssl speed {verify:.0} verify/s ÷ 2; bar 0.35, goal 0.7)",
            per_sec / ceiling
        ),
    });
    // The same on PostgreSQL (a database made for this run), against the SQLite figure.
    let scenario = format!(
        "login verification on PostgreSQL: {} logins, OCSP cache warm, 1 worker on CPU {}",
        plan.logins, plan.proxy_cpu
    );
    match tools::Postgres::create() {
        Some(db) => {
            let dir = tmp.path().join("gateway-postgres");
            let (g, base) = login_gateway(plan, &pki, &dir, Some(&db.url), "");
            let on_postgres = logins_per_sec(&base, &signers, plan.logins, plan.connections).await;
            drop(g);
            report.push(Row {
                scenario,
                figure: format!("{on_postgres:.0} logins/s"),
                ratio: format!(
                    "{:.2} of the same on SQLite ({per_sec:.0}/s; goal ≥ 0.8); {:.2} of the ceiling",
                    on_postgres / per_sec,
                    on_postgres / ceiling
                ),
            });
        }
        None => report.push(Row {
            scenario,
            figure: "not run".into(),
            ratio: format!("no PostgreSQL at {}", tools::Postgres::SERVER),
        }),
    }
    first_logins(plan, report, &pki, &manifest, &signers, ceiling, tmp.path()).await;
    dstu(plan, report, &pki, &manifest, tmp.path()).await;
}

/// Rounds of the first-login row.
const FIRST_LOGIN_ROUNDS: usize = 3;

/// First logins: every signer registers its account, on a gateway with an empty database.
/// Revocation is fail-closed from the CA's CRL (a file, read once) rather than OCSP: a first
/// login has no cached OCSP answer, and `openssl ocsp` answers one connection at a time, so
/// with OCSP this row would time the responder instead of the gateway.
async fn first_logins(
    plan: &Plan,
    report: &mut Report,
    pki: &std::path::Path,
    manifest: &certs::devpki::Manifest,
    signers: &[Signer],
    ceiling: f64,
    tmp: &std::path::Path,
) {
    let extra = format!(
        "[[revocation.issuer]]\nca = \"{ica}\"\nocsp_url = \"\"\ncrls = [\"{crl}\"]\n",
        ica = pki.join("ica.pem").display(),
        crl = pki.join("crl.der").display(),
    );
    // Three rounds, each on a new gateway with an empty database and nothing remembered:
    // two hundred logins alone last a fifth of a second, too short to time steadily.
    let warm = Signer::open(pki, manifest, "citizen-p256");
    let (mut logged_in, mut took) = (0usize, 0f64);
    for round in 0..FIRST_LOGIN_ROUNDS {
        let dir = tmp.join(format!("gateway-first-{round}"));
        let (g, base) = login_gateway(plan, pki, &dir, None, &extra);
        let http = reqwest::Client::new();
        // One login outside the measured set reads the CRL.
        let c = gateway::challenge(&http, &base).await;
        post_all(
            &http,
            &base,
            vec![(c.cookie, warm.sign_login(&c.challenge))],
            1,
        )
        .await;
        let mut logins = Vec::with_capacity(signers.len());
        for s in signers {
            let c = gateway::challenge(&http, &base).await;
            logins.push((c.cookie, s.sign_login(&c.challenge)));
        }
        let started = Instant::now();
        post_all(&http, &base, logins, plan.connections as usize).await;
        took += started.elapsed().as_secs_f64();
        logged_in += signers.len();
        drop(g);
    }
    let per_sec = logged_in as f64 / took;
    report.push(Row {
        scenario: format!(
            "first logins (each registers an account): {} P-256 certificates on {FIRST_LOGIN_ROUNDS} empty gateways in turn, revocation fail-closed from the CA's CRL, 1 worker on CPU {}",
            signers.len(),
            plan.proxy_cpu
        ),
        figure: format!("{per_sec:.0} logins/s"),
        ratio: format!(
            "{:.2} of the two-verify ceiling ({ceiling:.0}/s; bar 0.2, goal 0.5)",
            per_sec / ceiling
        ),
    });
}

/// DSTU 4145: verifications per second of this process beside `openssl speed ecdsap256` on the
/// same core, then DSTU logins against ECDSA logins on one gateway (revocation off for both:
/// `openssl ocsp` cannot answer for the DSTU CA, and the same setting keeps the pair fair).
async fn dstu(
    plan: &Plan,
    report: &mut Report,
    pki: &std::path::Path,
    manifest: &certs::devpki::Manifest,
    tmp: &std::path::Path,
) {
    use certs::dstu::{ByteOrder, Params, SecretKey};
    // What a login verifies: a signature over ~300 bytes of signed attributes.
    let key = SecretKey::generate(Params::named(6).expect("DSTU-257")).expect("key");
    let public = key.public_key();
    let attributes = vec![0x31u8; 300];
    let signature = key.sign(&attributes, ByteOrder::Little).expect("signature");
    let seconds = plan.openssl_seconds as f64;
    let started = Instant::now();
    let mut verified = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        for _ in 0..50 {
            public
                .verify(&attributes, &signature, ByteOrder::Little)
                .expect("verifies");
        }
        verified += 50;
    }
    let dstu_per_sec = verified as f64 / started.elapsed().as_secs_f64();
    let p256 = tools::openssl_verify_per_sec(&plan.own_cpu, plan.openssl_seconds);
    report.push(Row {
        scenario: format!(
            "DSTU 4145-257 verify (GOST 34.311 over 300 bytes), in process on CPU {}",
            plan.own_cpu
        ),
        figure: format!("{dstu_per_sec:.0} verify/s"),
        ratio: format!(
            "{:.2} of openssl speed ecdsap256 verify ({p256:.0}/s, same CPU); bar 0.25, goal 0.5",
            dstu_per_sec / p256
        ),
    });

    let dir = tmp.join("gateway-dstu");
    std::fs::create_dir_all(&dir).expect("folder");
    let (_g, port) = gateway::start(&gateway::Setup::new(
        &plan.bin_dir,
        &dir,
        pki,
        tools::free_port(),
        1,
        &plan.proxy_cpu,
    ));
    let base = format!("http://127.0.0.1:{port}");
    let rate = |names: &[&str]| {
        let signers: Vec<Signer> = names
            .iter()
            .map(|n| Signer::open(pki, manifest, n))
            .collect();
        let base = base.clone();
        async move { logins_per_sec(&base, &signers, plan.logins / 2, plan.connections).await }
    };
    let dstu_logins = rate(&["dstu-citizen", "dstu-representative"]).await;
    let ecdsa_logins = rate(&["citizen-p256", "representative-p256"]).await;
    report.push(Row {
        scenario: format!(
            "DSTU logins: {} logins by two DSTU-257 citizens (DSTU-431 root, DSTU-257 CA), revocation off, 1 worker on CPU {}",
            plan.logins / 2,
            plan.proxy_cpu
        ),
        figure: format!("{dstu_logins:.0} logins/s"),
        ratio: format!(
            "{:.2} of P-256 logins on the same gateway ({ecdsa_logins:.0}/s)",
            dstu_logins / ecdsa_logins
        ),
    });
}
