//! Certification path validation in Rust, for chains OpenSSL cannot check: any chain with a
//! DSTU 4145 key or signature on it (Ukrainian CAs, and mixed chains where a DSTU root signs an
//! ECDSA CA or the reverse). ECDSA/RSA-only chains stay with OpenSSL in the gateway; this
//! module makes the same checks, so a chain is held to one standard whichever path it takes:
//!
//! - the path is built by names (issuer = subject) and key identifiers, anchors first, every
//!   signature checked with [`crate::signature`];
//! - every certificate, the anchor included, is within its validity at the time checked;
//! - every issuer is a CA (basicConstraints cA), within its pathLenConstraint, with
//!   keyCertSign when it carries keyUsage;
//! - keys are not weak: RSA ≥ 2048, ECDSA on P-256/384/521, DSTU 4145 over GF(2^m) with
//!   m ≥ [`MIN_DSTU_DEGREE`] (the 112-bit floor of OpenSSL's security level 2);
//! - critical extensions are among [`KNOWN_CRITICAL`]; name constraints are enforced for
//!   directory names and refuse (fail closed) any other name form they constrain;
//! - optionally, the leaf against the CRLs given (as OpenSSL's `CRL_CHECK`).

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::public_key::PublicKey as ParsedKey;

use crate::signature::{self, SignatureError};
use crate::{dstu, oids};

/// Longest path accepted (leaf and anchor included).
pub const MAX_DEPTH: usize = 8;

/// Smallest DSTU 4145 field degree accepted: GF(2^233) gives about 116-bit security.
pub const MIN_DSTU_DEGREE: usize = 233;

/// Critical extensions Brama understands (Brama or OpenSSL checks each); any other critical
/// extension on any certificate of a path refuses it.
pub const KNOWN_CRITICAL: &[&str] = &[
    oids::EXT_KEY_USAGE,
    oids::EXT_BASIC_CONSTRAINTS,
    oids::EXT_EXTENDED_KEY_USAGE,
    oids::EXT_CERTIFICATE_POLICIES,
    oids::EXT_SUBJECT_ALT_NAME,
    oids::EXT_QC_STATEMENTS,
    oids::EXT_SUBJECT_DIRECTORY_ATTRIBUTES,
    oids::EXT_SUBJECT_KEY_IDENTIFIER,
    oids::EXT_AUTHORITY_KEY_IDENTIFIER,
    oids::EXT_PRIVATE_KEY_USAGE_PERIOD,
    oids::EXT_ISSUER_ALT_NAME,
    oids::EXT_NAME_CONSTRAINTS,
    oids::EXT_POLICY_CONSTRAINTS,
    oids::EXT_INHIBIT_ANY_POLICY,
];

/// Why a path was refused. `depth` counts from the leaf (0) to the anchor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// A certificate's notAfter has passed.
    #[error("certificate {depth} of the chain has expired")]
    Expired {
        /// Where on the path.
        depth: usize,
    },
    /// A certificate's notBefore is still ahead.
    #[error("certificate {depth} of the chain is not yet valid")]
    NotYetValid {
        /// Where on the path.
        depth: usize,
    },
    /// No path reaches a trusted anchor.
    #[error("no path to a trusted anchor: {0}")]
    UntrustedIssuer(String),
    /// A signature on the path does not verify under its issuer's key.
    #[error("the signature of certificate {depth} of the chain does not verify")]
    BadSignature {
        /// Where on the path.
        depth: usize,
    },
    /// A weak key (named).
    #[error("{0}")]
    WeakKey(String),
    /// A weak signature algorithm (named).
    #[error("{0}")]
    WeakAlgorithm(String),
    /// An algorithm or key Brama does not implement (named).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A rule of RFC 5280 broken by a CA on the path (named).
    #[error("{0}")]
    Invalid(String),
    /// A critical extension Brama does not know.
    #[error("unknown critical extension {0}")]
    UnknownCritical(String),
    /// The leaf is on a CRL of its issuer.
    #[error("revoked ({0})")]
    Revoked(String),
    /// A certificate or CRL on the path is not well formed.
    #[error("malformed: {0}")]
    Malformed(String),
}

/// One certificate, decoded once.
struct Cert<'a> {
    der: &'a [u8],
    x: X509Certificate<'a>,
}

impl<'a> Cert<'a> {
    fn new(der: &'a [u8]) -> Result<Cert<'a>, PathError> {
        let x = crate::parse(der).map_err(|e| PathError::Malformed(e.to_string()))?;
        Ok(Cert { der, x })
    }

    fn subject(&self) -> &[u8] {
        self.x.subject().as_raw()
    }

    fn issuer(&self) -> &[u8] {
        self.x.issuer().as_raw()
    }

    fn extension(&self, oid: &str) -> Option<&ParsedExtension<'a>> {
        self.x
            .extensions()
            .iter()
            .find(|e| oids::dotted(&e.oid) == oid)
            .map(|e| e.parsed_extension())
    }

