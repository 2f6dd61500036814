//! Every object identifier Brama reads or writes, named, in one place.
//!
//! OIDs are kept as dotted strings: they are readable in reviews and greppable against the
//! standards. [`encode`] turns one into DER content bytes with 128-bit arcs, because Brama's
//! login-statement OID is a UUID arc that does not fit the 64-bit arcs most crates assume.
#![allow(missing_docs)] // each constant bears its registry name; the section comments say which standard

// --- Distinguished-name attributes (X.520, ETSI EN 319 412-1) ---
pub const CN: &str = "2.5.4.3";
pub const SURNAME: &str = "2.5.4.4";
pub const SERIAL_NUMBER: &str = "2.5.4.5";
pub const COUNTRY: &str = "2.5.4.6";
pub const LOCALITY: &str = "2.5.4.7";
pub const STATE: &str = "2.5.4.8";
pub const STREET: &str = "2.5.4.9";
pub const ORGANIZATION: &str = "2.5.4.10";
pub const ORGANIZATIONAL_UNIT: &str = "2.5.4.11";
pub const TITLE: &str = "2.5.4.12";
pub const GIVEN_NAME: &str = "2.5.4.42";
pub const PSEUDONYM: &str = "2.5.4.65";
pub const ORGANIZATION_IDENTIFIER: &str = "2.5.4.97";
pub const EMAIL: &str = "1.2.840.113549.1.9.1";

// --- Russian subject attributes (Federal Law 63-FZ certificate profile) ---
pub const RU_INN: &str = "1.2.643.3.131.1.1";
pub const RU_OGRN: &str = "1.2.643.100.1";
pub const RU_SNILS: &str = "1.2.643.100.3";
pub const RU_INNLE: &str = "1.2.643.100.4";
pub const RU_OGRNIP: &str = "1.2.643.100.5";

// --- Ukrainian SubjectDirectoryAttributes (ДСТУ/наказ про формати сертифікатів) ---
/// РНОКПП (the tax payer's registration number, DRFO).
pub const UA_DRFO: &str = "1.2.804.2.1.1.1.11.1.4.1.1";
/// ЄДРПОУ code of a legal entity.
pub const UA_EDRPOU: &str = "1.2.804.2.1.1.1.11.1.4.2.1";
/// УНЗР (unique record number in the demographic register).
pub const UA_UNZR: &str = "1.2.804.2.1.1.1.11.1.4.11.1";

// --- Certificate extensions (RFC 5280, RFC 3739) ---
pub const EXT_SUBJECT_DIRECTORY_ATTRIBUTES: &str = "2.5.29.9";
pub const EXT_SUBJECT_KEY_IDENTIFIER: &str = "2.5.29.14";
pub const EXT_KEY_USAGE: &str = "2.5.29.15";
pub const EXT_SUBJECT_ALT_NAME: &str = "2.5.29.17";
pub const EXT_BASIC_CONSTRAINTS: &str = "2.5.29.19";
pub const EXT_CRL_DISTRIBUTION_POINTS: &str = "2.5.29.31";
pub const EXT_CERTIFICATE_POLICIES: &str = "2.5.29.32";
pub const EXT_AUTHORITY_KEY_IDENTIFIER: &str = "2.5.29.35";
pub const EXT_EXTENDED_KEY_USAGE: &str = "2.5.29.37";
pub const EXT_FRESHEST_CRL: &str = "2.5.29.46";
pub const EXT_PRIVATE_KEY_USAGE_PERIOD: &str = "2.5.29.16";
pub const EXT_ISSUER_ALT_NAME: &str = "2.5.29.18";
pub const EXT_NAME_CONSTRAINTS: &str = "2.5.29.30";
pub const EXT_POLICY_CONSTRAINTS: &str = "2.5.29.36";
pub const EXT_INHIBIT_ANY_POLICY: &str = "2.5.29.54";
pub const EXT_CRL_NUMBER: &str = "2.5.29.20";
pub const EXT_CRL_REASON: &str = "2.5.29.21";
pub const EXT_DELTA_CRL_INDICATOR: &str = "2.5.29.27";
pub const EXT_AUTHORITY_INFO_ACCESS: &str = "1.3.6.1.5.5.7.1.1";
pub const EXT_QC_STATEMENTS: &str = "1.3.6.1.5.5.7.1.3";
pub const EXT_OCSP_NOCHECK: &str = "1.3.6.1.5.5.7.48.1.5";

// --- Access methods ---
pub const AD_OCSP: &str = "1.3.6.1.5.5.7.48.1";
pub const AD_CA_ISSUERS: &str = "1.3.6.1.5.5.7.48.2";

