//! HTTP for revocation data: OCSP POSTs and CRL GETs over hyper, with a timeout and a size
//! limit, so a slow or huge answer cannot hold a login (or memory) hostage.

use std::time::Duration;

use axum::http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;

use super::Problem;

pub struct Fetcher {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    max_bytes: usize,
}

impl Fetcher {
    pub fn new(timeout: Duration, max_bytes: usize) -> Result<Fetcher, crate::tls::TlsError> {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(timeout));
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::tls::client_config(None)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Fetcher {
            client: Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector),
            timeout,
            max_bytes,
        })
    }

    /// GET a URL, or read a file when `source` is not an http(s) URL.
    pub async fn get(&self, source: &str) -> Result<Vec<u8>, Problem> {
        if !(source.starts_with("http://") || source.starts_with("https://")) {
            return std::fs::read(source)
                .map_err(|e| Problem::Unreachable(format!("{source}: {e}")));
        }
        let req = Request::builder()
            .method(Method::GET)
            .uri(source)
            .body(Full::new(Bytes::new()))
            .map_err(|e| Problem::Unreachable(format!("{source}: {e}")))?;
        self.send(source, req, self.max_bytes).await
    }

    /// POST an OCSP request (RFC 6960 appendix A.1).
    pub async fn ocsp(&self, url: &str, der: Vec<u8>) -> Result<Vec<u8>, Problem> {
        let req = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(header::CONTENT_TYPE, "application/ocsp-request")
            .header(header::ACCEPT, "application/ocsp-response")
            .body(Full::new(Bytes::from(der)))
            .map_err(|e| Problem::Unreachable(format!("{url}: {e}")))?;
        self.send(url, req, 1 << 20).await
    }

    async fn send(
        &self,
        url: &str,
        req: Request<Full<Bytes>>,
        limit: usize,
    ) -> Result<Vec<u8>, Problem> {
        let work = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| Problem::Unreachable(format!("{url}: {e}")))?;
            if resp.status() != StatusCode::OK {
                return Err(Problem::Unreachable(format!(
                    "{url}: HTTP {}",
                    resp.status()
                )));
            }
            let body = Limited::new(resp.into_body(), limit)
                .collect()
                .await
                .map_err(|e| Problem::Unreachable(format!("{url}: {e} (limit {limit} bytes)")))?;
            Ok(body.to_bytes().to_vec())
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| {
                Problem::Unreachable(format!(
                    "{url}: no answer within {} s",
                    self.timeout.as_secs()
                ))
            })?
    }
}