    fn key_id(&self) -> Option<&[u8]> {
        match self.extension(oids::EXT_SUBJECT_KEY_IDENTIFIER) {
            Some(ParsedExtension::SubjectKeyIdentifier(k)) => Some(k.0),
            _ => None,
        }
    }

    fn authority_key_id(&self) -> Option<&[u8]> {
        match self.extension(oids::EXT_AUTHORITY_KEY_IDENTIFIER) {
            Some(ParsedExtension::AuthorityKeyIdentifier(a)) => {
                a.key_identifier.as_ref().map(|k| k.0)
            }
            _ => None,
        }
    }

    fn self_issued(&self) -> bool {
        self.subject() == self.issuer()
    }

    /// Whether `self` may have issued `child`: names chain, and key identifiers agree when
    /// both are present.
    fn may_issue(&self, child: &Cert<'_>) -> bool {
        self.subject() == child.issuer()
            && match (self.key_id(), child.authority_key_id()) {
                (Some(ski), Some(aki)) => ski == aki,
                _ => true,
            }
    }
}

/// What to validate: the leaf, the certificates that may complete the path, the anchors, the
/// time (Unix seconds), and CRLs for the leaf (empty: no CRL check).
pub struct PathRequest<'a> {
    /// The end-entity certificate, DER.
    pub leaf: &'a [u8],
    /// Intermediate CAs (configured or brought with the signature), DER.
    pub intermediates: &'a [&'a [u8]],
    /// Trust anchors, DER. A path ends at the first anchor it reaches.
    pub anchors: &'a [&'a [u8]],
    /// The time to validate at, Unix seconds.
    pub at: i64,
    /// CRLs, DER; when not empty the leaf's issuer must have a valid one here.
    pub crls: &'a [&'a [u8]],
}

/// Builds and checks a path for `req.leaf`; returns it as DER, leaf first, anchor last.
pub fn validate(req: &PathRequest<'_>) -> Result<Vec<Vec<u8>>, PathError> {
    let leaf = Cert::new(req.leaf)?;
    let anchors: Vec<Cert<'_>> = req
        .anchors
        .iter()
        .filter_map(|d| Cert::new(d).ok())
        .collect();
    let others: Vec<Cert<'_>> = req
        .intermediates
        .iter()
        .filter(|d| !req.anchors.contains(d))
        .filter_map(|d| Cert::new(d).ok())
        .collect();
    let mut path = vec![&leaf];
    // A certificate trusted as an anchor itself is its own path (a CA's own signature).
    let found = if req.anchors.contains(&req.leaf) {
        path
    } else {
        extend(&mut path, &anchors, &others)?
    };
    check_path(&found, req.at)?;
    if !req.crls.is_empty() {
        check_crls(&found, req.crls, req.at)?;
    }
    Ok(found.iter().map(|c| c.der.to_vec()).collect())
}

/// Depth-first: anchors before intermediates, the first complete path whose signatures all
/// verify wins. The error kept is the one from the deepest attempt, the most telling one.
fn extend<'c, 'a>(
    path: &mut Vec<&'c Cert<'a>>,
    anchors: &'c [Cert<'a>],
    others: &'c [Cert<'a>],
) -> Result<Vec<&'c Cert<'a>>, PathError> {
    let current = *path.last().expect("the leaf");
    let depth = path.len() - 1;
    let mut best = PathError::UntrustedIssuer(if depth == 0 {
        "the issuer of the certificate is not among the trusted anchors and CAs".into()
    } else {
        format!("the issuer of certificate {depth} of the chain is not trusted")
    });
    if path.len() >= MAX_DEPTH {
        return Err(PathError::Invalid(format!(
            "the chain is longer than {MAX_DEPTH} certificates"
        )));
    }
    let candidates = anchors
        .iter()
        .map(|c| (c, true))
        .chain(others.iter().map(|c| (c, false)))
        .filter(|(c, _)| c.may_issue(current) && !path.iter().any(|p| p.der == c.der))
        .collect::<Vec<_>>();
    for (issuer, is_anchor) in candidates {
        if let Err(e) = check_signed(current, issuer, depth) {
            best = e;
            continue;
        }
        path.push(issuer);
        if is_anchor {
            return Ok(path.clone());
        }
        match extend(path, anchors, others) {
            Ok(done) => return Ok(done),
            Err(e) => best = e,
        }
        path.pop();
    }
    Err(best)
}

