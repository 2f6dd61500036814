//! A certificate as a person or an operator is shown it: identity, issuer, validity, key,
//! purpose and qualified status.

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use x509_parser::certificate::X509Certificate;
use x509_parser::public_key::PublicKey;

use crate::names::Dn;
use crate::qualified::{key_usage_names, Purpose, QualifiedStatus};
use crate::{oids, Error, Identity};

/// What a user or an operator is shown about one certificate: who, by whom, when, for what.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateSummary {
    /// Who the certificate names.
    pub identity: Identity,
    /// The subject as RFC 4514-style text, in certificate order.
    pub subject: String,
    /// The issuer as RFC 4514-style text, in certificate order.
    pub issuer: String,
    /// The issuing CA's CN, for short display.
    pub issuer_name: Option<String>,
    /// The issuing CA's organisation (O): what a person recognises ("АТ КБ «ПриватБанк»").
    pub issuer_org: Option<String>,
    /// Serial number, upper-case hex without separators.
    pub serial: String,
    /// Start of validity, RFC 3339.
    pub not_before: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// "ECDSA P-256", "RSA-2048", "DSTU 4145", or the algorithm OID.
    pub key_algorithm: String,
    /// The keyUsage bits set, by their RFC 5280 names.
    pub key_usage: Vec<&'static str>,
    /// Signing or key agreement.
    pub purpose: Purpose,
    /// Qualified status from QCStatements and policies.
    pub qualified: QualifiedStatus,
    /// SHA-256 of the DER certificate, lower-case hex.
    pub sha256: String,
}

impl CertificateSummary {
    /// Decode `der` and summarise it.
    pub fn from_der(der: &[u8]) -> Result<CertificateSummary, Error> {
        CertificateSummary::of(der, &crate::parse(der)?)
    }

    /// Summarise a certificate already decoded from `der` (the gateway decodes a login's
    /// certificate once and reads everything from that).
    pub fn of(
        der: &[u8],
        cert: &x509_parser::certificate::X509Certificate<'_>,
    ) -> Result<CertificateSummary, Error> {
        let issuer = Dn::read(cert.issuer())?;
        let time = |t: x509_parser::time::ASN1Time| {
            t.to_datetime()
                .format(&Rfc3339)
                .unwrap_or_else(|_| t.to_string())
        };
        Ok(CertificateSummary {
            identity: Identity::from_x509(cert)?,
            subject: Dn::read(cert.subject())?.to_text(),
            issuer_name: issuer.get(oids::CN).map(str::to_string),
            issuer_org: issuer.get(oids::ORGANIZATION).map(str::to_string),
            issuer: issuer.to_text(),
            serial: cert
                .raw_serial()
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect(),
            not_before: time(cert.validity().not_before),
            not_after: time(cert.validity().not_after),
            key_algorithm: key_algorithm(cert),
            key_usage: key_usage_names(cert),
            purpose: Purpose::read(cert)?,
            qualified: QualifiedStatus::read(cert)?,
            sha256: hex(&crate::sha256(der)),
        })
    }
}

pub(crate) use crate::hex;

fn key_algorithm(cert: &X509Certificate<'_>) -> String {
    let spki = cert.public_key();
    let alg = oids::dotted(&spki.algorithm.algorithm);
    if alg == oids::DSTU_4145_LE || alg.starts_with("1.2.804.2.1.1.1.1.3.1") {
        return "DSTU 4145".to_string();
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA-{}", rsa.key_size()),
        Ok(PublicKey::EC(_)) => match ec_curve(spki) {
            Some(oid) => format!("ECDSA {}", curve_name(&oid).unwrap_or(&oid)),
            None => "ECDSA".to_string(),
        },
        _ => alg,
    }
}

/// The named curve of an EC public key, as a dotted OID.
pub fn ec_curve(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Option<String> {
    spki.algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| oids::dotted(&o))
}

/// "P-256", "P-384", "P-521" for the curves Brama accepts; `None` for any other.
pub fn curve_name(oid: &str) -> Option<&'static str> {
    match oid {
        oids::CURVE_P256 => Some("P-256"),
        oids::CURVE_P384 => Some("P-384"),
        oids::CURVE_P521 => Some("P-521"),
        _ => None,
    }
}
