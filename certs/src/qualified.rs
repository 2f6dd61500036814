//! Qualified status (QCStatements and policies) and the purpose of a certificate's key.
//!
//! x509-parser leaves QCStatements unparsed, so they are read here from their DER. Ukrainian
//! providers issue each person two certificates: one for signing and one for key agreement
//! (encryption). [`Purpose`] tells them apart so the second is never offered for signing.

use serde::Serialize;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;

use crate::{der, oids, Error};

/// What the QCStatements and certificate policies say about a certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QualifiedStatus {
    /// QcCompliance (ETSI EN 319 412-5): an EU-qualified certificate.
    pub qc_compliance: bool,
    /// QcSSCD: the private key lives on a qualified signature creation device.
    pub qc_sscd: bool,
    /// QcType values (esign, eseal, web); empty when the statement is absent.
    pub qc_types: Vec<QcType>,
    /// QcPDS URLs (PKI disclosure statements).
    pub qc_pds: Vec<String>,
    /// The Ukrainian "qualified certificate" statement 1.2.804.2.1.1.1.2.1.
    pub ua_qualified: bool,
    /// Semantics identifier of id-qcs-pkixQCSyntax-v2: natural or legal person.
    pub semantics: Option<Semantics>,
    /// Every certificate policy OID, dotted.
    pub policies: Vec<String>,
    /// The Ukrainian qualified policy 1.2.804.2.1.1.1.2.2 is among the policies.
    pub ua_qualified_policy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