/// `child`'s signature under `issuer`'s key.
fn check_signed(child: &Cert<'_>, issuer: &Cert<'_>, depth: usize) -> Result<(), PathError> {
    signature::verify_signed(
        issuer.x.public_key().raw,
        &oids::dotted(&child.x.signature_algorithm.algorithm),
        child.x.tbs_certificate.as_ref(),
        &child.x.signature_value.data,
    )
    .map_err(|e| match e {
        SignatureError::Bad => PathError::BadSignature { depth },
        SignatureError::Weak(m) => PathError::WeakAlgorithm(m),
        SignatureError::Unsupported(m) => PathError::Unsupported(m),
        SignatureError::Malformed(m) => PathError::Malformed(m),
    })
}

/// The checks along a complete path (leaf first).
fn check_path(path: &[&Cert<'_>], at: i64) -> Result<(), PathError> {
    for (depth, c) in path.iter().enumerate() {
        let v = c.x.validity();
        if at < v.not_before.timestamp() {
            return Err(PathError::NotYetValid { depth });
        }
        if at > v.not_after.timestamp() {
            return Err(PathError::Expired { depth });
        }
        for ext in c.x.extensions().iter().filter(|e| e.critical) {
            let oid = oids::dotted(&ext.oid);
            if !KNOWN_CRITICAL.contains(&oid.as_str()) {
                return Err(PathError::UnknownCritical(oid));
            }
            if let ParsedExtension::UnsupportedExtension { .. }
            | ParsedExtension::ParseError { .. } = ext.parsed_extension()
            {
                if oid != oids::EXT_QC_STATEMENTS && oid != oids::EXT_SUBJECT_DIRECTORY_ATTRIBUTES {
                    return Err(PathError::Malformed(format!(
                        "certificate {depth} of the chain: extension {oid}"
                    )));
                }
            }
        }
        check_key_strength(&c.x, depth)?;
    }
    // Issuers: CA, path length, keyCertSign. `below` counts the non-self-issued
    // intermediates between an issuer and the leaf (RFC 5280 §6.1.4 (l), (m)).
    let mut below = 0usize;
    for depth in 1..path.len() {
        let c = path[depth];
        let what =
            |rule: &str| PathError::Invalid(format!("certificate {depth} of the chain: {rule}"));
        match c.extension(oids::EXT_BASIC_CONSTRAINTS) {
            Some(ParsedExtension::BasicConstraints(bc)) if bc.ca => {
                if let Some(max) = bc.path_len_constraint {
                    if below > max as usize {
                        return Err(what("path length constraint exceeded"));
                    }
                }
            }
            _ => return Err(what("not a CA (basicConstraints)")),
        }
        if let Some(ParsedExtension::KeyUsage(ku)) = c.extension(oids::EXT_KEY_USAGE) {
            if !ku.key_cert_sign() {
                return Err(what("keyUsage has no keyCertSign"));
            }
        }
        if let Some(ParsedExtension::NameConstraints(nc)) = c.extension(oids::EXT_NAME_CONSTRAINTS)
        {
            for (d, sub) in path[..depth].iter().enumerate() {
                // Self-issued intermediates are exempt (RFC 5280 §6.1.3 (b)).
                if d > 0 && sub.self_issued() {
                    continue;
                }
                check_name_constraints(nc, sub).map_err(|rule| what(&rule))?;
            }
        }
        if depth < path.len() - 1 && !(depth > 0 && c.self_issued()) {
            below += 1;
        }
    }
    Ok(())
}

fn check_key_strength(c: &X509Certificate<'_>, depth: usize) -> Result<(), PathError> {
    let spki = c.public_key();
    if signature::is_dstu_key(spki) {
        let key = dstu::PublicKey::decoded(spki.raw).map_err(|e| match e {
            dstu::DstuError::Unsupported(m) => PathError::Unsupported(m),
            other => PathError::Malformed(format!("certificate {depth} of the chain: {other}")),
        })?;
        let m = key.params.curve.field.m;
        if m < MIN_DSTU_DEGREE {
            return Err(PathError::WeakKey(format!(
                "certificate {depth} of the chain: DSTU 4145 over GF(2^{m}) (at least {MIN_DSTU_DEGREE} required)"
            )));
        }
        return Ok(());
    }
    match spki.parsed() {
        Ok(ParsedKey::RSA(rsa)) if rsa.key_size() < 2048 => Err(PathError::WeakKey(format!(
            "certificate {depth} of the chain: RSA-{}",
            rsa.key_size()
        ))),
        Ok(ParsedKey::RSA(_)) => Ok(()),
        Ok(ParsedKey::EC(_)) => match crate::certificate::ec_curve(spki)
            .as_deref()
            .and_then(crate::certificate::curve_name)
        {
            Some(_) => Ok(()),
            None => Err(PathError::WeakKey(format!(
                "certificate {depth} of the chain: an EC curve other than P-256, P-384, P-521"
            ))),
        },
        _ => Err(PathError::Unsupported(signature::algorithm_name(
            &oids::dotted(&spki.algorithm.algorithm),
        ))),
    }
}

/// Directory-name constraints on the subject; any other constrained name form that the
/// certificate carries is refused, as Brama does not evaluate it here.
fn check_name_constraints(
    nc: &x509_parser::extensions::NameConstraints<'_>,
    c: &Cert<'_>,
) -> Result<(), String> {
    let subject = c.subject();
    let within = |base: &GeneralName<'_>| match base {
        GeneralName::DirectoryName(dn) => Some(dn_within(subject, dn.as_raw())),
        _ => None,
    };
    let sans = matches!(
        c.extension(oids::EXT_SUBJECT_ALT_NAME),
        Some(ParsedExtension::SubjectAlternativeName(s)) if !s.general_names.is_empty()
    );
    let mut permitted_dn = None;
    for sub in nc.permitted_subtrees.iter().flatten() {
        match within(&sub.base) {
            Some(ok) => permitted_dn = Some(permitted_dn.unwrap_or(false) || ok),
            None if sans => {
                return Err("name constraints on a name form Brama does not check".into())
            }
            None => {}
        }
    }
    if permitted_dn == Some(false) && c.x.subject().iter().next().is_some() {
        return Err("the subject is outside the permitted name constraints".into());
    }
    for sub in nc.excluded_subtrees.iter().flatten() {
        match within(&sub.base) {
            Some(true) => return Err("the subject is within the excluded name constraints".into()),
            Some(false) => {}
            None if sans => {
                return Err("name constraints on a name form Brama does not check".into())
            }
            None => {}
        }
    }
    Ok(())
}

