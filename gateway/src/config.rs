//! Gateway configuration: a TOML file (`--config`) with every key overridable by
//! `BRAMA_GATEWAY_*` variables, `__` for nesting (`BRAMA_GATEWAY_TRUST__QUALIFIED=any`).
//! A bad value is refused with the key's name and what is wrong (exit status 2).
//!
//! Over 500 lines on purpose: the whole configuration schema, its defaults and its validation read
//! together, one section after another, like the operator guide that documents them.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use openssl::x509::{X509Crl, X509};
use serde::{Deserialize, Serialize};

use crate::verify::chain::{self, KeyUsageRule, Qualified, TrustPolicy};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the gateway serves on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The cabinet's public origin (`https://cabinet.example`): login statements must name it.
    pub public_origin: String,
    /// The cabinet backend (`http://127.0.0.1:3000`).
    pub backend: String,
    /// Where the login page finds the signing agent (its origin; the page's CSP allows it).
    #[serde(default = "default_agent_url")]
    pub agent_url: String,
    /// Where the login page sends a person whose agent is missing: the portal's installer
    /// page, or the gateway's own `/auth/agent`.
    #[serde(default = "default_agent_download_url")]
    pub agent_download_url: String,
    /// `sqlite://brama.db` (default) or `postgres://…`.
    #[serde(default = "default_database")]
    pub database: String,
    pub trust: Trust,
    #[serde(default)]
    pub session: Session,
    #[serde(default)]
    pub headers: Headers,
    /// Paths that pass without a session (matched on the normalised path, by prefix when they
    /// end in `/`).
    #[serde(default)]
    pub public_paths: Vec<String>,
    #[serde(default)]
    pub challenge: Challenge,
    #[serde(default)]
    pub limits: Limits,
    /// Addresses of reverse proxies in front of the gateway whose `X-Forwarded-*` headers are
    /// believed; from anyone else those headers are removed.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// How far the gateway's clock is from the system's: set by tests in code (a login with a
    /// real certificate that expired in 2024 runs at a time inside its validity), never read
    /// from a file or the environment.
    #[serde(skip)]
    pub clock_offset: time::Duration,
    #[serde(default)]
    pub revocation: Revocation,
    #[serde(default)]
    pub admin: Admin,
    /// HTTPS served by the gateway itself; without it, plain HTTP (behind a TLS load balancer).
    #[serde(default)]
    pub tls: Option<Tls>,
    /// CA certificates (PEM) for an `https://` backend, instead of the system's roots.
    #[serde(default)]
    pub backend_ca: Option<PathBuf>,
    /// Seconds requests in flight get to finish on SIGTERM before their connections close.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace: u64,
    /// Runtime worker threads; `0` (default) is one per CPU core.
    #[serde(default)]
    pub workers: usize,
}

fn default_shutdown_grace() -> u64 {
    10
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (unencrypted; protect it with file permissions).
    pub key: PathBuf,
    /// Seconds between checks for changed files (SIGHUP reloads at once).
    #[serde(default = "default_reload_interval")]
    pub reload_interval: u64,
}

