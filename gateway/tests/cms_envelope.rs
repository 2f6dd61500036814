//! The unsigned envelope of a login (ContentInfo, SignedData, SignerInfo outside the signed
//! attributes) is read as strict DER: a wrong tag there does not break the signature, so only the
//! parser can refuse it (issue 16, security item 8).

use brama_testkit::gateway as common;

use certs::cms::Content;
use certs::statement;
use common::{statement, Pki, ORIGIN};
use gateway::verify::Verifier;

/// One TLV inside a DER buffer: where its tag byte is, where its content starts and ends.
#[derive(Clone, Copy, Debug)]
struct Tlv {
    tag_at: usize,
    start: usize,
    end: usize,
}

fn tlv_at(der: &[u8], at: usize) -> Tlv {
    let first = der[at + 1] as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        let len = der[at + 2..at + 2 + n]
            .iter()
            .fold(0usize, |l, &b| (l << 8) | b as usize);
        (len, 2 + n)
    };
    Tlv {
        tag_at: at,
        start: at + header,
        end: at + header + len,
    }
}

fn children(der: &[u8], parent: Tlv) -> Vec<Tlv> {
    let mut out = Vec::new();
    let mut at = parent.start;
    while at < parent.end {
        let t = tlv_at(der, at);
        at = t.end;
        out.push(t);
    }
    out
}

fn verdict(p: &Pki, der: &[u8]) -> String {
    let v = Verifier::new(p.policy());
    match v.verify_login(der, time::OffsetDateTime::now_utc(), |s| {
        assert_eq!(s.origin, ORIGIN);
        Ok(())
    }) {
        Ok(_) => "valid".into(),
        Err(e) => format!("{}: {e}", e.code()),
    }
}

/// A login statement for "ch" signed as the agent signs it.
fn good_login(p: &Pki) -> Vec<u8> {
    p.sign_with(
        "citizen-p256",
        statement::CONTENT_TYPE,
        Content::Attached(&statement("ch")),
        |_| {},
    )
}

#[test]
fn a_wrong_tag_anywhere_in_the_envelope_is_malformed() {
    let p = Pki::new();
    let good = good_login(&p);
    assert_eq!(verdict(&p, &good), "valid");

    let root = tlv_at(&good, 0);
    let ci = children(&good, root);
    let sd = children(&good, ci[1])[0];
    let fields = children(&good, sd);
    let (version, digests, encap, certs, signer_infos) =
        (fields[0], fields[1], fields[2], fields[3], fields[4]);
    let econtent = children(&good, encap)[1];
    let si = children(&good, signer_infos)[0];
    let sf = children(&good, si);
    let (si_version, sid, digest_alg, signed_attrs, sig_alg, signature) =
        (sf[0], sf[1], sf[2], sf[3], sf[4], sf[5]);
    // Each case: the tag byte of one element replaced by another of the same form, so every
    // length stays right and the signed attributes are untouched.
    let cases = [
        ("ContentInfo SEQUENCE as SET", root, 0x31),
        ("content [0] as [1]", ci[1], 0xa1),
        ("SignedData SEQUENCE as SET", sd, 0x31),
        ("version INTEGER as ENUMERATED", version, 0x0a),
        ("digestAlgorithms SET as SEQUENCE", digests, 0x30),
        ("encapContentInfo SEQUENCE as SET", encap, 0x31),
        ("eContent [0] as [2]", econtent, 0xa2),
        ("certificates [0] as [2]", certs, 0xa2),
        ("signerInfos SET as SEQUENCE", signer_infos, 0x30),
        ("SignerInfo SEQUENCE as SET", si, 0x31),
        (
            "SignerInfo version INTEGER as OCTET STRING",
            si_version,
            0x04,
        ),
        ("sid SEQUENCE as SET", sid, 0x31),
        ("digestAlgorithm SEQUENCE as SET", digest_alg, 0x31),
        ("signatureAlgorithm SEQUENCE as [5]", sig_alg, 0xa5),
        ("signature OCTET STRING as BIT STRING", signature, 0x03),
        ("signedAttrs [0] as [3]", signed_attrs, 0xa3),
    ];
    for (what, at, tag) in cases {
        let mut bad = good.clone();
        assert_ne!(bad[at.tag_at], tag, "{what}: the case must change the tag");
        bad[at.tag_at] = tag;
        let got = verdict(&p, &bad);
        assert!(
            got.starts_with("malformed_signature"),
            "{what}: expected malformed_signature, got {got}"
        );
    }
}

#[test]
fn fields_after_the_signature_must_be_unsigned_attributes() {
    let p = Pki::new();
    let good = good_login(&p);
    // Rebuild the message with one more element after the signature: a NULL, then an
    // unsignedAttrs [1] holding an empty SET (allowed).
    let with_tail = |tail: &[u8]| -> Vec<u8> {
        let root = tlv_at(&good, 0);
        let ci = children(&good, root);
        let sd = children(&good, ci[1])[0];
        let fields = children(&good, sd);
        let si = children(&good, fields[4])[0];
        let mut si_body = good[si.start..si.end].to_vec();
        si_body.extend_from_slice(tail);
        let si_new = certs::cms::tlv(0x30, &si_body);
        let sis = certs::cms::tlv(0x31, &si_new);
        let mut sd_body = good[sd.start..fields[4].tag_at].to_vec();
        sd_body.extend_from_slice(&sis);
        let sd_new = certs::cms::tlv(0x30, &sd_body);
        let mut ci_body = good[ci[0].tag_at..ci[0].end].to_vec();
        ci_body.extend_from_slice(&certs::cms::tlv(0xa0, &sd_new));
        certs::cms::tlv(0x30, &ci_body)
    };
    assert_eq!(verdict(&p, &with_tail(&[])), "valid", "the rebuild itself");
    assert_eq!(verdict(&p, &with_tail(&[0xa1, 0x00])), "valid");
    let got = verdict(&p, &with_tail(&[0x05, 0x00]));
    assert!(got.starts_with("malformed_signature"), "{got}");
    let got = verdict(&p, &with_tail(&[0xa1, 0x00, 0xa1, 0x00]));
    assert!(got.starts_with("malformed_signature"), "{got}");
}

#[test]
fn a_length_in_long_form_where_short_form_fits_is_not_der() {
    let p = Pki::new();
    let good = good_login(&p);
    // The SignerInfo version `02 01 01` written as `02 81 01 01`: BER allows it, DER does not.
    let root = tlv_at(&good, 0);
    let ci = children(&good, root);
    let sd = children(&good, ci[1])[0];
    let fields = children(&good, sd);
    let version = fields[0];
    let mut body = good[sd.start..version.tag_at].to_vec();
    body.extend_from_slice(&[0x02, 0x81, 0x01]);
    body.extend_from_slice(&good[version.start..sd.end]);
    let sd_new = certs::cms::tlv(0x30, &body);
    let mut ci_body = good[ci[0].tag_at..ci[0].end].to_vec();
    ci_body.extend_from_slice(&certs::cms::tlv(0xa0, &sd_new));
    let bad = certs::cms::tlv(0x30, &ci_body);
    let got = verdict(&p, &bad);
    assert!(got.starts_with("malformed_signature"), "{got}");
}
