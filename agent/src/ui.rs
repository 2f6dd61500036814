//! `/ui`: the agent's own pages, on its own origin, never readable cross-origin.
//!
//! The approval page is a plain HTML form (`csrf_token`, `password`, `decision` =
//! approve|deny, optional `remember`) so tests and assistive tools drive it exactly as a
//! browser does. Its buttons start disabled and `approve.js` enables them after a short
//! delay, so a page cannot trick a click onto them.
//!
//! Pages are askama templates (`agent/templates/`): every value is HTML-escaped by
//! construction, so nothing a web page sends (its origin, a file name, a preview) can become
//! markup on the page where the password is typed.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use zeroize::Zeroizing;

use askama::Template;

use crate::app::{App, Decision};
use crate::containers::CertificateView;
use crate::requests::{self, DocumentBody};
use crate::ApiError;

/// One refusal shown on a page, in both languages, with its stable code.
struct Notice {
    code: &'static str,
    uk: String,
    en: String,
}

impl Notice {
    fn of(e: &ApiError) -> Notice {
        let (uk, en) = match e {
            ApiError::WrongPassword {
                tries_left: Some(n),
            } => (
                format!("Неправильний пароль. Залишилось спроб: {n}."),
                format!("Wrong password. Tries left: {n}."),
            ),
            ApiError::WrongPassword { .. } => ("Неправильний пароль.".into(), "Wrong password.".into()),
            ApiError::PinBlocked => (
                "PIN-код токена заблоковано. Розблокуйте його PUK-кодом або зверніться до свого надавача послуг.".into(),
                "The token's PIN is blocked. Unblock it with the PUK or contact your provider.".into(),
            ),
            ApiError::TokenUnavailable(_) => (
                "Токен недоступний: перевірте, чи його під'єднано, і спробуйте ще раз.".into(),
                "The token is unavailable: check that it is plugged in and try again.".into(),
            ),
            ApiError::LockedOut { retry_after } => (
                format!("Забагато неправильних паролів. Спробуйте через {retry_after} с."),
                format!("Too many wrong passwords. Try again in {retry_after} s."),
            ),
            ApiError::NeedsUnlock => (
                "Введіть пароль до ключа.".into(),
                "Type the key's password.".into(),
            ),
            ApiError::ContainerBusy => (
                "Ключ зараз зайнятий іншим підписанням.".into(),
                "The key is busy with another signature.".into(),
            ),
            ApiError::NoCertificate { looked_in } => (
                format!("Не знайдено сертифіката для цього ключа (шукали: {looked_in}). Покладіть файл сертифіката поруч із ключем або виконайте brama-agent import-cert."),
                format!("No certificate for this key (looked in: {looked_in}). Put the certificate file beside the key or run brama-agent import-cert."),
            ),
            ApiError::ContainerUnreadable(why) => (
                format!("Не вдалося прочитати сховище ключа: {why}"),
                format!("The key store cannot be read: {why}"),
            ),
            other => ("Не вдалося виконати запит.".into(), other.to_string()),
        };
        Notice {
            code: e.code(),
            uk,
            en,
        }
    }

    /// A store that keeps everything encrypted: its holder is known once it is opened.
    fn holder_after_unlock() -> Notice {
        Notice {
            code: "holder_after_unlock",
            uk: "Власника ключа буде показано після введення пароля: це сховище все тримає зашифрованим.".into(),
            en: "The key's holder is shown once the password is typed: this key store keeps everything encrypted.".into(),
        }
    }

    fn final_try() -> Notice {
        Notice {
            code: "final_try",
            uk: "Залишилася остання спроба: ще один неправильний PIN-код заблокує токен.".into(),
            en: "One try left: one more wrong PIN blocks the token.".into(),
        }
    }
}

/// What the approval page asks about.
enum Action {
    Containers,
    Authenticate,
    Sign(DocumentView),
}

/// A document to sign, as the page shows it.
struct DocumentView {
    name: String,
    size: usize,
    /// Only a hash was brought: no size to show.
    hash_only: bool,
    hash_name: &'static str,
    fingerprint: String,
    preview: Option<String>,
}

