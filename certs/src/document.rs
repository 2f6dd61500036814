//! Checking a signed document (`brama-certs verify`): a CMS/CAdES signature, ECDSA, RSA or
//! DSTU 4145, attached or detached, and — when trust anchors are given — its signer's chain.
//!
//! The checks are the ones a login gets ([`crate::cms::check_signer`], [`crate::path`]); what
//! differs is that a document is not a login: any content type, no statement, no person rule.
//! The result is a [`Report`] with a stable code per refusal, the same codes the gateway uses.

use serde::Serialize;

use crate::cms::{self, SignerError, SignerId};
use crate::path::{self, PathError, PathRequest};
use crate::CertificateSummary;

/// What to check.
pub struct Request<'a> {
    /// The signature: DER or PEM (PKCS7/CMS).
    pub signature: &'a [u8],
    /// The content, for a detached signature (or to check an attached one against).
    pub content: Option<&'a [u8]>,
    /// Trust anchors, DER; none: the chain is not checked.
    pub anchors: &'a [Vec<u8>],
    /// More certificates that may complete the chain or name the signer, DER.
    pub certificates: &'a [Vec<u8>],
    /// The time the chain is checked at (Unix seconds).
    pub at: i64,
}

/// The verdict on one signature.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `valid` or `invalid`.
    pub verdict: &'static str,
    /// The refusal's code (the gateway's codes), when invalid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// What went wrong, for a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// eContentType, dotted.
    pub content_type: String,
    /// Whether the content travels inside the signature.
    pub attached: bool,
    /// The signer's certificate, when found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<CertificateSummary>,
    /// The signing-time attribute, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_time: Option<String>,
    /// The digest algorithm ("SHA-256", "GOST 34.311").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<&'static str>,
    /// The signed attributes present, by name, and whether Brama checked each.
    pub attributes: Vec<Attribute>,
    /// The chain (subjects, signer first) when anchors were given and it validated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<Vec<String>>,
}

/// One signed attribute.
#[derive(Debug, Clone, Serialize)]
pub struct Attribute {
    /// Its name, or its OID when Brama has no name for it.
    pub name: String,
    /// Whether its value was checked (content-type, message-digest, signing-certificate-v2).
    pub checked: bool,
}

impl Report {
    fn refuse(mut self, code: &'static str, message: impl Into<String>) -> Report {
        self.verdict = "invalid";
        self.code = Some(code);
        self.message = Some(message.into());
        self
    }
}

