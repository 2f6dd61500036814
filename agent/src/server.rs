//! Listeners → guard → routes. Binds 127.0.0.1 and ::1 only.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::App;
use crate::config::Config;
use crate::guard::{self, Listener};
use crate::tls::{self, TlsFiles, TlsListener};
use crate::{api, ui, ApiError};

pub fn router(app: Arc<App>, listener: Arc<Listener>) -> Router {
    // base64 inflates by 4/3; leave room for the JSON around it.
    let body_limit = app.config.max_document / 3 * 4 + 64 * 1024;
    Router::new()
        .route("/v1/info", get(api::info))
        .route("/v1/containers", get(api::containers))
        .route("/v1/authenticate", post(api::authenticate))
        .route("/v1/sign", post(api::sign))
        .route("/v1/requests/{id}", get(api::poll))
        .route("/ui/", get(ui::origins_page))
        .route(
            "/ui/approve/{id}",
            get(ui::approve_page).post(ui::approve_post),
        )
        .route("/ui/approve/{id}/closed", post(ui::approve_closed))
        .route("/ui/origins/revoke", post(ui::revoke_origin))
        .route("/ui/approve.js", get(ui::script))
        .route("/ui/style.css", get(ui::style))
        .fallback(|| async { ApiError::BadRequest("no such endpoint".into()).into_response() })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(Extension(listener.clone()))
        .layer(middleware::from_fn_with_state(listener, guard::guard))
        .layer(middleware::from_fn(log))
        .with_state(app)
}

/// One line per request: method, path, status, time. Never headers or bodies.
async fn log(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let start = Instant::now();
    let resp = next.run(req).await;
    tracing::info!(%method, %path, status = resp.status().as_u16(), ms = start.elapsed().as_millis() as u64, "request");
    resp
}

/// A running agent: its port, and a handle that stops it.
pub struct Running {
    pub port: u16,
    /// The HTTPS port, when HTTPS is on.
    pub https_port: Option<u16>,
    pub app: Arc<App>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }

    pub async fn wait(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Bind 127.0.0.1 and ::1 on `config.port` (HTTP) and `config.https_port` (HTTPS), 0 = any
/// free port, and serve.
pub async fn start(config: Config) -> std::io::Result<Running> {
    let (http, port) = bind_loopback(config.port).await?;
    let mut https = None;
    if config.https {
        let files = TlsFiles::new(&config.data_dir);
        let acceptor = tls::load_or_create(&files)
            .and_then(|()| tls::acceptor(&files))
            .map_err(|e| std::io::Error::other(format!("HTTPS: {e}")))?;
        let (sockets, p) = bind_loopback(config.https_port).await?;
        https = Some((sockets, p, acceptor));
    }
    let app = Arc::new(App::new(config.clone()));
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    let listener = Arc::new(Listener {
        scheme: "http",
        port,
        dev_mode: config.dev_mode,
    });
    for socket in http {
        let routes = router(app.clone(), listener.clone());
        tasks.push(tokio::spawn(crate::listener::serve(
            socket,
            routes,
            stopped.clone(),
        )));
    }
    // Expired requests go with their documents even when nobody asks any more.
    {
        let app = app.clone();
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = tick.tick() => app.requests.purge(),
                    _ = stopped.wait_for(|s| *s) => break,
                }
            }
        }));
    }
    let mut https_port = None;
    if let Some((sockets, p, acceptor)) = https {
        https_port = Some(p);
        let listener = Arc::new(Listener {
            scheme: "https",
            port: p,
            dev_mode: config.dev_mode,
        });
        for tcp in sockets {
            let tls = TlsListener {
                tcp,
                acceptor: acceptor.clone(),
            };
            let routes = router(app.clone(), listener.clone());
            tasks.push(tokio::spawn(crate::listener::serve(
                tls,
                routes,
                stopped.clone(),
            )));
        }
    }
    Ok(Running {
        port,
        https_port,
        app,
        stop,
        tasks,
    })
}

/// 127.0.0.1:`port` (0 = any free port) and the same port on ::1 when IPv6 is available.
async fn bind_loopback(port: u16) -> std::io::Result<(Vec<TcpListener>, u16)> {
    let v4 = TcpListener::bind(("127.0.0.1", port)).await?;
    let port = v4.local_addr()?.port();
    let mut sockets = vec![v4];
    match TcpListener::bind(("::1", port)).await {
        Ok(v6) => sockets.push(v6),
        Err(e) => tracing::warn!("not listening on [::1]:{port}: {e}"),
    }
    Ok((sockets, port))
}
