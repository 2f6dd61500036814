//! A `brama-gateway` process for a scenario, and signing in to it over HTTP as the login page
//! does: challenge, a login statement signed with a dev-PKI key, login.

use std::path::{Path, PathBuf};

use base64::Engine;
use certs::cms::{self, Content, Digest, SignRequest};
use certs::devpki::Manifest;
use certs::statement::LoginStatement;

use crate::tools::{self, Proc};

pub const ORIGIN: &str = "https://cabinet.example";
pub const SESSION_COOKIE: &str = "__Host-brama-session";

/// How to run one gateway.
pub struct Setup<'a> {
    pub bin_dir: &'a Path,
    /// Its database and config go here.
    pub dir: &'a Path,
    pub pki: &'a Path,
    pub backend_port: u16,
    /// Runtime worker threads.
    pub workers: usize,
    /// `taskset -c` CPU list.
    pub cpus: &'a str,
    /// `off` or `fail-closed`.
    pub revocation: &'a str,
    /// The store: SQLite in `dir` when `None`.
    pub database: Option<&'a str>,
    /// More configuration, appended as it is (TOML tables such as `[[revocation.issuer]]`).
    pub extra: &'a str,
}

impl<'a> Setup<'a> {
    /// Revocation off, SQLite in `dir`, nothing more.
    pub fn new(
        bin_dir: &'a Path,
        dir: &'a Path,
        pki: &'a Path,
        backend_port: u16,
        workers: usize,
        cpus: &'a str,
    ) -> Setup<'a> {
        Setup {
            bin_dir,
            dir,
            pki,
            backend_port,
            workers,
            cpus,
            revocation: "off",
            database: None,
            extra: "",
        }
    }
}

/// Start the gateway and wait for its port.
pub fn start(s: &Setup<'_>) -> (Proc, u16) {
    let port = tools::free_port();
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\npublic_origin = \"{ORIGIN}\"\nbackend = \"http://127.0.0.1:{backend}\"\n\
         database = \"{db}\"\nworkers = {workers}\n\
         [trust]\nanchors = [\"{root}\", \"{dstu_root}\"]\n\
         intermediates = [\"{ica}\", \"{dstu_ca}\", \"{mixed1}\", \"{mixed2}\"]\n\
         [revocation]\nmode = \"{revocation}\"\n[admin]\nlisten = \"\"\n\
         [limits]\nlogin_per_minute = 0\nchallenge_per_minute = 0\ncertificate_per_minute = 0\n{extra}",
        backend = s.backend_port,
        db = s.database.map_or_else(
            || format!("sqlite://{}", s.dir.join("brama.db").display()),
            str::to_string
        ),
        extra = s.extra,
        workers = s.workers,
        root = s.pki.join("root.pem").display(),
        ica = s.pki.join("ica.pem").display(),
        dstu_root = s.pki.join("dstu/dstu-root.pem").display(),
        dstu_ca = s.pki.join("dstu/dstu-ca.pem").display(),
        mixed1 = s.pki.join("dstu/dstu-ca-under-ecdsa-root.pem").display(),
        mixed2 = s.pki.join("dstu/ecdsa-ca-under-dstu-root.pem").display(),
        revocation = s.revocation,
    );
    let file = s.dir.join("gateway.toml");
    std::fs::write(&file, config).expect("gateway config");
    let mut cmd = tools::pinned(s.cpus, &tools::sibling(s.bin_dir, "brama-gateway"));
    cmd.arg("--config")
        .arg(&file)
        .arg("serve")
        .env("BRAMA_LOG", "warn");
    let p = Proc::start("brama-gateway", cmd);
    tools::wait_port(port, "brama-gateway");
    (p, port)
}

/// A dev-PKI key and its certificate, opened once: ECDSA/RSA from its PKCS#12, DSTU 4145
/// from its PKCS#8 file.
pub struct Signer {
    pub certificate: Vec<u8>,
    key: Box<dyn certs::cms::RawSigner + Send + Sync>,
    digest: Digest,
}

impl Signer {
    pub fn open(pki: &Path, manifest: &Manifest, name: &str) -> Signer {
        let e = manifest.certificate(name).expect("dev-PKI entry");
        if e.key.ends_with(".dat") {
            let der = std::fs::read(pki.join(&e.key)).expect("key store");
            return Signer {
                certificate: std::fs::read(pki.join(&e.certificate_der)).expect("certificate"),
                key: Box::new(
                    certs::dstu::SecretKey::from_store(&der, e.password.as_bytes())
                        .expect("DSTU key store"),
                ),
                digest: Digest::Gost34311,
            };
        }
        let file = pki.join(e.pkcs12.as_ref().expect("PKCS#12 file"));
        let opened = certs::load::pkcs12(&std::fs::read(file).expect("PKCS#12"), name, &e.password)
            .expect("PKCS#12 opens");
        Signer {
            certificate: opened.certificate,
            key: Box::new(opened.key),
            digest: Digest::Sha256,
        }
    }

    /// The base64 CMS a login posts: the statement for `challenge`, signed.
    pub fn sign_login(&self, challenge: &str) -> String {
        let now = time::OffsetDateTime::now_utc();
        let statement = LoginStatement::new(ORIGIN, challenge, now.unix_timestamp()).to_bytes();
        let req = SignRequest {
            content_type: certs::statement::CONTENT_TYPE,
            content: Content::Attached(&statement),
            digest: self.digest,
            certificate: &self.certificate,
            chain: &[],
            signing_time: now,
            signing_certificate: None,
        };
        base64::engine::general_purpose::STANDARD
            .encode(cms::sign(&req, self.key.as_ref()).expect("signature"))
    }
}

/// An issued challenge with the login cookie it is bound to.
pub struct Challenge {
    pub challenge: String,
    pub cookie: String,
}

fn first_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(name))
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
}

pub async fn challenge(http: &reqwest::Client, base: &str) -> Challenge {
    let r = http
        .post(format!("{base}/auth/challenge"))
        .header("origin", ORIGIN)
        .send()
        .await
        .expect("challenge");
    let cookie = first_cookie(&r, "__Host-brama-login").expect("login cookie");
    let v: serde_json::Value = r.json().await.expect("challenge JSON");
    Challenge {
        challenge: v["challenge"].as_str().expect("challenge").to_string(),
        cookie,
    }
}

/// Post a signed login; the session cookie (`name=value`) on success.
pub async fn login(
    http: &reqwest::Client,
    base: &str,
    cookie: &str,
    signature: &str,
) -> Result<String, String> {
    let r = http
        .post(format!("{base}/auth/login"))
        .header("origin", ORIGIN)
        .header("cookie", cookie)
        .json(&serde_json::json!({ "signature": signature }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    match first_cookie(&r, SESSION_COOKIE) {
        Some(c) if r.status().is_success() => Ok(c),
        _ => Err(format!(
            "{}: {}",
            r.status(),
            r.text().await.unwrap_or_default()
        )),
    }
}

/// Sign in once with `signer`: the session cookie.
pub async fn sign_in(http: &reqwest::Client, base: &str, signer: &Signer) -> String {
    let c = challenge(http, base).await;
    login(http, base, &c.cookie, &signer.sign_login(&c.challenge))
        .await
        .unwrap_or_else(|e| panic!("sign-in refused: {e}"))
}

/// Where the bench's binaries are.
pub fn bin_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .expect("the bench's own folder")
    })
}
