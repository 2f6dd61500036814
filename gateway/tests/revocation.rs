//! Step 7 against real parts: an `openssl ocsp` responder over the dev PKI's `index.txt`, and
//! the dev PKI's CRL and delta CRL served over HTTP. Freshness is tested with an injected
//! clock (the checker takes `now`), never by sleeping.

use brama_testkit::gateway as common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use certs::devpki::{self, crl::Publish};
use common::{challenge, client, echo_backend, login, set_cookie, ORIGIN};
use gateway::config::Config;
use gateway::revocation::{Checker, Verdict};
use gateway::server::{self, Running};
use openssl::x509::X509;
use serde_json::Value;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A dev PKI whose certificates name this test's responder and CRL server.
struct Pki {
    pki: common::Pki,
    dir: PathBuf,
    ocsp_port: u16,
    crl_port: u16,
}

fn revocation_pki() -> Pki {
    let (ocsp_port, crl_port) = (free_port(), free_port());
    let pki = common::Pki::with(|o| {
        o.ocsp_url = format!("http://127.0.0.1:{ocsp_port}/");
        o.crl_url = format!("http://127.0.0.1:{crl_port}/ica.crl");
    });
    Pki {
        dir: pki.dir.clone(),
        pki,
        ocsp_port,
        crl_port,
    }
}

impl Pki {
    fn common(&self) -> &common::Pki {
        &self.pki
    }
}

/// `openssl ocsp` answering from index.txt; its stdout (with `-text`) counts the requests.
struct Responder {
    child: Child,
    log: PathBuf,
}

