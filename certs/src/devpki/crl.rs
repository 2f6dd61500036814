//! The dev PKI's revocation data: the issuing CA's base CRL, its delta CRL, and `index.txt`
//! (the `openssl ocsp -index` database), kept consistent with each other.
//!
//! CRLs are written field by field (yasna) and signed with OpenSSL: rcgen cannot write a delta
//! CRL indicator, and real Ukrainian CAs publish deltas (certificates name them in FreshestCRL).

use std::path::Path;

use openssl::pkey::{PKey, Private};
use time::OffsetDateTime;
use yasna::models::{ObjectIdentifier, UTCTime};

use crate::{der, oids, Error};

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The serial number, big-endian bytes as in the certificate (no sign byte).
    pub serial: Vec<u8>,
    pub at: OffsetDateTime,
    /// RFC 5280 CRLReason (1 keyCompromise, 4 superseded, 5 cessationOfOperation, …).
    pub reason: u8,
}

pub use crate::revocation::{reason_code, reason_name, REASONS};

fn oid(dotted: &str) -> ObjectIdentifier {
    ObjectIdentifier::from_slice(&oids::arcs(dotted))
}

/// The delta CRL's URL next to the base CRL's (`…/ica.crl` → `…/ica-delta.crl`).
pub fn delta_url(crl_url: &str) -> String {
    match crl_url.strip_suffix(".crl") {
        Some(stem) => format!("{stem}-delta.crl"),
        None => format!("{crl_url}-delta"),
    }
}

/// What a CRL says, as written.
pub struct CrlParams<'a> {
    /// The issuer certificate (its subject becomes the CRL's issuer).
    pub issuer_der: &'a [u8],
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    pub number: u64,
    /// For a delta CRL: the number of the base CRL it completes.
    pub delta_of: Option<u64>,
    pub revoked: &'a [Revoked],
}

fn write_integer_bytes(w: yasna::DERWriter<'_>, unsigned: &[u8]) {
    let mut bytes: Vec<u8> = unsigned.iter().copied().skip_while(|b| *b == 0).collect();
    if bytes.is_empty() || bytes[0] & 0x80 != 0 {
        bytes.insert(0, 0);
    }
    let mut out = vec![0x02];
    der_len(&mut out, bytes.len());
    out.extend_from_slice(&bytes);
    w.write_der(&out);
}

fn der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let b = len.to_be_bytes();
        let b: Vec<u8> = b.iter().copied().skip_while(|x| *x == 0).collect();
        out.push(0x80 | b.len() as u8);
        out.extend_from_slice(&b);
    }
}

/// UTCTime holds whole seconds.
fn utc(t: OffsetDateTime) -> UTCTime {
    UTCTime::from_datetime(t.replace_nanosecond(0).expect("zero is a valid nanosecond"))
}

fn write_extension(w: yasna::DERWriter<'_>, dotted: &str, critical: bool, value: &[u8]) {
    w.write_sequence(|w| {
        w.next().write_oid(&oid(dotted));
        if critical {
            w.next().write_bool(true);
        }
        w.next().write_bytes(value);
    })
}

/// A signed CRL (DER) by `key`: ECDSA or RSA with SHA-256, or DSTU 4145.
pub fn build(p: &CrlParams<'_>, key: &dyn super::keys::X509Signer) -> Result<Vec<u8>, Error> {
    let issuer = crate::parse(p.issuer_der)?;
    let issuer_name = issuer.subject().as_raw().to_vec();
    let key_id = issuer
        .extensions()
        .iter()
        .find(|e| oids::dotted(&e.oid) == oids::EXT_SUBJECT_KEY_IDENTIFIER)
        .and_then(|e| der::one(e.value).ok())
        .map(|v| v.data.to_vec());
    let alg_id = key.algorithm();
    let tbs = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(1); // v2
            w.next().write_der(&alg_id);
            w.next().write_der(&issuer_name);
            w.next().write_utctime(&utc(p.this_update));
            w.next().write_utctime(&utc(p.next_update));
            if !p.revoked.is_empty() {
                w.next().write_sequence(|w| {
                    for r in p.revoked {
                        w.next().write_sequence(|w| {
                            write_integer_bytes(w.next(), &r.serial);
                            w.next().write_utctime(&utc(r.at));
                            w.next().write_sequence(|w| {
                                let reason =
                                    yasna::construct_der(|w| w.write_enum(r.reason as i64));
                                write_extension(w.next(), oids::EXT_CRL_REASON, false, &reason);
                            });
                        })
                    }
                });
            }
            w.next().write_tagged(yasna::Tag::context(0), |w| {
                w.write_sequence(|w| {
                    if let Some(kid) = &key_id {
                        let aki = yasna::construct_der(|w| {
                            w.write_sequence(|w| {
                                w.next().write_tagged_implicit(yasna::Tag::context(0), |w| {
                                    w.write_bytes(kid)
                                })
                            })
                        });
                        write_extension(w.next(), oids::EXT_AUTHORITY_KEY_IDENTIFIER, false, &aki);
                    }
                    let number = yasna::construct_der(|w| w.write_u64(p.number));
                    write_extension(w.next(), oids::EXT_CRL_NUMBER, false, &number);
                    if let Some(base) = p.delta_of {
                        let base = yasna::construct_der(|w| w.write_u64(base));
                        write_extension(w.next(), oids::EXT_DELTA_CRL_INDICATOR, true, &base);
                    }
                })
            });
        })
    });
    let signature = key.sign_tbs(&tbs)?;
    Ok(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_der(&tbs);
            w.next().write_der(&alg_id);
            w.next().write_bitvec_bytes(&signature, signature.len() * 8);
        })
    }))
}

