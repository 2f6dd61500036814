//! `/v1`: the JSON API web pages call (docs/agent-api.md). Thin: checks the page origin,
//! parses, and calls [`crate::app::App`].

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use base64::Engine;
use certs::cms::Digest;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use crate::app::App;
use crate::guard::{OwnHost, PageOrigin};
use crate::requests::{Action, Document, DocumentBody};
use crate::ApiError;

pub const API_VERSION: u32 = 1;

pub async fn info(
    State(app): State<Arc<App>>,
    Extension(origin): Extension<PageOrigin>,
) -> Json<serde_json::Value> {
    let approved = matches!(&origin, PageOrigin::Allowed(o) if app.origins.is_approved(o));
    let mut info = json!({
        "name": "brama-agent",
        "version": env!("CARGO_PKG_VERSION"),
        "api_version": API_VERSION,
        "capabilities": ["containers", "authenticate", "sign", "sign-hash", "pkcs12", "pkcs12-gost", "pem", "iit-key6", "jks", "pkcs11", "dstu4145"],
        "origin_approved": approved,
    });
    // Which token modules load is the user's business (and a fingerprint): only approved
    // pages and local tools without an Origin see it.
    if approved || matches!(origin, PageOrigin::Absent) {
        info["diagnostics"] = json!({ "pkcs11_modules": app.tokens.status() });
    }
    Json(info)
}

fn pending(host: &OwnHost, scheme: &str, id: &str) -> Response {
    let url = format!("{scheme}://{}/ui/approve/{id}", host.0);
    (
        StatusCode::ACCEPTED,
        Json(json!({ "state": "pending", "request": id, "approve_url": url })),
    )
        .into_response()
}

pub async fn containers(
    State(app): State<Arc<App>>,
    Extension(origin): Extension<PageOrigin>,
    Extension(host): Extension<OwnHost>,
    Extension(listener): Extension<Arc<crate::guard::Listener>>,
) -> Result<Response, ApiError> {
    let origin = origin.require()?;
    if app.origins.is_approved(origin) {
        return Ok(Json(app.container_list(origin)).into_response());
    }
    let id = app.begin(origin, Action::Containers)?;
    Ok(pending(&host, listener.scheme, &id))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthenticateBody {
    container: String,
    certificate: Option<String>,
    challenge: String,
}

/// A challenge is opaque to the agent, but bounded and printable so the approval page and
/// the statement stay clean.
fn check_challenge(c: &str) -> Result<(), ApiError> {
    if c.is_empty() || c.len() > 1024 || !c.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::BadRequest(
            "challenge must be 1–1024 printable ASCII characters".into(),
        ));
    }
    Ok(())
}

