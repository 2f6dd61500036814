//! Reading SignedData: structure only, borrowed from the DER; [`super::verify`] checks it.

use super::Digest;
use super::{
    tlv, ATTR_CONTENT_TYPE, ATTR_MESSAGE_DIGEST, ATTR_SIGNING_CERTIFICATE_V2, ATTR_SIGNING_TIME,
    ID_SIGNED_DATA,
};
use crate::{oids, Error};

/// A parsed SignedData: borrowed views into the DER, nothing verified yet.
#[derive(Debug)]
pub struct SignedData<'a> {
    /// eContentType, dotted.
    pub content_type: String,
    /// The encapsulated content, when attached.
    pub content: Option<&'a [u8]>,
    /// Embedded certificates, DER.
    pub certificates: Vec<&'a [u8]>,
    /// The SignerInfos, in order.
    pub signers: Vec<SignerInfo<'a>>,
}

/// How a SignerInfo names its certificate.
#[derive(Debug)]
pub enum SignerId<'a> {
    /// issuer Name (DER) and serial INTEGER content bytes.
    IssuerSerial {
        /// The issuer Name, DER.
        issuer: &'a [u8],
        /// The serial number's content octets.
        serial: &'a [u8],
    },
    /// The subjectKeyIdentifier.
    SubjectKeyId(&'a [u8]),
}

/// One SignerInfo, borrowed from the DER it was parsed from.
#[derive(Debug)]
pub struct SignerInfo<'a> {
    /// Which certificate signed.
    pub sid: SignerId<'a>,
    /// digestAlgorithm, dotted.
    pub digest_algorithm: String,
    /// The signed attributes re-encoded as the DER SET that was signed (tag 0x31).
    pub signed_attributes: Option<Vec<u8>>,
    /// The content-type attribute, dotted.
    pub content_type_attribute: Option<String>,
    /// The message-digest attribute's value, when present.
    pub message_digest: Option<&'a [u8]>,
    /// ESSCertIDv2 of signing-certificate-v2: (hash algorithm, hash) of the first cert id.
    pub signing_certificate_v2: Option<(String, &'a [u8])>,
    /// The signing-time attribute, when present and readable.
    pub signing_time: Option<time::OffsetDateTime>,
    /// Every signed attribute's type, dotted, in the order they appear.
    pub attribute_types: Vec<String>,
    /// Whether any attribute appears twice (RFC 5652 forbids it for these).
    pub duplicate_attributes: bool,
    /// signatureAlgorithm, dotted.
    pub signature_algorithm: String,
    /// The signature value.
    pub signature: &'a [u8],
}

/// Parse a DER ContentInfo holding SignedData. Structure only: no signature is checked.
pub fn parse(der: &[u8]) -> Result<SignedData<'_>, Error> {
    use crate::der::{elements, elements_raw, one};
    let bad = |what: &str| Error::malformed(format!("CMS: {what}"));
    let oid_of = |a: &asn1_rs::Any<'_>| {
        a.as_oid()
            .map(|o| oids::dotted(&o))
            .map_err(|_| bad("expected an OID"))
    };

    let ci = elements(&one(der)?)?;
    if ci.len() != 2 || oid_of(&ci[0])? != ID_SIGNED_DATA {
        return Err(bad("not a SignedData ContentInfo"));
    }
    let sd = elements(&ci[1])?
        .into_iter()
        .next()
        .ok_or_else(|| bad("empty content"))?;
    let fields = elements(&sd)?;
    // version, digestAlgorithms, encapContentInfo, [0] certificates?, [1] crls?, signerInfos
    if fields.len() < 4 {
        return Err(bad("SignedData is incomplete"));
    }
    let encap = elements(&fields[2])?;
    let content_type = oid_of(encap.first().ok_or_else(|| bad("no eContentType"))?)?;
    let content = match encap.get(1) {
        Some(explicit) => {
            let octets = elements(explicit)?
                .into_iter()
                .next()
                .ok_or_else(|| bad("empty eContent"))?;
            if octets.header.tag() != asn1_rs::Tag::OctetString || octets.header.is_constructed() {
                return Err(bad("eContent is not a primitive OCTET STRING"));
            }
            Some(octets.data)
        }
        None => None,
    };
    let mut certificates = Vec::new();
    for f in &fields[3..fields.len() - 1] {
        if f.header.is_contextspecific() && f.header.tag().0 == 0 {
            for (_, raw) in elements_raw(f)? {
                certificates.push(raw);
            }
        }
    }
    let mut signers = Vec::new();
    for si in elements(&fields[fields.len() - 1])? {
        signers.push(parse_signer(&si)?);
    }
    Ok(SignedData {
        content_type,
        content,
        certificates,
        signers,
    })
}

