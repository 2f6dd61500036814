//! What a client is told when the gateway refuses: [`LoginError`] (one code per check of
//! design.md §4) and [`GatewayError`] (everything else a route can refuse), each with a stable
//! code, a human message and an HTTP status, answered as `{"error": {"code", "message"}}`.
//!
//! Codes are stable API (the login page maps them to Ukrainian and English). Each login code
//! maps onto an ETSI EN 319 102-1 indication for the audit record.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("the signature is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the signature is not a CMS SignedData: {0}")]
    MalformedSignature(String),
    #[error("the signature must have exactly one signer, it has {0}")]
    SignerCount(usize),
    #[error("this is not a login statement (content type {0})")]
    WrongContentType(String),
    #[error("the signed content is missing (a detached signature)")]
    ContentMissing,
    #[error("the login statement is malformed: {0}")]
    BadStatement(String),
    #[error("the statement is for another site ({0})")]
    WrongOrigin(String),
    #[error("the challenge is not one this gateway issued")]
    ChallengeInvalid,
    #[error("the challenge has expired")]
    ChallengeExpired,
    #[error("the challenge was issued to another browser")]
    ChallengeWrongBrowser,
    #[error("the challenge was already used")]
    ChallengeReplayed,
    #[error("the signature does not verify: {0}")]
    BadSignature(String),
    #[error("the signer's certificate is not in the signature")]
    SignerCertificateMissing,
    #[error(
        "the signer's certificate is not the one the signature names (signing-certificate-v2)"
    )]
    SignerCertificateMismatch,
    #[error("the certificate has expired")]
    CertificateExpired,
    #[error("the certificate is not valid yet")]
    CertificateNotYetValid,
    /// With when and why, as the revocation source said (empty when it said nothing).
    #[error("the certificate is revoked{0}")]
    CertificateRevoked(String),
    #[error("the certificate's revocation status could not be checked; try again later ({0})")]
    RevocationUnavailable(String),
    #[error("the certificate does not chain to a trusted qualified CA: {0}")]
    UntrustedIssuer(String),
    #[error("the certificate chain is invalid: {0}")]
    InvalidChain(String),
    #[error("the certificate has a critical extension Brama does not understand: {0}")]
    UnhandledCriticalExtension(String),
    #[error("the certificate is not for signing: {0}")]
    WrongKeyUsage(String),
    #[error("the key is too weak: {0}")]
    WeakKey(String),
    #[error("the algorithm is not allowed: {0}")]
    WeakAlgorithm(String),
    #[error("the algorithm is not supported yet: {0}")]
    UnsupportedAlgorithm(String),
    #[error("the certificate policy is not allowed: {0}")]
    PolicyNotAllowed(String),
    #[error("the certificate is not qualified for electronic signatures")]
    NotQualified,
    #[error("the certificate belongs to an organisation, not a person")]
    NotAPerson,
    #[error("the certificate names two different people: {0}")]
    AmbiguousIdentity(String),
    #[error("the account is blocked: {0}")]
    AccountBlocked(String),
    #[error("too many sign-ins with this certificate; try again in {0} s")]
    RateLimited(u64),
    #[error("the gateway could not complete the login; try again")]
    Internal(String),
}

