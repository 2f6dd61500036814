//! The start of a gateway: [`start`] binds the listeners, builds the [`Gateway`] and its
//! [`crate::front::Front`] (what each request goes to), and spawns the background work;
//! [`Running::stop`] ends it all.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::{self, AdminState};
use crate::config::Config;
use crate::state::{Gateway, StartError};

/// A running gateway.
pub struct Running {
    pub port: u16,
    /// The admin listener's port (`/healthz`, `/readyz`, `/metrics`), unless turned off.
    pub admin_port: Option<u16>,
    pub gateway: Arc<Gateway>,
    /// The serving certificate when the gateway terminates TLS.
    pub tls: Option<Arc<crate::tls::ReloadingCert>>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stop accepting, let requests in flight finish (up to `shutdown_grace`), then return.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.background {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn bind(key: &'static str, address: &str) -> Result<TcpListener, StartError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| StartError::Bind {
            key,
            address: address.to_string(),
            source,
        })
}

pub async fn start(config: Config, config_dir: Option<&Path>) -> Result<Running, StartError> {
    let listener = bind("listen", &config.listen).await?;
    let port = listener
        .local_addr()
        .map_err(|source| StartError::Bind {
            key: "listen",
            address: config.listen.clone(),
            source,
        })?
        .port();
    let admin = match config.admin.listen.as_str() {
        "" => None,
        a => Some(bind("admin.listen", a).await?),
    };
    let admin_port = admin
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port());
    let tls = match &config.tls {
        Some(t) => Some(crate::tls::ReloadingCert::load(
            &crate::config::resolve(config_dir, &t.cert),
            &crate::config::resolve(config_dir, &t.key),
        )?),
        None => None,
    };
    let grace = Duration::from_secs(config.shutdown_grace);
    let timeouts = crate::listener::Timeouts {
        head: Duration::from_secs(config.limits.header_timeout.max(1)),
        idle: Duration::from_secs(config.limits.idle_timeout.max(1)),
    };
    let reload_every = Duration::from_secs(config.tls.as_ref().map_or(30, |t| t.reload_interval));
    let gateway = Arc::new(Gateway::new(config, config_dir).await?);
    let (stop, stopped) = watch::channel(false);
    let mut tasks = vec![tokio::spawn(crate::listener::serve(
        listener,
        crate::front::Front::new(gateway.clone()),
        match &tls {
            Some(cert) => Some(crate::tls::server_config(cert.clone())?),
            None => None,
        },
        stopped.clone(),
        grace,
        timeouts,
    ))];
    if let Some(admin) = admin {
        let app = admin::router(AdminState {
            metrics: gateway.metrics.clone(),
            store: gateway.store.clone(),
            backend: gateway.config.backend.clone(),
        });
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(admin, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!("admin listener failed: {e}");
            }
        }));
    }
    let mut background = Vec::new();
    if gateway.revocation.is_some() {
        let g = gateway.clone();
        background.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                if let Some(r) = &g.revocation {
                    r.refresh(g.now().unix_timestamp()).await;
                }
            }
        }));
    }
    let metrics = gateway.metrics.clone();
    background.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            metrics.upkeep();
        }
    }));
    if let Some(cert) = &tls {
        background.push(cert.watch(reload_every));
    }
    Ok(Running {
        port,
        admin_port,
        gateway,
        tls,
        stop,
        tasks,
        background,
    })
}
