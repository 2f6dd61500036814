//! Real Ukrainian certificates from `fixtures/ua-real/` (most with DSTU 4145 keys,
//! some with critical QCStatements): every one must parse and be read correctly.

use std::path::PathBuf;

use certs::{load, CertificateSummary, IdKind, Identity, Purpose, SubjectKind};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/ua-real")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn summary(name: &str) -> CertificateSummary {
    CertificateSummary::from_der(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_fixture_certificate_parses() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/ua-real");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".md") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let certs =
            load::certificates(&bytes, &name, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        for der in certs {
            let s = CertificateSummary::from_der(&der).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                !s.identity.display_name().is_empty(),
                "{name}: no name read"
            );
            seen += 1;
        }
    }
    // 8 single certificates, 4 in the CAList.cer bundle, 1 in message.p7.
    assert_eq!(seen, 13);
}

#[test]
fn diia_test_signing_certificate_is_an_organisation_with_edrpou() {
    let s = summary("diia-test-sign-7775603.cer");
    assert_eq!(
        s.key_algorithm, "DSTU 4145",
        "a DSTU key must not stop identity extraction"
    );
    let id = &s.identity;
    assert_eq!(id.kind, SubjectKind::Organisation);
    let org = id.organisation.as_ref().unwrap();
    assert_eq!(org.name.as_deref(), Some("ДП ДІЯ (Тестування)"));
    assert_eq!(org.edrpou(), Some("43395033"));
    // CN = O and no person attributes: no person name, no national id (401065 is not an РНОКПП).
    assert_eq!(id.full_name, None);
    assert_eq!(id.surname, None);
    assert!(id.national_ids.is_empty());
    assert_eq!(id.common_name.as_deref(), Some("ДП ДІЯ (Тестування)"));
    assert_eq!(id.locality.as_deref(), Some("Київ"));
    assert_eq!(s.purpose, Purpose::Signing);
    assert!(
        s.qualified.qc_compliance && s.qualified.ua_qualified && s.qualified.ua_qualified_policy
    );
    assert!(s.qualified.is_qualified_esign());
    assert_eq!(s.qualified.qc_pds, vec!["https://ca.informjust.ua/"]);
    assert_eq!(
        s.issuer_name.as_deref(),
        Some("\"Дія\". Кваліфікований надавач електронних довірчих послуг")
    );
}

#[test]
fn diia_key_agreement_certificate_is_never_for_signing() {
    let s = summary("diia-test-kep-7775604.cer");
    assert_eq!(s.purpose, Purpose::KeyAgreement);
    assert!(!s.purpose.can_sign());
    assert_eq!(s.key_usage, vec!["keyAgreement"]);
    assert_eq!(
        s.identity.organisation.as_ref().unwrap().edrpou(),
        Some("43395033")
    );
    assert!(s.qualified.is_qualified());
}

#[test]
fn ca_certificates_are_organisations_with_their_names() {
    let cases = [
        (
            "CZOROOT.cer",
            "Центральний засвідчувальний орган",
            "Міністерство юстиції України",
            "00015622",
        ),
        (
            "CAO-05E19E2CD92EA2990100000001000000C1000000.cer",
            "Центральний засвідчувальний орган",
            "Міністерство цифрової трансформації України",
            "43220851",
        ),
        (
            "diia-CA-05E19E2CD92EA2990100000001000000E1000000.cer",
            "\"Дія\". Кваліфікований надавач електронних довірчих послуг",
            "ДП \"ДІЯ\"",
            "43395033",
        ),
        (
            "CA-Justice.cer",
            "АЦСК органів юстиції України",
            "ДП \"НАІС\"",
            "39787008",
        ),
        (
            "CA-Justice-ECDSA-261217.cer",
            "CA of the Justice of Ukraine",
            "State enterprise \"NAIS\"",
            "39787008",
        ),
    ];
    for (file, cn, o, edrpou) in cases {
        let s = summary(file);
        assert_eq!(s.purpose, Purpose::CertificateAuthority, "{file}");
        let id = &s.identity;
        assert_eq!(
            id.kind,
            SubjectKind::Organisation,
            "{file}: a CA is never a person"
        );
        assert_eq!(id.common_name.as_deref(), Some(cn), "{file}");
        assert_eq!(id.full_name, None, "{file}");
        let org = id.organisation.as_ref().unwrap();
        assert_eq!(org.name.as_deref(), Some(o), "{file}");
        assert_eq!(org.edrpou(), Some(edrpou), "{file}");
    }
    assert_eq!(
        summary("CA-Justice-ECDSA-261217.cer").key_algorithm,
        "ECDSA P-256"
    );
    assert_eq!(summary("CZOROOT.cer").key_algorithm, "DSTU 4145");
}

#[test]
fn critical_qc_statements_and_limit_value_are_read() {
    // SFS_1: QCStatements critical, with QcLimitValue in UAH; bare 7-digit serialNumber.
    let s = summary("SFS_1.cer");
    assert!(s.qualified.ua_qualified);
    assert!(s.qualified.is_qualified());
    assert_eq!(s.purpose, Purpose::Signing);
    let id = &s.identity;
    assert_eq!(id.kind, SubjectKind::Organisation);
    assert!(
        id.national_ids.is_empty(),
        "a 7-digit serialNumber is not an РНОКПП"
    );
    assert_eq!(id.organisation.as_ref().unwrap().edrpou(), Some("39292197"));
    assert_eq!(
        id.common_name.as_deref(),
        Some("Державна фіскальна служба України. ОТРИМАНО")
    );
    // CZOROOT marks QCStatements and policies critical.
    assert!(summary("CZOROOT.cer").qualified.ua_qualified_policy);
}

#[test]
fn trust_bundle_and_cms_message_yield_their_certificates() {
    let bundle = load::certificates(&fixture("CAList.cer"), "CAList.cer", None).unwrap();
    assert_eq!(bundle.len(), 4);
    let message = load::certificates(&fixture("message.p7"), "message.p7", None).unwrap();
    assert_eq!(message.len(), 1);
    let id = Identity::from_der(&message[0]).unwrap();
    assert_eq!(
        id.organisation.unwrap().identifier.unwrap().kind,
        IdKind::Registration
    );
}
