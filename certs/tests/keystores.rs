//! Every key-store reader against files other programs made (IIT's layout written by gost89,
//! UAPKI's and Diia's PKCS#12 and JKS, jkurwa's PBES2 store), against damage, and against
//! random bytes: a typed refusal, never a panic.

use brama_testkit::jkurwa::{fixture, run as jkurwa};
use certs::keystore::{self, Format, SoftKey, StoreError};

#[test]
fn an_iit_store_written_by_gost89_opens_to_jkurwas_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("Key40A0.pk8");
    std::fs::write(&key, fixture("ua-dstu/Key40A0.cer")).unwrap();
    let out = dir.path().join("Key-6.dat");
    let made = jkurwa(&[
        "iit-store",
        key.to_str().unwrap(),
        "password-1",
        out.to_str().unwrap(),
    ]);
    assert_eq!(made["keys"], 1);
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(keystore::detect(&bytes), Some(Format::Iit));
    // The MAC gost89 wrote is the MAC Brama computes: the right password opens, a wrong one
    // is told as such.
    // ASCII: gost89 hashes a password's UTF-16 code units cut to bytes, UAPKI (and Brama) its
    // UTF-8, so the two differ for Cyrillic passwords; IIT's own programs are not here to say.
    let opened = keystore::open(Format::Iit, &bytes, "password-1").unwrap();
    assert!(opened.keys[0]
        .key
        .matches(&fixture("ua-dstu/SELF_SIGNED_ENC_40A0.cer")));
    assert_eq!(
        keystore::open(Format::Iit, &bytes, "password-2").err(),
        Some(StoreError::WrongPassword)
    );
}

#[test]
fn a_jks_with_a_dstu_key_written_by_brama_opens_in_jksreader() {
    let dir = tempfile::tempdir().unwrap();
    let cert = fixture("ua-dstu/SELF_SIGNED_ENC_40A0.cer");
    let jks = certs::jks::write(
        "dstu",
        &fixture("ua-dstu/Key40A0.cer"),
        std::slice::from_ref(&cert),
        "testpassword",
    );
    let file = dir.path().join("key.jks");
    std::fs::write(&file, &jks).unwrap();
    let seen = jkurwa(&["jks-open", file.to_str().unwrap(), "testpassword"]);
    assert_eq!(seen["keys"][0]["kind"], "dstu4145", "{seen}");
    assert_eq!(seen["keys"][0]["certificates"], 1);
    let opened = keystore::open(Format::Jks, &jks, "testpassword").unwrap();
    assert!(matches!(opened.keys[0].key, SoftKey::Dstu(_)));
    assert_eq!(opened.certificates, vec![cert]);
}

/// A wrong byte in the MAC, a file cut short, a cipher nobody knows: each is named.
#[test]
fn damaged_stores_are_refused_with_what_is_wrong() {
    let p12 = fixture("ua-dstu/test-diia.p12");
    // The MAC value is the last OCTET STRING but the salt and count: flip a byte of it.
    let mac_at = p12
        .windows(2)
        .rposition(|w| w == [0x04, 0x20])
        .expect("a 32-byte OCTET STRING");
    let mut bad_mac = p12.clone();
    bad_mac[mac_at + 5] ^= 0x55;
    // The keys still open with the password: the file is damaged, not the password wrong.
    let e = keystore::open(Format::Pkcs12Gost, &bad_mac, "testpassword").unwrap_err();
    assert!(
        matches!(&e, StoreError::Unreadable(m) if m.contains("damaged") && m.contains("MAC")),
        "{e:?}"
    );
    assert_eq!(
        keystore::open(Format::Pkcs12Gost, &bad_mac, "wrong").err(),
        Some(StoreError::WrongPassword)
    );

    let store = fixture("ua-dstu/STORE_A040.dat");
    let e = keystore::open(
        Format::EncryptedPkcs8,
        &store[..store.len() / 2],
        "password",
    );
    assert!(
        matches!(&e, Err(StoreError::Unreadable(m)) if m.contains("PBES2")),
        "{e:?}"
    );
    // GOST 28147 CFB (…1.1.1.3) replaced by an OID nobody assigned (…1.1.1.9).
    let cfb = certs::oids::encode(certs::dstu::pbes2::OID_GOST28147_CFB);
    let at = store
        .windows(cfb.len())
        .position(|w| w == cfb)
        .expect("the cipher OID");
    let mut unknown = store.clone();
    unknown[at + cfb.len() - 1] = 9;
    let e = keystore::open(Format::EncryptedPkcs8, &unknown, "password").unwrap_err();
    assert!(
        e.to_string().contains("cipher 1.2.804.2.1.1.1.1.1.1.9"),
        "{e}"
    );
}

/// Random bytes and every prefix of every real store through every reader: a typed answer,
/// never a panic (the fuzz targets of the conformance issue go further).
#[test]
fn random_and_truncated_stores_never_panic() {
    let formats = [
        Format::Pkcs12,
        Format::Pkcs12Gost,
        Format::EncryptedPkcs8,
        Format::Iit,
        Format::Jks,
    ];
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for f in [
        "ua-dstu/STORE_A040.dat",
        "ua-dstu/test-diia.p12",
        "ua-dstu/test-jks.jks",
    ] {
        let bytes = fixture(f);
        for cut in (0..bytes.len()).step_by(7) {
            inputs.push(bytes[..cut].to_vec());
        }
        // One flipped byte at a time, across the file.
        for at in (0..bytes.len()).step_by(13) {
            let mut b = bytes.clone();
            b[at] ^= 0xa5;
            inputs.push(b);
        }
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in [0usize, 1, 4, 31, 64, 300, 2000] {
        let mut b = vec![0u8; len];
        for x in b.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *x = seed as u8;
        }
        // Some with a believable start: a JKS magic, a DER SEQUENCE.
        inputs.push(b.clone());
        if len >= 4 {
            b[..4].copy_from_slice(&[0xfe, 0xed, 0xfe, 0xed]);
            inputs.push(b.clone());
            b[..4].copy_from_slice(&[0x30, 0x82, (len >> 8) as u8, len as u8]);
            inputs.push(b);
        }
    }
    for input in &inputs {
        let _ = keystore::detect(input);
        for f in formats {
            let _ = keystore::visible(f, input);
            // A password that cannot be right, so no store is ever really opened here.
            if let Ok(o) = keystore::open(f, input, "x") {
                assert!(o.keys.is_empty() || f == Format::Iit || f == Format::EncryptedPkcs8);
            }
        }
    }
}