impl Responder {
    fn start(dir: &Path, port: u16, signer: (&str, &str), extra: &[&str]) -> Responder {
        let log = dir.join(format!("ocsp-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        // Line-buffered, so each request shows in the log as it is answered.
        let mut child = Command::new("stdbuf")
            .current_dir(dir)
            .args([
                "-oL",
                "openssl",
                "ocsp",
                "-index",
                "index.txt",
                "-CA",
                "ica.pem",
                "-rsigner",
                signer.0,
                "-rkey",
                signer.1,
            ])
            .args(["-port", &port.to_string(), "-text"])
            .args(extra)
            .stdout(out)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Ready once it says it is waiting. (Not probed with a bare connection: `openssl ocsp`
        // then hangs on that connection and answers nobody.)
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        while !seen.contains("waiting for OCSP client connections") {
            let mut line = String::new();
            if err.read_line(&mut line).unwrap() == 0 {
                panic!("openssl ocsp stopped: {seen}");
            }
            seen.push_str(&line);
        }
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        Responder { child, log }
    }

    /// Requests the responder logged, once the count has been still for 300 ms.
    fn requests(&self) -> usize {
        let count = || {
            std::fs::read_to_string(&self.log)
                .unwrap_or_default()
                .matches("OCSP Request Data:")
                .count()
        };
        let mut last = count();
        for _ in 0..10 {
            std::thread::sleep(std::time::Duration::from_millis(300));
            let now = count();
            if now == last {
                break;
            }
            last = now;
        }
        last
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The PKI's `crl.der` and `delta.der` over HTTP, counting requests.
async fn crl_server(dir: PathBuf, port: u16) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (dir, c) = (dir.clone(), c.clone());
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            let file = match uri.path() {
                "/ica.crl" => "crl.der",
                "/ica-delta.crl" => "delta.der",
                _ => return Err(axum::http::StatusCode::NOT_FOUND),
            };
            std::fs::read(dir.join(file)).map_err(|_| axum::http::StatusCode::NOT_FOUND)
        }
    });
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    count
}

async fn gateway(p: &Pki, revocation: &str) -> (tempfile::TempDir, Running) {
    let trust = format!(
        "anchors = [\"{}\"]\nintermediates = [\"{}\"]",
        p.dir.join("root.pem").display(),
        p.dir.join("ica.pem").display(),
    );
    gateway_trusting(&trust, revocation).await
}

async fn gateway_trusting(trust: &str, revocation: &str) -> (tempfile::TempDir, Running) {
    let backend = echo_backend().await;
    let db = tempfile::tempdir().unwrap();
    let toml = format!(
        "listen = \"127.0.0.1:0\"\npublic_origin = \"{ORIGIN}\"\nbackend = \"http://{backend}\"\ndatabase = \"sqlite://{}\"\n[trust]\n{trust}\n[admin]\nlisten = \"127.0.0.1:0\"\n[limits]\ncertificate_per_minute = 0\n[revocation]\n{revocation}\n",
        db.path().join("brama.db").display(),
    );
    let file = db.path().join("gateway.toml");
    std::fs::write(&file, toml).unwrap();
    let config = Config::load(Some(&file)).unwrap();
    (db, server::start(config, None).await.unwrap())
}

/// Sign in as `name`; the status and the JSON answer.
async fn sign_in(g: &Running, p: &Pki, name: &str) -> (u16, Value) {
    let base = format!("http://127.0.0.1:{}", g.port);
    let http = client();
    let c = challenge(&http, &base, "/").await;
    let r = login(&http, &base, p.common(), name, &c).await;
    let status = r.status().as_u16();
    if status == 200 {
        assert!(set_cookie(&r, "__Host-brama-session").is_some());
    }
    (status, r.json().await.unwrap())
}

fn cert(p: &Pki, name: &str) -> X509 {
    X509::from_pem(&std::fs::read(p.dir.join(format!("{name}.pem"))).unwrap()).unwrap()
}

/// The details of the recent audit records with `outcome`, joined.
async fn audit(g: &Running, outcome: &str) -> String {
    let records = g.gateway.store.recent_audit(50).await.unwrap();
    records
        .into_iter()
        .filter(|r| r.outcome == outcome)
        .map(|r| r.detail.unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocsp_from_the_aia_good_revoked_and_cached() {
    let p = revocation_pki();
    let responder = Responder::start(
        &p.dir,
        p.ocsp_port,
        ("ocsp.pem", "ocsp.key"),
        &["-nmin", "5"],
    );
    let (_db, g) = gateway(&p, "crl = false").await;

    let (status, body) = sign_in(&g, &p, "citizen-p256").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(responder.requests(), 1);
    // The good answer is cached until its nextUpdate: the second login asks nobody.
    let (status, _) = sign_in(&g, &p, "citizen-p256").await;
    assert_eq!(status, 200);
    assert_eq!(
        responder.requests(),
        1,
        "the second login sent no OCSP request"
    );

    let (status, body) = sign_in(&g, &p, "revoked").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "certificate_revoked");
    let detail = audit(&g, "certificate_revoked").await;
    assert!(
        detail.contains("keyCompromise") && detail.contains("since 20"),
        "{detail}"
    );

    // Revoked while the gateway runs (brama-certs revoke): index.txt and the CRLs change together.
    devpki::crl::revoke(
        &p.dir,
        &hex(&p, "citizen-p384"),
        1,
        Publish::Base,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    // `openssl ocsp` 3.0 reads index.txt once: the responder restarts on the new one.
    drop(responder);
    let responder = Responder::start(
        &p.dir,
        p.ocsp_port,
        ("ocsp.pem", "ocsp.key"),
        &["-nmin", "5"],
    );
    let (status, body) = sign_in(&g, &p, "citizen-p384").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("certificate_revoked"))
    );
    assert_eq!(responder.requests(), 1);
    g.stop().await;
}

fn hex(p: &Pki, name: &str) -> Vec<u8> {
    hex::decode(&p.pki.manifest.certificate(name).unwrap().serial).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responder_down_fail_closed_refuses_soft_fail_accepts_with_a_record() {
    let p = revocation_pki();
    // Nobody answers on the OCSP port, and CRLs are not used.
    let (_db, g) = gateway(&p, "crl = false").await;
    let (status, body) = sign_in(&g, &p, "citizen-p256").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "revocation_unavailable");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("could not be checked"));
    g.stop().await;

    let (_db, g) = gateway(&p, "mode = \"soft-fail\"\ncrl = false").await;
    let (status, body) = sign_in(&g, &p, "citizen-p256").await;
    assert_eq!(status, 200, "{body}");
    let why = audit(&g, "revocation_soft_fail").await;
    assert!(why.contains("OCSP"), "{why}");
    let metrics = client()
        .get(format!(
            "http://127.0.0.1:{}/metrics",
            g.admin_port.unwrap()
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("brama_revocation_soft_fail_total 1"),
        "{metrics}"
    );
    g.stop().await;

    // With CRLs on, a responder that is down falls back to the CRL.
    let _crls = crl_server(p.dir.clone(), p.crl_port).await;
    let (_db, g) = gateway(&p, "").await;
    assert_eq!(sign_in(&g, &p, "citizen-p256").await.0, 200);
    let (status, body) = sign_in(&g, &p, "revoked").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("certificate_revoked"))
    );
    g.stop().await;
}

