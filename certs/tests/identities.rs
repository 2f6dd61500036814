//! Identity extraction from certificates built field by field, the way real Ukrainian, eIDAS
//! and Russian qualified CAs write them, and refusal of malformed input.

use certs::devpki::ext::{self, Qc, Text};
use certs::devpki::{DevKey, KeyType};
use certs::{oids, CertificateSummary, Error, IdKind, Identity, SubjectKind};
use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue, IsCa, Issuer,
    KeyIdMethod, KeyUsagePurpose,
};

fn custom(oid: &str) -> DnType {
    DnType::CustomDnType(oids::arcs(oid))
}
fn printable(s: &str) -> DnValue {
    DnValue::PrintableString(s.try_into().unwrap())
}
fn bmp(s: &str) -> DnValue {
    DnValue::BmpString(s.try_into().unwrap())
}
fn utf8(s: &str) -> DnValue {
    DnValue::Utf8String(s.into())
}

/// Issue a signing certificate with `subject` and `extensions` from a CA in `issuer_country`.
fn issue(
    issuer_country: &str,
    subject: Vec<(DnType, DnValue)>,
    extensions: Vec<CustomExtension>,
) -> Vec<u8> {
    let ca_key = DevKey::generate(KeyType::P256).unwrap();
    let mut ca = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Test Qualified CA");
    dn.push(DnType::CountryName, printable(issuer_country));
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    ca.key_identifier_method = KeyIdMethod::PreSpecified(ca_key.key_identifier());
    let issuer = Issuer::from_params(&ca, &ca_key);

    let key = DevKey::generate(KeyType::P256).unwrap();
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    for (t, v) in subject {
        dn.push(t, v);
    }
    p.distinguished_name = dn;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
    ];
    p.key_identifier_method = KeyIdMethod::PreSpecified(key.key_identifier());
    p.custom_extensions = extensions;
    let mut serial = [0u8; 8];
    openssl::rand::rand_bytes(&mut serial).unwrap();
    p.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    p.signed_by(&key, &issuer).unwrap().der().to_vec()
}

fn qualified() -> CustomExtension {
    ext::qc_statements(
        &[Qc::Compliance, Qc::Sscd, Qc::Type(oids::QCT_ESIGN)],
        false,
    )
}

#[test]
fn ukrainian_person_with_bmp_string_names() {
    // Older Ukrainian software wrote names as BMPString.
    let der = issue(
        "UA",
        vec![
            (DnType::CommonName, bmp("Гнатюк Вʼячеслав Ігорович")),
            (custom(oids::SURNAME), bmp("Гнатюк")),
            (custom(oids::GIVEN_NAME), bmp("Вʼячеслав Ігорович")),
            (custom(oids::SERIAL_NUMBER), printable("TINUA-3012345678")),
            (DnType::CountryName, printable("UA")),
            (DnType::LocalityName, bmp("Івано-Франківськ")),
        ],
        vec![qualified()],
    );
    let id = Identity::from_der(&der).unwrap();
    assert_eq!(id.kind, SubjectKind::Person);
    assert_eq!(id.surname.as_deref(), Some("Гнатюк"));
    assert_eq!(id.given_name.as_deref(), Some("Вʼячеслав"));
    assert_eq!(id.patronymic.as_deref(), Some("Ігорович"));
    assert_eq!(id.full_name.as_deref(), Some("Гнатюк Вʼячеслав Ігорович"));
    assert_eq!(id.locality.as_deref(), Some("Івано-Франківськ"));
    assert_eq!(id.rnokpp(), Some("3012345678"));
    assert_eq!(
        id.account_key().unwrap().to_string(),
        "tax_number:UA:3012345678"
    );
}

