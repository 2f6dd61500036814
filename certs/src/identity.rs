//! Who a certificate names: person or organisation, name parts, typed national identifiers.
//!
//! Rules (docs/certificate-profile.md explains them with examples):
//! - SubjectDirectoryAttributes are read first, then the DN, as Ukrainian software does.
//! - GN holds "Ім'я По батькові" and is split; without SN/GN a *person's* CN is split.
//! - A bare serialNumber is an РНОКПП only when it is 10 digits from a Ukrainian issuer, or the
//!   DRFO attribute confirms it (older certificates put a sequence number there).
//! - Identifiers are typed (kind, country, value) so different kinds never collide.

use serde::Serialize;
use x509_parser::certificate::X509Certificate;

use crate::names::{self, Dn, PersonName};
use crate::qualified::{Purpose, QcType, QualifiedStatus, Semantics};
use crate::{der, oids, Error};

/// Whether the subject is a natural person or an organisation (a seal, a server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A natural person.
    Person,
    /// A legal person (a seal or an organisation's server).
    Organisation,
}

/// The kind of an identifier. Persons: `tax_number` (РНОКПП, TIN, INN), `record_number`
/// (УНЗР), `passport`, `id_card`, `personal_number` (eIDAS PNO), `snils`. Organisations:
/// `registration` (ЄДРПОУ, NTR, OGRN), `vat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// A tax number (Ukrainian РНОКПП, Russian ИНН of a person).
    TaxNumber,
    /// A record number in a state register (Ukrainian УНЗР).
    RecordNumber,
    /// A passport number.
    Passport,
    /// An identity card number.
    IdCard,
    /// A personal number (eIDAS `PNO`).
    PersonalNumber,
    /// A Russian insurance number (СНИЛС).
    Snils,
    /// An organisation's registration number (ЄДРПОУ, ОГРН, eIDAS `NTR`).
    Registration,
    /// A VAT number.
    Vat,
}

impl IdKind {
    /// Every kind.
    pub const ALL: [IdKind; 8] = [
        IdKind::TaxNumber,
        IdKind::RecordNumber,
        IdKind::Passport,
        IdKind::IdCard,
        IdKind::PersonalNumber,
        IdKind::Snils,
        IdKind::Registration,
        IdKind::Vat,
    ];

    /// The kind named by [`IdKind::as_str`].
    pub fn parse(name: &str) -> Option<IdKind> {
        IdKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The stable name used in account keys, headers and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::TaxNumber => "tax_number",
            IdKind::RecordNumber => "record_number",
            IdKind::Passport => "passport",
            IdKind::IdCard => "id_card",
            IdKind::PersonalNumber => "personal_number",
            IdKind::Snils => "snils",
            IdKind::Registration => "registration",
            IdKind::Vat => "vat",
        }
    }
}

/// A typed identifier: (kind, country, value). Two identifiers are the same person or
/// organisation only when all three are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Identifier {
    /// What kind of number it is.
    pub kind: IdKind,
    /// ISO 3166 alpha-2, upper case.
    pub country: String,
    /// The number as the certificate gives it.
    pub value: String,
}

impl Identifier {
    fn new(kind: IdKind, country: &str, value: &str) -> Identifier {
        Identifier {
            kind,
            country: country.to_ascii_uppercase(),
            value: value.to_string(),
        }
    }

    /// Account-key priority (design.md §6): РНОКПП, УНЗР, Ukrainian passport or ID card,
    /// then a foreign national identifier.
    fn priority(&self) -> u8 {
        let ua = self.country == "UA";
        match (self.kind, ua) {
            (IdKind::TaxNumber, true) => 0,
            (IdKind::RecordNumber, true) => 1,
            (IdKind::Passport, true) => 2,
            (IdKind::IdCard, true) => 3,
            (IdKind::TaxNumber, false) => 4,
            (IdKind::PersonalNumber, _) => 5,
            (IdKind::Snils, _) => 6,
            (IdKind::Passport, false) => 7,
            (IdKind::IdCard, false) => 8,
            (_, _) => 9,
        }
    }
}

impl std::fmt::Display for Identifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.kind.as_str(), self.country, self.value)
    }
}