fn checker(p: &Pki, revocation: &str) -> Checker {
    let db = tempfile::tempdir().unwrap();
    let toml = format!(
        "public_origin = \"{ORIGIN}\"\nbackend = \"http://127.0.0.1:9\"\n[trust]\nanchors = [\"{}\"]\nintermediates = [\"{}\"]\n[revocation]\n{revocation}\n",
        p.dir.join("root.pem").display(),
        p.dir.join("ica.pem").display(),
    );
    let file = db.path().join("gateway.toml");
    std::fs::write(&file, toml).unwrap();
    let config = Config::load(Some(&file)).unwrap();
    Checker::new(config.revocation_settings(None).unwrap()).unwrap()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrelated_signers_and_stale_answers_are_refused() {
    let p = revocation_pki();
    let (leaf, ica) = (cert(&p, "citizen-p256"), cert(&p, "ica"));

    // An answer signed by a key nobody trusts.
    let out = Command::new("openssl")
        .current_dir(&p.dir)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "rogue.key",
            "-out",
            "rogue.pem",
            "-subj",
            "/CN=Rogue OCSP",
            "-days",
            "1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    {
        let _rogue = Responder::start(
            &p.dir,
            p.ocsp_port,
            ("rogue.pem", "rogue.key"),
            &["-nmin", "5"],
        );
        let c = checker(&p, "crl = false");
        match c.check(&leaf, &ica, now()).await {
            Verdict::Unavailable(why) => {
                assert!(why.contains("signature does not verify"), "{why}")
            }
            v => panic!("{v:?}"),
        }
        // The same signer pinned for this issuer (`issuer.responder`) is trusted.
        let pinned = format!(
            "crl = false\n[[revocation.issuer]]\nca = \"{}\"\nresponder = \"{}\"\n",
            p.dir.join("ica.pem").display(),
            p.dir.join("rogue.pem").display()
        );
        assert_eq!(
            checker(&p, &pinned).check(&leaf, &ica, now()).await,
            Verdict::Good { source: "ocsp" }
        );
        // And through the gateway: refused.
        let (_db, g) = gateway(&p, "crl = false").await;
        let (status, body) = sign_in(&g, &p, "citizen-p256").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (503, Some("revocation_unavailable"))
        );
        g.stop().await;
    }

    // A proper responder with nextUpdate in 5 minutes: good now, stale ten minutes from now.
    {
        let _r = Responder::start(
            &p.dir,
            p.ocsp_port,
            ("ocsp.pem", "ocsp.key"),
            &["-nmin", "5"],
        );
        let c = checker(&p, "crl = false");
        assert_eq!(
            c.check(&leaf, &ica, now()).await,
            Verdict::Good { source: "ocsp" }
        );
        // A serial the responder does not know is never good. (`openssl ocsp` 3.0 signs such
        // an answer in a way OCSP_basic_verify refuses, so this lands as unavailable; the
        // UNKNOWN branch maps to revoked in `Checker::ocsp`.)
        let v = c.check(&cert(&p, "untrusted"), &ica, now()).await;
        assert!(!matches!(v, Verdict::Good { .. }), "{v:?}");
        match checker(&p, "crl = false")
            .check(&leaf, &ica, now() + 600)
            .await
        {
            Verdict::Unavailable(why) => assert!(
                why.contains("nextUpdate") && why.contains("has passed"),
                "{why}"
            ),
            v => panic!("{v:?}"),
        }
        // An answer from 10 minutes "ago" is also too far in the future for a clock 10
        // minutes behind.
        match checker(&p, "crl = false")
            .check(&leaf, &ica, now() - 600)
            .await
        {
            Verdict::Unavailable(why) => assert!(why.contains("in the future"), "{why}"),
            v => panic!("{v:?}"),
        }
    }
    // Without nextUpdate (no -nmin): good for max_age_without_next_update (300 s) only.
    {
        let _r = Responder::start(&p.dir, p.ocsp_port, ("ocsp.pem", "ocsp.key"), &[]);
        let c = checker(&p, "crl = false");
        assert_eq!(
            c.check(&leaf, &ica, now()).await,
            Verdict::Good { source: "ocsp" }
        );
        match checker(&p, "crl = false")
            .check(&leaf, &ica, now() + 400)
            .await
        {
            Verdict::Unavailable(why) => assert!(why.contains("no nextUpdate"), "{why}"),
            v => panic!("{v:?}"),
        }
        // The cached good answer expires with it too: at +400 s the cache is not used.
        assert!(matches!(
            c.check(&leaf, &ica, now() + 400).await,
            Verdict::Unavailable(_)
        ));
        assert_eq!(
            checker(&p, "crl = false\nmax_age_without_next_update = 600")
                .check(&leaf, &ica, now() + 400)
                .await,
            Verdict::Good { source: "ocsp" }
        );
    }
    // Concurrent checks of one certificate share one request.
    {
        let r = Responder::start(
            &p.dir,
            p.ocsp_port,
            ("ocsp.pem", "ocsp.key"),
            &["-nmin", "5"],
        );
        let c = Arc::new(checker(&p, "crl = false"));
        let at = now();
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (c, leaf, ica) = (c.clone(), leaf.clone(), ica.clone());
                tokio::spawn(async move { c.check(&leaf, &ica, at).await })
            })
            .collect();
        for t in tasks {
            // Good, from the shared request or (if it finished first) from the cache.
            let v = t.await.unwrap();
            assert!(matches!(v, Verdict::Good { .. }), "{v:?}");
        }
        assert_eq!(r.requests(), 1, "ten concurrent checks, one OCSP request");
        assert_eq!(c.ocsp_requests.load(Ordering::Relaxed), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crl_only_issuer_with_a_delta_crl() {
    let p = revocation_pki();
    // citizen-p384 is revoked after the base CRL: only the delta (FreshestCRL) lists it.
    devpki::crl::revoke(
        &p.dir,
        &hex(&p, "citizen-p384"),
        4,
        Publish::Delta,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let base = std::fs::read(p.dir.join("crl.der")).unwrap();
    let serial = hex(&p, "citizen-p384");
    assert!(
        !base.windows(serial.len()).any(|w| w == serial.as_slice()),
        "not in the base CRL"
    );
    let fetched = crl_server(p.dir.clone(), p.crl_port).await;
    // This issuer has no OCSP: CRLs from the certificates' distribution points only.
    let rule = format!(
        "[[revocation.issuer]]\nca = \"{}\"\nocsp_url = \"\"\n",
        p.dir.join("ica.pem").display()
    );
    let (_db, g) = gateway(&p, &rule).await;

    let (status, body) = sign_in(&g, &p, "citizen-p256").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = sign_in(&g, &p, "revoked").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("certificate_revoked")),
        "{body}"
    );
    let (status, body) = sign_in(&g, &p, "citizen-p384").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("certificate_revoked")),
        "{body}"
    );
    let detail = audit(&g, "certificate_revoked").await;
    assert!(
        detail.contains("superseded") && detail.contains("delta-crl"),
        "{detail}"
    );
    // Parsed once: three logins, one download of each CRL.
    assert_eq!(fetched.load(Ordering::SeqCst), 2);
    assert_eq!(g.gateway.revocation.as_ref().unwrap().crls.stats().0, 2);

    // A CRL that has passed its nextUpdate (clock injected 31 days ahead) is not used.
    let c = checker(&p, &rule);
    let (leaf, ica) = (cert(&p, "citizen-p256"), cert(&p, "ica"));
    assert_eq!(
        c.check(&leaf, &ica, now()).await,
        Verdict::Good { source: "crl" }
    );
    match checker(&p, &rule)
        .check(&leaf, &ica, now() + 31 * 86400)
        .await
    {
        Verdict::Unavailable(why) => assert!(why.contains("stale CRL"), "{why}"),
        v => panic!("{v:?}"),
    }
    g.stop().await;
}