/// Whether the DER Name `name` lies under the DER Name `base`: its RDNs begin with base's.
fn dn_within(name: &[u8], base: &[u8]) -> bool {
    let rdns = |der: &[u8]| -> Option<Vec<Vec<u8>>> {
        let seq = crate::der::one(der).ok()?;
        Some(
            crate::der::elements_raw(&seq)
                .ok()?
                .into_iter()
                .map(|(_, raw)| raw.to_vec())
                .collect(),
        )
    };
    match (rdns(name), rdns(base)) {
        (Some(n), Some(b)) => b.len() <= n.len() && n[..b.len()] == b[..],
        _ => false,
    }
}

/// The leaf against its issuer's CRL among `crls`: one must be signed by the issuer and
/// current at `at`, and must not list the leaf.
fn check_crls(path: &[&Cert<'_>], crls: &[&[u8]], at: i64) -> Result<(), PathError> {
    use x509_parser::prelude::FromDer;
    use x509_parser::revocation_list::CertificateRevocationList;
    let (leaf, issuer) = (path[0], path[1]);
    let mut found = false;
    for der in crls {
        let Ok((_, crl)) = CertificateRevocationList::from_der(der) else {
            continue;
        };
        if crl.issuer().as_raw() != issuer.subject() {
            continue;
        }
        let signed = signature::verify_signed(
            issuer.x.public_key().raw,
            &oids::dotted(&crl.signature_algorithm.algorithm),
            crl.tbs_cert_list.as_ref(),
            &crl.signature_value.data,
        );
        if signed.is_err() {
            return Err(PathError::Invalid(
                "the CRL's signature does not verify".into(),
            ));
        }
        if crl.last_update().timestamp() > at {
            return Err(PathError::Invalid("the CRL is not yet valid".into()));
        }
        if crl.next_update().is_some_and(|n| n.timestamp() < at) {
            return Err(PathError::Invalid("the CRL has expired".into()));
        }
        found = true;
        let serial = leaf.x.raw_serial();
        let revoked = crl
            .iter_revoked_certificates()
            .find(|r| r.raw_serial() == serial)
            .map(|r| r.reason_code().map_or(0, |(_, c)| c.0));
        if let Some(reason) = revoked {
            return Err(PathError::Revoked(
                crate::revocation::reason_name(reason).to_string(),
            ));
        }
    }
    if !found {
        return Err(PathError::Invalid("no CRL of the leaf's issuer".into()));
    }
    Ok(())
}

/// Whether a certificate brings DSTU 4145 into a path: its key or its signature.
pub fn involves_dstu(der: &[u8]) -> bool {
    crate::parse(der).is_ok_and(|c| {
        signature::is_dstu_key(c.public_key())
            || dstu::is_dstu_oid(&oids::dotted(&c.signature_algorithm.algorithm))
    })
}