/// The organisation a certificate names (employer of a representative, or the subject of a seal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    /// O.
    pub name: Option<String>,
    /// ЄДРПОУ from the EDRPOU attribute or `NTRUA-`, else another registry or VAT number.
    pub identifier: Option<Identifier>,
}

impl Organisation {
    /// The ЄДРПОУ code, when the organisation is Ukrainian and registered.
    pub fn edrpou(&self) -> Option<&str> {
        self.identifier
            .as_ref()
            .filter(|id| id.kind == IdKind::Registration && id.country == "UA")
            .map(|id| id.value.as_str())
    }
}

/// The identity a certificate names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// A person or an organisation.
    pub kind: SubjectKind,
    /// Surname (прізвище).
    pub surname: Option<String>,
    /// Given name (ім'я).
    pub given_name: Option<String>,
    /// Patronymic (по батькові), when the certificate carries one.
    pub patronymic: Option<String>,
    /// "Прізвище Ім'я По батькові" for a person; `None` for an organisation.
    pub full_name: Option<String>,
    /// The subject's CN as written.
    pub common_name: Option<String>,
    /// A person's identifiers, best account key first.
    pub national_ids: Vec<Identifier>,
    /// The organisation the person acts for, when the certificate names one.
    pub organisation: Option<Organisation>,
    /// The person's title or position in the organisation.
    pub title: Option<String>,
    /// Locality (L).
    pub locality: Option<String>,
    /// Country (C), ISO 3166 alpha-2.
    pub country: Option<String>,
    /// Set when the certificate names two different tax numbers of one country (the subject's
    /// serialNumber and the DRFO attribute): which person it is cannot be told, so the gateway
    /// refuses it (`ambiguous_identity`) instead of picking one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
}

impl Identity {
    /// Read the identity of a DER certificate. Any key algorithm works, DSTU 4145 included:
    /// the public key is never decoded here.
    pub fn from_der(der: &[u8]) -> Result<Identity, Error> {
        let cert = crate::parse(der)?;
        Identity::from_x509(&cert)
    }

    /// Read the identity of a decoded certificate.
    pub fn from_x509(cert: &X509Certificate<'_>) -> Result<Identity, Error> {
        let subject = Dn::read(cert.subject())?;
        let issuer = Dn::read(cert.issuer())?;
        let sda = read_subject_directory_attributes(cert)
            .map_err(|e| e.within("SubjectDirectoryAttributes"))?;
        let qualified = QualifiedStatus::read(cert)?;
        let is_ca = Purpose::read(cert)? == Purpose::CertificateAuthority;
        Ok(build(&subject, &issuer, &sda, &qualified, is_ca))
    }

    /// The person's account key: the best national identifier. `None` means the gateway falls
    /// back to issuer + serial (never CN).
    pub fn account_key(&self) -> Option<&Identifier> {
        self.national_ids.first()
    }

    /// The РНОКПП (Ukrainian tax number), if the certificate carries one.
    pub fn rnokpp(&self) -> Option<&str> {
        self.national_ids
            .iter()
            .find(|id| id.kind == IdKind::TaxNumber && id.country == "UA")
            .map(|id| id.value.as_str())
    }

    /// A name to show: the person's full name, else the organisation's, else CN.
    pub fn display_name(&self) -> String {
        self.full_name
            .clone()
            .or_else(|| self.organisation.as_ref().and_then(|o| o.name.clone()))
            .or_else(|| self.common_name.clone())
            .unwrap_or_default()
    }
}