// --- QCStatements (ETSI EN 319 412-5, RFC 3739) ---
pub const QCS_PKIX_SYNTAX_V2: &str = "1.3.6.1.5.5.7.11.2";
pub const QCS_COMPLIANCE: &str = "0.4.0.1862.1.1";
pub const QCS_LIMIT_VALUE: &str = "0.4.0.1862.1.2";
pub const QCS_RETENTION_PERIOD: &str = "0.4.0.1862.1.3";
pub const QCS_SSCD: &str = "0.4.0.1862.1.4";
pub const QCS_PDS: &str = "0.4.0.1862.1.5";
pub const QCS_TYPE: &str = "0.4.0.1862.1.6";
pub const QCT_ESIGN: &str = "0.4.0.1862.1.6.1";
pub const QCT_ESEAL: &str = "0.4.0.1862.1.6.2";
pub const QCT_WEB: &str = "0.4.0.1862.1.6.3";
/// Semantics identifiers of id-qcs-pkixQCSyntax-v2 (ETSI EN 319 412-1 §5).
pub const SEMANTICS_NATURAL: &str = "0.4.0.194121.1.1";
pub const SEMANTICS_LEGAL: &str = "0.4.0.194121.1.2";
/// Ukrainian statement "this is a qualified certificate".
pub const UA_QC_STATEMENT: &str = "1.2.804.2.1.1.1.2.1";

// --- Certificate policies ---
/// Ukrainian qualified-certificate policy.
pub const UA_QUALIFIED_POLICY: &str = "1.2.804.2.1.1.1.2.2";
/// ETSI EN 319 411-2 QCP-n-qscd: qualified certificate for a natural person, key on a QSCD.
pub const ETSI_QCP_N_QSCD: &str = "0.4.0.194112.1.2";

// --- Extended key usages ---
pub const KP_SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
pub const KP_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
pub const KP_CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
pub const KP_EMAIL_PROTECTION: &str = "1.3.6.1.5.5.7.3.4";
pub const KP_TIME_STAMPING: &str = "1.3.6.1.5.5.7.3.8";
pub const KP_OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";
/// anyExtendedKeyUsage.
pub const KP_ANY: &str = "2.5.29.37.0";
/// Ukrainian "electronic signature" key purpose, seen on every Ukrainian signing certificate.
pub const UA_KP_SIGNING: &str = "1.2.804.2.1.1.1.3.9";

// --- Named elliptic curves ---
pub const CURVE_P256: &str = "1.2.840.10045.3.1.7";
pub const CURVE_P384: &str = "1.3.132.0.34";
pub const CURVE_P521: &str = "1.3.132.0.35";

// --- Signature algorithms ---
pub const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
pub const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
pub const ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
/// rsaEncryption: CMS allows it as the signature algorithm of PKCS#1 v1.5 with any digest.
pub const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
pub const RSA_SHA256: &str = "1.2.840.113549.1.1.11";
pub const RSA_SHA384: &str = "1.2.840.113549.1.1.12";
pub const RSA_SHA512: &str = "1.2.840.113549.1.1.13";
/// DSTU 4145-2002, little-endian signature encoding.
pub const DSTU_4145_LE: &str = "1.2.804.2.1.1.1.1.3.1.1";
/// DSTU 4145-2002 key and signature family (both encodings start with it).
pub const DSTU_4145: &str = "1.2.804.2.1.1.1.1.3.1";

/// Brama's login-statement content type (design.md §3): a UUID OID that never changes.
pub const LOGIN_STATEMENT: &str = "2.25.70421926404876894851856143287602682061";

/// DER content bytes of a dotted OID (no tag, no length). Arcs up to 128 bits.
///
/// Panics only on a malformed literal, which is a programming error caught by the tests below.
pub fn encode(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u128> = dotted
        .split('.')
        .map(|a| a.parse().expect("OID literal has a non-numeric arc"))
        .collect();
    assert!(
        arcs.len() >= 2 && arcs[0] <= 2,
        "OID literal {dotted} is malformed"
    );
    let mut out = Vec::new();
    let mut push = |mut v: u128| {
        let mut tmp = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            tmp.push(((v & 0x7f) as u8) | 0x80);
            v >>= 7;
        }
        out.extend(tmp.iter().rev());
    };
    push(arcs[0] * 40 + arcs[1]);
    for &a in &arcs[2..] {
        push(a);
    }
    out
}

/// Whether a parsed OID equals a dotted literal. Compares encodings, so large arcs work.
pub fn is(oid: &asn1_rs::Oid<'_>, dotted: &str) -> bool {
    // Arc by arc, without building the encoding: this runs for every attribute and
    // extension of every certificate a login reads.
    let mut bytes = oid.as_bytes();
    let mut arcs = dotted.split('.').map(|a| a.parse::<u128>().ok());
    let (Some(Some(a0)), Some(Some(a1))) = (arcs.next(), arcs.next()) else {
        return false;
    };
    let mut want = Some(a0 * 40 + a1);
    while let Some(w) = want {
        match next_arc(&mut bytes) {
            Some(got) if got == w => {}
            _ => return false,
        }
        want = match arcs.next() {
            None => None,
            Some(Some(a)) => Some(a),
            Some(None) => return false,
        };
    }
    bytes.is_empty()
}