/// A DSTU CA's CRL, signed with DSTU 4145, read by the same checker: the revoked DSTU citizen
/// is revoked, the other is good, a CRL signed by another CA is not used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dstu_signed_crl_revokes_a_dstu_certificate() {
    let p = revocation_pki();
    let rule = |crl: &str| {
        format!(
            "[[revocation.issuer]]\nca = \"{}\"\nocsp_url = \"\"\ncrls = [\"{}\"]\n",
            p.dir.join("dstu/dstu-ca.pem").display(),
            p.dir.join(crl).display()
        )
    };
    let c = checker(&p, &rule("dstu/dstu-ca.crl"));
    let ca = cert(&p, "dstu/dstu-ca");
    assert_eq!(
        c.check(&cert(&p, "dstu/dstu-citizen"), &ca, now()).await,
        Verdict::Good { source: "crl" }
    );
    match c.check(&cert(&p, "dstu/dstu-revoked"), &ca, now()).await {
        Verdict::Revoked { reason, .. } => assert_eq!(reason, "keyCompromise"),
        v => panic!("{v:?}"),
    }
    // Over HTTP, fail-closed: the revoked DSTU citizen gets the ECDSA twin's status and code.
    good_and_revoked_over_http(&p, &rule("dstu/dstu-ca.crl")).await;
    // The ECDSA CA's CRL offered for the DSTU CA: its signature is not the DSTU CA's.
    match checker(&p, &rule("crl.der"))
        .check(&cert(&p, "dstu/dstu-citizen"), &ca, now())
        .await
    {
        Verdict::Unavailable(why) => assert!(why.contains("CRL"), "{why}"),
        v => panic!("{v:?}"),
    }
}