fn parse_signer<'a>(si: &asn1_rs::Any<'a>) -> Result<SignerInfo<'a>, Error> {
    use crate::der::{elements, elements_raw};
    let bad = |what: &str| Error::malformed(format!("CMS SignerInfo: {what}"));
    let oid_of = |a: &asn1_rs::Any<'_>| {
        a.as_oid()
            .map(|o| oids::dotted(&o))
            .map_err(|_| bad("expected an OID"))
    };
    let f = elements(si)?;
    if f.len() < 5 {
        return Err(bad("incomplete"));
    }
    let sid = if f[1].header.is_contextspecific() {
        SignerId::SubjectKeyId(f[1].data)
    } else {
        let parts = elements_raw(&f[1])?;
        let (Some((_, issuer)), Some((serial, _))) = (parts.first(), parts.get(1)) else {
            return Err(bad("issuerAndSerialNumber is incomplete"));
        };
        SignerId::IssuerSerial {
            issuer,
            serial: serial.data,
        }
    };
    let digest_algorithm = oid_of(
        elements(&f[2])?
            .first()
            .ok_or_else(|| bad("empty digestAlgorithm"))?,
    )?;
    let mut i = 3;
    let mut signer = SignerInfo {
        sid,
        digest_algorithm,
        signed_attributes: None,
        content_type_attribute: None,
        message_digest: None,
        signing_certificate_v2: None,
        signing_time: None,
        attribute_types: Vec::new(),
        duplicate_attributes: false,
        signature_algorithm: String::new(),
        signature: &[],
    };
    if f[3].header.is_contextspecific() && f[3].header.tag().0 == 0 {
        signer.signed_attributes = Some(tlv(0x31, f[3].data));
        let mut seen = std::collections::HashSet::new();
        for attr in elements(&f[3])? {
            let parts = elements(&attr)?;
            let kind = oid_of(parts.first().ok_or_else(|| bad("empty attribute"))?)?;
            let values = elements(
                parts
                    .get(1)
                    .ok_or_else(|| bad("attribute without values"))?,
            )?;
            if !seen.insert(kind.clone()) || values.len() != 1 {
                signer.duplicate_attributes = true;
            }
            signer.attribute_types.push(kind.clone());
            let value = values
                .into_iter()
                .next()
                .ok_or_else(|| bad("attribute without a value"))?;
            match kind.as_str() {
                ATTR_CONTENT_TYPE => signer.content_type_attribute = Some(oid_of(&value)?),
                ATTR_MESSAGE_DIGEST => signer.message_digest = Some(value.data),
                ATTR_SIGNING_TIME => signer.signing_time = signing_time(&value),
                ATTR_SIGNING_CERTIFICATE_V2 => {
                    // SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2, policies? }
                    let certs = elements(&value)?
                        .into_iter()
                        .next()
                        .ok_or_else(|| bad("empty SigningCertificateV2"))?;
                    let first = elements(&certs)?
                        .into_iter()
                        .next()
                        .ok_or_else(|| bad("no ESSCertIDv2"))?;
                    let id = elements(&first)?;
                    let (alg, hash) = match id.first() {
                        Some(a) if a.header.tag() == asn1_rs::Tag::Sequence => {
                            let alg = oid_of(
                                elements(a)?
                                    .first()
                                    .ok_or_else(|| bad("empty hashAlgorithm"))?,
                            )?;
                            (alg, id.get(1).ok_or_else(|| bad("no certHash"))?.data)
                        }
                        Some(h) => (Digest::Sha256.oid().to_string(), h.data),
                        None => return Err(bad("empty ESSCertIDv2")),
                    };
                    signer.signing_certificate_v2 = Some((alg, hash));
                }
                _ => {}
            }
        }
        i = 4;
    }
    let alg = f.get(i).ok_or_else(|| bad("no signatureAlgorithm"))?;
    signer.signature_algorithm = oid_of(
        elements(alg)?
            .first()
            .ok_or_else(|| bad("empty signatureAlgorithm"))?,
    )?;
    let sig = f.get(i + 1).ok_or_else(|| bad("no signature"))?;
    if sig.header.tag() != asn1_rs::Tag::OctetString {
        return Err(bad("signature is not an OCTET STRING"));
    }
    signer.signature = sig.data;
    Ok(signer)
}

/// UTCTime or GeneralizedTime as a point in time; `None` when it is neither.
fn signing_time(value: &asn1_rs::Any<'_>) -> Option<time::OffsetDateTime> {
    use asn1_rs::{GeneralizedTime, Tag, UtcTime};
    let t = match value.tag() {
        Tag::UtcTime => UtcTime::try_from(value.clone())
            .ok()?
            .utc_adjusted_datetime()
            .ok()?,
        Tag::GeneralizedTime => GeneralizedTime::try_from(value.clone())
            .ok()?
            .utc_datetime()
            .ok()?,
        _ => return None,
    };
    Some(t)
}
