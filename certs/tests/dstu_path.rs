//! `certs::path` on the real Diia chain (CAO root → Diia CA → citizen), all DSTU 4145.

use std::path::PathBuf;

use certs::path::{validate, PathError, PathRequest};

fn fixture(path: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const CAO: &str = "ua-real/CAO-05E19E2CD92EA2990100000001000000C1000000.cer";
const DIIA_CA: &str = "ua-real/diia-CA-05E19E2CD92EA2990100000001000000E1000000.cer";
const SIGN: &str = "ua-real/diia-test-sign-7775603.cer";

fn at(text: &str) -> i64 {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
}

fn check(
    leaf: &str,
    intermediates: &[&str],
    anchors: &[&str],
    when: &str,
) -> Result<usize, PathError> {
    let leaf = fixture(leaf);
    let i: Vec<Vec<u8>> = intermediates.iter().map(|n| fixture(n)).collect();
    let a: Vec<Vec<u8>> = anchors.iter().map(|n| fixture(n)).collect();
    let i: Vec<&[u8]> = i.iter().map(|v| v.as_slice()).collect();
    let a: Vec<&[u8]> = a.iter().map(|v| v.as_slice()).collect();
    validate(&PathRequest {
        leaf: &leaf,
        intermediates: &i,
        anchors: &a,
        at: at(when),
        crls: &[],
    })
    .map(|p| p.len())
}

#[test]
fn the_diia_chain_validates_at_a_time_inside_every_validity() {
    assert_eq!(
        check(SIGN, &[DIIA_CA], &[CAO], "2023-06-01T00:00:00Z"),
        Ok(3)
    );
    assert_eq!(
        check(
            "ua-real/diia-test-kep-7775604.cer",
            &[DIIA_CA],
            &[CAO],
            "2023-06-01T00:00:00Z"
        ),
        Ok(3),
        "the path is fine; its key usage is the gateway's concern"
    );
    // The Diia CA trusted directly ends the path there.
    assert_eq!(check(SIGN, &[], &[DIIA_CA], "2023-06-01T00:00:00Z"), Ok(2));
    assert_eq!(
        check(
            "ua-dstu/diia-tsp-05E19E2CD92EA2990200000001000000E4000000.cer",
            &[],
            &[CAO],
            "2023-06-01T00:00:00Z"
        ),
        Ok(2)
    );
}

#[test]
fn refusals_on_the_real_chain() {
    // Without the Diia CA there is no path.
    assert!(matches!(
        check(SIGN, &[], &[CAO], "2023-06-01T00:00:00Z"),
        Err(PathError::UntrustedIssuer(_))
    ));
    // Another root.
    assert!(matches!(
        check(
            SIGN,
            &[DIIA_CA],
            &["ua-real/CZOROOT.cer"],
            "2023-06-01T00:00:00Z"
        ),
        Err(PathError::UntrustedIssuer(_))
    ));
    // Before the citizen's certificate was issued; long after it expired.
    assert_eq!(
        check(SIGN, &[DIIA_CA], &[CAO], "2015-01-01T00:00:00Z"),
        Err(PathError::NotYetValid { depth: 0 })
    );
    assert!(matches!(
        check(SIGN, &[DIIA_CA], &[CAO], "2040-01-01T00:00:00Z"),
        Err(PathError::Expired { .. })
    ));
    // The citizen's certificate with one bit of its serial number flipped.
    let mut leaf = fixture(SIGN);
    let serial = hex::decode("3ED5083160DBC59B04000000A91E060073A57600").unwrap();
    let pos = leaf
        .windows(serial.len())
        .position(|w| w == serial)
        .unwrap();
    leaf[pos + serial.len() - 1] ^= 0x01;
    let ca = fixture(DIIA_CA);
    let cao = fixture(CAO);
    let r = validate(&PathRequest {
        leaf: &leaf,
        intermediates: &[&ca],
        anchors: &[&cao],
        at: at("2023-06-01T00:00:00Z"),
        crls: &[],
    });
    assert_eq!(r, Err(PathError::BadSignature { depth: 0 }));
}

#[test]
fn the_real_delta_crl_is_checked_for_the_leaf() {
    // The delta CRL (19 Sep 2023, 16:51–18:53) lists nothing; outside its window it is refused.
    let crl = fixture("ua-dstu/diia-delta-0ABEA7.crl");
    let (_, parsed) = <x509_parser::revocation_list::CertificateRevocationList as x509_parser::prelude::FromDer<_>>::from_der(&crl).unwrap();
    let inside = parsed.last_update().timestamp() + 60;
    let leaf = fixture(SIGN);
    let ca = fixture(DIIA_CA);
    let cao = fixture(CAO);
    let req = |at: i64| {
        validate(&PathRequest {
            leaf: &leaf,
            intermediates: &[&ca],
            anchors: &[&cao],
            at,
            crls: &[&crl],
        })
    };
    assert_eq!(req(inside).map(|p| p.len()), Ok(3), "valid, not listed");
    let after = parsed.next_update().unwrap().timestamp() + 60;
    assert_eq!(
        req(after),
        Err(PathError::Invalid("the CRL has expired".into()))
    );
    let before = parsed.last_update().timestamp() - 60;
    assert_eq!(
        req(before),
        Err(PathError::Invalid("the CRL is not yet valid".into()))
    );
}
