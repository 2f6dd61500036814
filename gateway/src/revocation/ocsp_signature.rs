//! The signature of an OCSP answer checked in Rust, for answers OpenSSL cannot check: those
//! signed with DSTU 4145 (Ukrainian CAs' responders). The rule is OpenSSL's: signed by the
//! issuing CA itself, or by a responder whose certificate the CA issued (its signature under
//! the CA's key) with id-kp-OCSPSigning and valid now — or by the responder pinned for the
//! issuer. Everything else about the answer (status, nonce, times) is checked by the caller
//! as for any answer.

use certs::{der, oids};
use openssl::x509::X509;

use super::Problem;

/// A BasicOCSPResponse's parts, borrowed from the response DER.
struct Basic<'a> {
    tbs: &'a [u8],
    algorithm: String,
    signature: &'a [u8],
    certificates: Vec<&'a [u8]>,
}

fn unusable(what: &str) -> Problem {
    Problem::Unusable(format!("OCSP answer: {what}"))
}

fn basic(response: &[u8]) -> Result<Basic<'_>, Problem> {
    let bad = |_| unusable("not a well-formed response");
    let top = der::elements(&der::one(response).map_err(bad)?).map_err(bad)?;
    // OCSPResponse { responseStatus, [0] EXPLICIT ResponseBytes { OID, OCTET STRING } }
    let bytes = top.get(1).ok_or_else(|| unusable("no response bytes"))?;
    let bytes = der::elements(bytes).map_err(bad)?;
    let bytes = bytes.first().ok_or_else(|| unusable("no response bytes"))?;
    let parts = der::elements(bytes).map_err(bad)?;
    let octets = parts.get(1).ok_or_else(|| unusable("no basic response"))?;
    let fields = der::elements_raw(&der::one(octets.data).map_err(bad)?).map_err(bad)?;
    let [(_, tbs), (alg, _), (sig, _), rest @ ..] = fields.as_slice() else {
        return Err(unusable("an incomplete BasicOCSPResponse"));
    };
    let algorithm = der::elements(alg)
        .map_err(bad)?
        .first()
        .and_then(|o| o.as_oid().ok())
        .map(|o| oids::dotted(&o))
        .ok_or_else(|| unusable("no signature algorithm"))?;
    // BIT STRING: skip the unused-bits octet.
    let signature = sig
        .data
        .split_first()
        .filter(|(unused, _)| **unused == 0)
        .map(|(_, s)| s)
        .ok_or_else(|| unusable("a malformed signature"))?;
    let mut certificates = Vec::new();
    if let Some((certs, _)) = rest.first() {
        for seq in der::elements(certs).map_err(bad)? {
            for (_, raw) in der::elements_raw(&seq).map_err(bad)? {
                certificates.push(raw);
            }
        }
    }
    Ok(Basic {
        tbs,
        algorithm,
        signature,
        certificates,
    })
}

/// Whether the answer is signed with DSTU 4145 (then [`verify`] checks it, not OpenSSL).
pub fn signed_with_dstu(response: &[u8]) -> bool {
    basic(response).is_ok_and(|b| certs::dstu::is_dstu_oid(&b.algorithm))
}

/// Checks the answer's signature as described in the module; `now` for the responder's validity.
pub fn verify(
    response: &[u8],
    issuer: &X509,
    pinned: Option<&X509>,
    now: i64,
) -> Result<(), Problem> {
    let b = basic(response)?;
    let der_of = |c: &X509| c.to_der().map_err(|e| unusable(&e.to_string()));
    let issuer_der = der_of(issuer)?;
    let issuer_cert = certs::parse(&issuer_der).map_err(|e| unusable(&e.to_string()))?;
    let issuer_key = issuer_cert.public_key().raw;
    let signed_by = |spki: &[u8]| {
        certs::signature::verify_signed(spki, &b.algorithm, b.tbs, b.signature).is_ok()
    };
    if let Some(pinned) = pinned {
        let der = der_of(pinned)?;
        let cert = certs::parse(&der).map_err(|e| unusable(&e.to_string()))?;
        return if signed_by(cert.public_key().raw) {
            Ok(())
        } else {
            Err(unusable("not signed by the pinned responder"))
        };
    }
    if signed_by(issuer_key) {
        return Ok(());
    }
    for der in &b.certificates {
        let Ok(responder) = certs::parse(der) else {
            continue;
        };
        let delegated = responder.issuer().as_raw() == issuer_cert.subject().as_raw()
            && certs::signature::verify_signed(
                issuer_key,
                &oids::dotted(&responder.signature_algorithm.algorithm),
                responder.tbs_certificate.as_ref(),
                &responder.signature_value.data,
            )
            .is_ok()
            && matches!(responder.extended_key_usage(), Ok(Some(eku)) if eku.value.ocsp_signing)
            && responder.validity().not_before.timestamp() <= now
            && now <= responder.validity().not_after.timestamp();
        if delegated && signed_by(responder.public_key().raw) {
            return Ok(());
        }
    }
    Err(unusable(
        "signed neither by the issuing CA nor by a responder it delegated to (id-kp-OCSPSigning)",
    ))
}
