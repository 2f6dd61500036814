//! The language of the agent's pages: Ukrainian, English or Russian, one at a time.
//!
//! The web page that opened the approval window says which (`?lang=`, the language its own
//! page shows); without it the browser's `Accept-Language` decides, and Ukrainian is the
//! default. A switch on the page re-opens it in another language.

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Uk,
    En,
    Ru,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Uk, Lang::En, Lang::Ru];

    /// The BCP 47 tag (`uk`, `en`, `ru`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Uk => "uk",
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    /// The language's own name, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Uk => "Українська",
            Lang::En => "English",
            Lang::Ru => "Русский",
        }
    }

    /// A tag as a query or a form gives it (`uk`, `en-GB`, …); `None` for any other language.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "uk" => Some(Lang::Uk),
            "en" => Some(Lang::En),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }

    /// The first language of an `Accept-Language` header (by weight) that the pages have.
    pub fn from_accept(header: &str) -> Option<Lang> {
        let mut best: Option<(Lang, f32)> = None;
        for item in header.split(',').take(32) {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
                best = Some((lang, q));
            }
        }
        best.map(|(l, _)| l)
    }

    /// The page's language: the asked one, else the browser's, else Ukrainian.
    pub fn choose(asked: Option<&str>, accept: Option<&str>) -> Lang {
        asked
            .and_then(Lang::parse)
            .or_else(|| accept.and_then(Lang::from_accept))
            .unwrap_or_default()
    }

    /// One of three texts.
    pub fn pick<T>(self, uk: T, en: T, ru: T) -> T {
        match self {
            Lang::Uk => uk,
            Lang::En => en,
            Lang::Ru => ru,
        }
    }

    /// A date (`YYYY-MM-DD…`, as certificates are summarised) the way the language writes it:
    /// 30.11.2028 in Ukrainian and Russian, 30 Nov 2028 in English.
    pub fn date(self, iso: &str) -> String {
        let parts: Vec<u32> = iso
            .get(..10)
            .unwrap_or("")
            .split('-')
            .filter_map(|p| p.parse().ok())
            .collect();
        let [year, month @ 1..=12, day @ 1..=31] = parts[..] else {
            return iso.to_string();
        };
        match self {
            Lang::En => {
                const MONTHS: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                format!("{day} {} {year}", MONTHS[month as usize - 1])
            }
            _ => format!("{day:02}.{month:02}.{year}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asked_then_browser_then_ukrainian() {
        assert_eq!(Lang::choose(Some("ru"), Some("en")), Lang::Ru);
        assert_eq!(
            Lang::choose(Some("de"), Some("de, en-GB;q=0.8, ru;q=0.9")),
            Lang::Ru
        );
        assert_eq!(Lang::choose(None, Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::choose(None, Some("de, fr;q=0.5, ru;q=0")), Lang::Uk);
        assert_eq!(Lang::choose(None, None), Lang::Uk);
    }

    #[test]
    fn dates_in_words_of_each_language() {
        assert_eq!(Lang::Uk.date("2028-11-30T23:59:59Z"), "30.11.2028");
        assert_eq!(Lang::Ru.date("2028-01-05"), "05.01.2028");
        assert_eq!(Lang::En.date("2028-11-30T00:00:00Z"), "30 Nov 2028");
        assert_eq!(Lang::En.date("garbage"), "garbage");
    }
}
