//! Real Ukrainian certificates and signatures decide (fixtures/ua-real, fixtures/ua-dstu).

use super::*;
use x509_parser::prelude::*;

fn fixture(path: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn key_of(cert_der: &[u8]) -> PublicKey {
    let (_, cert) = X509Certificate::from_der(cert_der).unwrap();
    PublicKey::from_spki_der(cert.tbs_certificate.subject_pki.raw).unwrap()
}

/// The certificate's own signature under the issuer's key.
fn check_signed_by(cert_der: &[u8], issuer: &PublicKey) -> Result<(), DstuError> {
    let (_, cert) = X509Certificate::from_der(cert_der).unwrap();
    let order = ByteOrder::of_oid(&cert.signature_algorithm.algorithm.to_id_string()).unwrap();
    let value = crate::der::one(&cert.signature_value.data).unwrap();
    issuer.verify(cert.tbs_certificate.as_ref(), value.data, order)
}

const CAO: &str = "ua-real/CAO-05E19E2CD92EA2990100000001000000C1000000.cer";
const DIIA_CA: &str = "ua-real/diia-CA-05E19E2CD92EA2990100000001000000E1000000.cer";

#[test]
fn every_real_certificate_verifies_under_its_issuer() {
    let cao = key_of(&fixture(CAO));
    let diia = key_of(&fixture(DIIA_CA));
    let czo = key_of(&fixture("ua-real/CZOROOT.cer"));
    let cases: [(&str, &PublicKey); 7] = [
        (CAO, &cao),
        (DIIA_CA, &cao),
        ("ua-real/diia-test-sign-7775603.cer", &diia),
        ("ua-real/diia-test-kep-7775604.cer", &diia),
        (
            "ua-dstu/diia-ocsp-3ED5083160DBC59B0200000001000000202B0F00.cer",
            &diia,
        ),
        (
            "ua-dstu/diia-tsp-05E19E2CD92EA2990200000001000000E4000000.cer",
            &cao,
        ),
        ("ua-real/CA-Justice.cer", &czo),
    ];
    for (name, issuer) in cases {
        let der = fixture(name);
        check_signed_by(&der, issuer).unwrap_or_else(|e| panic!("{name}: {e}"));
        // A flipped bit anywhere in the signed part fails.
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let tbs_len = cert.tbs_certificate.as_ref().len();
        let mut bad = der.clone();
        let at = 4 + tbs_len / 2;
        bad[at] ^= 0x01;
        if X509Certificate::from_der(&bad).is_ok() {
            assert_eq!(
                check_signed_by(&bad, issuer),
                Err(DstuError::BadSignature),
                "{name} tampered"
            );
        }
    }
    assert!(
        check_signed_by(&fixture(DIIA_CA), &czo).is_err(),
        "the wrong issuer"
    );
}

#[test]
fn the_real_keys_are_on_named_curves_with_the_default_dke() {
    let k = key_of(&fixture("ua-real/diia-test-sign-7775603.cer"));
    assert_eq!(k.params.curve.field.m, 257);
    assert_eq!(k.params.sbox, gost28147::SBox::default_ua());
    let der = fixture("ua-real/diia-test-sign-7775603.cer");
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    let bits = &cert.tbs_certificate.subject_pki.subject_public_key.data;
    let inner = crate::der::one(bits).unwrap();
    assert_eq!(k.compressed(ByteOrder::Little), inner.data);
}

#[test]
fn a_signature_made_here_verifies_on_every_named_curve_in_both_byte_orders() {
    for i in 0..10 {
        let key = SecretKey::generate(Params::named(i).unwrap()).unwrap();
        let public = key.public_key();
        for order in [ByteOrder::Little, ByteOrder::Big] {
            let sig = key.sign(b"Brama login", order).unwrap();
            assert_eq!(sig.len(), 2 * key.params().curve.n_bits().div_ceil(8));
            public.verify(b"Brama login", &sig, order).unwrap();
            assert_eq!(
                public.verify(b"Brama login!", &sig, order),
                Err(DstuError::BadSignature)
            );
        }
        // The key survives its byte form and the point its compression.
        let again = SecretKey::from_le(key.params().clone(), &key.to_le()).unwrap();
        assert_eq!(again.public_key().point(), public.point());
        let c = public.compressed(ByteOrder::Little);
        let back = PublicKey::from_compressed(key.params().clone(), &c, ByteOrder::Little).unwrap();
        assert_eq!(back.point(), public.point());
    }
}

#[test]
fn bad_signatures_are_refused_not_panicked_on() {
    let key = SecretKey::generate(Params::named(6).unwrap()).unwrap();
    let public = key.public_key();
    let sig = key.sign(b"x", ByteOrder::Little).unwrap();
    let n = key.params().curve.n.to_le(32);
    let zero = vec![0u8; 32];
    let mut r_is_n = n.clone();
    r_is_n.extend(&sig[32..]);
    let mut s_is_zero = sig[..32].to_vec();
    s_is_zero.extend(&zero);
    for (what, bad) in [
        ("empty", vec![]),
        ("odd length", sig[..63].to_vec()),
        ("too long", [sig.clone(), vec![0, 0]].concat()),
        ("r = n", r_is_n),
        ("s = 0", s_is_zero),
        (
            "swapped halves",
            [sig[32..].to_vec(), sig[..32].to_vec()].concat(),
        ),
    ] {
        assert_eq!(
            public.verify(b"x", &bad, ByteOrder::Little),
            Err(DstuError::BadSignature),
            "{what}"
        );
    }
    assert_eq!(
        public.verify(b"x", &sig, ByteOrder::Big),
        Err(DstuError::BadSignature)
    );
    // Halves zero-padded wider than the order (the standard allows any L_D ≥ 2·len(n)) verify.
    let padded = [&sig[..32], &[0u8; 8], &sig[32..], &[0u8; 8]].concat();
    assert_eq!(public.verify(b"x", &padded, ByteOrder::Little), Ok(()));
    let too_wide = [&sig[..32], &[0u8; 40], &sig[32..], &[0u8; 40]].concat();
    assert_eq!(
        public.verify(b"x", &too_wide, ByteOrder::Little),
        Err(DstuError::BadSignature)
    );
}

#[test]
fn bad_keys_and_parameters_are_typed_refusals() {
    let cert = fixture("ua-real/diia-test-sign-7775603.cer");
    let (_, c) = X509Certificate::from_der(&cert).unwrap();
    let spki = &c.tbs_certificate.subject_pki;
    let params = asn1_rs::ToDer::to_der_vec(spki.algorithm.parameters.as_ref().unwrap()).unwrap();
    let key = spki.subject_public_key.data.to_vec();
    assert!(PublicKey::from_spki_parts(OID_LE, &params, &key).is_ok());

    // Truncated parameters, an S-box of the wrong size, an unknown curve OID.
    let truncated = &params[..params.len() - 10];
    assert!(matches!(
        PublicKey::from_spki_parts(OID_LE, truncated, &key),
        Err(DstuError::Malformed(_))
    ));
    let named = |oid: &[u64], dke: Option<&[u8]>| {
        yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next()
                    .write_oid(&yasna::models::ObjectIdentifier::from_slice(oid));
                if let Some(dke) = dke {
                    w.next().write_bytes(dke);
                }
            })
        })
    };
    const M257: &[u64] = &[1, 2, 804, 2, 1, 1, 1, 1, 3, 1, 1, 2, 6];
    assert!(PublicKey::from_spki_parts(OID_LE, &named(M257, None), &key).is_ok());
    assert!(
        PublicKey::from_spki_parts(OID_LE, &named(M257, Some(&gost28147::DEFAULT_DKE)), &key)
            .is_ok()
    );
    let err = PublicKey::from_spki_parts(OID_LE, &named(M257, Some(&[0u8; 63])), &key).unwrap_err();
    assert!(err.to_string().contains("DKE of 63 bytes"), "{err}");
    let err = PublicKey::from_spki_parts(
        OID_LE,
        &named(&[1, 2, 804, 2, 1, 1, 1, 1, 3, 1, 1, 2, 10], None),
        &key,
    )
    .unwrap_err();
    assert!(
        matches!(&err, DstuError::Unsupported(m) if m.contains("1.2.804.2.1.1.1.1.3.1.1.2.10")),
        "{err}"
    );
    // A Russian GOST R 34.10 key is not DSTU.
    assert!(matches!(
        PublicKey::from_spki_parts("1.2.643.7.1.1.1.1", &params, &key),
        Err(DstuError::Unsupported(_))
    ));

    // A point not on the curve, a point of the wrong length.
    let inner = crate::der::one(&key).unwrap().data.to_vec();
    let p = Params::named(6).unwrap();
    let errors: Vec<String> = (1u8..=255)
        .filter_map(|v| {
            let mut x = inner.clone();
            x[0] = v;
            PublicKey::from_compressed(p.clone(), &x, ByteOrder::Little)
                .err()
                .map(|e| e.to_string())
        })
        .collect();
    // Both kinds occur among 255 neighbours: an x with no point, and a point of the curve
    // outside the group of order n (the curve's cofactor is 4).
    assert!(
        errors.iter().any(|e| e.contains("not on the curve")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("not of order n")),
        "{errors:?}"
    );
    let err = PublicKey::from_compressed(
        p.clone(),
        &[inner.clone(), vec![1, 2]].concat(),
        ByteOrder::Little,
    )
    .unwrap_err();
    assert!(err.to_string().contains("bytes for a point"), "{err}");
    // The point of order 2 (x = 0) is on the curve but not in the group of order n.
    let err = PublicKey::from_compressed(p, &[0u8; 33], ByteOrder::Little).unwrap_err();
    assert!(err.to_string().contains("not of order n"), "{err}");
    // A private scalar out of range.
    assert!(SecretKey::from_le(Params::named(6).unwrap(), &[0u8; 32]).is_err());
}

