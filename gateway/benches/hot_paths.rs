//! Micro-benchmarks of the gateway's two hot paths, each beside its reference in the same run:
//! - the login verifier (design.md §4 steps 1–5 on a P-256 login) against one raw OpenSSL
//!   ECDSA P-256 verification: a login needs two, so ≈ 2× is the floor;
//! - the session check every forwarded request makes: from the memory cache, and from the
//!   database (`session.cache_ttl = 0`).
//!
//! Run: `cargo bench -p gateway --bench hot_paths`

use brama_testkit::gateway as common;

use std::sync::LazyLock;

use axum::http::HeaderMap;
use certs::cms::Content;
use certs::statement;
use gateway::server::Running;

fn main() {
    divan::main();
}

struct Setup {
    rt: tokio::runtime::Runtime,
    pki: common::Pki,
    login: Vec<u8>,
    /// (gateway, its directory) with the memory cache, and without it.
    cached: (Running, tempfile::TempDir),
    uncached: (Running, tempfile::TempDir),
    headers_cached: HeaderMap,
    headers_uncached: HeaderMap,
}

fn session_headers(cookie: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("cookie", cookie.parse().expect("cookie header"));
    h
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let pki = common::Pki::new();
    let s = common::statement("bench");
    let login = pki.sign_with(
        "citizen-p256",
        statement::CONTENT_TYPE,
        Content::Attached(&s),
        |_| {},
    );
    let (cached, uncached, headers_cached, headers_uncached) = rt.block_on(async {
        let backend = common::echo_backend().await;
        let (dir1, g1) = common::start(&pki, &format!("http://{backend}")).await;
        let (dir2, g2) = common::start_with(
            &pki,
            &format!("http://{backend}"),
            "[session]\ncache_ttl = 0\n",
        )
        .await;
        let (c1, _) = common::sign_in(&g1, &pki, "citizen-p256", "/").await;
        let (c2, _) = common::sign_in(&g2, &pki, "citizen-p256", "/").await;
        (
            (g1, dir1),
            (g2, dir2),
            session_headers(&c1),
            session_headers(&c2),
        )
    });
    Setup {
        rt,
        pki,
        login,
        cached,
        uncached,
        headers_cached,
        headers_uncached,
    }
});

#[divan::bench]
fn openssl_p256_verify_reference(b: divan::Bencher) {
    use openssl::{ec, ecdsa::EcdsaSig, nid::Nid};
    let group = ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
    let key = ec::EcKey::generate(&group).expect("key");
    let digest = openssl::sha::sha256(b"reference");
    let sig = EcdsaSig::sign(&digest, &key).expect("sign");
    let public = ec::EcKey::from_public_key(&group, key.public_key()).expect("public key");
    b.bench(|| sig.verify(&digest, &public).expect("verify"));
}

#[divan::bench]
fn login_verifier_p256(b: divan::Bencher) {
    let s = &*SETUP;
    let verifier = gateway::verify::Verifier::new(s.pki.policy());
    let at = time::OffsetDateTime::now_utc();
    b.bench(|| {
        verifier
            .verify_login(&s.login, at, |_| Ok(()))
            .expect("valid login")
    });
}

#[divan::bench]
fn session_check_from_memory(b: divan::Bencher) {
    let s = &*SETUP;
    let g = &s.cached.0.gateway;
    b.bench(|| {
        s.rt.block_on(g.session(&s.headers_cached))
            .expect("store")
            .expect("a live session")
    });
}

#[divan::bench]
fn session_check_from_the_database(b: divan::Bencher) {
    let s = &*SETUP;
    let g = &s.uncached.0.gateway;
    b.bench(|| {
        s.rt.block_on(g.session(&s.headers_uncached))
            .expect("store")
            .expect("a live session")
    });
}
