//! The cases of the development PKI: who each end-entity certificate names and which verdict
//! the gateway must give it. [`super::profile`] turns a case into certificate parameters;
//! every refusal case has a DSTU twin with the same expected code.

use super::dstu::{CURVE_163, CURVE_257};
use super::keys::KeyType;

/// A natural person named in a certificate.
pub(super) struct Person {
    pub(super) surname: String,
    /// GN: "Ім'я По батькові".
    pub(super) given: String,
    /// The first nine digits of the РНОКПП; the check digit is computed.
    pub(super) tin9: String,
    pub(super) locality: String,
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Usage {
    Signing,
    KeyAgreement,
    CertSignOnly,
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Validity {
    Current,
    Expired,
    NotYetValid,
}

/// One end-entity certificate of the dev PKI.
pub(super) struct Leaf {
    pub(super) name: String,
    pub(super) description: &'static str,
    pub(super) expected: &'static str,
    pub(super) key: KeyType,
    /// `None`: an organisation's seal.
    pub(super) person: Option<Person>,
    pub(super) representative: bool,
    pub(super) qualified: bool,
    pub(super) usage: Usage,
    pub(super) validity: Validity,
    pub(super) untrusted: bool,
    pub(super) revoked: bool,
    pub(super) sha1: bool,
    /// The DRFO attribute names another tax number than the subject's serialNumber.
    pub(super) conflicting_tin: bool,
}

impl Leaf {
    pub(super) fn citizen(name: &str, key: KeyType, person: Person) -> Leaf {
        Leaf {
            name: name.into(),
            description: "",
            expected: "valid",
            key,
            person: Some(person),
            representative: false,
            qualified: true,
            usage: Usage::Signing,
            validity: Validity::Current,
            untrusted: false,
            revoked: false,
            sha1: false,
            conflicting_tin: false,
        }
    }
    pub(super) fn about(mut self, description: &'static str, expected: &'static str) -> Leaf {
        self.description = description;
        self.expected = expected;
        self
    }
}

pub(super) fn person(surname: &str, given: &str, tin9: &str, locality: &str) -> Person {
    Person {
        surname: surname.into(),
        given: given.into(),
        tin9: tin9.into(),
        locality: locality.into(),
    }
}

/// `count` more valid P-256 citizens, `bulk-0001` …, each a distinct person (benchmarks sign
/// in with many certificates).
pub(super) fn bulk(count: usize) -> Vec<Leaf> {
    (1..=count)
        .map(|i| {
            let name = format!("bulk-{i:04}");
            Leaf::citizen(
                &name,
                KeyType::P256,
                person(
                    "Тестовий",
                    &format!("Користувач {i}"),
                    &format!("5{i:08}"),
                    "Київ",
                ),
            )
            .about("A valid P-256 citizen for benchmarks", "valid")
        })
        .collect()
}

pub(super) fn leaves() -> Vec<Leaf> {
    use KeyType::*;
    vec![
        Leaf::citizen("citizen-p256", P256, person("Шевченко", "Тарас Григорович", "301234567", "Київ"))
            .about("Qualified signing certificate of a citizen, ECDSA P-256", "valid"),
        Leaf::citizen("citizen-p384", P384, person("Коваль-Ярошенко", "Марʼяна Олегівна", "312345678", "Львів"))
            .about("Qualified signing certificate of a citizen (hyphenated surname, apostrophe), ECDSA P-384", "valid"),
        Leaf::citizen("citizen-rsa2048", Rsa2048, person("Косач", "Лариса Петрівна", "292345678", "Луцьк"))
            .about("Qualified signing certificate of a citizen, RSA-2048", "valid"),
        Leaf { representative: true, ..Leaf::citizen("representative-p256", P256, person("Франко", "Іван Якович", "283456789", "Дрогобич")) }
            .about("Qualified certificate of an organisation's representative (O, title, NTRUA-, EDRPOU), ECDSA P-256", "valid"),
        Leaf { usage: Usage::KeyAgreement, ..Leaf::citizen("citizen-p256-kep", P256, person("Шевченко", "Тарас Григорович", "301234567", "Київ")) }
            .about("The citizen's key-agreement (encryption) certificate: never offered for signing", "wrong_key_usage"),
        Leaf { person: None, ..Leaf::citizen("seal-p256", P256, person("", "", "", "Київ")) }
            .about("Qualified electronic seal of an organisation (QcType eseal, CN = O): not a person", "not_a_person"),
        Leaf { validity: Validity::Expired, ..Leaf::citizen("expired", P256, person("Петренко", "Петро Петрович", "280000001", "Полтава")) }
            .about("Expired a year ago", "certificate_expired"),
        Leaf { validity: Validity::NotYetValid, ..Leaf::citizen("not-yet-valid", P256, person("Мельник", "Олена Іванівна", "290000002", "Чернігів")) }
            .about("Valid only from next year", "certificate_not_yet_valid"),
        Leaf { revoked: true, ..Leaf::citizen("revoked", P256, person("Бондар", "Андрій Васильович", "300000003", "Одеса")) }
            .about("Revoked (keyCompromise): listed in the CRL and as R in index.txt", "certificate_revoked"),
        Leaf { qualified: false, ..Leaf::citizen("not-qualified", P256, person("Ткаченко", "Ірина Миколаївна", "310000004", "Харків")) }
            .about("Trusted but not qualified: no QCStatements, no qualified policy", "not_qualified"),
        Leaf { usage: Usage::CertSignOnly, ..Leaf::citizen("wrong-key-usage", P256, person("Кравченко", "Олег Степанович", "320000005", "Дніпро")) }
            .about("keyUsage is keyCertSign only on an end-entity certificate", "wrong_key_usage"),
        Leaf { untrusted: true, ..Leaf::citizen("untrusted", P256, person("Олійник", "Наталія Сергіївна", "330000006", "Суми")) }
            .about("Issued by a CA that chains to a root nobody trusts", "untrusted_issuer"),
        Leaf::citizen("rsa1024", Rsa1024, person("Шевчук", "Богдан Романович", "340000007", "Рівне"))
            .about("RSA-1024 key: too weak", "weak_key"),
        Leaf { sha1: true, ..Leaf::citizen("sha1", P256, person("Поліщук", "Галина Андріївна", "350000008", "Житомир")) }
            .about("Signed by the issuing CA with ECDSA-SHA1: weak algorithm", "weak_algorithm"),
        Leaf { conflicting_tin: true, ..Leaf::citizen("ambiguous-tin", P256, person("Гончар", "Олесь Терентійович", "360000009", "Суми")) }
            .about("serialNumber and the DRFO attribute name two different tax numbers", "ambiguous_identity"),
    ]
}

/// The DSTU twins of the ECDSA cases (same names with `dstu-`, same expected codes), and the
/// valid DSTU citizens.
pub(super) fn dstu_leaves() -> Vec<(Leaf, usize)> {
    use KeyType::P256;
    let c = |name: &str, p| Leaf::citizen(name, P256, p);
    vec![
        (
            c(
                "dstu-citizen",
                person("Сковорода", "Григорій Савич", "271234567", "Полтава"),
            )
            .about(
                "Qualified signing certificate of a citizen, DSTU 4145-257",
                "valid",
            ),
            CURVE_257,
        ),
        (
            Leaf {
                representative: true,
                ..c(
                    "dstu-representative",
                    person("Українка", "Леся Петрівна", "281234567", "Київ"),
                )
            }
            .about(
                "Qualified certificate of an organisation's representative (EDRPOU), DSTU 4145-257",
                "valid",
            ),
            CURVE_257,
        ),
        (
            Leaf {
                usage: Usage::KeyAgreement,
                ..c(
                    "dstu-citizen-kep",
                    person("Сковорода", "Григорій Савич", "271234567", "Полтава"),
                )
            }
            .about(
                "The DSTU citizen's key-agreement certificate",
                "wrong_key_usage",
            ),
            CURVE_257,
        ),
        (
            Leaf {
                person: None,
                ..c("dstu-seal", person("", "", "", "Київ"))
            }
            .about(
                "Qualified electronic seal of an organisation, DSTU: not a person",
                "not_a_person",
            ),
            CURVE_257,
        ),
        (
            Leaf {
                validity: Validity::Expired,
                ..c(
                    "dstu-expired",
                    person("Петренко", "Павло Петрович", "280000011", "Полтава"),
                )
            }
            .about("DSTU, expired a year ago", "certificate_expired"),
            CURVE_257,
        ),
        (
            Leaf {
                validity: Validity::NotYetValid,
                ..c(
                    "dstu-not-yet-valid",
                    person("Мельник", "Оксана Іванівна", "290000012", "Чернігів"),
                )
            }
            .about(
                "DSTU, valid only from next year",
                "certificate_not_yet_valid",
            ),
            CURVE_257,
        ),
        (
            Leaf {
                revoked: true,
                ..c(
                    "dstu-revoked",
                    person("Бондар", "Антон Васильович", "300000013", "Одеса"),
                )
            }
            .about(
                "DSTU, revoked (keyCompromise) in the DSTU CRL",
                "certificate_revoked",
            ),
            CURVE_257,
        ),
        (
            Leaf {
                qualified: false,
                ..c(
                    "dstu-not-qualified",
                    person("Ткаченко", "Ірина Олегівна", "310000014", "Харків"),
                )
            }
            .about("DSTU, trusted but not qualified", "not_qualified"),
            CURVE_257,
        ),
        (
            Leaf {
                usage: Usage::CertSignOnly,
                ..c(
                    "dstu-wrong-key-usage",
                    person("Кравченко", "Олег Іванович", "320000015", "Дніпро"),
                )
            }
            .about("DSTU, keyUsage keyCertSign only", "wrong_key_usage"),
            CURVE_257,
        ),
        (
            Leaf {
                untrusted: true,
                ..c(
                    "dstu-untrusted",
                    person("Олійник", "Ніна Сергіївна", "330000016", "Суми"),
                )
            }
            .about(
                "DSTU, issued by a DSTU CA under a root nobody trusts",
                "untrusted_issuer",
            ),
            CURVE_257,
        ),
        (
            c(
                "dstu-weak",
                person("Шевчук", "Борис Романович", "340000017", "Рівне"),
            )
            .about("DSTU 4145-163 key: below GF(2^233), too weak", "weak_key"),
            CURVE_163,
        ),
        (
            Leaf {
                sha1: true,
                ..c(
                    "dstu-sha1",
                    person("Поліщук", "Ганна Андріївна", "350000018", "Житомир"),
                )
            }
            .about(
                "DSTU key certified by the ECDSA issuing CA with ECDSA-SHA1: weak algorithm",
                "weak_algorithm",
            ),
            CURVE_257,
        ),
        (
            Leaf {
                conflicting_tin: true,
                ..c(
                    "dstu-ambiguous-tin",
                    person("Гончар", "Ольга Терентіївна", "360000019", "Суми"),
                )
            }
            .about(
                "DSTU, serialNumber and the DRFO attribute name two different tax numbers",
                "ambiguous_identity",
            ),
            CURVE_257,
        ),
    ]
}