/// Explicit curve parameters (ECBinary) as a CA may write them instead of the curve's OID.
fn explicit(index: usize, n_delta: u64, order: ByteOrder) -> Vec<u8> {
    let c = Curve::named(index).unwrap();
    let len = c.field.byte_len();
    let le = |fe: &Fe| {
        let v = fe.to_le(len);
        order.write(v)
    };
    let mut n = c.n;
    n.0[0] = n.0[0].wrapping_add(n_delta);
    let mut n_be = n.to_le(c.n_bits().div_ceil(8));
    n_be.reverse();
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next().write_sequence(|w| {
                    w.next().write_u64(c.field.m as u64);
                    if c.field.ks.len() == 1 {
                        w.next().write_u64(c.field.ks[0] as u64);
                    } else {
                        w.next().write_sequence(|w| {
                            for k in c.field.ks.iter().rev() {
                                w.next().write_u64(*k as u64);
                            }
                        });
                    }
                });
                w.next().write_u64(u64::from(c.a));
                w.next().write_bytes(&le(&c.b));
                w.next().write_der(&integer_der(&n_be));
                w.next().write_bytes(&le(&c.compress(&c.g).unwrap()));
            });
        })
    })
}

fn integer_der(be: &[u8]) -> Vec<u8> {
    let mut body = be.to_vec();
    if body[0] & 0x80 != 0 {
        body.insert(0, 0);
    }
    [vec![0x02, body.len() as u8], body].concat()
}