#[test]
fn apostrophes_and_hyphens_survive_in_every_form() {
    for given in ["Мар'яна Олегівна", "Марʼяна Олегівна", "Мар’яна Олегівна"]
    {
        let der = issue(
            "UA",
            vec![
                (custom(oids::SURNAME), utf8("Коваль-Ярошенко")),
                (custom(oids::GIVEN_NAME), utf8(given)),
                (custom(oids::SERIAL_NUMBER), printable("TINUA-3123456780")),
            ],
            vec![],
        );
        let id = Identity::from_der(&der).unwrap();
        assert_eq!(id.surname.as_deref(), Some("Коваль-Ярошенко"));
        assert_eq!(
            id.given_name.as_deref(),
            Some(given.split(' ').next().unwrap())
        );
        assert_eq!(id.full_name.unwrap(), format!("Коваль-Ярошенко {given}"));
    }
}

#[test]
fn missing_sn_and_gn_splits_a_persons_cn() {
    let der = issue(
        "UA",
        vec![
            (DnType::CommonName, utf8("Шевченко  Тарас Григорович")),
            (custom(oids::SERIAL_NUMBER), printable("TINUA-3012345678")),
            (DnType::CountryName, printable("UA")),
        ],
        vec![qualified()],
    );
    let id = Identity::from_der(&der).unwrap();
    assert_eq!(id.kind, SubjectKind::Person);
    assert_eq!(id.surname.as_deref(), Some("Шевченко"));
    assert_eq!(id.given_name.as_deref(), Some("Тарас"));
    assert_eq!(id.patronymic.as_deref(), Some("Григорович"));
}

#[test]
fn organisation_only_certificate_is_not_split_into_a_name() {
    // Like the Diia test certificates: CN = O, EDRPOU only in SubjectDirectoryAttributes.
    let der = issue(
        "UA",
        vec![
            (DnType::OrganizationName, utf8("ТОВ Ромашка Плюс")),
            (DnType::CommonName, utf8("ТОВ Ромашка Плюс")),
            (custom(oids::SERIAL_NUMBER), printable("401065")),
        ],
        vec![ext::subject_directory_attributes(&[(
            oids::UA_EDRPOU,
            Text::Printable("43395033"),
        )])],
    );
    let id = Identity::from_der(&der).unwrap();
    assert_eq!(id.kind, SubjectKind::Organisation);
    assert_eq!(id.surname, None);
    assert_eq!(id.full_name, None);
    assert!(id.national_ids.is_empty());
    assert_eq!(id.organisation.unwrap().edrpou(), Some("43395033"));
}

#[test]
fn drfo_in_subject_directory_attributes_only() {
    let der = issue(
        "UA",
        vec![
            (custom(oids::SURNAME), utf8("Косач")),
            (custom(oids::GIVEN_NAME), utf8("Лариса Петрівна")),
            (custom(oids::SERIAL_NUMBER), printable("2122385")), // a sequence number, not an id
        ],
        vec![ext::subject_directory_attributes(&[(
            oids::UA_DRFO,
            Text::Printable("2923456789"),
        )])],
    );
    let id = Identity::from_der(&der).unwrap();
    assert_eq!(id.national_ids.len(), 1);
    assert_eq!(id.rnokpp(), Some("2923456789"));
}

#[test]
fn subject_directory_attributes_come_before_the_dn() {
    let der = issue(
        "UA",
        vec![
            (custom(oids::SURNAME), utf8("Косач")),
            (
                custom(oids::SERIAL_NUMBER),
                printable(
                    "PNOUA-МЕ123456"
                        .replace('М', "M")
                        .replace('Е', "E")
                        .as_str(),
                ),
            ),
        ],
        vec![ext::subject_directory_attributes(&[
            (oids::UA_UNZR, Text::Printable("19900101-12345")),
            (oids::UA_DRFO, Text::Printable("2923456789")),
        ])],
    );
    let id = Identity::from_der(&der).unwrap();
    let kinds: Vec<IdKind> = id.national_ids.iter().map(|i| i.kind).collect();
    assert_eq!(
        kinds,
        vec![IdKind::TaxNumber, IdKind::RecordNumber, IdKind::Passport]
    );
    assert_eq!(id.account_key().unwrap().value, "2923456789");
}