/// One line of `index.txt`.
#[derive(Debug, Clone)]
struct IndexLine {
    status: char,
    expiry: String,
    revoked: String,
    serial: String,
    rest: String,
}

fn parse_index(text: &str) -> Vec<IndexLine> {
    text.lines()
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(5, '\t').collect();
            (f.len() == 5).then(|| IndexLine {
                status: f[0].chars().next().unwrap_or('?'),
                expiry: f[1].into(),
                revoked: f[2].into(),
                serial: f[3].into(),
                rest: f[4].into(),
            })
        })
        .collect()
}

fn index_time(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[year repr:last_two][month][day][hour][minute][second]Z"
    );
    t.format(&f).expect("formattable time")
}

fn parse_index_time(s: &str) -> Option<OffsetDateTime> {
    // YYMMDDHHMMSSZ; two-digit years 50–99 are 19xx, as in UTCTime.
    let d = s.strip_suffix('Z')?;
    if d.len() != 12 || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |i: usize| d[i..i + 2].parse::<u8>().ok();
    let yy = n(0)? as i32;
    let date = time::Date::from_calendar_date(
        if yy >= 50 { 1900 + yy } else { 2000 + yy },
        time::Month::try_from(n(2)?).ok()?,
        n(4)?,
    )
    .ok()?;
    let t = time::Time::from_hms(n(6)?, n(8)?, n(10)?).ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_utc())
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    hex::decode(s).ok()
}

/// The revoked entries of `index.txt`.
pub fn revoked_in_index(text: &str) -> Vec<Revoked> {
    parse_index(text)
        .into_iter()
        .filter(|l| l.status == 'R')
        .filter_map(|l| {
            let (when, reason) = l
                .revoked
                .split_once(',')
                .unwrap_or((&l.revoked, "unspecified"));
            Some(Revoked {
                serial: unhex(&l.serial)?
                    .into_iter()
                    .skip_while(|b| *b == 0)
                    .collect(),
                at: parse_index_time(when)?,
                reason: reason_code(reason).unwrap_or(0),
            })
        })
        .collect()
}

/// The serials a CRL lists and its number.
fn read_crl(der_bytes: &[u8]) -> Result<(u64, Vec<Vec<u8>>), Error> {
    use x509_parser::prelude::FromDer;
    let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(der_bytes)
        .map_err(|e| Error::malformed(format!("CRL: {e}")))?;
    let number = crl
        .crl_number()
        .and_then(|n| n.to_u64_digits().first().copied())
        .unwrap_or(0);
    let serials = crl
        .iter_revoked_certificates()
        .map(|r| {
            r.raw_serial()
                .iter()
                .copied()
                .skip_while(|b| *b == 0)
                .collect()
        })
        .collect();
    Ok((number, serials))
}

/// Which CRL a revocation goes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// A new base CRL listing every revocation, and an empty delta after it.
    Base,
    /// The base CRL stays; the delta lists what the base does not.
    Delta,
}