/// OCSP answers signed with DSTU 4145 by the DSTU CA's delegated responder (the test's
/// responder, `brama_testkit::ocsp`: `openssl ocsp` cannot sign with DSTU): good and revoked
/// read like ECDSA ones; an answer signed by another key or without our nonce is not used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dstu_signed_ocsp_answers_good_revoked_and_forged() {
    use brama_testkit::ocsp::{serve_dstu, Behaviour};
    let p = revocation_pki();
    let ca = cert(&p, "dstu/dstu-ca");
    let rule = |url: &str| {
        format!(
            "crl = false\n[[revocation.issuer]]\nca = \"{}\"\nocsp_url = \"{url}\"\n",
            p.dir.join("dstu/dstu-ca.pem").display(),
        )
    };
    let honest = serve_dstu(&p.dir, &p.pki.manifest, Behaviour::Honest).await;
    let c = checker(&p, &rule(&honest));
    assert_eq!(
        c.check(&cert(&p, "dstu/dstu-citizen"), &ca, now()).await,
        Verdict::Good { source: "ocsp" }
    );
    match c.check(&cert(&p, "dstu/dstu-revoked"), &ca, now()).await {
        Verdict::Revoked { .. } => {}
        v => panic!("{v:?}"),
    }
    for (behaviour, why) in [
        (Behaviour::WrongSigner, "delegated"),
        (Behaviour::NoNonce, "nonce"),
    ] {
        let url = serve_dstu(&p.dir, &p.pki.manifest, behaviour).await;
        match checker(&p, &rule(&url))
            .check(&cert(&p, "dstu/dstu-citizen"), &ca, now())
            .await
        {
            Verdict::Unavailable(m) => assert!(m.contains(why), "{behaviour:?}: {m}"),
            v => panic!("{behaviour:?}: {v:?}"),
        }
    }
    // Over HTTP, fail-closed: good signs in, revoked gets certificate_revoked, a forged
    // answer gets revocation_unavailable.
    good_and_revoked_over_http(&p, &rule(&honest)).await;
    let forged = serve_dstu(&p.dir, &p.pki.manifest, Behaviour::WrongSigner).await;
    let (_db, g) = gateway_trusting(&dstu_trust(&p), &rule(&forged)).await;
    let (status, body) = sign_in(&g, &p, "dstu-citizen").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("revocation_unavailable")),
        "{body}"
    );
    g.stop().await;
}

/// `[trust]` of a gateway that trusts the dev PKI's DSTU root and CA.
fn dstu_trust(p: &Pki) -> String {
    format!(
        "anchors = [\"{}\"]\nintermediates = [\"{}\"]",
        p.dir.join("dstu/dstu-root.pem").display(),
        p.dir.join("dstu/dstu-ca.pem").display(),
    )
}

/// A DSTU gateway with `revocation`, fail-closed: the DSTU citizen signs in, the revoked one
/// gets `certificate_revoked`.
async fn good_and_revoked_over_http(p: &Pki, revocation: &str) {
    let (_db, g) = gateway_trusting(&dstu_trust(p), revocation).await;
    let (status, body) = sign_in(&g, p, "dstu-citizen").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = sign_in(&g, p, "dstu-revoked").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("certificate_revoked")),
        "{body}"
    );
    g.stop().await;
}
