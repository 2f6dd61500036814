//! Why a login was refused: one code per check of design.md §4, each with a human message.
//!
//! Codes are stable API (the login page maps them to Ukrainian and English). Each maps onto
//! an ETSI EN 319 102-1 indication for the audit record.

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
    #[error("the account is blocked: {0}")]
    AccountBlocked(String),
    #[error("too many sign-ins with this certificate; try again in {0} s")]
    RateLimited(u64),
    #[error("the gateway could not complete the login; try again")]
    Internal(String),
}

impl LoginError {
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
