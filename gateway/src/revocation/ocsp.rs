//! An OCSP query and the full check of its answer (RFC 6960): response status, the signature
//! by the issuing CA or a responder it delegated to (id-kp-OCSPSigning) — or a responder pinned
//! for the issuer —, exactly one SingleResponse for our CertID, thisUpdate neither in the future
//! beyond the skew nor older than the configured age, nextUpdate not passed, the nonce echoed.
#![allow(unsafe_code)] // libcrypto: OCSP nonce and status lookups the openssl crate does not wrap

use std::os::raw::c_int;

use foreign_types::ForeignTypeRef;
use openssl::hash::MessageDigest;
use openssl::ocsp::{
    OcspCertId, OcspCertStatus, OcspFlag, OcspRequest, OcspResponse, OcspResponseStatus,
    OcspRevokedStatus,
};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;

use super::{Checker, IssuerRule, Problem};

// Neither the openssl crate nor openssl-sys declares these (all in libcrypto since 1.0).
extern "C" {
    fn OCSP_request_add1_nonce(
        req: *mut openssl_sys::OCSP_REQUEST,
        val: *mut u8,
        len: c_int,
    ) -> c_int;
    fn OCSP_check_nonce(
        req: *mut openssl_sys::OCSP_REQUEST,
        bs: *mut openssl_sys::OCSP_BASICRESP,
    ) -> c_int;
    fn OCSP_resp_find(
        bs: *mut openssl_sys::OCSP_BASICRESP,
        id: *mut openssl_sys::OCSP_CERTID,
        last: c_int,
    ) -> c_int;
}

/// What a checked answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Good, and may be reused until this unix time.
    Good {
        until: i64,
    },
    Revoked {
        at: i64,
        reason: String,
    },
    Unknown,
}

/// The OCSP responder URL in the certificate's AIA (the first http one).
pub fn responder_url(leaf: &X509) -> Option<String> {
    let urls = leaf.ocsp_responders().ok()?;
    urls.iter()
        .map(|u| u.to_string())
        .find(|u| u.starts_with("http://") || u.starts_with("https://"))
}

/// Cache key: the issuer certificate's hash and the serial.
pub fn cache_key(leaf: &X509, issuer: &X509) -> Vec<u8> {
    let mut key = issuer
        .digest(MessageDigest::sha256())
        .map(|d| d.to_vec())
        .unwrap_or_default();
    if let Ok(serial) = leaf.serial_number().to_bn() {
        key.extend(serial.to_vec());
    }
    key
}

fn reason_name(r: OcspRevokedStatus) -> &'static str {
    match r {
        OcspRevokedStatus::KEY_COMPROMISE => "keyCompromise",
        OcspRevokedStatus::CA_COMPROMISE => "cACompromise",
        OcspRevokedStatus::AFFILIATION_CHANGED => "affiliationChanged",
        OcspRevokedStatus::STATUS_SUPERSEDED => "superseded",
        OcspRevokedStatus::STATUS_CESSATION_OF_OPERATION => "cessationOfOperation",
        OcspRevokedStatus::STATUS_CERTIFICATE_HOLD => "certificateHold",
        OcspRevokedStatus::REMOVE_FROM_CRL => "removeFromCRL",
        _ => "unspecified",
    }
}

