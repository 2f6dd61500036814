//! The gateway's state: everything a request may need, built once at start from the
//! configuration ([`Gateway::new`]) and shared by every connection.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;

use zeroize::Zeroizing;

use crate::assertion::{Assertions, SigningKey};
use crate::challenge::{Key, Keys};
use crate::config::{Config, ConfigError};
use crate::cookies::{cookie, SESSION_COOKIE};
use crate::error::GatewayError;
use crate::limits::Limiter;
use crate::metrics::Metrics;
use crate::revocation::{Checker, Mode};
use crate::sessions::{Live, Sessions};
use crate::store::keys::KeyPurpose;
use crate::store::{Account, Store, StoreError};
use crate::tls::TlsError;
use crate::verify::Verifier;

/// Why a gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("backend: {0}")]
    Backend(#[from] axum::http::uri::InvalidUri),
    /// A listener's address is taken or not ours (`listen`, `admin.listen`).
    #[error("{key} {address}: {source}")]
    Bind {
        key: &'static str,
        address: String,
        source: std::io::Error,
    },
}

/// The rate limits of design.md §4.
pub struct Limits {
    pub challenges_by_address: Limiter<std::net::IpAddr>,
    pub logins_by_address: Limiter<std::net::IpAddr>,
    /// Counted only after the signature verified, so nobody can lock a victim out.
    pub logins_by_certificate: Limiter<String>,
}

pub struct Gateway {
    pub config: Config,
    /// Steps 1–5 of a login: the trust policy and what the verifier caches.
    pub verifier: Verifier,
    pub keys: Keys,
    pub store: Store,
    pub assertions: Assertions,
    pub metrics: Arc<Metrics>,
    /// Step 7; `None` when `[revocation] mode = "off"`.
    pub revocation: Option<Checker>,
    /// Sessions served from memory for `session.cache_ttl` seconds.
    pub sessions: Sessions,
    /// The identity header names with the configured prefix, built once.
    pub identity_names: crate::proxy::identity::Names,
    /// `X-Forwarded-Host` (the public origin's host), made once.
    pub forwarded_host: Option<axum::http::HeaderValue>,
    /// Where forwarded requests go, split once.
    pub backend: crate::proxy::Backend,
    pub limits: Limits,
    pub(crate) client: Client<HttpsConnector<HttpConnector>, Body>,
    /// The gateway's own client for a plain-HTTP backend (`None` for `https://`).
    pub(crate) upstream: Option<Arc<crate::proxy::upstream::Upstream>>,
}

pub(crate) fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// The challenge HMAC keys shared through the database: the newest seals, older ones open.
async fn challenge_keys(store: &Store) -> Result<Keys, StoreError> {
    let mut fresh = Zeroizing::new([0u8; 32]);
    openssl::rand::rand_bytes(fresh.as_mut()).expect("OpenSSL random");
    let mut keys = store
        .keys(
            KeyPurpose::Challenge,
            fresh.as_ref(),
            now().unix_timestamp(),
        )
        .await?
        .into_iter()
        .map(|k| Key {
            id: k.kid,
            secret: k.secret,
        });
    let current = keys.next().ok_or(StoreError::Corrupt("challenge key"))?;
    Ok(Keys {
        current,
        previous: keys.collect(),
    })
}

/// The ES256 assertion key shared through the database (the nodes publish one JWKS).
async fn assertion_key(store: &Store) -> Result<SigningKey, StoreError> {
    let fresh = Zeroizing::new(SigningKey::generate("1").to_pkcs8());
    let stored = store
        .keys(KeyPurpose::Assertion, &fresh, now().unix_timestamp())
        .await?;
    SigningKey::from_pkcs8(&stored[0].kid.to_string(), &stored[0].secret)
        .map_err(|_| StoreError::Corrupt("assertion key"))
}

impl Gateway {
    pub async fn new(config: Config, config_dir: Option<&Path>) -> Result<Gateway, StartError> {
        let policy = config.trust_policy(config_dir)?;
        let store = Store::connect(&config.database).await?;
        let keys = challenge_keys(&store).await?;
        let backend = crate::proxy::Backend::parse(&config.backend)?;
        let upstream = backend
            .plain_http()
            .map(|a| Arc::new(crate::proxy::upstream::Upstream::new(a)));
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.enforce_http(false);
        let backend_ca = config
            .backend_ca
            .as_deref()
            .map(|p| crate::config::resolve(config_dir, p));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::tls::client_config(backend_ca.as_deref())?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        let key = assertion_key(&store).await?;
        let assertions = Assertions::new(key, &config.public_origin, &config.backend);
        let revocation = match config.revocation.mode {
            Mode::Off => None,
            _ => Some(Checker::new(config.revocation_settings(config_dir)?)?),
        };
        let limits = Limits {
            challenges_by_address: Limiter::new(config.limits.challenge_per_minute),
            logins_by_address: Limiter::new(config.limits.login_per_minute),
            logins_by_certificate: Limiter::new(config.limits.certificate_per_minute),
        };
        Ok(Gateway {
            sessions: Sessions::new(config.session.cache_ttl, config.session.idle_timeout),
            identity_names: crate::proxy::identity::Names::new(&config.headers.prefix),
            forwarded_host: crate::proxy::headers::forwarded_host(&config.public_origin),
            backend,
            config,
            verifier: Verifier::new(policy),
            keys,
            store,
            assertions,
            metrics: Arc::new(Metrics::default()),
            revocation,
            limits,
            client,
            upstream,
        })
    }

    /// The gateway's time: the system's, moved by `clock_offset` in tests.
    pub fn now(&self) -> time::OffsetDateTime {
        now() + self.config.clock_offset
    }

    /// Whether the cabinet is served over HTTPS (HSTS, `X-Forwarded-Proto`).
    pub fn secure(&self) -> bool {
        self.config.public_origin.starts_with("https://")
    }

    /// `/auth` POSTs must come from the cabinet's own origin (a CSRF guard).
    pub fn check_cabinet_origin(&self, h: &HeaderMap) -> Result<(), GatewayError> {
        let origin = h.get(header::ORIGIN).and_then(|o| o.to_str().ok());
        if origin == Some(self.config.public_origin.as_str()) {
            Ok(())
        } else {
            Err(GatewayError::ForbiddenOrigin)
        }
    }

    /// The request's live session, or `None` without one. Runs on every forwarded request
    /// (`cargo bench -p gateway` measures it).
    pub async fn session(&self, headers: &HeaderMap) -> Result<Option<Live>, StoreError> {
        match cookie(headers, SESSION_COOKIE) {
            Some(cookie) => {
                self.sessions
                    .lookup(&self.store, cookie, self.now().unix_timestamp())
                    .await
            }
            None => Ok(None),
        }
    }

    /// The live session and its whole account (names, roles), read from the store: for the
    /// gateway's own `/auth` routes, never the forwarding path.
    pub async fn signed_in(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<(Live, Account)>, StoreError> {
        let Some(live) = self.session(headers).await? else {
            return Ok(None);
        };
        Ok(self
            .store
            .account(&live.entry.account_id)
            .await?
            .filter(|a| a.blocked_reason.is_none())
            .map(|a| (live, a)))
    }
}
