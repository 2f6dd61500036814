//! TLS on both sides of the gateway, with rustls.
//!
//! In front: the gateway terminates HTTPS itself when `[tls] cert` and `key` are set (TLS 1.2
//! and 1.3 only, HTTP/2 offered by ALPN). The certificate is swapped in place on SIGHUP or when
//! the files change, so a renewed certificate needs no restart and no dropped connection; a
//! renewal that does not load (half-written file, key not matching) keeps the old one serving.
//!
//! Behind: an `https://` backend is reached with the system's roots, or only the configured CA
//! file when one is given (a private backend CA should not be trusted for the whole machine).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The serving certificate, replaceable while connections come and go.
#[derive(Debug)]
pub struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    /// Modification times of the files when they were last read.
    stamp: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

fn modified(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// A TLS file that cannot be used: the configuration key it came from, and why.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct TlsError {
    /// `tls.cert`, `tls.key`, `backend_ca` or `tls`.
    pub key: &'static str,
    pub problem: String,
}

fn tls_error(key: &'static str, problem: impl Into<String>) -> TlsError {
    TlsError {
        key,
        problem: problem.into(),
    }
}

/// A certificate chain and its private key from PEM files, checked to belong together.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let bad_cert =
        |e: rustls_pki_types::pem::Error| tls_error("tls.cert", format!("{}: {e}", cert.display()));
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(bad_cert)?
        .collect::<Result<_, _>>()
        .map_err(bad_cert)?;
    if chain.is_empty() {
        return Err(tls_error(
            "tls.cert",
            format!("{}: no PEM certificate in the file", cert.display()),
        ));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        tls_error(
            "tls.key",
            format!(
                "{}: {e} (an unencrypted PEM private key is expected)",
                key.display()
            ),
        )
    })?;
    CertifiedKey::from_der(chain, private, &provider()).map_err(|e| {
        tls_error(
            "tls.key",
            format!("{} does not fit tls.cert: {e}", key.display()),
        )
    })
}

impl ReloadingCert {
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<ReloadingCert>, TlsError> {
        let stamp = (modified(cert), modified(key));
        let current = load_certified_key(cert, key)?;
        Ok(Arc::new(ReloadingCert {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(Arc::new(current)),
            stamp: Mutex::new(stamp),
        }))
    }

    /// Read the files again; on failure the serving certificate stays and the error is
    /// returned for the log.
    pub fn reload(&self) -> Result<(), TlsError> {
        let stamp = (modified(&self.cert), modified(&self.key));
        let fresh = load_certified_key(&self.cert, &self.key)?;
        *self.current.write().expect("certificate lock") = Arc::new(fresh);
        *self.stamp.lock().expect("stamp lock") = stamp;
        Ok(())
    }

    /// Whether either file changed since it was last read.
    pub fn changed(&self) -> bool {
        *self.stamp.lock().expect("stamp lock") != (modified(&self.cert), modified(&self.key))
    }

    /// The leaf certificate being served (DER), for logs and tests.
    pub fn leaf(&self) -> CertificateDer<'static> {
        self.current.read().expect("certificate lock").cert[0].clone()
    }

    /// Reload on SIGHUP, and when the files change (checked every `every`).
    pub fn watch(self: &Arc<Self>, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            #[cfg(unix)]
            let mut hup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            let mut tick = tokio::time::interval(every);
            loop {
                #[cfg(unix)]
                let signalled = async {
                    match hup.as_mut() {
                        Some(h) => {
                            h.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                #[cfg(not(unix))]
                let signalled = std::future::pending::<()>();
                let why = tokio::select! {
                    _ = signalled => "SIGHUP",
                    _ = tick.tick() => {
                        if !me.changed() { continue; }
                        "file change"
                    }
                };
                match me.reload() {
                    Ok(()) => tracing::info!(reason = why, "TLS certificate reloaded"),
                    Err(e) => {
                        tracing::error!(
                            reason = why,
                            "TLS certificate not reloaded, the old one stays: {e}"
                        )
                    }
                }
            }
        })
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().expect("certificate lock").clone())
    }
}

/// The server side: TLS 1.2 and 1.3, HTTP/2 then HTTP/1.1 by ALPN.
pub fn server_config(cert: Arc<ReloadingCert>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| tls_error("tls", e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The client side, for an `https://` backend: the CA file's certificates when given, else
/// the system's roots.
pub fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(file) => {
            let bad = |e: &dyn std::fmt::Display| {
                tls_error("backend_ca", format!("{}: {e}", file.display()))
            };
            for c in CertificateDer::pem_file_iter(file).map_err(|e| bad(&e))? {
                let c = c.map_err(|e| bad(&e))?;
                roots.add(c).map_err(|e| bad(&e))?;
            }
            if roots.is_empty() {
                return Err(bad(&"no PEM certificate in the file"));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!("system certificate store: {e}");
            }
            roots.add_parsable_certificates(found.certs);
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| tls_error("tls", e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
