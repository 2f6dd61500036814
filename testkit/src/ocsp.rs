//! A small OCSP responder that signs with the dev PKI's DSTU 4145 responder key: no OCSP
//! server that speaks DSTU runs on this machine (`openssl ocsp` cannot sign with DSTU), so the
//! tests answer with this one, written to RFC 6960 field by field. It echoes the request's
//! CertID and nonce, says `revoked` for the serials given, and can misbehave on request.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use certs::cms::tlv;
use certs::der;
use certs::devpki::keys::X509Signer;
use certs::dstu::SecretKey;

/// How the responder answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Correctly: signed by the delegated DSTU responder, nonce echoed.
    Honest,
    /// Signed by a key that is no responder of the CA (a citizen's), its certificate embedded.
    WrongSigner,
    /// Without the nonce.
    NoNonce,
}

struct Responder {
    key: SecretKey,
    certificate: Vec<u8>,
    revoked: Vec<Vec<u8>>,
    behaviour: Behaviour,
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn generalized(t: time::OffsetDateTime) -> Vec<u8> {
    let f = time::macros::format_description!("[year][month][day][hour][minute][second]Z");
    tlv(0x18, t.format(&f).expect("time").as_bytes())
}

/// What the responder reads from a request.
struct Asked {
    /// The first request's CertID, DER (echoed in the answer).
    cert_id: Vec<u8>,
    /// Its serial number's content octets.
    serial: Vec<u8>,
    /// The nonce extension, DER, when the request has one.
    nonce: Option<Vec<u8>>,
}

fn read_request(body: &[u8]) -> Option<Asked> {
    let req = der::one(body).ok()?;
    let tbs = der::elements(&req).ok()?.into_iter().next()?;
    let mut cert_id = None;
    let mut nonce = None;
    for field in der::elements(&tbs).ok()? {
        if field.header.is_contextspecific() {
            if field.header.tag().0 == 2 {
                let exts = der::elements(&field).ok()?.into_iter().next()?;
                for (ext, raw) in der::elements_raw(&exts).ok()? {
                    let parts = der::elements(&ext).ok()?;
                    let oid = certs::oids::dotted(&parts.first()?.as_oid().ok()?);
                    if oid == "1.3.6.1.5.5.7.48.1.2" {
                        nonce = Some(raw.to_vec());
                    }
                }
            }
            continue;
        }
        // requestList: SEQUENCE OF Request { reqCert, … }
        let first = der::elements(&field).ok()?.into_iter().next()?;
        let (id, id_raw) = der::elements_raw(&first).ok()?.into_iter().next()?;
        let serial = der::elements(&id).ok()?.get(3)?.data.to_vec();
        cert_id = Some((id_raw.to_vec(), serial));
    }
    let (cert_id, serial) = cert_id?;
    Some(Asked {
        cert_id,
        serial,
        nonce,
    })
}

fn answer(r: &Responder, body: &[u8]) -> Vec<u8> {
    let Some(Asked {
        cert_id,
        serial,
        nonce,
    }) = read_request(body)
    else {
        return seq(&[&tlv(0x0a, &[1])]); // malformedRequest
    };
    let now = time::OffsetDateTime::now_utc();
    let now = now - time::Duration::nanoseconds(now.nanosecond() as i64);
    let strip = |s: &[u8]| {
        s.iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect::<Vec<u8>>()
    };
    let status = if r.revoked.iter().any(|s| strip(s) == strip(&serial)) {
        tlv(0xa1, &generalized(now - time::Duration::hours(1)))
    } else {
        vec![0x80, 0x00]
    };
    let single = seq(&[
        &cert_id,
        &status,
        &generalized(now - time::Duration::minutes(1)),
        &tlv(0xa0, &generalized(now + time::Duration::hours(1))),
    ]);
    let subject = certs::parse(&r.certificate)
        .map(|c| c.subject().as_raw().to_vec())
        .unwrap_or_default();
    let mut tbs = [
        tlv(0xa1, &subject), // responderID byName
        generalized(now),
        seq(&[&single]),
    ]
    .concat();
    if let (Some(n), false) = (nonce, r.behaviour == Behaviour::NoNonce) {
        tbs.extend(tlv(0xa1, &seq(&[&n])));
    }
    let tbs = tlv(0x30, &tbs);
    let sig = r.key.sign_tbs(&tbs).expect("DSTU signature");
    let mut bits = vec![0u8];
    bits.extend(&sig);
    let basic = seq(&[
        &tbs,
        &r.key.algorithm(),
        &tlv(0x03, &bits),
        &tlv(0xa0, &seq(&[&r.certificate])),
    ]);
    let bytes = seq(&[
        &tlv(0x06, &certs::oids::encode("1.3.6.1.5.5.7.48.1.1")),
        &tlv(0x04, &basic),
    ]);
    seq(&[&tlv(0x0a, &[0]), &tlv(0xa0, &bytes)])
}

/// Serves the DSTU CA's answers on a free loopback port; returns its URL.
pub async fn serve_dstu(
    pki: &Path,
    manifest: &certs::devpki::Manifest,
    behaviour: Behaviour,
) -> String {
    let signer = if behaviour == Behaviour::WrongSigner {
        "dstu-citizen"
    } else {
        "dstu-ocsp"
    };
    let e = manifest.certificate(signer).expect("responder entry");
    let key = SecretKey::from_store(
        &std::fs::read(pki.join(&e.key)).expect("responder key"),
        e.password.as_bytes(),
    )
    .expect("responder key opens");
    let revoked = manifest
        .dstu
        .iter()
        .filter(|e| e.expected == "certificate_revoked")
        .map(|e| hex::decode(&e.serial).expect("serial"))
        .collect();
    let responder = Arc::new(Responder {
        key,
        certificate: std::fs::read(pki.join(&e.certificate_der)).expect("responder certificate"),
        revoked,
        behaviour,
    });
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: axum::body::Bytes| {
            let r = responder.clone();
            async move {
                (
                    [("content-type", "application/ocsp-response")],
                    answer(&r, &body),
                )
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}/")
}