impl LoginError {
    /// The HTTP status of a refused login.
    pub fn status(&self) -> StatusCode {
        use LoginError::*;
        match self {
            TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            MalformedSignature(_)
            | SignerCount(_)
            | WrongContentType(_)
            | ContentMissing
            | BadStatement(_) => StatusCode::BAD_REQUEST,
            AccountBlocked(_) => StatusCode::FORBIDDEN,
            RevocationUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    pub fn code(&self) -> &'static str {
        use LoginError::*;
        match self {
            TooLarge(_) => "too_large",
            MalformedSignature(_) => "malformed_signature",
            SignerCount(_) => "signer_count",
            WrongContentType(_) => "wrong_content_type",
            ContentMissing => "content_missing",
            BadStatement(_) => "bad_statement",
            WrongOrigin(_) => "wrong_origin",
            ChallengeInvalid => "challenge_invalid",
            ChallengeExpired => "challenge_expired",
            ChallengeWrongBrowser => "challenge_wrong_browser",
            ChallengeReplayed => "challenge_replayed",
            BadSignature(_) => "bad_signature",
            SignerCertificateMissing => "signer_certificate_missing",
            SignerCertificateMismatch => "signer_certificate_mismatch",
            CertificateExpired => "certificate_expired",
            CertificateNotYetValid => "certificate_not_yet_valid",
            CertificateRevoked(_) => "certificate_revoked",
            RevocationUnavailable(_) => "revocation_unavailable",
            UntrustedIssuer(_) => "untrusted_issuer",
            InvalidChain(_) => "invalid_chain",
            UnhandledCriticalExtension(_) => "unhandled_critical_extension",
            WrongKeyUsage(_) => "wrong_key_usage",
            WeakKey(_) => "weak_key",
            WeakAlgorithm(_) => "weak_algorithm",
            UnsupportedAlgorithm(_) => "unsupported_algorithm",
            PolicyNotAllowed(_) => "policy_not_allowed",
            NotQualified => "not_qualified",
            NotAPerson => "not_a_person",
            AmbiguousIdentity(_) => "ambiguous_identity",
            AccountBlocked(_) => "account_blocked",
            RateLimited(_) => "rate_limited",
            Internal(_) => "internal_error",
        }
    }

    /// ETSI EN 319 102-1 main indication and sub-indication, for the audit record.
    pub fn etsi(&self) -> (&'static str, &'static str) {
        use LoginError::*;
        match self {
            TooLarge(_)
            | MalformedSignature(_)
            | SignerCount(_)
            | ContentMissing
            | BadStatement(_) => ("INDETERMINATE", "FORMAT_FAILURE"),
            WrongContentType(_)
            | WrongOrigin(_)
            | ChallengeInvalid
            | ChallengeExpired
            | ChallengeWrongBrowser
            | ChallengeReplayed
            | PolicyNotAllowed(_)
            | NotQualified
            | NotAPerson
            | AmbiguousIdentity(_)
            | WrongKeyUsage(_)
            | UnhandledCriticalExtension(_) => ("TOTAL-FAILED", "SIG_CONSTRAINTS_FAILURE"),
            BadSignature(_) => ("TOTAL-FAILED", "SIG_CRYPTO_FAILURE"),
            SignerCertificateMissing => ("INDETERMINATE", "NO_SIGNING_CERTIFICATE_FOUND"),
            SignerCertificateMismatch => ("TOTAL-FAILED", "SIG_CONSTRAINTS_FAILURE"),
            CertificateExpired => ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE"),
            CertificateNotYetValid => ("INDETERMINATE", "NOT_YET_VALID"),
            CertificateRevoked(_) => ("INDETERMINATE", "REVOKED_NO_POE"),
            RevocationUnavailable(_) => ("INDETERMINATE", "TRY_LATER"),
            UntrustedIssuer(_) => ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND"),
            InvalidChain(_) => ("INDETERMINATE", "CHAIN_CONSTRAINTS_FAILURE"),
            WeakKey(_) | WeakAlgorithm(_) | UnsupportedAlgorithm(_) => {
                ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE")
            }
            // The signature itself passed: the refusal is the portal's own policy.
            AccountBlocked(_) => ("TOTAL-PASSED", "ACCOUNT_BLOCKED"),
            RateLimited(_) => ("TOTAL-PASSED", "RATE_LIMITED"),
            Internal(_) => ("INDETERMINATE", "GENERIC"),
        }
    }
}

impl IntoResponse for LoginError {
    fn into_response(self) -> Response {
        let mut resp = match &self {
            // The page shows the operator's reason in the person's language's sentence.
            LoginError::AccountBlocked(reason) => (
                self.status(),
                Json(serde_json::json!({ "error": {
                    "code": self.code(), "message": self.to_string(), "reason": reason,
                } })),
            )
                .into_response(),
            _ => body(self.status(), self.code(), &self.to_string()),
        };
        if let LoginError::RateLimited(wait) = self {
            resp.headers_mut().insert(header::RETRY_AFTER, wait.into());
        }
        resp
    }
}

/// Why a gateway route refused a request (other than a login's own checks, which are
/// [`LoginError`]).
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// An `/auth` POST from another origin (the CSRF guard).
    #[error("the request does not come from the cabinet's own pages")]
    ForbiddenOrigin,
    /// Too many challenges or logins from one address.
    #[error("too many sign-in attempts from this address; try again shortly")]
    RateLimited { retry_after: u64 },
    #[error("{0}")]
    BadRequest(String),
    #[error("the signature is not base64")]
    NotBase64,
    #[error("sign in first")]
    NotSignedIn,
    #[error("this account does not hold that role")]
    RoleNotAllowed,
    /// A path that climbs above the root or hides a separator (never forwarded).
    #[error("the path does not normalise")]
    BadPath,
    #[error("the path cannot be forwarded")]
    UnforwardablePath,
    /// The backend refused the connection or broke it; browsers get a page, not JSON.
    #[error("the cabinet is not answering; try again shortly")]
    BackendUnavailable { html: bool },
    #[error("the cabinet took too long to answer")]
    BackendTimeout,
    /// Content-Length and Transfer-Encoding together (a smuggling attempt or a broken client).
    #[error("the request has both Content-Length and Transfer-Encoding; send one")]
    AmbiguousFraming,
    #[error(transparent)]
    Login(#[from] LoginError),
    /// The database failed; the client is told only that the request did not complete.
    #[error("the gateway could not complete the request; try again")]
    Store(#[from] crate::store::StoreError),
}

impl GatewayError {
    pub fn code(&self) -> &'static str {
        use GatewayError::*;
        match self {
            ForbiddenOrigin => "forbidden_origin",
            RateLimited { .. } => "rate_limited",
            BadRequest(_) => "bad_request",
            NotBase64 => "malformed_signature",
            NotSignedIn => "not_signed_in",
            RoleNotAllowed => "role_not_allowed",
            BadPath | UnforwardablePath => "bad_path",
            BackendUnavailable { .. } => "backend_unavailable",
            BackendTimeout => "backend_timeout",
            AmbiguousFraming => "ambiguous_framing",
            Login(e) => e.code(),
            Store(_) => "internal_error",
        }
    }

    pub fn status(&self) -> StatusCode {
        use GatewayError::*;
        match self {
            ForbiddenOrigin | RoleNotAllowed => StatusCode::FORBIDDEN,
            RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            BadRequest(_) | NotBase64 | BadPath | UnforwardablePath | AmbiguousFraming => {
                StatusCode::BAD_REQUEST
            }
            NotSignedIn => StatusCode::UNAUTHORIZED,
            BackendUnavailable { .. } => StatusCode::BAD_GATEWAY,
            BackendTimeout => StatusCode::GATEWAY_TIMEOUT,
            Login(e) => e.status(),
            Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The page a browser gets when the cabinet does not answer.
const BACKEND_DOWN_PAGE: &str = "<!doctype html><html lang=\"uk\"><head><meta charset=\"utf-8\"><title>502</title></head><body>\
    <h1>Кабінет тимчасово недоступний</h1><p>Спробуйте за хвилину.</p>\
    <p lang=\"en\">The cabinet is not answering. Try again in a minute.</p></body></html>";

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        match self {
            GatewayError::Login(e) => e.into_response(),
            GatewayError::Store(ref e) => {
                tracing::error!("database: {e}");
                body(self.status(), self.code(), &self.to_string())
            }
            GatewayError::BackendUnavailable { html: true } => (
                StatusCode::BAD_GATEWAY,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                BACKEND_DOWN_PAGE,
            )
                .into_response(),
            _ => {
                let mut resp = body(self.status(), self.code(), &self.to_string());
                match self {
                    GatewayError::RateLimited { retry_after } => {
                        resp.headers_mut()
                            .insert(header::RETRY_AFTER, retry_after.into());
                    }
                    GatewayError::AmbiguousFraming => {
                        resp.headers_mut()
                            .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    }
                    _ => {}
                }
                resp
            }
        }
    }
}

/// `{"error": {"code", "message"}}` with a status: the one shape of every refusal.
fn body(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}