/// SubjectDirectoryAttributes as (attribute OID, first value as text).
fn read_subject_directory_attributes(
    cert: &X509Certificate<'_>,
) -> Result<Vec<(String, String)>, Error> {
    let Some(ext) = cert
        .extensions()
        .iter()
        .find(|e| oids::is(&e.oid, oids::EXT_SUBJECT_DIRECTORY_ATTRIBUTES))
    else {
        return Ok(Vec::new());
    };
    let bad = |what: &str| Error::malformed(what);
    let mut out = Vec::new();
    for attr in der::elements(&der::one(ext.value)?)? {
        let parts = der::elements(&attr)?;
        let oid = parts.first().ok_or_else(|| bad("empty attribute"))?;
        let oid = oids::dotted(
            &oid.as_oid()
                .map_err(|_| bad("attribute type is not an OID"))?,
        );
        let values = parts
            .get(1)
            .ok_or_else(|| bad("attribute without values"))?;
        // Only the attributes Brama reads must decode; others (dates of birth, …) may be any type.
        let known = [oids::UA_DRFO, oids::UA_EDRPOU, oids::UA_UNZR].contains(&oid.as_str());
        if let Some(first) = der::elements(values)?.first() {
            match der::string(first) {
                Ok(text) => out.push((oid, text.trim().to_string())),
                Err(e) if known => return Err(e.within(&oid)),
                Err(_) => {}
            }
        }
    }
    Ok(out)
}

fn all_digits(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit())
}

/// A DRFO attribute value: an РНОКПП (10 digits), or — for people who refused one on
/// religious grounds — a passport (2 Cyrillic letters + 6 digits) or ID card (9 digits).
fn drfo_identifier(value: &str) -> Option<Identifier> {
    let chars: Vec<char> = value.chars().collect();
    if all_digits(value, 10) {
        Some(Identifier::new(IdKind::TaxNumber, "UA", value))
    } else if all_digits(value, 9) {
        Some(Identifier::new(IdKind::IdCard, "UA", value))
    } else if chars.len() == 8
        && chars[..2].iter().all(|c| c.is_alphabetic())
        && chars[2..].iter().all(|c| c.is_ascii_digit())
    {
        Some(Identifier::new(
            IdKind::Passport,
            "UA",
            &value.to_uppercase(),
        ))
    } else {
        None
    }
}

/// An ETSI EN 319 412-1 semantics identifier: 3-letter type, 2-letter country, '-', value.
fn semantics_identifier(s: &str) -> Option<(&str, &str, &str)> {
    let b = s.as_bytes();
    if b.len() < 7 || b[5] != b'-' || !b[..5].iter().all(|c| c.is_ascii_uppercase()) {
        return None;
    }
    Some((&s[..3], &s[3..5], &s[6..]))
}

/// Ukrainian CAs write serialNumber as `UA-<EDRPOU>` or `UA-<EDRPOU>-<suffix>`.
fn ca_serial_edrpou(serial: &str) -> Option<&str> {
    let rest = serial.strip_prefix("UA-")?;
    let code = rest.split('-').next()?;
    all_digits(code, 8).then_some(code)
}

fn person_identifier(serial: &str) -> Option<Identifier> {
    let (kind, country, value) = semantics_identifier(serial)?;
    let kind = match (kind, country) {
        ("TIN", "UA") if all_digits(value, 10) => IdKind::TaxNumber,
        ("TIN", "UA") => return None,
        ("TIN", _) => IdKind::TaxNumber,
        // In Ukrainian certificates PNOUA carries the passport of someone without an РНОКПП.
        ("PNO", "UA") | ("PAS", _) => IdKind::Passport,
        ("PNO", _) => IdKind::PersonalNumber,
        ("IDC", _) => IdKind::IdCard,
        _ => return None,
    };
    Some(Identifier::new(kind, country, value))
}

fn organisation_identifier(s: &str) -> Option<Identifier> {
    let (kind, country, value) = semantics_identifier(s)?;
    let kind = match kind {
        "NTR" => IdKind::Registration,
        "VAT" => IdKind::Vat,
        _ => return None,
    };
    Some(Identifier::new(kind, country, value))
}