#[test]
fn bare_serial_number_is_an_rnokpp_only_when_it_may_be_one() {
    let bare = |issuer: &str, serial: &str, drfo: Option<&str>| {
        let exts = drfo
            .map(|d| {
                vec![ext::subject_directory_attributes(&[(
                    oids::UA_DRFO,
                    Text::Printable(d),
                )])]
            })
            .unwrap_or_default();
        Identity::from_der(&issue(
            issuer,
            vec![
                (custom(oids::SURNAME), utf8("Бондар")),
                (custom(oids::SERIAL_NUMBER), printable(serial)),
            ],
            exts,
        ))
        .unwrap()
    };
    assert_eq!(bare("UA", "3000000031", None).rnokpp(), Some("3000000031"));
    assert_eq!(bare("UA", "300000003", None).rnokpp(), None, "9 digits");
    assert_eq!(
        bare("DE", "3000000031", None).rnokpp(),
        None,
        "foreign issuer, no DRFO"
    );
    assert_eq!(
        bare("DE", "3000000031", Some("3000000031")).rnokpp(),
        Some("3000000031"),
        "DRFO confirms"
    );
    assert!(bare("UA", "2122385", None).national_ids.is_empty());
}

#[test]
fn eidas_natural_person_identifiers() {
    let der = issue(
        "PL",
        vec![
            (DnType::CommonName, utf8("Zażółć Gęślą")),
            (custom(oids::SURNAME), utf8("Gęślą")),
            (custom(oids::GIVEN_NAME), utf8("Zażółć")),
            (custom(oids::SERIAL_NUMBER), printable("PNOPL-85010112345")),
            (DnType::CountryName, printable("PL")),
        ],
        vec![ext::qc_statements(
            &[
                Qc::Compliance,
                Qc::Semantics(oids::SEMANTICS_NATURAL),
                Qc::Type(oids::QCT_ESIGN),
            ],
            true,
        )],
    );
    let s = CertificateSummary::from_der(&der).unwrap();
    let id = &s.identity;
    assert_eq!(id.given_name.as_deref(), Some("Zażółć"));
    assert_eq!(id.patronymic, None);
    let key = id.account_key().unwrap();
    assert_eq!(
        (key.kind, key.country.as_str(), key.value.as_str()),
        (IdKind::PersonalNumber, "PL", "85010112345")
    );
    assert!(s.qualified.is_qualified_esign());
    assert_eq!(
        s.qualified.semantics,
        Some(certs::qualified::Semantics::NaturalPerson)
    );

    let de = Identity::from_der(&issue(
        "DE",
        vec![
            (custom(oids::SURNAME), utf8("Müller")),
            (custom(oids::SERIAL_NUMBER), printable("TINDE-12345678901")),
        ],
        vec![],
    ))
    .unwrap();
    let key = de.account_key().unwrap();
    assert_eq!((key.kind, key.country.as_str()), (IdKind::TaxNumber, "DE"));
    assert_eq!(de.rnokpp(), None, "a German TIN is not an РНОКПП");
}

