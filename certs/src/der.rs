//! Small DER reading helpers over asn1-rs: string decoding and walking constructed values.
//!
//! x509-parser hands QCStatements, SubjectDirectoryAttributes and DN values to us as raw DER;
//! these helpers read them without ever panicking on hostile input.

use asn1_rs::{Any, Class, FromDer, Tag};

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

/// How deep [`check_canonical`] follows nested values: far more than any CMS or certificate
/// needs, and a bound on the recursion that hostile input could otherwise drive.
const MAX_DEPTH: usize = 48;

/// Refuse a DER value, and every value nested in it, whose header is not in DER's one form:
/// the shortest tag and length encodings (BER also allows longer ones, which asn1-rs reads
/// without complaint). Values for which `opaque` is true are checked only on the outside (the
/// certificates inside a CMS message are the CA's bytes, read by their own parser).
pub fn check_canonical(raw: &[u8], opaque: &dyn Fn(&[u8]) -> bool) -> Result<(), Error> {
    canonical(raw, opaque, 0).map(|_| ())
}

/// Check the value at the start of `raw`; return how many bytes it took.
fn canonical(raw: &[u8], opaque: &dyn Fn(&[u8]) -> bool, depth: usize) -> Result<usize, Error> {
    if depth > MAX_DEPTH {
        return Err(Error::malformed("DER: values nested too deep"));
    }
    let (rest, any) = Any::from_der(raw).map_err(|e| Error::malformed(format!("DER: {e}")))?;
    let whole = raw.len() - rest.len();
    let n = any.data.len();
    let length_len = if n < 0x80 {
        1
    } else {
        1 + (usize::BITS - n.leading_zeros()).div_ceil(8) as usize
    };
    let t = any.header.tag().0;
    let tag_len = if t < 31 {
        1
    } else {
        1 + (u32::BITS - t.leading_zeros()).div_ceil(7) as usize
    };
    if whole - n != tag_len + length_len {
        return Err(Error::malformed(
            "DER: a tag or length is not in its shortest form",
        ));
    }
    if any.header.is_constructed() && !opaque(&raw[..whole]) {
        let mut at = whole - n;
        while at < whole {
            at += canonical(&raw[at..whole], opaque, depth + 1)?;
        }
    }
    Ok(whole)
}

/// Refuse `any` unless it is the universal `tag` in the form DER gives it (SEQUENCE and SET
/// constructed, everything else primitive). DER leaves no choice of tag: a reader that skips the
/// check accepts encodings that other verifiers refuse, and such differences are where signature
/// bypasses live.
pub fn expect(any: &Any<'_>, tag: Tag, what: &str) -> Result<(), Error> {
    let constructed = matches!(tag, Tag::Sequence | Tag::Set);
    if any.header.class() != Class::Universal
        || any.header.tag() != tag
        || any.header.is_constructed() != constructed
    {
        return Err(Error::malformed(format!("{what}: expected {tag}")));
    }
    Ok(())
}

/// Refuse `any` unless it is the context-specific tag `[n]` in the given form.
pub fn expect_context(any: &Any<'_>, n: u32, constructed: bool, what: &str) -> Result<(), Error> {
    if !is_context(any, n) || any.header.is_constructed() != constructed {
        return Err(Error::malformed(format!("{what}: expected [{n}]")));
    }
    Ok(())
}

/// Whether `any` carries the context-specific tag `[n]`.
pub fn is_context(any: &Any<'_>, n: u32) -> bool {
    any.header.class() == Class::ContextSpecific && any.header.tag().0 == n
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

    #[test]
    fn canonical_headers_only() {
        let none = |_: &[u8]| false;
        let good = tlv(0x30, &tlv(0x02, &[1]));
        assert!(check_canonical(&good, &none).is_ok());
        // A long-form length where the short form fits, outside and inside.
        assert!(check_canonical(&[0x02, 0x81, 0x01, 0x01], &none).is_err());
        assert!(check_canonical(&[0x30, 0x04, 0x02, 0x81, 0x01, 0x01], &none).is_err());
        // Inside an opaque value it is not looked at.
        assert!(check_canonical(&[0x30, 0x04, 0x02, 0x81, 0x01, 0x01], &|_| true).is_ok());
        // A long length in the shortest form is fine.
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([0u8; 0x80]);
        assert!(check_canonical(&long, &none).is_ok());
        // A high-tag form for a tag below 31.
        assert!(check_canonical(&[0x1f, 0x02, 0x01, 0x00], &none).is_err());
        // Deep nesting is refused, not a stack overflow.
        let mut nested: Vec<u8> = vec![0x05, 0x00];
        for _ in 0..60 {
            nested = crate::cms::tlv(0x30, &nested);
        }
        assert!(check_canonical(&nested, &none)
            .unwrap_err()
            .to_string()
            .contains("nested too deep"));
    }
}