#[test]
fn explicit_curve_parameters_are_read_and_checked() {
    for (i, order) in [
        (0, ByteOrder::Little),
        (6, ByteOrder::Little),
        (9, ByteOrder::Big),
    ] {
        let p = Params::from_der(&explicit(i, 0, order), order).unwrap();
        assert_eq!(p.curve, Curve::named(i).unwrap());
        assert_eq!(p.named, Some(i));
    }
    // n that is not the base point's order.
    let err = Params::from_der(&explicit(6, 2, ByteOrder::Little), ByteOrder::Little).unwrap_err();
    assert!(err.to_string().contains("order is not n"), "{err}");
    // Read in the wrong byte order, the base point is not on the curve.
    assert!(Params::from_der(&explicit(6, 0, ByteOrder::Little), ByteOrder::Big).is_err());
}

#[test]
fn the_real_unencrypted_key_of_jkurwa_opens_and_signs() {
    let der = fixture("ua-dstu/Key40A0.cer");
    let key = SecretKey::from_pkcs8(&der).unwrap();
    assert_eq!(key.params().curve.field.m, 257);
    let public = key.public_key();
    let sig = key.sign(b"statement", ByteOrder::Little).unwrap();
    assert_eq!(public.verify(b"statement", &sig, ByteOrder::Little), Ok(()));
    // Truncated, not PKCS#8, another algorithm.
    assert!(matches!(
        SecretKey::from_pkcs8(&der[..der.len() - 20]),
        Err(DstuError::Malformed(_))
    ));
    assert!(matches!(
        SecretKey::from_pkcs8(b"\x30\x00"),
        Err(DstuError::Malformed(_))
    ));
}

#[test]
fn parameters_and_keys_round_trip_named_and_explicit() {
    for i in 0..10 {
        let key = SecretKey::generate(Params::named(i).unwrap()).unwrap();
        for explicit in [false, true] {
            let der = key.to_pkcs8(explicit);
            let back = SecretKey::from_pkcs8(&der).unwrap();
            assert_eq!(
                back.public_key().point(),
                key.public_key().point(),
                "{i} {explicit}"
            );
            assert_eq!(back.params().curve, key.params().curve);
            assert_eq!(
                back.params().named,
                Some(i),
                "an explicit standard curve is recognised"
            );
        }
    }
    // The real key's parameters are explicit; written back they read the same.
    let real = SecretKey::from_pkcs8(&fixture("ua-dstu/Key40A0.cer")).unwrap();
    let again = SecretKey::from_pkcs8(&real.to_pkcs8(true)).unwrap();
    assert_eq!(again.public_key().point(), real.public_key().point());
}
