//! Small DER reading helpers over asn1-rs: string decoding and walking constructed values.
//!
//! x509-parser hands QCStatements, SubjectDirectoryAttributes and DN values to us as raw DER;
//! these helpers read them without ever panicking on hostile input.

use asn1_rs::{Any, FromDer, Tag};

use crate::Error;

/// Parse exactly one DER value from `bytes` (trailing bytes are an error).
pub fn one(bytes: &[u8]) -> Result<Any<'_>, Error> {
    let (rest, any) = Any::from_der(bytes).map_err(|e| Error::malformed(format!("DER: {e}")))?;
    if !rest.is_empty() {
        return Err(Error::malformed("trailing bytes after a DER value"));
    }
    Ok(any)
}

/// The elements of a constructed value (SEQUENCE, SET, or a constructed context tag).
pub fn elements<'a>(any: &Any<'a>) -> Result<Vec<Any<'a>>, Error> {
    Ok(elements_raw(any)?
        .into_iter()
        .map(|(item, _)| item)
        .collect())
}

/// The elements of a constructed value together with each element's whole DER encoding.
pub fn elements_raw<'a>(any: &Any<'a>) -> Result<Vec<(Any<'a>, &'a [u8])>, Error> {
    if !any.header.is_constructed() {
        return Err(Error::malformed("expected a constructed DER value"));
    }
    let mut rest: &'a [u8] = any.data;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (r, item) = Any::from_der(rest).map_err(|e| Error::malformed(format!("DER: {e}")))?;
        out.push((item, &rest[..rest.len() - r.len()]));
        rest = r;
    }
    Ok(out)
}

/// Decode an X.520 DirectoryString or any other character string a certificate may carry.
///
/// Ukrainian certificates use UTF8String; older ones and some foreign CAs use BMPString
/// (UTF-16BE), PrintableString or TeletexString (read as Latin-1, as in practice).
pub fn string(any: &Any<'_>) -> Result<String, Error> {
    let data = any.data;
    let text = match any.header.tag() {
        Tag::Utf8String => String::from_utf8(data.to_vec())
            .map_err(|_| Error::malformed("UTF8String is not valid UTF-8"))?,
        Tag::PrintableString | Tag::Ia5String | Tag::NumericString | Tag::VisibleString => {
            if !data.is_ascii() {
                return Err(Error::malformed("ASCII string holds non-ASCII bytes"));
            }
            String::from_utf8(data.to_vec()).expect("ASCII is UTF-8")
        }
        Tag::BmpString => {
            if !data.len().is_multiple_of(2) {
                return Err(Error::malformed("BMPString has an odd length"));
            }
            let units = data.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .map_err(|_| Error::malformed("BMPString is not valid UTF-16"))?
        }
        Tag::UniversalString => {
            if !data.len().is_multiple_of(4) {
                return Err(Error::malformed(
                    "UniversalString length is not a multiple of 4",
                ));
            }
            data.chunks(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect::<Option<String>>()
                .ok_or_else(|| Error::malformed("UniversalString holds an invalid code point"))?
        }
        Tag::TeletexString => data.iter().map(|&b| b as char).collect(),
        other => {
            return Err(Error::malformed(format!(
                "not a character string (tag {other})"
            )))
        }
    };
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag, body.len() as u8];
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn decodes_every_string_type() {
        let utf8 = tlv(0x0c, "Мар’яна".as_bytes());
        assert_eq!(string(&one(&utf8).unwrap()).unwrap(), "Мар’яна");
        let bmp: Vec<u8> = "Вʼячеслав"
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        assert_eq!(
            string(&one(&tlv(0x1e, &bmp)).unwrap()).unwrap(),
            "Вʼячеслав"
        );
        assert_eq!(string(&one(&tlv(0x13, b"UA")).unwrap()).unwrap(), "UA");
        let univ: Vec<u8> = "Київ"
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        assert_eq!(string(&one(&tlv(0x1c, &univ)).unwrap()).unwrap(), "Київ");
        assert_eq!(
            string(&one(&tlv(0x14, b"M\xfcller")).unwrap()).unwrap(),
            "Müller"
        );
    }

    #[test]
    fn refuses_broken_strings_without_panicking() {
        assert!(string(&one(&tlv(0x1e, &[0x04])).unwrap()).is_err());
        assert!(string(&one(&tlv(0x1e, &[0xd8, 0x00])).unwrap()).is_err()); // lone surrogate
        assert!(string(&one(&tlv(0x0c, &[0xff, 0xfe])).unwrap()).is_err());
        assert!(string(&one(&tlv(0x13, "й".as_bytes())).unwrap()).is_err());
        assert!(string(&one(&tlv(0x02, &[1])).unwrap()).is_err()); // INTEGER
        assert!(one(&[0x30, 0x05, 0x01]).is_err());
        assert!(one(&[0x05, 0x00, 0x00]).is_err()); // trailing byte
    }
}
