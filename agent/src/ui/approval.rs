//! The approval page: what a web page asks, for which certificate and key, in the person's
//! language; built from the pending request by a plain function the handlers call.

use askama::Template;

use crate::app::App;
use crate::containers::{CertificateView, Container};
use crate::lang::Lang;
use crate::requests::{self, DocumentBody};
use crate::ApiError;

use super::notice::Notice;

/// What the approval page asks about.
pub enum Action {
    Containers,
    Authenticate,
    Sign(DocumentView),
}

/// A document to sign, as the page shows it.
pub struct DocumentView {
    pub name: String,
    pub size: usize,
    /// Only a hash was brought: no size to show.
    pub hash_only: bool,
    pub hash_name: &'static str,
    pub fingerprint: String,
    pub preview: Option<String>,
}

/// A certificate, as the page shows it: holder, issuer, validity in the page's words.
pub struct CertificateBlock {
    pub id: String,
    pub holder: String,
    /// The key's algorithm ("DSTU 4145-257", "ECDSA P-256").
    pub key: String,
    /// Whether the certificate is for signing (key-agreement certificates never reach here).
    pub signing: bool,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    pub qualified: bool,
}

impl CertificateBlock {
    fn of(v: &CertificateView, lang: Lang) -> CertificateBlock {
        let s = &v.summary;
        CertificateBlock {
            id: v.id.clone(),
            holder: v.name.clone(),
            key: s.key_algorithm.clone(),
            signing: v.can_sign,
            issuer: s
                .issuer_org
                .clone()
                .or_else(|| s.issuer_name.clone())
                .unwrap_or_else(|| s.issuer.clone()),
            not_before: lang.date(&s.not_before),
            not_after: lang.date(&s.not_after),
            qualified: v.qualified_esign,
        }
    }
}

/// Which secret the page asks for.
pub enum Password {
    None,
    /// A token's PIN (a token logs out after each signature: nothing to remember).
    TokenPin,
    /// A key container's password, with the offer to remember it for a while.
    Key,
}

#[derive(Template)]
#[template(path = "approve.html")]
pub struct ApprovePage {
    pub lang: Lang,
    /// Where the language switch points (this page in another language).
    pub switch: Option<String>,
    pub id: String,
    /// The site's name as a person reads it (its host), with `origin` beneath.
    pub site: String,
    pub origin: String,
    pub action: Action,
    pub certificate: Option<CertificateBlock>,
    /// Several signing certificates and the request named none: the person chooses.
    pub choices: Vec<CertificateBlock>,
    pub medium: Option<String>,
    pub notices: Vec<Notice>,
    pub csrf_token: String,
    pub password: Password,
    pub delay_ms: u64,
}

/// The medium in words a person uses: a file, a token, a removable disk; never a path.
pub fn medium_words(c: &Container, lang: Lang) -> String {
    let kind = match c.medium_type() {
        "token" => lang.pick("токен", "token", "токен"),
        "removable" => lang.pick("знімний диск", "removable disk", "съёмный диск"),
        _ => lang.pick("файл", "file", "файл"),
    };
    match c.medium_name() {
        Some(name) => format!("{kind} «{name}»"),
        None => kind.to_string(),
    }
}

/// The host of an origin: what the person knows the site by.
fn site_of(origin: &str) -> String {
    let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
    if let Some(v6) = rest.strip_prefix('[') {
        return format!("[{}]", v6.split(']').next().unwrap_or(v6));
    }
    rest.split(':').next().unwrap_or(rest).to_string()
}

fn action_of(action: &requests::Action) -> (Action, Option<(String, Option<String>)>) {
    match action {
        requests::Action::Containers => (Action::Containers, None),
        requests::Action::Authenticate {
            container,
            certificate,
            ..
        } => (
            Action::Authenticate,
            Some((container.clone(), certificate.clone())),
        ),
        requests::Action::Sign {
            container,
            certificate,
            document,
        } => {
            let hash_only =
                matches!(document.body, DocumentBody::Digests(..)) && document.size == 0;
            let hash_name = match &document.body {
                DocumentBody::Digests(list) if document.size == 0 => {
                    list.first().map_or("SHA-256", |(d, _)| d.name())
                }
                _ => "SHA-256",
            };
            (
                Action::Sign(DocumentView {
                    name: document.name.clone(),
                    size: document.size,
                    hash_only,
                    hash_name,
                    fingerprint: document.fingerprint.clone(),
                    preview: document.preview.clone(),
                }),
                Some((container.clone(), certificate.clone())),
            )
        }
    }
}

/// The approval page for a pending request, or why there is none.
pub fn approval_page(
    app: &App,
    id: &str,
    lang: Lang,
    error: Option<&ApiError>,
) -> Result<ApprovePage, ApiError> {
    app.requests.with_pending(id, |r| {
        let (action, target) = action_of(&r.action);
        let mut page = ApprovePage {
            lang,
            switch: Some(format!("/ui/approve/{id}")),
            id: id.to_string(),
            site: site_of(&r.origin),
            origin: r.origin.clone(),
            action,
            certificate: None,
            choices: Vec::new(),
            medium: None,
            notices: Vec::new(),
            csrf_token: r.csrf_token.clone(),
            password: Password::None,
            delay_ms: app.config.approval_delay_ms,
        };
        // The error of the last try first: it is what the person must read.
        if let Some(e) = error {
            page.notices.push(Notice::of(e, lang));
        }
        if let Some((container, certificate)) = target {
            match app.container(&container) {
                Ok(c) => describe_container(&mut page, &c, certificate.as_deref(), lang),
                Err(e) => page.notices.push(Notice::of(&e, lang)),
            }
        }
        page
    })
}

fn describe_container(
    page: &mut ApprovePage,
    c: &Container,
    certificate: Option<&str>,
    lang: Lang,
) {
    match c.signing_certificate(certificate) {
        Ok(Some(der)) => {
            page.certificate = CertificateView::of(&der).map(|v| CertificateBlock::of(&v, lang));
        }
        Ok(None) => match &c.pairing {
            crate::containers::Pairing::NoCertificate { looked_in } => {
                page.notices.push(Notice::of(
                    &ApiError::NoCertificate {
                        looked_in: looked_in.join(", "),
                    },
                    lang,
                ))
            }
            _ => page.notices.push(Notice::holder_after_unlock(lang)),
        },
        Err(ApiError::ChooseCertificate) => {
            page.choices = c
                .views()
                .iter()
                .filter(|v| v.can_sign)
                .map(|v| CertificateBlock::of(v, lang))
                .collect();
        }
        Err(e) => page.notices.push(Notice::of(&e, lang)),
    }
    page.medium = Some(medium_words(c, lang));
    page.password = match &c.token {
        Some(tk) => {
            if tk.pin.locked {
                page.notices.push(Notice::of(&ApiError::PinBlocked, lang));
            } else if tk.pin.final_try {
                page.notices.push(Notice::final_try(lang));
            }
            Password::TokenPin
        }
        None => Password::Key,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_site_is_its_host() {
        assert_eq!(site_of("https://cabinet.dcz.gov.ua"), "cabinet.dcz.gov.ua");
        assert_eq!(site_of("https://127.0.0.1:8443"), "127.0.0.1");
        assert_eq!(site_of("https://[::1]:8443"), "[::1]");
    }
}