/// The next base-128 arc of DER OID content; `None` at the end, on a truncated arc or one
/// beyond 128 bits.
fn next_arc(bytes: &mut &[u8]) -> Option<u128> {
    // 0x80 first is a non-minimal arc, which DER forbids: never equal to a literal.
    if bytes.first() == Some(&0x80) {
        return None;
    }
    let mut v: u128 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if v >> 121 != 0 {
            return None;
        }
        v = (v << 7) | u128::from(b & 0x7f);
        if b & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Some(v);
        }
    }
    None
}

/// The dotted form of a parsed OID (hex for arcs beyond 64 bits, which only the login OID has).
pub fn dotted(oid: &asn1_rs::Oid<'_>) -> String {
    use std::fmt::Write;
    // Decoded here with 128-bit arcs (asn1-rs's own `to_id_string` goes through big
    // integers and was a twelfth of a login's time); anything longer falls back to it.
    let mut bytes = oid.as_bytes();
    let mut out = String::with_capacity(2 + 4 * bytes.len());
    let Some(first) = next_arc(&mut bytes) else {
        return oid.to_id_string();
    };
    let (a0, a1) = if first < 80 {
        (first / 40, first % 40)
    } else {
        (2, first - 80)
    };
    let _ = write!(out, "{a0}.{a1}");
    while !bytes.is_empty() {
        match next_arc(&mut bytes) {
            Some(a) => {
                let _ = write!(out, ".{a}");
            }
            None => return oid.to_id_string(),
        }
    }
    out
}

/// Arcs as `u64`, for APIs that take them (rcgen, yasna). Not for the login OID.
pub fn arcs(dotted: &str) -> Vec<u64> {
    dotted
        .split('.')
        .map(|a| a.parse().expect("OID literal does not fit 64-bit arcs"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_small_and_uuid_arcs() {
        assert_eq!(encode(CN), vec![0x55, 0x04, 0x03]);
        assert_eq!(encode(EXT_QC_STATEMENTS), vec![0x2b, 6, 1, 5, 5, 7, 1, 3]);
        let login = encode(LOGIN_STATEMENT);
        // As `openssl asn1parse -genstr OID:2.25.70421926404876894851856143287602682061` writes it.
        let openssl = "69e9fae2c2b8f4f2b79798bd8eccc2b4c2b14d";
        let hex = crate::hex(&login);
        assert_eq!(hex, openssl);
        let parsed = asn1_rs::Oid::new(std::borrow::Cow::Borrowed(&login));
        assert!(is(&parsed, LOGIN_STATEMENT));
        assert_eq!(dotted(&parsed), LOGIN_STATEMENT);
    }

    #[test]
    fn fast_forms_agree_with_the_encoding() {
        let parse = |b: Vec<u8>| asn1_rs::Oid::new(std::borrow::Cow::Owned(b));
        for o in [
            CN,
            UA_DRFO,
            UA_EDRPOU,
            QCS_COMPLIANCE,
            RU_SNILS,
            "2.999.3",
            "0.0",
            "1.39.1",
        ] {
            let oid = parse(encode(o));
            assert_eq!(dotted(&oid), o);
            assert!(is(&oid, o));
        }
        // asn1-rs reads a first byte ≥ 80 as arc 3 (`3.16.55.3`); the dotted form is X.690's.
        assert_eq!(
            parse(encode("1.3.6.1")).to_id_string(),
            dotted(&parse(encode("1.3.6.1")))
        );
        let cn = parse(encode(CN));
        for other in [SURNAME, "2.5.4", "2.5.4.3.1", "2.5", "x", "", "2.5.4.3x"] {
            assert!(!is(&cn, other), "{other}");
        }
        // A non-minimal arc (0x80 padding) equals nothing, and a truncated one reads as hex.
        assert!(!is(&parse(vec![0x55, 0x04, 0x80, 0x03]), CN));
        assert!(!is(&parse(vec![0x55, 0x04, 0x83]), CN));
        assert_eq!(
            dotted(&parse(vec![0x55, 0x04, 0x83])),
            parse(vec![0x55, 0x04, 0x83]).to_id_string()
        );
    }

    #[test]
    fn every_named_literal_is_well_formed() {
        for o in [
            UA_DRFO,
            UA_EDRPOU,
            UA_UNZR,
            QCS_COMPLIANCE,
            UA_KP_SIGNING,
            RU_SNILS,
        ] {
            let parsed = asn1_rs::Oid::new(std::borrow::Cow::Owned(encode(o)));
            assert_eq!(parsed.to_id_string(), o);
        }
    }
}