fn default_reload_interval() -> u64 {
    30
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_agent_download_url() -> String {
    "/auth/agent".into()
}

fn default_agent_url() -> String {
    "http://127.0.0.1:47560".into()
}
fn default_database() -> String {
    "sqlite://brama.db".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trust {
    /// Trust anchors: PEM/DER certificates or PKCS#7 bundles, every certificate an anchor.
    #[serde(default)]
    pub anchors: Vec<PathBuf>,
    /// Certificates-only PKCS#7 bundles such as the official `CACertificates.p7b` (or PEM/DER
    /// files): each self-signed certificate becomes an anchor, every other one an
    /// intermediate CA, so the operator points at the bundle instead of listing files.
    #[serde(default)]
    pub bundles: Vec<PathBuf>,
    /// CA certificates to build chains with (clients may send only their leaf).
    #[serde(default)]
    pub intermediates: Vec<PathBuf>,
    #[serde(default)]
    pub qualified: Qualified,
    #[serde(default)]
    pub key_usage: KeyUsageRule,
    #[serde(default = "chain::default_allowed_eku")]
    pub allowed_eku: Vec<String>,
    #[serde(default)]
    pub policies_allow: Vec<String>,
    #[serde(default)]
    pub policies_deny: Vec<String>,
    /// Only natural persons sign in (the default). `false` also lets an organisation's
    /// qualified seal sign in: its account is keyed by the organisation's registration number
    /// (ЄДРПОУ) and acts for the organisation.
    #[serde(default = "yes")]
    pub persons_only: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Session {
    /// Absolute lifetime, seconds.
    pub ttl: u64,
    /// Idle lifetime, seconds.
    pub idle_timeout: u64,
    /// Seconds a node may serve a session from memory: blocking an account or logging out
    /// on another node takes effect within this time (0 = always ask the database).
    pub cache_ttl: u64,
}

impl Default for Session {
    fn default() -> Session {
        Session {
            ttl: 8 * 3600,
            idle_timeout: 30 * 60,
            cache_ttl: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Headers {
    /// Prefix of the identity headers sent to the backend (and stripped from clients).
    pub prefix: String,
}

impl Default for Headers {
    fn default() -> Headers {
        Headers {
            prefix: "X-Brama-".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Challenge {
    /// Seconds a challenge (and the login cookie) lives.
    pub ttl: u64,
}

impl Default for Challenge {
    fn default() -> Challenge {
        Challenge { ttl: 300 }
    }
}

/// `[limits]`: requests per minute (0 = unlimited) and how long a connection may sit unused.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// `POST /auth/challenge` per client address.
    pub challenge_per_minute: u32,
    /// `POST /auth/login` per client address.
    pub login_per_minute: u32,
    /// Logins per certificate, counted only after the signature verified.
    pub certificate_per_minute: u32,
    /// Seconds a new connection gets to send its first request head (HTTP/1 or HTTP/2), and
    /// an HTTP/1 client each later head.
    pub header_timeout: u64,
    /// Seconds a connection may stay open with no request in flight before it is closed.
    pub idle_timeout: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            challenge_per_minute: 60,
            login_per_minute: 30,
            certificate_per_minute: 10,
            header_timeout: 20,
            idle_timeout: 75,
        }
    }
}

/// `[revocation]`: how step 7 (is the certificate revoked?) is answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Revocation {
    /// `fail-closed` (default): no answer, no login; `soft-fail`: no answer, login with an
    /// audit record; `off`: not checked.
    pub mode: crate::revocation::Mode,
    /// Ask OCSP responders (the certificate's AIA or `issuer.ocsp_url`).
    pub ocsp: bool,
    /// Use CRLs (the certificate's distribution points or `issuer.crls`).
    pub crl: bool,
    /// Send an OCSP nonce and require it back (some responders refuse nonces).
    pub nonce: bool,
    /// Seconds an OCSP or CRL fetch may take.
    pub timeout: u64,
    /// Seconds after which an answer's thisUpdate is too old.
    pub max_age: u64,
    /// Seconds an OCSP answer without nextUpdate counts as good after its thisUpdate.
    pub max_age_without_next_update: u64,
    /// Seconds of clock difference allowed for a thisUpdate in the future.
    pub skew: u64,
    /// Good OCSP answers kept in memory.
    pub cache_size: usize,
    /// Largest CRL downloaded, bytes.
    pub crl_max_bytes: usize,
    /// Per-issuer settings.
    pub issuer: Vec<RevocationIssuer>,
}

impl Default for Revocation {
    fn default() -> Revocation {
        Revocation {
            mode: crate::revocation::Mode::FailClosed,
            ocsp: true,
            crl: true,
            nonce: true,
            timeout: 5,
            max_age: 7 * 24 * 3600,
            max_age_without_next_update: 300,
            skew: 300,
            cache_size: 100_000,
            crl_max_bytes: 64 << 20,
            issuer: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationIssuer {
    /// The issuing CA certificate these settings are for.
    pub ca: PathBuf,
    /// OCSP responder URL instead of the certificate's AIA; "" for none (CRL only).
    #[serde(default)]
    pub ocsp_url: Option<String>,
    /// A responder certificate trusted for this CA's OCSP answers (pinned).
    #[serde(default)]
    pub responder: Option<PathBuf>,
    /// CRL URLs or files instead of the certificate's distribution points.
    #[serde(default)]
    pub crls: Vec<String>,
    /// Delta CRL URLs or files instead of the certificate's FreshestCRL.
    #[serde(default)]
    pub delta_crls: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Admin {
    /// `/healthz`, `/readyz`, `/metrics` listen here (loopback by default; "" turns it off).
    pub listen: String,
}

impl Default for Admin {
    fn default() -> Admin {
        Admin {
            listen: "127.0.0.1:9090".into(),
        }
    }
}

/// A configuration problem: which key, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

fn bad(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        problem: problem.into(),
    }
}

impl Config {
    /// The file (if any), then `BRAMA_GATEWAY_*` variables; then every value is checked.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::new().merge(Serialized::defaults(serde_json::json!({})));
        if let Some(file) = file {
            if !file.exists() {
                return Err(bad(
                    "--config",
                    format!("{} does not exist", file.display()),
                ));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Env::prefixed("BRAMA_GATEWAY_").split("__"));
        let config: Config = figment.extract().map_err(|e| {
            let key = e.path.join(".");
            let key = if key.is_empty() {
                "configuration".to_string()
            } else {
                key
            };
            bad(&key, e.kind.to_string())
        })?;
        config.validate(file.and_then(Path::parent))?;
        Ok(config)
    }

    fn validate(&self, base: Option<&Path>) -> Result<(), ConfigError> {
        if !crate::is_origin(&self.public_origin) {
            return Err(bad(
                "public_origin",
                format!(
                    "'{}' is not an origin (scheme://host[:port], lower case, no path)",
                    self.public_origin
                ),
            ));
        }
        if !crate::is_origin(&self.agent_url) {
            return Err(bad(
                "agent_url",
                format!(
                    "'{}' is not an origin (scheme://host[:port])",
                    self.agent_url
                ),
            ));
        }
        let download = &self.agent_download_url;
        let local = download.starts_with('/') && !download.starts_with("//");
        if !(local || download.starts_with("https://") || download.starts_with("http://"))
            || download.contains(['"', '<', '>', '\\', ' '])
        {
            return Err(bad(
                "agent_download_url",
                format!("'{download}' is not an https:// address or a path on this site"),
            ));
        }
        if !(self.backend.starts_with("http://") || self.backend.starts_with("https://")) {
            return Err(bad(
                "backend",
                format!("'{}' is not an http(s) URL", self.backend),
            ));
        }
        if !(self.database.starts_with("sqlite:")
            || self.database.starts_with("postgres://")
            || self.database.starts_with("postgresql://"))
        {
            return Err(bad("database", "must be sqlite://… or postgres://…"));
        }
        let r = &self.revocation;
        if r.mode != crate::revocation::Mode::Off && !r.ocsp && !r.crl {
            return Err(bad(
                "revocation",
                "ocsp and crl are both off: set mode = \"off\" to say revocation is not checked",
            ));
        }
        if r.timeout == 0 || r.max_age == 0 || r.max_age_without_next_update == 0 {
            return Err(bad(
                "revocation",
                "timeout, max_age and max_age_without_next_update must be positive",
            ));
        }
        self.revocation_settings(base)?;
        if self.trust.anchors.is_empty() && self.trust.bundles.is_empty() {
            return Err(bad(
                "trust.anchors",
                "at least one trust anchor is needed (trust.anchors or trust.bundles)",
            ));
        }
        if self.session.idle_timeout == 0
            || self.session.ttl == 0
            || self.session.idle_timeout > self.session.ttl
        {
            return Err(bad(
                "session",
                "ttl and idle_timeout must be positive, idle_timeout ≤ ttl",
            ));
        }
        if self.challenge.ttl == 0 || self.challenge.ttl > 3600 {
            return Err(bad("challenge.ttl", "must be between 1 and 3600 seconds"));
        }
        if !self.headers.prefix.ends_with('-')
            || !self
                .headers
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(bad(
                "headers.prefix",
                "letters, digits and '-', ending in '-' (like X-Brama-)",
            ));
        }
        if !self.admin.listen.is_empty()
            && self.admin.listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(bad(
                "admin.listen",
                format!(
                    "'{}' is not an address:port (like 127.0.0.1:9090)",
                    self.admin.listen
                ),
            ));
        }
        if let Some(tls) = &self.tls {
            crate::tls::load_certified_key(&resolve(base, &tls.cert), &resolve(base, &tls.key))
                .map_err(|e| bad(e.key, e.problem))?;
            if tls.reload_interval == 0 {
                return Err(bad("tls.reload_interval", "must be at least 1 second"));
            }
        }
        if let Some(ca) = &self.backend_ca {
            crate::tls::client_config(Some(&resolve(base, ca)))
                .map_err(|e| bad(e.key, e.problem))?;
        }
        self.trust_policy(base).map(|_| ())
    }

    /// The `[trust]` section with its files read (relative paths are from the config file).
    pub fn trust_policy(&self, base: Option<&Path>) -> Result<TrustPolicy, ConfigError> {
        let read = |key: &str, files: &[PathBuf]| -> Result<Vec<X509>, ConfigError> {
            let mut out = Vec::new();
            for (i, f) in files.iter().enumerate() {
                let path = resolve(base, f);
                let key = format!("{key}[{i}]");
                out.extend(read_certificates(&path).map_err(|e| bad(&key, e.to_string()))?);
            }
            Ok(out)
        };
        let mut anchors = read("trust.anchors", &self.trust.anchors)?;
        let mut intermediates = read("trust.intermediates", &self.trust.intermediates)?;
        for cert in read("trust.bundles", &self.trust.bundles)? {
            if is_self_signed(&cert) {
                anchors.push(cert);
            } else {
                intermediates.push(cert);
            }
        }
        if anchors.is_empty() {
            return Err(bad(
                "trust.bundles",
                "the bundles hold no self-signed certificate to trust",
            ));
        }
        Ok(TrustPolicy {
            anchors,
            intermediates,
            crls: Vec::new(),
            qualified: self.trust.qualified,
            key_usage: self.trust.key_usage,
            allowed_eku: self.trust.allowed_eku.clone(),
            policies_allow: self.trust.policies_allow.clone(),
            policies_deny: self.trust.policies_deny.clone(),
            persons_only: self.trust.persons_only,
        })
    }
}

/// Self-signed: its subject is its issuer and its own key verifies its signature (any
/// algorithm, DSTU included).
fn is_self_signed(cert: &X509) -> bool {
    let Ok(der) = cert.to_der() else {
        return false;
    };
    let Ok(c) = certs::parse(&der) else {
        return false;
    };
    c.subject().as_raw() == c.issuer().as_raw()
        && certs::signature::verify_signed(
            c.public_key().raw,
            &certs::oids::dotted(&c.signature_algorithm.algorithm),
            c.tbs_certificate.as_ref(),
            &c.signature_value.data,
        )
        .is_ok()
}

impl Config {
    /// `[revocation]` with its files read.
    pub fn revocation_settings(
        &self,
        base: Option<&Path>,
    ) -> Result<crate::revocation::Settings, ConfigError> {
        let r = &self.revocation;
        let policy = self.trust_policy(base)?;
        let mut issuers = Vec::new();
        for (i, rule) in r.issuer.iter().enumerate() {
            let one = |key: &str, p: &Path| -> Result<X509, ConfigError> {
                let key = format!("revocation.issuer[{i}].{key}");
                read_certificates(&resolve(base, p))
                    .map_err(|e| bad(&key, e.to_string()))?
                    .into_iter()
                    .next()
                    .ok_or_else(|| bad(&key, "no certificate in the file"))
            };
            let file_or_url = |s: &String| {
                if s.starts_with("http://") || s.starts_with("https://") {
                    s.clone()
                } else {
                    resolve(base, Path::new(s)).display().to_string()
                }
            };
            issuers.push(crate::revocation::IssuerRule {
                ca: one("ca", &rule.ca)?,
                ocsp_url: rule.ocsp_url.clone(),
                responder: rule
                    .responder
                    .as_deref()
                    .map(|p| one("responder", p))
                    .transpose()?,
                crls: rule.crls.iter().map(file_or_url).collect(),
                delta_crls: rule.delta_crls.iter().map(file_or_url).collect(),
            });
        }
        Ok(crate::revocation::Settings {
            mode: r.mode,
            ocsp: r.ocsp,
            crl: r.crl,
            nonce: r.nonce,
            timeout: std::time::Duration::from_secs(r.timeout),
            max_age: r.max_age as i64,
            max_age_without_next_update: r.max_age_without_next_update as i64,
            skew: r.skew as i64,
            cache_size: r.cache_size.max(1),
            crl_max_bytes: r.crl_max_bytes,
            issuers,
            trusted: policy.anchors,
            untrusted: policy.intermediates,
        })
    }
}

/// A path from the configuration: relative ones are from the configuration file's folder.
pub fn resolve(base: Option<&Path>, p: &Path) -> PathBuf {
    match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p.to_path_buf(),
    }
}

/// A trust file that cannot be read: which file, and why (the message names the file).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FileError {
    pub path: PathBuf,
    pub message: String,
}

fn file_error(path: &Path, problem: impl std::fmt::Display) -> FileError {
    FileError {
        path: path.to_path_buf(),
        message: format!("{}: {problem}", path.display()),
    }
}

/// Certificates from a PEM, DER or PKCS#7 file, as OpenSSL objects.
pub fn read_certificates(path: &Path) -> Result<Vec<X509>, FileError> {
    let bytes = std::fs::read(path).map_err(|e| file_error(path, e))?;
    let ders =
        certs::load::certificates(&bytes, &path.display().to_string(), None).map_err(|e| {
            // certs names the file in its own message.
            FileError {
                path: path.to_path_buf(),
                message: e.to_string(),
            }
        })?;
    ders.iter()
        .map(|d| X509::from_der(d).map_err(|e| file_error(path, e)))
        .collect()
}

/// CRLs from a PEM or DER file.
pub fn read_crl(path: &Path) -> Result<X509Crl, FileError> {
    let bytes = std::fs::read(path).map_err(|e| file_error(path, e))?;
    X509Crl::from_pem(&bytes)
        .or_else(|_| X509Crl::from_der(&bytes))
        .map_err(|e| file_error(path, format!("not a CRL: {e}")))
}