/// The QcType statement (ETSI EN 319 412-5): what a qualified certificate is for.
pub enum QcType {
    /// Electronic signatures.
    Esign,
    /// Electronic seals.
    Eseal,
    /// Website authentication.
    Web,
    /// A type Brama does not know, by its OID.
    Other(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
/// The semantics identifier of a PKIX QCStatement (ETSI EN 319 412-1).
pub enum Semantics {
    /// A natural person's identifier.
    NaturalPerson,
    /// A legal person's identifier.
    LegalPerson,
}

impl QualifiedStatus {
    /// Read from a parsed certificate. A malformed QCStatements extension is an error, not
    /// "not qualified": a broken extension must not quietly downgrade into a verdict.
    pub fn read(cert: &X509Certificate<'_>) -> Result<QualifiedStatus, Error> {
        let mut status = QualifiedStatus::default();
        for ext in cert.extensions() {
            if oids::is(&ext.oid, oids::EXT_QC_STATEMENTS) {
                read_qc_statements(ext.value, &mut status).map_err(|e| e.within("QCStatements"))?;
            } else if oids::is(&ext.oid, oids::EXT_CERTIFICATE_POLICIES) {
                match ext.parsed_extension() {
                    ParsedExtension::CertificatePolicies(policies) => {
                        for p in policies.iter() {
                            status.policies.push(oids::dotted(&p.policy_id));
                        }
                    }
                    _ => return Err(Error::malformed("certificatePolicies does not parse")),
                }
            }
        }
        status.ua_qualified_policy = status
            .policies
            .iter()
            .any(|p| p == oids::UA_QUALIFIED_POLICY);
        Ok(status)
    }

    /// Qualified per design.md §4 step 5: QcCompliance or the Ukrainian qualified statement.
    pub fn is_qualified(&self) -> bool {
        self.qc_compliance || self.ua_qualified
    }

    /// Qualified *for electronic signatures*: qualified, and a QcType, when present, is esign.
    /// Qualified seals and website certificates are refused for a person's login.
    pub fn is_qualified_esign(&self) -> bool {
        self.is_qualified() && (self.qc_types.is_empty() || self.qc_types.contains(&QcType::Esign))
    }
}

fn read_qc_statements(bytes: &[u8], status: &mut QualifiedStatus) -> Result<(), Error> {
    let bad = |what: &str| Error::malformed(what);
    let seq = der::one(bytes)?;
    for statement in der::elements(&seq)? {
        let parts = der::elements(&statement)?;
        let id = parts.first().ok_or_else(|| bad("empty statement"))?;
        let id = id.as_oid().map_err(|_| bad("statementId is not an OID"))?;
        let info = parts.get(1);
        let id = oids::dotted(&id);
        match id.as_str() {
            oids::QCS_COMPLIANCE => status.qc_compliance = true,
            oids::QCS_SSCD => status.qc_sscd = true,
            oids::UA_QC_STATEMENT => status.ua_qualified = true,
            oids::QCS_TYPE => {
                let info = info.ok_or_else(|| bad("QcType without types"))?;
                for t in der::elements(info)? {
                    let t = t.as_oid().map_err(|_| bad("QcType value is not an OID"))?;
                    status.qc_types.push(match oids::dotted(&t).as_str() {
                        oids::QCT_ESIGN => QcType::Esign,
                        oids::QCT_ESEAL => QcType::Eseal,
                        oids::QCT_WEB => QcType::Web,
                        other => QcType::Other(other.to_string()),
                    });
                }
            }
            oids::QCS_PDS => {
                let info = info.ok_or_else(|| bad("QcPDS without locations"))?;
                for location in der::elements(info)? {
                    let fields = der::elements(&location)?;
                    if let Some(url) = fields.first() {
                        status.qc_pds.push(der::string(url)?);
                    }
                }
            }
            oids::QCS_PKIX_SYNTAX_V2 => {
                // SemanticsInformation ::= SEQUENCE { semanticsIdentifier OID OPTIONAL, ... }
                if let Some(info) = info {
                    let first = der::elements(info)?.into_iter().next();
                    if let Some(Ok(sid)) = first.as_ref().map(|f| f.as_oid()) {
                        status.semantics = match oids::dotted(&sid).as_str() {
                            oids::SEMANTICS_NATURAL => Some(Semantics::NaturalPerson),
                            oids::SEMANTICS_LEGAL => Some(Semantics::LegalPerson),
                            _ => None,
                        };
                    }
                }
            }
            // QcLimitValue, QcRetentionPeriod and private statements do not change the verdict.
            _ => {}
        }
    }
    Ok(())
}

/// What a certificate's key is for, from basicConstraints and keyUsage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// digitalSignature or nonRepudiation: may sign a login or a document.
    Signing,
    /// keyAgreement / keyEncipherment / dataEncipherment only: the Ukrainian encryption
    /// certificate. Never offered for signing.
    KeyAgreement,
    /// A CA certificate.
    CertificateAuthority,
    /// No keyUsage extension. Brama does not offer such a certificate for signing: qualified
    /// certificates always state their key usage.
    Unspecified,
    /// keyUsage present but with no bit that fits a person's signature (keyCertSign alone).
    Other,
}

impl Purpose {
    /// What a certificate's keyUsage and EKU say it is for.
    pub fn read(cert: &X509Certificate<'_>) -> Result<Purpose, Error> {
        let bc = cert
            .basic_constraints()
            .map_err(|e| Error::malformed(format!("basicConstraints: {e}")))?;
        if bc.is_some_and(|bc| bc.value.ca) {
            return Ok(Purpose::CertificateAuthority);
        }
        let ku = cert
            .key_usage()
            .map_err(|e| Error::malformed(format!("keyUsage: {e}")))?;
        let Some(ku) = ku.map(|k| k.value) else {
            return Ok(Purpose::Unspecified);
        };
        Ok(if ku.digital_signature() || ku.non_repudiation() {
            Purpose::Signing
        } else if ku.key_agreement() || ku.key_encipherment() || ku.data_encipherment() {
            Purpose::KeyAgreement
        } else {
            Purpose::Other
        })
    }

    /// Whether a key with this purpose may sign a login.
    pub fn can_sign(self) -> bool {
        self == Purpose::Signing
    }
}

/// The names of the keyUsage bits that are set, for display.
pub fn key_usage_names(cert: &X509Certificate<'_>) -> Vec<&'static str> {
    let Ok(Some(ku)) = cert.key_usage() else {
        return Vec::new();
    };
    let ku = ku.value;
    [
        (ku.digital_signature(), "digitalSignature"),
        (ku.non_repudiation(), "nonRepudiation"),
        (ku.key_encipherment(), "keyEncipherment"),
        (ku.data_encipherment(), "dataEncipherment"),
        (ku.key_agreement(), "keyAgreement"),
        (ku.key_cert_sign(), "keyCertSign"),
        (ku.crl_sign(), "cRLSign"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}