fn build(
    subject: &Dn,
    issuer: &Dn,
    sda: &[(String, String)],
    qualified: &QualifiedStatus,
    is_ca: bool,
) -> Identity {
    let mut person_ids: Vec<Identifier> = Vec::new();
    let mut org_id: Option<Identifier> = None;
    let sda_get = |oid: &str| sda.iter().find(|(o, _)| o == oid).map(|(_, v)| v.as_str());

    // 1. SubjectDirectoryAttributes.
    let drfo = sda_get(oids::UA_DRFO);
    if let Some(id) = drfo.and_then(drfo_identifier) {
        person_ids.push(id);
    }
    if let Some(unzr) = sda_get(oids::UA_UNZR).filter(|v| !v.is_empty()) {
        person_ids.push(Identifier::new(IdKind::RecordNumber, "UA", unzr));
    }
    if let Some(edrpou) = sda_get(oids::UA_EDRPOU).filter(|v| all_digits(v, 8)) {
        org_id = Some(Identifier::new(IdKind::Registration, "UA", edrpou));
    }

    // 2. The DN.
    let issuer_ua = issuer
        .get(oids::COUNTRY)
        .is_some_and(|c| c.eq_ignore_ascii_case("UA"));
    if let Some(serial) = subject.get(oids::SERIAL_NUMBER) {
        if let Some(id) = person_identifier(serial) {
            person_ids.push(id);
        } else if all_digits(serial, 10) && (issuer_ua || drfo == Some(serial)) {
            person_ids.push(Identifier::new(IdKind::TaxNumber, "UA", serial));
        } else if let Some(edrpou) = ca_serial_edrpou(serial).filter(|_| org_id.is_none()) {
            org_id = Some(Identifier::new(IdKind::Registration, "UA", edrpou));
        }
    }
    if let Some(inn) = subject.get(oids::RU_INN) {
        // A 12-digit INN is a person's; a 10-digit one (older profiles) a company's.
        if all_digits(inn, 12) {
            person_ids.push(Identifier::new(IdKind::TaxNumber, "RU", inn));
        } else if all_digits(inn, 10) && org_id.is_none() {
            org_id = Some(Identifier::new(IdKind::TaxNumber, "RU", inn));
        }
    }
    if let Some(snils) = subject.get(oids::RU_SNILS).filter(|v| all_digits(v, 11)) {
        person_ids.push(Identifier::new(IdKind::Snils, "RU", snils));
    }
    if org_id.is_none() {
        org_id = subject
            .get(oids::ORGANIZATION_IDENTIFIER)
            .and_then(organisation_identifier)
            .or_else(|| {
                subject
                    .get(oids::RU_OGRN)
                    .map(|v| Identifier::new(IdKind::Registration, "RU", v))
            })
            .or_else(|| {
                subject
                    .get(oids::RU_INNLE)
                    .map(|v| Identifier::new(IdKind::TaxNumber, "RU", v))
            });
    }
    person_ids.sort_by_key(Identifier::priority); // stable: SDA stays ahead of the DN
    person_ids.dedup();
    let conflict = tax_number_conflict(&person_ids);

    let cn = subject.get(oids::CN);
    let o = subject.get(oids::ORGANIZATION);
    let sn = subject.get(oids::SURNAME);
    let gn = subject.get(oids::GIVEN_NAME);

    // Person markers win; otherwise organisation markers decide; a bare CN is a person.
    let person_marked = sn.is_some()
        || gn.is_some()
        || !person_ids.is_empty()
        || qualified.semantics == Some(Semantics::NaturalPerson);
    let seal_or_web =
        !qualified.qc_types.is_empty() && !qualified.qc_types.contains(&QcType::Esign);
    let org_marked = is_ca
        || (o.is_some() && o == cn)
        || org_id.is_some()
        || seal_or_web
        || qualified.semantics == Some(Semantics::LegalPerson);
    // A CA is never a person, whatever its name attributes say.
    let kind = if !is_ca && (person_marked || !org_marked) {
        SubjectKind::Person
    } else {
        SubjectKind::Organisation
    };

    let name = match kind {
        SubjectKind::Organisation => PersonName::default(),
        SubjectKind::Person if sn.is_some() || gn.is_some() => {
            let (given_name, patronymic) = match gn.map(names::split_given_name) {
                Some((g, p)) => (Some(g), p),
                None => (None, None),
            };
            PersonName {
                surname: sn.map(str::to_string),
                given_name,
                patronymic,
            }
        }
        SubjectKind::Person => cn.map(names::split_full_name).unwrap_or_default(),
    };
    let organisation = (o.is_some() || org_id.is_some()).then(|| Organisation {
        name: o.map(str::to_string),
        identifier: org_id,
    });

    Identity {
        kind,
        full_name: names::join_full_name(&name),
        surname: name.surname,
        given_name: name.given_name,
        patronymic: name.patronymic,
        common_name: cn.map(str::to_string),
        national_ids: if kind == SubjectKind::Person {
            person_ids
        } else {
            Vec::new()
        },
        organisation,
        title: subject.get(oids::TITLE).map(str::to_string),
        locality: subject.get(oids::LOCALITY).map(str::to_string),
        country: subject.get(oids::COUNTRY).map(str::to_string),
        conflict,
    }
}