#[test]
fn russian_qualified_person_with_snils_and_inn() {
    let der = issue(
        "RU",
        vec![
            (custom(oids::SURNAME), utf8("Иванов")),
            (custom(oids::GIVEN_NAME), utf8("Иван Иванович")),
            (DnType::CommonName, utf8("Иванов Иван Иванович")),
            (
                custom(oids::RU_SNILS),
                DnValue::PrintableString("12345678901".try_into().unwrap()),
            ),
            (
                custom(oids::RU_INN),
                DnValue::PrintableString("771234567890".try_into().unwrap()),
            ),
            (DnType::CountryName, printable("RU")),
        ],
        vec![],
    );
    let id = Identity::from_der(&der).unwrap();
    assert_eq!(id.patronymic.as_deref(), Some("Иванович"));
    let kinds: Vec<(IdKind, &str)> = id
        .national_ids
        .iter()
        .map(|i| (i.kind, i.country.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![(IdKind::TaxNumber, "RU"), (IdKind::Snils, "RU")]
    );

    // A Russian organisation: OGRN and a 10-digit legal-entity INN.
    let org = Identity::from_der(&issue(
        "RU",
        vec![
            (DnType::OrganizationName, utf8("ООО Ромашка")),
            (DnType::CommonName, utf8("ООО Ромашка")),
            (custom(oids::RU_OGRN), printable("1027700132195")),
            (custom(oids::RU_INNLE), printable("7712345678")),
        ],
        vec![],
    ))
    .unwrap();
    assert_eq!(org.kind, SubjectKind::Organisation);
    let oid = org.organisation.unwrap().identifier.unwrap();
    assert_eq!(
        (oid.kind, oid.country.as_str(), oid.value.as_str()),
        (IdKind::Registration, "RU", "1027700132195")
    );
}

#[test]
fn seal_and_website_certificates_are_qualified_but_not_esign() {
    let der = issue(
        "UA",
        vec![(DnType::CommonName, utf8("Печатка ТОВ"))],
        vec![ext::qc_statements(
            &[Qc::Compliance, Qc::Type(oids::QCT_ESEAL)],
            false,
        )],
    );
    let s = CertificateSummary::from_der(&der).unwrap();
    assert!(s.qualified.is_qualified());
    assert!(!s.qualified.is_qualified_esign());
    assert_eq!(
        s.identity.kind,
        SubjectKind::Organisation,
        "a seal is not a person"
    );
}

#[test]
fn ukrainian_statement_alone_is_qualified_policy_alone_is_not() {
    let ua = issue(
        "UA",
        vec![(custom(oids::SURNAME), utf8("Бондар"))],
        vec![ext::qc_statements(&[Qc::UaQualified], false)],
    );
    assert!(CertificateSummary::from_der(&ua)
        .unwrap()
        .qualified
        .is_qualified_esign());
    let policy_only = issue(
        "UA",
        vec![(custom(oids::SURNAME), utf8("Бондар"))],
        vec![ext::certificate_policies(&[oids::UA_QUALIFIED_POLICY])],
    );
    let q = CertificateSummary::from_der(&policy_only)
        .unwrap()
        .qualified;
    assert!(q.ua_qualified_policy);
    assert!(!q.is_qualified());
}

#[test]
fn malformed_input_is_a_clear_error_never_a_panic() {
    let good = issue(
        "UA",
        vec![(custom(oids::SURNAME), utf8("Бондар"))],
        vec![qualified()],
    );
    for bad in [
        Vec::new(),
        vec![0x30],
        vec![0xff; 64],
        good[..good.len() / 2].to_vec(),
        [good.clone(), vec![0]].concat(),
    ] {
        let e = Identity::from_der(&bad).unwrap_err();
        assert_eq!(e.code(), "malformed_certificate", "{e}");
        assert!(e.to_string().starts_with("malformed certificate"), "{e}");
    }
    // Every truncation of a valid certificate fails cleanly.
    for n in 0..good.len() {
        assert!(Identity::from_der(&good[..n]).is_err());
    }

    // A broken QCStatements extension is an error, not a silent "not qualified".
    let broken_qc = CustomExtension::from_oid_content(
        &oids::arcs(oids::EXT_QC_STATEMENTS),
        vec![0x30, 0x03, 0x02, 0x01, 0x01],
    );
    let der = issue(
        "UA",
        vec![(custom(oids::SURNAME), utf8("Бондар"))],
        vec![broken_qc],
    );
    let e = CertificateSummary::from_der(&der).unwrap_err();
    assert!(
        matches!(e, Error::Malformed(ref m) if m.contains("QCStatements")),
        "{e}"
    );

    // A DRFO value that is not a string.
    let bad_sda = CustomExtension::from_oid_content(
        &oids::arcs(oids::EXT_SUBJECT_DIRECTORY_ATTRIBUTES),
        yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_sequence(|w| {
                    w.next()
                        .write_oid(&yasna::models::ObjectIdentifier::from_slice(&oids::arcs(
                            oids::UA_DRFO,
                        )));
                    w.next().write_set(|w| w.next().write_i64(3000000031));
                })
            })
        }),
    );
    let der = issue(
        "UA",
        vec![(custom(oids::SURNAME), utf8("Бондар"))],
        vec![bad_sda],
    );
    let e = Identity::from_der(&der).unwrap_err();
    assert!(e.to_string().contains("SubjectDirectoryAttributes"), "{e}");
}