/// Verifies the signature of `req` (its first signer; a signature with several signers is
/// refused, as Brama cannot say which one a reader means).
pub fn verify(req: &Request<'_>) -> Report {
    let mut report = Report {
        verdict: "valid",
        code: None,
        message: None,
        content_type: String::new(),
        attached: false,
        signer: None,
        signing_time: None,
        digest: None,
        attributes: Vec::new(),
        chain: None,
    };
    let der = match crate::load::pem_or_der(req.signature, &["PKCS7", "CMS"]) {
        Some(d) => d,
        None => return report.refuse("malformed_signature", "not a DER or PEM signature"),
    };
    let sd = match cms::parse(&der) {
        Ok(sd) => sd,
        Err(e) => return report.refuse("malformed_signature", e.to_string()),
    };
    report.content_type = sd.content_type.clone();
    report.attached = sd.content.is_some();
    if sd.signers.len() != 1 {
        return report.refuse(
            "signer_count",
            format!(
                "{} signers; Brama checks signatures with exactly one",
                sd.signers.len()
            ),
        );
    }
    let signer = &sd.signers[0];
    report.signing_time = signer.signing_time.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    });
    report.attributes = signer
        .attribute_types
        .iter()
        .map(|oid| Attribute {
            name: attribute_name(oid),
            checked: [
                cms::ATTR_CONTENT_TYPE,
                cms::ATTR_MESSAGE_DIGEST,
                cms::ATTR_SIGNING_CERTIFICATE_V2,
            ]
            .contains(&oid.as_str()),
        })
        .collect();
    if signer.duplicate_attributes {
        return report.refuse("malformed_signature", "a signed attribute appears twice");
    }
    if signer.content_type_attribute.as_deref() != Some(sd.content_type.as_str()) {
        return report.refuse(
            "wrong_content_type",
            "the signed content-type attribute differs from the eContentType",
        );
    }
    let content = match (req.content, sd.content) {
        (Some(c), _) => c,
        (None, Some(c)) => c,
        (None, None) => {
            return report.refuse("content_missing", "a detached signature: give the content")
        }
    };
    // The signer's certificate: embedded, or among the certificates given.
    let candidates: Vec<&[u8]> = sd
        .certificates
        .iter()
        .copied()
        .chain(req.certificates.iter().map(Vec::as_slice))
        .collect();
    let Some(cert) = candidates
        .iter()
        .copied()
        .find(|c| names_signer(c, &signer.sid))
    else {
        return report.refuse(
            "signer_certificate_missing",
            "the signer's certificate is neither in the signature nor among those given",
        );
    };
    report.signer = CertificateSummary::from_der(cert).ok();
    match cms::check_signer(signer, cert, content) {
        Ok(d) => report.digest = Some(d.name()),
        Err(e) => {
            let code = match &e {
                SignerError::Unsupported(_) => "unsupported_algorithm",
                SignerError::Weak(_) => "weak_algorithm",
                SignerError::MissingAttribute(_)
                | SignerError::DigestMismatch
                | SignerError::BadSignature => "bad_signature",
                SignerError::Malformed(_) => "malformed_signature",
                SignerError::CertificateMismatch => "signer_certificate_mismatch",
            };
            return report.refuse(code, e.to_string());
        }
    }
    if let Some(s) = &report.signer {
        if !s
            .key_usage
            .iter()
            .any(|u| *u == "digitalSignature" || *u == "nonRepudiation")
        {
            return report.refuse("wrong_key_usage", "the certificate is not for signing");
        }
    }
    if req.anchors.is_empty() {
        return report;
    }
    let anchors: Vec<&[u8]> = req.anchors.iter().map(Vec::as_slice).collect();
    match path::validate(&PathRequest {
        leaf: cert,
        intermediates: &candidates,
        anchors: &anchors,
        at: req.at,
        crls: &[],
    }) {
        Ok(chain) => {
            report.chain = Some(
                chain
                    .iter()
                    .filter_map(|d| CertificateSummary::from_der(d).ok())
                    .map(|s| s.subject)
                    .collect(),
            );
            report
        }
        Err(e) => {
            let code = path_code(&e);
            report.refuse(code, e.to_string())
        }
    }
}

/// The gateway's code for a path refusal.
pub fn path_code(e: &PathError) -> &'static str {
    match e {
        PathError::Expired { depth: 0 } => "certificate_expired",
        PathError::NotYetValid { depth: 0 } => "certificate_not_yet_valid",
        PathError::UntrustedIssuer(_) => "untrusted_issuer",
        PathError::WeakKey(_) => "weak_key",
        PathError::WeakAlgorithm(_) => "weak_algorithm",
        PathError::Unsupported(_) => "unsupported_algorithm",
        PathError::UnknownCritical(_) => "unhandled_critical_extension",
        PathError::Revoked(_) => "certificate_revoked",
        PathError::Expired { .. }
        | PathError::NotYetValid { .. }
        | PathError::BadSignature { .. }
        | PathError::Invalid(_)
        | PathError::Malformed(_) => "invalid_chain",
    }
}

fn names_signer(der: &[u8], sid: &SignerId<'_>) -> bool {
    let Ok(cert) = crate::parse(der) else {
        return false;
    };
    match sid {
        SignerId::IssuerSerial { issuer, serial } => {
            cert.tbs_certificate.issuer.as_raw() == *issuer && cert.tbs_certificate.raw_serial() == *serial
        }
        SignerId::SubjectKeyId(kid) => cert.extensions().iter().any(|e| {
            matches!(e.parsed_extension(), x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) if k.0 == *kid)
        }),
    }
}

fn attribute_name(oid: &str) -> String {
    match oid {
        cms::ATTR_CONTENT_TYPE => "content-type".into(),
        cms::ATTR_MESSAGE_DIGEST => "message-digest".into(),
        cms::ATTR_SIGNING_TIME => "signing-time".into(),
        cms::ATTR_SIGNING_CERTIFICATE_V2 => "signing-certificate-v2".into(),
        "1.2.840.113549.1.9.16.2.12" => "signing-certificate".into(),
        "1.2.840.113549.1.9.16.2.20" => "content-timestamp".into(),
        "1.2.840.113549.1.9.16.2.14" => "signature-timestamp".into(),
        "1.2.840.113549.1.9.16.2.15" => "signature-policy".into(),
        other => other.to_string(),
    }
}
