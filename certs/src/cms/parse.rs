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
///
/// Every tag of the envelope is checked, not only the parts the signature covers: the
/// ContentInfo, SignedData and SignerInfo around the signed attributes are not signed, and a
/// reader that skipped their tags would accept messages that no other verifier reads the same way.
pub fn parse(der: &[u8]) -> Result<SignedData<'_>, Error> {
    use crate::der::{elements, elements_raw, expect, expect_context, is_context, one};
    use asn1_rs::Tag;
    let bad = |what: &str| Error::malformed(format!("CMS: {what}"));
    let oid_of = |a: &asn1_rs::Any<'_>| {
        a.as_oid()
            .map(|o| oids::dotted(&o))
            .map_err(|_| bad("expected an OID"))
    };

    let root = one(der)?;
    expect(&root, Tag::Sequence, "CMS ContentInfo")?;
    let ci = elements(&root)?;
    if ci.len() != 2 || oid_of(&ci[0])? != ID_SIGNED_DATA {
        return Err(bad("not a SignedData ContentInfo"));
    }
    expect_context(&ci[1], 0, true, "CMS ContentInfo content")?;
    let mut content = elements(&ci[1])?.into_iter();
    let (Some(sd), None) = (content.next(), content.next()) else {
        return Err(bad("the content must be one SignedData"));
    };
    expect(&sd, Tag::Sequence, "CMS SignedData")?;
    let fields = elements(&sd)?;
    // version, digestAlgorithms, encapContentInfo, [0] certificates?, [1] crls?, signerInfos
    if fields.len() < 4 {
        return Err(bad("SignedData is incomplete"));
    }
    expect(&fields[0], Tag::Integer, "CMS SignedData version")?;
    expect(&fields[1], Tag::Set, "CMS SignedData digestAlgorithms")?;
    expect(&fields[2], Tag::Sequence, "CMS encapContentInfo")?;
    let encap = elements(&fields[2])?;
    if encap.len() > 2 {
        return Err(bad("encapContentInfo has extra fields"));
    }
    let content_type = oid_of(encap.first().ok_or_else(|| bad("no eContentType"))?)?;
    let content = match encap.get(1) {
        Some(explicit) => {
            expect_context(explicit, 0, true, "CMS eContent")?;
            let mut inner = elements(explicit)?.into_iter();
            let (Some(octets), None) = (inner.next(), inner.next()) else {
                return Err(bad("eContent must be one OCTET STRING"));
            };
            expect(&octets, Tag::OctetString, "CMS eContent")
                .map_err(|_| bad("eContent is not a primitive OCTET STRING"))?;
            Some(octets.data)
        }
        None => None,
    };
    let (optional, last) = fields[3..].split_at(fields.len() - 4);
    let mut certificates = Vec::new();
    let mut next_tag = 0; // [0] then [1], each at most once
    for f in optional {
        let n = (0..2)
            .find(|&n| is_context(f, n))
            .filter(|&n| n >= next_tag);
        let Some(n) = n else {
            return Err(bad(
                "unexpected field between encapContentInfo and signerInfos",
            ));
        };
        expect_context(f, n, true, "CMS SignedData")?;
        next_tag = n + 1;
        if n == 0 {
            for (cert, raw) in elements_raw(f)? {
                // Other CertificateChoices (attribute certificates) are tagged [1]..[3]: skipped.
                if !cert.header.is_contextspecific() {
                    expect(&cert, Tag::Sequence, "CMS certificate")?;
                    certificates.push(raw);
                }
            }
        }
    }
    expect(&last[0], Tag::Set, "CMS signerInfos")?;
    let mut signers = Vec::new();
    for si in elements(&last[0])? {
        signers.push(parse_signer(&si)?);
    }
    // DER's shortest headers everywhere but inside the embedded certificates.
    crate::der::check_canonical(der, &|raw| {
        certificates.iter().any(|c| c.as_ptr() == raw.as_ptr())
    })?;
    Ok(SignedData {
        content_type,
        content,
        certificates,
        signers,
    })
}

fn parse_signer<'a>(si: &asn1_rs::Any<'a>) -> Result<SignerInfo<'a>, Error> {
    use crate::der::{elements, elements_raw, expect, expect_context, is_context};
    use asn1_rs::Tag;
    let bad = |what: &str| Error::malformed(format!("CMS SignerInfo: {what}"));
    let oid_of = |a: &asn1_rs::Any<'_>| {
        a.as_oid()
            .map(|o| oids::dotted(&o))
            .map_err(|_| bad("expected an OID"))
    };
    expect(si, Tag::Sequence, "CMS SignerInfo")?;
    let f = elements(si)?;
    if f.len() < 5 {
        return Err(bad("incomplete"));
    }
    expect(&f[0], Tag::Integer, "CMS SignerInfo version")?;
    let sid = if f[1].header.is_contextspecific() {
        expect_context(&f[1], 0, false, "CMS SignerInfo subjectKeyIdentifier")?;
        SignerId::SubjectKeyId(f[1].data)
    } else {
        expect(&f[1], Tag::Sequence, "CMS SignerInfo issuerAndSerialNumber")?;
        let parts = elements_raw(&f[1])?;
        let (Some((name, issuer)), Some((serial, _)), 2) =
            (parts.first(), parts.get(1), parts.len())
        else {
            return Err(bad("issuerAndSerialNumber is incomplete"));
        };
        expect(name, Tag::Sequence, "CMS SignerInfo issuer")?;
        expect(serial, Tag::Integer, "CMS SignerInfo serialNumber")?;
        SignerId::IssuerSerial {
            issuer,
            serial: serial.data,
        }
    };
    expect(&f[2], Tag::Sequence, "CMS SignerInfo digestAlgorithm")?;
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
    if is_context(&f[3], 0) {
        expect_context(&f[3], 0, true, "CMS signedAttrs")?;
        signer.signed_attributes = Some(tlv(0x31, f[3].data));
        let mut seen = std::collections::HashSet::new();
        for attr in elements(&f[3])? {
            expect(&attr, Tag::Sequence, "CMS signed attribute")?;
            let parts = elements(&attr)?;
            let kind = oid_of(parts.first().ok_or_else(|| bad("empty attribute"))?)?;
            let (Some(set), 2) = (parts.get(1), parts.len()) else {
                return Err(bad("an attribute must have a type and one SET of values"));
            };
            expect(set, Tag::Set, "CMS signed attribute values")?;
            let values = elements(set)?;
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
    expect(alg, Tag::Sequence, "CMS SignerInfo signatureAlgorithm")?;
    signer.signature_algorithm = oid_of(
        elements(alg)?
            .first()
            .ok_or_else(|| bad("empty signatureAlgorithm"))?,
    )?;
    let sig = f.get(i + 1).ok_or_else(|| bad("no signature"))?;
    expect(sig, Tag::OctetString, "CMS SignerInfo signature")
        .map_err(|_| bad("signature is not an OCTET STRING"))?;
    signer.signature = sig.data;
    match &f[i + 2..] {
        [] => {}
        [unsigned] => expect_context(unsigned, 1, true, "CMS unsignedAttrs")?,
        _ => return Err(bad("fields after the signature")),
    }
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