/// Ask `url` about `leaf` and check the answer at `now`.
pub async fn query(
    checker: &Checker,
    url: &str,
    leaf: &X509,
    issuer: &X509,
    rule: Option<&IssuerRule>,
    now: i64,
) -> Result<Answer, Problem> {
    let s = &checker.settings;
    fn e(what: &'static str) -> impl Fn(openssl::error::ErrorStack) -> Problem {
        move |err| Problem::Unusable(format!("{what}: {err}"))
    }
    let mut req = OcspRequest::new().map_err(e("request"))?;
    req.add_id(OcspCertId::from_cert(MessageDigest::sha1(), leaf, issuer).map_err(e("CertID"))?)
        .map_err(e("request"))?;
    if s.nonce {
        // SAFETY: a valid request; OpenSSL makes a random 16-byte nonce when val is null.
        let added = unsafe { OCSP_request_add1_nonce(req.as_ptr(), std::ptr::null_mut(), -1) };
        if added != 1 {
            return Err(Problem::Unusable("could not add a nonce".into()));
        }
    }
    let der = req.to_der().map_err(e("request"))?;
    let body = checker.fetch.ocsp(url, der).await?;
    let resp = OcspResponse::from_der(&body).map_err(e("not an OCSP response"))?;
    if resp.status() != OcspResponseStatus::SUCCESSFUL {
        return Err(Problem::Unusable(format!(
            "the responder answered status {} (not successful)",
            resp.status().as_raw()
        )));
    }
    let basic = resp.basic().map_err(e("no basic response"))?;

    // The signature: by the CA or its delegated responder, chained to our anchors; or by the
    // responder pinned for this issuer.
    let mut store = X509StoreBuilder::new().map_err(e("store"))?;
    for c in &s.trusted {
        store.add_cert(c.clone()).map_err(e("store"))?;
    }
    let store = store.build();
    let mut certs = Stack::new().map_err(e("stack"))?;
    let flags = match rule.and_then(|r| r.responder.clone()) {
        Some(pinned) => {
            certs.push(pinned).map_err(e("stack"))?;
            OcspFlag::NO_INTERN | OcspFlag::TRUST_OTHER | OcspFlag::NO_CHECKS
        }
        None => {
            certs.push(issuer.clone()).map_err(e("stack"))?;
            for c in &s.untrusted {
                certs.push(c.clone()).map_err(e("stack"))?;
            }
            OcspFlag::empty()
        }
    };
    if super::ocsp_signature::signed_with_dstu(&body) {
        // OpenSSL cannot check DSTU 4145: the same rule, checked in Rust.
        super::ocsp_signature::verify(&body, issuer, rule.and_then(|r| r.responder.as_ref()), now)?;
    } else {
        basic.verify(&certs, &store, flags).map_err(|err| {
            Problem::Unusable(format!("the answer's signature does not verify: {err}"))
        })?;
    }

    if s.nonce {
        // SAFETY: both pointers are valid for the call.
        let n = unsafe { OCSP_check_nonce(req.as_ptr(), basic.as_ptr()) };
        if n != 1 {
            return Err(Problem::Unusable(format!(
                "the answer does not echo our nonce (OCSP_check_nonce = {n}); set nonce = false for responders that refuse nonces"
            )));
        }
    }

    let id = OcspCertId::from_cert(MessageDigest::sha1(), leaf, issuer).map_err(e("CertID"))?;
    // SAFETY: valid pointers; OCSP_resp_find returns an index or -1.
    let (first, second) = unsafe {
        let first = OCSP_resp_find(basic.as_ptr(), id.as_ptr(), -1);
        let second = if first >= 0 {
            OCSP_resp_find(basic.as_ptr(), id.as_ptr(), first)
        } else {
            -1
        };
        (first, second)
    };
    if first < 0 {
        return Err(Problem::Unusable(
            "the answer has no status for this certificate".into(),
        ));
    }
    if second >= 0 {
        return Err(Problem::Unusable(
            "the answer has more than one status for this certificate".into(),
        ));
    }
    let status = basic
        .find_status(&id)
        .ok_or_else(|| Problem::Unusable("the answer has no status for this certificate".into()))?;
    let this_update = super::unix_from_openssl(&status.this_update.to_string())
        .ok_or_else(|| Problem::Unusable("unreadable thisUpdate".into()))?;
    if this_update > now + s.skew {
        return Err(Problem::Unusable(format!(
            "thisUpdate {} is in the future",
            super::rfc3339(this_update)
        )));
    }
    if now - this_update > s.max_age {
        return Err(Problem::Unusable(format!(
            "stale answer: thisUpdate {} is older than {} s",
            super::rfc3339(this_update),
            s.max_age
        )));
    }
    let until = match status.next_update() {
        Some(next) => {
            let next = super::unix_from_openssl(&next.to_string())
                .ok_or_else(|| Problem::Unusable("unreadable nextUpdate".into()))?;
            if next < now {
                return Err(Problem::Unusable(format!(
                    "stale answer: nextUpdate {} has passed",
                    super::rfc3339(next)
                )));
            }
            next.min(this_update + s.max_age)
        }
        // Without nextUpdate the responder promises nothing: good for a short configured time.
        None => {
            let until = this_update + s.max_age_without_next_update;
            if until < now {
                return Err(Problem::Unusable(format!(
                    "stale answer: no nextUpdate and thisUpdate {} is older than {} s",
                    super::rfc3339(this_update),
                    s.max_age_without_next_update
                )));
            }
            until
        }
    };
    Ok(match status.status {
        OcspCertStatus::GOOD => Answer::Good { until },
        OcspCertStatus::REVOKED => Answer::Revoked {
            at: status
                .revocation_time
                .and_then(|t| super::unix_from_openssl(&t.to_string()))
                .unwrap_or(0),
            reason: reason_name(status.reason).into(),
        },
        _ => Answer::Unknown,
    })
}
