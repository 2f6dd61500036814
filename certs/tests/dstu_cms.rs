//! CMS with DSTU 4145 signers, both ways: real Ukrainian signatures (jkurwa's message.p7,
//! UAPKI's CAdES-BES made with a Diia test key) verify, tampered ones do not; signatures
//! Brama makes with a DSTU key verify with the same code.

use std::path::PathBuf;

use certs::cms::{self, Content, Digest, SignRequest, SignerError};
use certs::dstu::{Params, SecretKey};

fn fixture(path: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Verifies the only signer of `p7` over `content` (or the attached content) with the
/// embedded certificate, else `certificate`.
fn verify(
    p7: &[u8],
    content: Option<&[u8]>,
    certificate: Option<&[u8]>,
) -> Result<Digest, SignerError> {
    let sd = cms::parse(p7).expect("well-formed CMS");
    assert_eq!(sd.signers.len(), 1);
    let signer = &sd.signers[0];
    let cert = match (sd.certificates.first(), certificate) {
        (Some(c), _) => c.to_vec(),
        (None, Some(c)) => c.to_vec(),
        (None, None) => panic!("no certificate"),
    };
    let content = content.or(sd.content).expect("content");
    cms::check_signer(signer, &cert, content)
}

const SIGN_CERT: &str = "ua-real/diia-test-sign-7775603.cer";

#[test]
fn jkurwa_message_verifies() {
    let p7 = fixture("ua-real/message.p7");
    assert_eq!(verify(&p7, None, None), Ok(Digest::Gost34311));
    let sd = cms::parse(&p7).unwrap();
    let mut other = sd.content.unwrap().to_vec();
    other[0] ^= 1;
    assert_eq!(
        verify(&p7, Some(&other), None),
        Err(SignerError::DigestMismatch)
    );
}

#[test]
fn diia_cades_bes_attached_and_detached_verify() {
    let cert = fixture(SIGN_CERT);
    let fox = fixture("ua-dstu/test-fox.txt");
    let attached = fixture("ua-dstu/diia-cades-bes-attached.p7s");
    assert_eq!(verify(&attached, None, Some(&cert)), Ok(Digest::Gost34311));
    let detached = fixture("ua-dstu/diia-cades-bes-detached.p7s");
    assert!(cms::parse(&detached).unwrap().content.is_none());
    assert_eq!(
        verify(&detached, Some(&fox), Some(&cert)),
        Ok(Digest::Gost34311)
    );
    let mut d4 = fox.clone();
    d4[0] = 0xD4;
    assert_eq!(
        verify(&detached, Some(&d4), Some(&cert)),
        Err(SignerError::DigestMismatch)
    );
    // The key-agreement certificate of the same citizen is not the signer.
    let kep = fixture("ua-real/diia-test-kep-7775604.cer");
    let sd = cms::parse(&attached).unwrap();
    assert_eq!(
        cms::check_signer(&sd.signers[0], &kep, sd.content.unwrap()),
        Err(SignerError::BadSignature)
    );
}

#[test]
fn a_flipped_bit_in_the_signature_or_the_attributes_fails() {
    let attached = fixture("ua-dstu/diia-cades-bes-attached.p7s");
    let cert = fixture(SIGN_CERT);
    let sd = cms::parse(&attached).unwrap();
    let signer = &sd.signers[0];
    // The last byte of the DER is the signature's last byte.
    let mut bad = attached.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    assert_eq!(
        verify(&bad, None, Some(&cert)),
        Err(SignerError::BadSignature)
    );
    // The signing time, a signed attribute, moved by one second (its last digit).
    let time = signer.signing_time.expect("a signing time");
    let text = format!("{:02}Z", time.second());
    let pos = attached
        .windows(3)
        .rposition(|w| w == text.as_bytes())
        .expect("the signing time in the DER");
    let mut bad = attached.clone();
    bad[pos + 1] ^= 0x01;
    let moved = cms::parse(&bad).unwrap().signers[0].signing_time.unwrap();
    assert_ne!(moved, time);
    assert_eq!(
        verify(&bad, None, Some(&cert)),
        Err(SignerError::BadSignature)
    );
}

#[test]
fn brama_signs_with_dstu_keys_and_verifies_what_it_signed() {
    // A DSTU certificate is needed only for its issuer and serial; the real one serves, its
    // key is replaced in the check by the generated key's certificate-less verification.
    let cert = fixture(SIGN_CERT);
    let key = SecretKey::generate(Params::named(6).unwrap()).unwrap();
    let statement = b"{\"origin\":\"https://cabinet.example\"}";
    let p7 = cms::sign(
        &cms::SignRequest::new(
            cms::ID_DATA,
            cms::Content::Attached(statement),
            cms::Digest::Gost34311,
            &cert,
        ),
        &key,
    )
    .unwrap();
    let sd = cms::parse(&p7).unwrap();
    let signer = &sd.signers[0];
    assert_eq!(signer.signature_algorithm, certs::dstu::OID_LE);
    assert_eq!(signer.digest_algorithm, certs::dstu::OID_GOST34311);
    // The real certificate's key did not sign it.
    assert_eq!(
        cms::check_signer(signer, &cert, statement),
        Err(SignerError::BadSignature)
    );
    // The generated key did, over exactly these signed attributes.
    let attrs = signer.signed_attributes.as_ref().unwrap();
    key.public_key()
        .verify(attrs, signer.signature, certs::dstu::ByteOrder::Little)
        .unwrap();
    cms::check_signing_certificate(signer, &cert).unwrap();
    // A DSTU key does not sign SHA-256 CMS, nor an OpenSSL key GOST.
    let err = cms::sign(
        &SignRequest {
            content_type: cms::ID_DATA,
            content: Content::Attached(statement),
            digest: Digest::Sha256,
            certificate: &cert,
            chain: &[],
            signing_time: time::OffsetDateTime::now_utc(),
            signing_certificate: None,
        },
        &key,
    );
    assert!(err.is_err());
}
