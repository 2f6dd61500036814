//! Helpers shared by the gateway's integration tests: a dev PKI, the trust policy over it,
//! and signatures made the way the agent makes them.
#![allow(dead_code)]

use std::path::PathBuf;

use certs::cms::{self, Content, Digest, SignRequest};
use certs::devpki::{self, Manifest, Options};
use certs::statement::LoginStatement;
use gateway::verify::chain::{self, KeyUsageRule, Qualified, TrustPolicy};
use openssl::x509::X509;

pub const ORIGIN: &str = "https://cabinet.example";

pub struct Pki {
    pub _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub m: Manifest,
}

pub fn pki() -> Pki {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let m = devpki::init(&Options::new(&dir)).unwrap();
    Pki { _tmp: tmp, dir, m }
}

pub fn policy(p: &Pki) -> TrustPolicy {
    let pem = |f: &str| X509::from_pem(&std::fs::read(p.dir.join(f)).unwrap()).unwrap();
    TrustPolicy {
        anchors: vec![pem("root.pem")],
        intermediates: vec![pem("ica.pem")],
        crls: vec![],
        qualified: Qualified::Required,
        key_usage: KeyUsageRule::Either,
        allowed_eku: chain::default_allowed_eku(),
        policies_allow: vec![],
        policies_deny: vec![],
    }
}

pub fn statement(challenge: &str) -> Vec<u8> {
    LoginStatement::new(
        ORIGIN,
        challenge,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )
    .to_bytes()
}

/// What the agent makes: Brama's builder with the key from the container.
pub fn sign_with(
    p: &Pki,
    name: &str,
    content_type: &str,
    content: Content<'_>,
    tweak: impl FnOnce(&mut SignRequest<'_>),
) -> Vec<u8> {
    let e = p.m.certificate(name).unwrap();
    let opened = certs::load::pkcs12(
        &std::fs::read(p.dir.join(e.pkcs12.as_ref().unwrap())).unwrap(),
        name,
        &e.password,
    )
    .unwrap();
    let mut req = SignRequest {
        content_type,
        content,
        digest: Digest::Sha256,
        certificate: &opened.certificate,
        chain: &[],
        signing_time: time::OffsetDateTime::now_utc(),
        signing_certificate: None,
    };
    tweak(&mut req);
    cms::sign(&req, &opened.key).unwrap()
}

/// A login statement for `origin` and `challenge`, signed as the agent would.
pub fn sign_statement(p: &Pki, name: &str, origin: &str, challenge: &str) -> Vec<u8> {
    let s = LoginStatement::new(
        origin,
        challenge,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )
    .to_bytes();
    sign_with(
        p,
        name,
        certs::statement::CONTENT_TYPE,
        Content::Attached(&s),
        |_| {},
    )
}
