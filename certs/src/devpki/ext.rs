//! Builders for the extensions rcgen does not write itself: QCStatements, certificate
//! policies, SubjectDirectoryAttributes, AIA and OCSP no-check. Public so tests can build
//! certificates field by field the way real Ukrainian, eIDAS and Russian CAs do.

use rcgen::CustomExtension;
use yasna::models::ObjectIdentifier;
use yasna::DERWriter;

use crate::oids;

fn write_oid(w: DERWriter<'_>, dotted: &str) {
    w.write_oid(&ObjectIdentifier::from_slice(&oids::arcs(dotted)));
}

/// One QCStatement.
#[derive(Debug, Clone, Copy)]
pub enum Qc<'a> {
    Compliance,
    Sscd,
    /// QcType with one type OID (`oids::QCT_ESIGN`, `QCT_ESEAL`, `QCT_WEB`).
    Type(&'a str),
    /// QcPDS with one English location.
    Pds(&'a str),
    /// The Ukrainian qualified statement 1.2.804.2.1.1.1.2.1.
    UaQualified,
    /// id-qcs-pkixQCSyntax-v2 with a semantics identifier.
    Semantics(&'a str),
}

pub fn qc_statements(statements: &[Qc<'_>], critical: bool) -> CustomExtension {
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for qc in statements {
                w.next().write_sequence(|w| match *qc {
                    Qc::Compliance => write_oid(w.next(), oids::QCS_COMPLIANCE),
                    Qc::Sscd => write_oid(w.next(), oids::QCS_SSCD),
                    Qc::UaQualified => write_oid(w.next(), oids::UA_QC_STATEMENT),
                    Qc::Type(t) => {
                        write_oid(w.next(), oids::QCS_TYPE);
                        w.next().write_sequence(|w| write_oid(w.next(), t));
                    }
                    Qc::Pds(url) => {
                        write_oid(w.next(), oids::QCS_PDS);
                        w.next().write_sequence(|w| {
                            w.next().write_sequence(|w| {
                                w.next().write_ia5_string(url);
                                w.next().write_printable_string("en");
                            })
                        });
                    }
                    Qc::Semantics(id) => {
                        write_oid(w.next(), oids::QCS_PKIX_SYNTAX_V2);
                        w.next().write_sequence(|w| write_oid(w.next(), id));
                    }
                })
            }
        })
    });
    let mut ext = CustomExtension::from_oid_content(&oids::arcs(oids::EXT_QC_STATEMENTS), der);
    ext.set_criticality(critical);
    ext
}

pub fn certificate_policies(policies: &[&str]) -> CustomExtension {
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for p in policies {
                w.next().write_sequence(|w| write_oid(w.next(), p));
            }
        })
    });
    CustomExtension::from_oid_content(&oids::arcs(oids::EXT_CERTIFICATE_POLICIES), der)
}

/// How an attribute value is encoded.
#[derive(Debug, Clone, Copy)]
pub enum Text<'a> {
    Printable(&'a str),
    Utf8(&'a str),
}

/// SubjectDirectoryAttributes with one value per attribute, as Ukrainian CAs write DRFO,
/// EDRPOU and УНЗР.
pub fn subject_directory_attributes(attrs: &[(&str, Text<'_>)]) -> CustomExtension {
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for (oid, value) in attrs {
                w.next().write_sequence(|w| {
                    write_oid(w.next(), oid);
                    w.next().write_set(|w| match value {
                        Text::Printable(v) => w.next().write_printable_string(v),
                        Text::Utf8(v) => w.next().write_utf8_string(v),
                    });
                })
            }
        })
    });
    CustomExtension::from_oid_content(&oids::arcs(oids::EXT_SUBJECT_DIRECTORY_ATTRIBUTES), der)
}

/// Authority Information Access: the OCSP responder and, optionally, where the CA's
/// certificate can be fetched.
pub fn authority_info_access(ocsp_url: &str, ca_issuers: Option<&str>) -> CustomExtension {
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            let mut access = |method: &str, url: &str| {
                w.next().write_sequence(|w| {
                    write_oid(w.next(), method);
                    // GeneralName uniformResourceIdentifier [6] IMPLICIT IA5String
                    w.next()
                        .write_tagged_implicit(yasna::Tag::context(6), |w| w.write_ia5_string(url));
                })
            };
            access(oids::AD_OCSP, ocsp_url);
            if let Some(url) = ca_issuers {
                access(oids::AD_CA_ISSUERS, url);
            }
        })
    });
    CustomExtension::from_oid_content(&oids::arcs(oids::EXT_AUTHORITY_INFO_ACCESS), der)
}

/// id-pkix-ocsp-nocheck: a delegated OCSP responder's own status is not checked.
pub fn ocsp_nocheck() -> CustomExtension {
    CustomExtension::from_oid_content(&oids::arcs(oids::EXT_OCSP_NOCHECK), vec![0x05, 0x00])
}

/// FreshestCRL (RFC 5280 §4.2.1.15): where the delta CRL is, with the syntax of CRL
/// distribution points. Real Diia certificates carry it.
pub fn freshest_crl(url: &str) -> CustomExtension {
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                // distributionPoint [0] { fullName [0] GeneralNames { [6] URI } }
                w.next().write_tagged(yasna::Tag::context(0), |w| {
                    w.write_tagged_implicit(yasna::Tag::context(0), |w| {
                        w.write_sequence(|w| {
                            w.next().write_tagged_implicit(yasna::Tag::context(6), |w| {
                                w.write_ia5_string(url)
                            })
                        })
                    })
                })
            })
        })
    });
    CustomExtension::from_oid_content(&oids::arcs(oids::EXT_FRESHEST_CRL), der)
}
