//! Distinguished names: reading their attributes as text, and splitting a person's name.

use x509_parser::x509::X509Name;

use crate::{der, oids, Error};

/// The attributes of one distinguished name, decoded to text, in certificate order.
#[derive(Debug, Clone, Default)]
pub struct Dn {
    attrs: Vec<(String, String)>,
}

/// Attributes an identity is built from: if one of these cannot be decoded the certificate is
/// refused, rather than silently read without it.
const IDENTITY_ATTRS: &[&str] = &[
    oids::CN,
    oids::SURNAME,
    oids::GIVEN_NAME,
    oids::SERIAL_NUMBER,
    oids::ORGANIZATION,
    oids::ORGANIZATION_IDENTIFIER,
    oids::COUNTRY,
    oids::RU_INN,
    oids::RU_SNILS,
    oids::RU_OGRN,
    oids::RU_INNLE,
];

impl Dn {
    /// Read a decoded Name.
    pub fn read(name: &X509Name<'_>) -> Result<Dn, Error> {
        let mut attrs = Vec::new();
        for attr in name.iter_attributes() {
            let oid = oids::dotted(attr.attr_type());
            match der::string(attr.attr_value()) {
                Ok(text) => attrs.push((oid, normalise_space(&text))),
                Err(e) if IDENTITY_ATTRS.contains(&oid.as_str()) => {
                    return Err(Error::malformed(format!("name attribute {oid}: {e}")));
                }
                // An undecodable attribute Brama does not use (an odd OU, say) is skipped.
                Err(_) => {}
            }
        }
        Ok(Dn { attrs })
    }

    /// The first non-empty value of an attribute.
    pub fn get(&self, oid: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(o, v)| o == oid && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// RFC 4514-style text with short names where they exist, in certificate order.
    pub fn to_text(&self) -> String {
        self.attrs
            .iter()
            .map(|(oid, value)| format!("{}={}", short_name(oid), value))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn short_name(oid: &str) -> &str {
    match oid {
        oids::CN => "CN",
        oids::SURNAME => "SN",
        oids::SERIAL_NUMBER => "serialNumber",
        oids::COUNTRY => "C",
        oids::LOCALITY => "L",
        oids::STATE => "ST",
        oids::STREET => "street",
        oids::ORGANIZATION => "O",
        oids::ORGANIZATIONAL_UNIT => "OU",
        oids::TITLE => "title",
        oids::GIVEN_NAME => "GN",
        oids::PSEUDONYM => "pseudonym",
        oids::ORGANIZATION_IDENTIFIER => "organizationIdentifier",
        oids::EMAIL => "emailAddress",
        oids::RU_INN => "INN",
        oids::RU_SNILS => "SNILS",
        oids::RU_OGRN => "OGRN",
        oids::RU_INNLE => "INNLE",
        oids::RU_OGRNIP => "OGRNIP",
        other => other,
    }
}

/// Longest name attribute kept, in characters: real names are far shorter; a longer value is
/// cut here so it cannot blow up headers, pages and logs.
pub const MAX_NAME_CHARS: usize = 256;

/// Characters that change how text around them is shown without being seen themselves:
/// bidirectional controls (U+202E can make "exe.pdf" read as "fdp.exe"), zero-width ones, the
/// BOM and soft hyphen, and C0/C1 controls. Never meaningful in a name or a file name.
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// Drop invisible characters ([`is_invisible`]), collapse runs of whitespace (real
/// certificates carry double spaces), trim, and cut at [`MAX_NAME_CHARS`].
pub fn normalise_space(s: &str) -> String {
    let visible: String = s
        .chars()
        .filter(|c| c.is_whitespace() || !is_invisible(*c))
        .collect();
    let joined = visible.split_whitespace().collect::<Vec<_>>().join(" ");
    joined.chars().take(MAX_NAME_CHARS).collect()
}

/// A person's name in parts. Apostrophes (ʼ ' ’) and hyphens are kept exactly as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonName {
    /// Surname.
    pub surname: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Patronymic.
    pub patronymic: Option<String>,
}

/// Split GN as Ukrainian and Russian certificates write it: "Ім'я По батькові".
///
/// The first word is the given name; the rest (which may be two words, e.g. "Ісмаїл огли")
/// is the patronymic.
pub fn split_given_name(gn: &str) -> (String, Option<String>) {
    let gn = normalise_space(gn);
    match gn.split_once(' ') {
        Some((given, rest)) => (given.to_string(), Some(rest.to_string())),
        None => (gn, None),
    }
}

/// Split a CN written "Прізвище Ім'я По батькові" into parts. Only for subjects known to be
/// persons: an organisation's CN is never split.
pub fn split_full_name(cn: &str) -> PersonName {
    let cn = normalise_space(cn);
    match cn.split_once(' ') {
        None if cn.is_empty() => PersonName::default(),
        None => PersonName {
            surname: Some(cn),
            ..Default::default()
        },
        Some((surname, rest)) => {
            let (given, patronymic) = split_given_name(rest);
            PersonName {
                surname: Some(surname.to_string()),
                given_name: Some(given),
                patronymic,
            }
        }
    }
}

/// "Прізвище Ім'я По батькові" from its parts (absent parts are left out).
pub fn join_full_name(name: &PersonName) -> Option<String> {
    let parts: Vec<&str> = [&name.surname, &name.given_name, &name.patronymic]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_dropped_and_names_capped() {
        assert_eq!(normalise_space("Шев\u{202E}ченко\u{200B}"), "Шевченко");
        assert_eq!(normalise_space("Марʼяна  Олегівна"), "Марʼяна Олегівна");
        assert_eq!(
            normalise_space(&"я".repeat(1000)).chars().count(),
            MAX_NAME_CHARS
        );
        assert!(is_invisible('\u{2067}') && !is_invisible('ʼ') && !is_invisible('-'));
    }

    #[test]
    fn splits_names_and_keeps_apostrophes_and_hyphens() {
        assert_eq!(
            split_given_name("Вʼячеслав  Ігорович"),
            ("Вʼячеслав".to_string(), Some("Ігорович".to_string()))
        );
        assert_eq!(split_given_name("Мар'яна"), ("Мар'яна".to_string(), None));
        let n = split_full_name(" Коваль-Ярошенко  Мар’яна Олегівна ");
        assert_eq!(n.surname.as_deref(), Some("Коваль-Ярошенко"));
        assert_eq!(n.given_name.as_deref(), Some("Мар’яна"));
        assert_eq!(n.patronymic.as_deref(), Some("Олегівна"));
        let n = split_full_name("Алієв Рустам Ісмаїл огли");
        assert_eq!(n.patronymic.as_deref(), Some("Ісмаїл огли"));
        assert_eq!(join_full_name(&n).unwrap(), "Алієв Рустам Ісмаїл огли");
        assert_eq!(split_full_name("Шевченко").given_name, None);
        assert_eq!(split_full_name(""), PersonName::default());
        assert_eq!(join_full_name(&PersonName::default()), None);
    }
}