/// The signing certificate, as the page shows it.
struct CertificateBlock {
    holder: String,
    /// The key's algorithm ("DSTU 4145-257", "ECDSA P-256").
    key: String,
    /// Whether the certificate is for signing (key-agreement certificates never reach here).
    signing: bool,
    issuer: String,
    not_before: String,
    not_after: String,
    qualified: bool,
}

/// Which secret the page asks for.
enum Password {
    None,
    /// A token's PIN (a token logs out after each signature: nothing to remember).
    TokenPin,
    /// A key container's password, with the offer to remember it for a while.
    Key,
}

#[derive(Template)]
#[template(path = "approve.html")]
struct ApprovePage {
    title: &'static str,
    id: String,
    origin: String,
    action: Action,
    certificate: Option<CertificateBlock>,
    medium: Option<String>,
    notices: Vec<Notice>,
    csrf_token: String,
    password: Password,
    delay_ms: u64,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    title: &'static str,
    /// (class, Ukrainian, English) of a finished request; the page closes itself.
    outcome: Option<(&'static str, &'static str, &'static str)>,
    notices: Vec<Notice>,
}

#[derive(Template)]
#[template(path = "origins.html")]
struct OriginsPage {
    title: &'static str,
    /// (origin, approved at).
    origins: Vec<(String, String)>,
}

/// A rendered page; rendering fails only on a formatter error, which never happens writing
/// to a String.
fn html(page: &impl Template) -> Html<String> {
    Html(page.render().unwrap_or_else(|e| {
        tracing::error!("page template: {e}");
        String::from("<!doctype html><title>Brama</title><p>Brama")
    }))
}

/// The approval page for a pending request, or why there is none.
fn approval_page(app: &App, id: &str, error: Option<&ApiError>) -> Result<ApprovePage, ApiError> {
    app.requests.with_pending(id, |r| {
        let (action, target) = match &r.action {
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
        };
        let mut page = ApprovePage {
            title: "Brama — підтвердження",
            id: id.to_string(),
            origin: r.origin.clone(),
            action,
            certificate: None,
            medium: None,
            notices: Vec::new(),
            csrf_token: r.csrf_token.clone(),
            password: Password::None,
            delay_ms: app.config.approval_delay_ms,
        };
        if let Some((container, certificate)) = target {
            match app.container(&container).and_then(|c| {
                let cert = c.signing_certificate(certificate.as_deref())?;
                Ok((c, cert))
            }) {
                Ok((c, cert)) => {
                    match (&cert, &c.pairing) {
                        (None, crate::containers::Pairing::NoCertificate { looked_in }) => {
                            page.notices.push(Notice::of(&ApiError::NoCertificate {
                                looked_in: looked_in.join(", "),
                            }))
                        }
                        (None, _) => page.notices.push(Notice::holder_after_unlock()),
                        _ => {}
                    }
                    page.certificate =
                        cert.as_deref()
                            .and_then(CertificateView::of)
                            .map(|v| CertificateBlock {
                                holder: v.name.clone(),
                                key: v.summary.key_algorithm.clone(),
                                signing: v.can_sign,
                                issuer: v
                                    .summary
                                    .issuer_name
                                    .clone()
                                    .unwrap_or_else(|| v.summary.issuer.clone()),
                                not_before: v.summary.not_before.clone(),
                                not_after: v.summary.not_after.clone(),
                                qualified: v.qualified_esign,
                            });
                    page.medium = Some(format!("{} ({})", c.label, c.medium));
                    page.password = match &c.token {
                        Some(tk) => {
                            if tk.pin.locked {
                                page.notices.push(Notice::of(&ApiError::PinBlocked));
                            } else if tk.pin.final_try {
                                page.notices.push(Notice::final_try());
                            }
                            Password::TokenPin
                        }
                        None => Password::Key,
                    };
                }
                Err(e) => page.notices.push(Notice::of(&e)),
            }
        }
        if let Some(e) = error {
            page.notices.push(Notice::of(e));
        }
        page
    })
}

fn gone_page(e: &ApiError) -> Response {
    let status = if matches!(e, ApiError::UnknownRequest) {
        StatusCode::NOT_FOUND
    } else {
        e.status()
    };
    let page = MessagePage {
        title: "Brama",
        outcome: None,
        notices: vec![Notice::of(e)],
    };
    (status, html(&page)).into_response()
}

fn finished(class: &'static str, uk: &'static str, en: &'static str) -> Response {
    html(&MessagePage {
        title: "Brama",
        outcome: Some((class, uk, en)),
        notices: Vec::new(),
    })
    .into_response()
}

pub async fn approve_page(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match approval_page(&app, &id, None) {
        Ok(page) => html(&page).into_response(),
        Err(e) => gone_page(&e),
    }
}

/// The form as posted. The password is copied straight into zeroizing memory.
struct Form {
    csrf_token: String,
    decision: String,
    password: Zeroizing<String>,
    remember: bool,
}

fn parse_form(body: &[u8]) -> Form {
    let mut f = Form {
        csrf_token: String::new(),
        decision: String::new(),
        password: Zeroizing::new(String::new()),
        remember: false,
    };
    for (k, v) in form_urlencoded::parse(body) {
        match k.as_ref() {
            "csrf_token" => f.csrf_token = v.into_owned(),
            "decision" => f.decision = v.into_owned(),
            "password" => f.password.push_str(&v),
            "remember" => f.remember = !v.is_empty(),
            _ => {}
        }
    }
    f
}

pub async fn approve_post(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = Zeroizing::new(body.to_vec());
    let form = parse_form(&body);
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => {
            return gone_page(&ApiError::BadRequest(
                "decision must be approve or deny".into(),
            ))
        }
    };
    let app2 = app.clone();
    let id2 = id.clone();
    // Unlocking runs a slow key derivation: keep it off the async workers.
    let outcome = tokio::task::spawn_blocking(move || {
        app2.decide(
            &id2,
            &form.csrf_token,
            approve,
            form.password,
            form.remember,
        )
    })
    .await
    .unwrap_or_else(|e| Err(ApiError::SigningFailed(e.to_string())));
    match outcome {
        Ok(Decision::Done) => finished(
            "done",
            "Готово. Це вікно можна закрити.",
            "Done. You can close this window.",
        ),
        Ok(Decision::Denied) => finished("denied", "Запит відхилено.", "Request denied."),
        Err(
            e @ (ApiError::WrongPassword { .. }
            | ApiError::LockedOut { .. }
            | ApiError::NeedsUnlock
            | ApiError::ContainerBusy
            | ApiError::KeyMismatch
            | ApiError::UnknownContainer
            | ApiError::UnknownCertificate
            | ApiError::NotForSigning
            | ApiError::ContainerUnreadable(_)
            | ApiError::SigningFailed(_)),
        ) => match approval_page(&app, &id, Some(&e)) {
            Ok(page) => (e.status(), html(&page)).into_response(),
            Err(gone) => gone_page(&gone),
        },
        Err(e) => gone_page(&e),
    }
}

pub async fn origins_page(State(app): State<Arc<App>>) -> Response {
    let origins = app
        .origins
        .list()
        .into_iter()
        .map(|(origin, approval)| (origin, approval.approved_at))
        .collect();
    html(&OriginsPage {
        title: "Brama",
        origins,
    })
    .into_response()
}

pub async fn revoke_origin(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let origin = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "origin")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    match app.origins.revoke(&origin) {
        Ok(_) => origins_page(State(app)).await,
        Err(e) => gone_page(&ApiError::SigningFailed(e.to_string())),
    }
}

/// `navigator.sendBeacon` from an approval page that is going away undecided.
pub async fn approve_closed(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    match app.abandon(&id, &form.csrf_token) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../web/approve.js"),
    )
        .into_response()
}

pub async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../web/style.css"),
    )
        .into_response()
}