/// Two tax numbers of the same country that differ, described for the refusal message.
fn tax_number_conflict(ids: &[Identifier]) -> Option<String> {
    let taxes: Vec<&Identifier> = ids.iter().filter(|i| i.kind == IdKind::TaxNumber).collect();
    taxes.iter().enumerate().find_map(|(n, a)| {
        taxes[n + 1..]
            .iter()
            .find(|b| b.country == a.country && b.value != a.value)
            .map(|b| format!("two tax numbers: {} and {}", a.value, b.value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_semantics_identifiers() {
        assert_eq!(
            person_identifier("TINUA-3012345678").unwrap().kind,
            IdKind::TaxNumber
        );
        assert_eq!(person_identifier("TINUA-301234"), None); // not 10 digits
        assert_eq!(
            person_identifier("PNOUA-МЕ123456").unwrap().kind,
            IdKind::Passport
        );
        assert_eq!(
            person_identifier("PNOPL-85010112345").unwrap().kind,
            IdKind::PersonalNumber
        );
        assert_eq!(
            person_identifier("IDCUA-001234567").unwrap().kind,
            IdKind::IdCard
        );
        assert_eq!(
            person_identifier("TINDE-12345678901").unwrap().country,
            "DE"
        );
        assert_eq!(person_identifier("401065"), None);
        assert_eq!(person_identifier("tinua-3012345678"), None);
        assert_eq!(
            organisation_identifier("NTRUA-43395033").unwrap().kind,
            IdKind::Registration
        );
        assert_eq!(ca_serial_edrpou("UA-39787008-2015"), Some("39787008"));
        assert_eq!(ca_serial_edrpou("UA-39384476"), Some("39384476"));
        assert_eq!(ca_serial_edrpou("UA-123"), None);
        assert_eq!(
            organisation_identifier("VATPL-5260250274").unwrap().kind,
            IdKind::Vat
        );
    }

    #[test]
    fn drfo_values() {
        assert_eq!(
            drfo_identifier("3012345678").unwrap().kind,
            IdKind::TaxNumber
        );
        assert_eq!(drfo_identifier("ме123456").unwrap().value, "МЕ123456");
        assert_eq!(drfo_identifier("001234567").unwrap().kind, IdKind::IdCard);
        assert_eq!(drfo_identifier("12345"), None);
    }

    #[test]
    fn account_key_priority() {
        let mut ids = [
            Identifier::new(IdKind::Snils, "RU", "1"),
            Identifier::new(IdKind::Passport, "UA", "2"),
            Identifier::new(IdKind::RecordNumber, "UA", "3"),
            Identifier::new(IdKind::TaxNumber, "UA", "4"),
        ];
        ids.sort_by_key(Identifier::priority);
        assert_eq!(ids[0].value, "4");
        assert_eq!(ids[1].value, "3");
        assert_eq!(ids[0].to_string(), "tax_number:UA:4");
    }

    #[test]
    fn two_different_tax_numbers_are_a_conflict() {
        let ua = |v: &str| Identifier::new(IdKind::TaxNumber, "UA", v);
        assert_eq!(
            tax_number_conflict(&[ua("3012345678"), ua("3012345679")]).as_deref(),
            Some("two tax numbers: 3012345678 and 3012345679")
        );
        assert_eq!(tax_number_conflict(&[ua("3012345678")]), None);
        // Another country's number, or another kind of number, is no conflict.
        let de = Identifier::new(IdKind::TaxNumber, "DE", "12345678901");
        let unzr = Identifier::new(IdKind::RecordNumber, "UA", "19900101-01234");
        assert_eq!(tax_number_conflict(&[ua("3012345678"), de, unzr]), None);
    }
}