/// Unknown containers are reported at once only to approved origins: others learn nothing.
/// A key with several signing certificates and none named goes on: the approval page asks.
fn check_container(
    app: &App,
    origin: &str,
    container: &str,
    certificate: Option<&str>,
) -> Result<(), ApiError> {
    if app.origins.is_approved(origin) {
        match app.container(container)?.signing_certificate(certificate) {
            Ok(_) | Err(ApiError::ChooseCertificate) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub async fn authenticate(
    State(app): State<Arc<App>>,
    Extension(origin): Extension<PageOrigin>,
    Extension(host): Extension<OwnHost>,
    Extension(listener): Extension<Arc<crate::guard::Listener>>,
    body: Result<Json<AuthenticateBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let origin = origin.require()?;
    let Json(body) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    check_challenge(&body.challenge)?;
    check_container(&app, origin, &body.container, body.certificate.as_deref())?;
    let id = app.begin(
        origin,
        Action::Authenticate {
            container: body.container,
            certificate: body.certificate,
            challenge: body.challenge,
        },
    )?;
    Ok(pending(&host, listener.scheme, &id))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignBody {
    container: String,
    certificate: Option<String>,
    /// File name shown to the user.
    name: Option<String>,
    /// The document, base64. Attached unless `detached`.
    content: Option<String>,
    #[serde(default)]
    detached: bool,
    /// A precomputed hash, base64 (always a detached signature).
    hash: Option<String>,
    hash_algorithm: Option<Digest>,
}

/// Query parameters of a streamed `/v1/sign` (body `application/octet-stream`).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SignQuery {
    container: Option<String>,
    certificate: Option<String>,
    name: Option<String>,
    #[serde(default)]
    detached: bool,
}

/// `/v1/sign`: JSON (`content` base64, or `hash`), or the document itself as an
/// `application/octet-stream` body streamed through the hash (parameters in the query).
pub async fn sign(
    State(app): State<Arc<App>>,
    Extension(origin): Extension<PageOrigin>,
    Extension(host): Extension<OwnHost>,
    Extension(listener): Extension<Arc<crate::guard::Listener>>,
    query: Result<axum::extract::Query<SignQuery>, axum::extract::rejection::QueryRejection>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let origin = origin.require()?;
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (container, certificate, document) = if content_type.starts_with("application/json") {
        let limit = app.config.max_document / 3 * 4 + 64 * 1024;
        let bytes =
            axum::body::to_bytes(body, limit)
                .await
                .map_err(|_| ApiError::ContentTooLarge {
                    limit: app.config.max_document,
                })?;
        let body: SignBody =
            serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let gost = may_be_dstu(&app, &body.container);
        let document = document(
            &app,
            gost,
            body.name,
            body.content,
            body.detached,
            body.hash,
            body.hash_algorithm,
        )?;
        (body.container, body.certificate, document)
    } else if content_type.starts_with("application/octet-stream") {
        let axum::extract::Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
        let container = q
            .container
            .ok_or_else(|| ApiError::BadRequest("the query needs container=".into()))?;
        let gost = may_be_dstu(&app, &container);
        let document = streamed_document(&app, gost, q.name, q.detached, body).await?;
        (container, q.certificate, document)
    } else {
        return Err(ApiError::BadRequest(
            "Content-Type must be application/json or application/octet-stream".into(),
        ));
    };
    check_container(&app, origin, &container, certificate.as_deref())?;
    let id = app.begin(
        origin,
        Action::Sign {
            container,
            certificate,
            document,
        },
    )?;
    Ok(pending(&host, listener.scheme, &id))
}

/// Whether a detached document for `container` is also hashed with GOST 34.311 (its key may be
/// DSTU 4145; an unknown container gets SHA-256 alone and fails at approval anyway).
fn may_be_dstu(app: &App, container: &str) -> bool {
    app.container(container).is_ok_and(|c| c.may_be_dstu())
}

/// The digests of a detached document: SHA-256, and GOST 34.311 when `gost`.
fn digests(sha256: &[u8], gost: Option<certs::dstu::Gost34311>) -> DocumentBody {
    let mut list = vec![(Digest::Sha256, sha256.to_vec())];
    if let Some(h) = gost {
        list.push((Digest::Gost34311, h.finish().to_vec()));
    }
    DocumentBody::Digests(list)
}

/// How much of a streamed document is kept for the preview and the login-statement check.
/// A login statement is at most `certs::statement::MAX_LEN` (4 KiB), so a longer document
/// can never pass as one.
const HEAD: usize = 64 * 1024;

/// Read a document body once: hashed as it arrives; kept whole only for an attached
/// signature; a detached one keeps the digest and the first bytes for the preview.
pub async fn streamed_document(
    app: &App,
    gost: bool,
    name: Option<String>,
    detached: bool,
    mut body: axum::body::Body,
) -> Result<Document, ApiError> {
    use http_body_util::BodyExt;
    let limit = app.config.max_document;
    let mut sha = openssl::sha::Sha256::new();
    let mut gost = (gost && detached).then(certs::dstu::Gost34311::new);
    let mut head: Vec<u8> = Vec::new();
    let mut kept = Zeroizing::new(Vec::new());
    let mut size = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        size += data.len();
        if size > limit {
            return Err(ApiError::ContentTooLarge { limit });
        }
        sha.update(&data);
        if let Some(h) = gost.as_mut() {
            h.update(&data);
        }
        if head.len() < HEAD {
            head.extend_from_slice(&data[..data.len().min(HEAD - head.len())]);
        }
        if !detached {
            kept.extend_from_slice(&data);
        }
    }
    let sha256 = sha.finish().to_vec();
    if size <= HEAD && certs::statement::looks_like_login_statement(&head) {
        return Err(ApiError::LoginStatementAsDocument);
    }
    let body = if detached {
        digests(&sha256, gost)
    } else {
        DocumentBody::Attached(kept)
    };
    describe(name, &head, size, &sha256, body)
}

/// The approval page's view of a document.
fn describe(
    name: Option<String>,
    head: &[u8],
    size: usize,
    sha256: &[u8],
    body: DocumentBody,
) -> Result<Document, ApiError> {
    let name = name.unwrap_or_else(|| "document".into());
    // Invisible characters (U+202E turns "exe.pdf" into "fdp.exe" on screen) are refused.
    if name.len() > 255 || name.chars().any(certs::names::is_invisible) {
        return Err(ApiError::BadRequest(
            "name must be at most 255 characters without control, bidirectional or zero-width characters".into(),
        ));
    }
    // A text preview when the start is UTF-8 (a cut multi-byte character at the end is fine).
    let head = &head[..head.len().min(2000)];
    let text = match std::str::from_utf8(head) {
        Ok(t) => Some(t),
        Err(e) if e.valid_up_to() + 4 > head.len() && e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    let preview = text.map(|t| t.chars().take(500).collect());
    Ok(Document {
        name,
        size,
        fingerprint: hex(sha256),
        preview,
        body,
    })
}

/// Validate and describe a document to sign. Plain function: the tests call it directly.
pub fn document(
    app: &App,
    gost: bool,
    name: Option<String>,
    content: Option<String>,
    detached: bool,
    hash: Option<String>,
    hash_algorithm: Option<Digest>,
) -> Result<Document, ApiError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    match (content, hash) {
        (Some(content), None) => {
            let data = Zeroizing::new(
                b64.decode(content)
                    .map_err(|_| ApiError::BadRequest("content is not base64".into()))?,
            );
            if data.len() > app.config.max_document {
                return Err(ApiError::ContentTooLarge {
                    limit: app.config.max_document,
                });
            }
            if certs::statement::looks_like_login_statement(&data) {
                return Err(ApiError::LoginStatementAsDocument);
            }
            let sha256 = Digest::Sha256.hash(&data);
            let head = data[..data.len().min(HEAD)].to_vec();
            let body = if detached {
                let gost = gost.then(|| {
                    let mut h = certs::dstu::Gost34311::new();
                    h.update(&data);
                    h
                });
                digests(&sha256, gost)
            } else {
                DocumentBody::Attached(data.clone())
            };
            describe(name, &head, data.len(), &sha256, body)
        }
        (None, Some(hash)) => {
            let algorithm = hash_algorithm.unwrap_or_default();
            let value = b64
                .decode(hash)
                .map_err(|_| ApiError::BadRequest("hash is not base64".into()))?;
            if value.len() != algorithm.output_len() {
                return Err(ApiError::BadRequest(format!(
                    "a {algorithm:?} hash is {} bytes",
                    algorithm.output_len()
                )));
            }
            let fingerprint = value.clone();
            describe(
                name,
                &[],
                0,
                &fingerprint,
                DocumentBody::Digests(vec![(algorithm, value)]),
            )
        }
        _ => Err(ApiError::BadRequest(
            "give exactly one of content and hash".into(),
        )),
    }
}

use certs::hex;

pub async fn poll(
    State(app): State<Arc<App>>,
    Extension(origin): Extension<PageOrigin>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let origin = origin.require()?;
    match app.requests.poll(&id, origin) {
        Ok(None) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "state": "pending", "request": id })),
        )
            .into_response()),
        Ok(Some(result)) => Ok(Json(json!({ "state": "done", "result": result })).into_response()),
        Err(ApiError::OriginDenied { .. }) => Err(ApiError::OriginDenied {
            retry_after: app.origins.denied_for(origin).unwrap_or(0),
        }),
        Err(e) => Err(e),
    }
}
