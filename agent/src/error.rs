//! Typed errors of the agent API: `{"error": {"code": "...", "message": "..."}}`.
//!
//! Codes are stable (the browser client maps them to Ukrainian and English messages);
//! messages are English for logs and developers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("Host header is not this agent's loopback address")]
    BadHost,
    #[error("the connection comes from another operating-system user")]
    ForeignUser,
    #[error("this origin may not use the agent")]
    OriginNotAllowed,
    #[error("the request has no Origin header")]
    OriginRequired,
    #[error("the user refused this origin; try again later")]
    OriginDenied { retry_after: u64 },
    #[error("cross-site form post refused")]
    CsrfRefused,
    #[error("the approval window was closed before a decision")]
    WindowClosed,
    #[error("no such container")]
    UnknownContainer,
    #[error("no such certificate in the container")]
    UnknownCertificate,
    #[error("the key has several signing certificates; choose one on the approval page")]
    ChooseCertificate,
    #[error("this certificate cannot sign (key agreement, CA, or no signing key usage)")]
    NotForSigning,
    #[error("the key needs its password")]
    NeedsUnlock,
    #[error("the password is wrong")]
    WrongPassword { tries_left: Option<u32> },
    #[error("too many wrong passwords; the container is locked for a while")]
    LockedOut { retry_after: u64 },
    #[error("the token's PIN is blocked")]
    PinBlocked,
    #[error("the token cannot be used now: {0}")]
    TokenUnavailable(String),
    #[error("another signature with this container is in progress")]
    ContainerBusy,
    #[error("too many requests are waiting for the person; try again when they are answered")]
    TooManyRequests,
    #[error("no such request")]
    UnknownRequest,
    #[error("the request expired")]
    RequestExpired,
    #[error("a newer request from this origin replaced this one")]
    RequestSuperseded,
    #[error("the content is larger than the agent accepts ({limit} bytes)")]
    ContentTooLarge { limit: usize },
    #[error("the agent refuses to sign a login statement as a document")]
    LoginStatementAsDocument,
    #[error("invalid request: {0}")]
    BadRequest(String),
    #[error("the key does not match the certificate")]
    KeyMismatch,
    #[error("no certificate for this key; looked in {looked_in}")]
    NoCertificate { looked_in: String },
    #[error("the container cannot be opened: {0}")]
    ContainerUnreadable(String),
    #[error("signing failed: {0}")]
    SigningFailed(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadHost => "bad_host",
            ApiError::ForeignUser => "foreign_user",
            ApiError::OriginNotAllowed => "origin_not_allowed",
            ApiError::OriginRequired => "origin_required",
            ApiError::OriginDenied { .. } => "origin_denied",
            ApiError::CsrfRefused => "csrf_refused",
            ApiError::WindowClosed => "approval_window_closed",
            ApiError::UnknownContainer => "unknown_container",
            ApiError::UnknownCertificate => "unknown_certificate",
            ApiError::ChooseCertificate => "choose_certificate",
            ApiError::NotForSigning => "not_for_signing",
            ApiError::NeedsUnlock => "needs_unlock",
            ApiError::WrongPassword { .. } => "wrong_password",
            ApiError::LockedOut { .. } => "locked_out",
            ApiError::PinBlocked => "pin_blocked",
            ApiError::TokenUnavailable(_) => "token_unavailable",
            ApiError::ContainerBusy => "container_busy",
            ApiError::TooManyRequests => "too_many_requests",
            ApiError::UnknownRequest => "unknown_request",
            ApiError::RequestExpired => "request_expired",
            ApiError::RequestSuperseded => "request_superseded",
            ApiError::ContentTooLarge { .. } => "content_too_large",
            ApiError::LoginStatementAsDocument => "login_statement_as_document",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::KeyMismatch => "key_mismatch",
            ApiError::NoCertificate { .. } => "no_certificate",
            ApiError::ContainerUnreadable(_) => "container_unreadable",
            ApiError::SigningFailed(_) => "signing_failed",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadHost
            | ApiError::ForeignUser
            | ApiError::OriginNotAllowed
            | ApiError::CsrfRefused
            | ApiError::OriginDenied { .. } => StatusCode::FORBIDDEN,
            ApiError::OriginRequired
            | ApiError::BadRequest(_)
            | ApiError::NotForSigning
            | ApiError::LoginStatementAsDocument
            | ApiError::KeyMismatch => StatusCode::BAD_REQUEST,
            ApiError::UnknownContainer
            | ApiError::UnknownCertificate
            | ApiError::UnknownRequest => StatusCode::NOT_FOUND,
            ApiError::WrongPassword { .. } | ApiError::PinBlocked | ApiError::NeedsUnlock => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::LockedOut { .. } | ApiError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ContainerBusy | ApiError::RequestSuperseded | ApiError::ChooseCertificate => {
                StatusCode::CONFLICT
            }
            ApiError::RequestExpired | ApiError::WindowClosed => StatusCode::GONE,
            ApiError::ContentTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::ContainerUnreadable(_)
            | ApiError::SigningFailed(_)
            | ApiError::NoCertificate { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TokenUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn body(&self) -> serde_json::Value {
        let mut error = serde_json::json!({ "code": self.code(), "message": self.to_string() });
        match self {
            ApiError::OriginDenied { retry_after } | ApiError::LockedOut { retry_after } => {
                error["retry_after"] = (*retry_after).into();
            }
            ApiError::WrongPassword {
                tries_left: Some(n),
            } => error["tries_left"] = (*n).into(),
            _ => {}
        }
        serde_json::json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        if let ApiError::OriginDenied { retry_after } | ApiError::LockedOut { retry_after } = self {
            response
                .headers_mut()
                .insert("retry-after", retry_after.into());
        }
        response
    }
}