/// Write `crl.pem`/`crl.der` and `delta.pem`/`delta.der` from `index.txt`.
pub fn publish(
    dir: &Path,
    issuer_der: &[u8],
    key: &PKey<Private>,
    how: Publish,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let index_path = dir.join("index.txt");
    let index = std::fs::read_to_string(&index_path).map_err(Error::io(&index_path))?;
    let all = revoked_in_index(&index);
    let base_path = dir.join("crl.der");
    let (base_number, in_base) = match std::fs::read(&base_path) {
        Ok(der) => read_crl(&der)?,
        Err(_) => (0, Vec::new()),
    };
    let delta_number = match std::fs::read(dir.join("delta.der")) {
        Ok(der) => read_crl(&der)?.0,
        Err(_) => 0,
    };
    let next = base_number.max(delta_number) + 1;
    let this_update = now - time::Duration::minutes(1);
    let next_update = now + time::Duration::days(30);
    let (base_number, delta_list) = match how {
        Publish::Base => {
            let der = build(
                &CrlParams {
                    issuer_der,
                    this_update,
                    next_update,
                    number: next,
                    delta_of: None,
                    revoked: &all,
                },
                key,
            )?;
            write_crl(dir, "crl", &der)?;
            (next, Vec::new())
        }
        Publish::Delta => (
            base_number,
            all.iter()
                .filter(|r| !in_base.contains(&r.serial))
                .cloned()
                .collect(),
        ),
    };
    let delta = build(
        &CrlParams {
            issuer_der,
            this_update,
            next_update: now + time::Duration::days(1),
            number: if how == Publish::Base { next + 1 } else { next },
            delta_of: Some(base_number),
            revoked: &delta_list,
        },
        key,
    )?;
    write_crl(dir, "delta", &delta)
}

fn write_crl(dir: &Path, stem: &str, der_bytes: &[u8]) -> Result<(), Error> {
    let pem = openssl::x509::X509Crl::from_der(der_bytes)?.to_pem()?;
    for (name, bytes) in [
        (format!("{stem}.der"), der_bytes),
        (format!("{stem}.pem"), &pem[..]),
    ] {
        let path = dir.join(&name);
        std::fs::write(&path, bytes).map_err(Error::io(&path))?;
    }
    Ok(())
}

/// The issuing CA's certificate and key, from the manifest.
fn issuing_ca(dir: &Path) -> Result<(Vec<u8>, PKey<Private>), Error> {
    let manifest = super::Manifest::load(dir)?;
    let ica = manifest
        .certificate("ica")
        .ok_or_else(|| Error::malformed("manifest has no ica"))?;
    let issuer_der = std::fs::read(dir.join(&ica.certificate_der)).map_err(Error::io(dir))?;
    let key_pem = std::fs::read(dir.join(&ica.key)).map_err(Error::io(dir))?;
    let key = PKey::private_key_from_pem_passphrase(&key_pem, ica.password.as_bytes())?;
    Ok((issuer_der, key))
}

/// Publish fresh CRLs from `index.txt` (a dev PKI kept for weeks would otherwise serve stale
/// ones: the delta lives a day, the base 30 days).
pub fn republish(dir: &Path, now: OffsetDateTime) -> Result<(), Error> {
    let (issuer_der, key) = issuing_ca(dir)?;
    publish(dir, &issuer_der, &key, Publish::Base, now)
}

/// Mark `serial` revoked in `index.txt` (the OCSP responder sees it at once) and publish the
/// CRLs: `brama-certs revoke`.
pub fn revoke(
    dir: &Path,
    serial: &[u8],
    reason: u8,
    how: Publish,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let index_path = dir.join("index.txt");
    let index = std::fs::read_to_string(&index_path).map_err(Error::io(&index_path))?;
    let mut lines = parse_index(&index);
    let wanted = crate::hex(serial).to_uppercase();
    let line = lines
        .iter_mut()
        .find(|l| l.serial.eq_ignore_ascii_case(&wanted))
        .ok_or_else(|| Error::malformed(format!("serial {wanted} is not in index.txt")))?;
    if line.status == 'R' {
        return Err(Error::malformed(format!(
            "serial {wanted} is already revoked"
        )));
    }
    line.status = 'R';
    line.revoked = format!("{},{}", index_time(now), reason_name(reason));
    let text: String = lines
        .iter()
        .map(|l| {
            format!(
                "{}\t{}\t{}\t{}\t{}\n",
                l.status, l.expiry, l.revoked, l.serial, l.rest
            )
        })
        .collect();
    let (issuer_der, key) = issuing_ca(dir)?;
    // index.txt changes only together with the CRLs: on failure the old one is put back.
    std::fs::write(&index_path, text).map_err(Error::io(&index_path))?;
    let published = publish(dir, &issuer_der, &key, how, now);
    if published.is_err() {
        let _ = std::fs::write(&index_path, &index);
    }
    published
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_times_and_reasons_round_trip() {
        let t = parse_index_time("261123054402Z").unwrap();
        assert_eq!(index_time(t), "261123054402Z");
        assert_eq!(reason_code(reason_name(1)), Some(1));
        assert_eq!(delta_url("http://x/ica.crl"), "http://x/ica-delta.crl");
        let r = revoked_in_index("R\t301231000000Z\t261101000000Z,keyCompromise\t0A1B\tunknown\t/CN=x\nV\t301231000000Z\t\t0C\tunknown\t/CN=y\n");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].serial, vec![0x0a, 0x1b]);
        assert_eq!(r[0].reason, 1);
    }
}
