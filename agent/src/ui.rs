//! `/ui`: the agent's own pages, on its own origin, never readable cross-origin.
//!
//! The approval page is a plain HTML form (`csrf_token`, `password`, `decision` =
//! approve|deny, optional `remember`) so tests and assistive tools drive it exactly as a
//! browser does. Its buttons start disabled and `approve.js` enables them after a short
//! delay, so a page cannot trick a click onto them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use zeroize::Zeroizing;

use crate::app::{App, Decision};
use crate::requests::{Action, DocumentBody};
use crate::store::CertificateView;
use crate::ApiError;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"uk\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{}</title>\
         <link rel=\"stylesheet\" href=\"/ui/style.css\"><script src=\"/ui/approve.js\" defer></script>\
         </head><body><main>{body}</main></body></html>",
        escape(title)
    ))
}

/// Bilingual text: Ukrainian first, English under it.
fn t(uk: &str, en: &str) -> String {
    format!("{uk}<br><span class=\"en\" lang=\"en\">{en}</span>")
}

fn error_box(e: &ApiError) -> String {
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
        other => ("Не вдалося виконати запит.".into(), other.to_string()),
    };
    format!(
        "<p class=\"error\" role=\"alert\" data-code=\"{}\">{}</p>",
        e.code(),
        t(&escape(&uk), &escape(&en))
    )
}

fn certificate_block(v: &CertificateView) -> String {
    let s = &v.summary;
    let qualified = if v.qualified_esign {
        t("кваліфікований", "qualified")
    } else {
        t("не кваліфікований", "not qualified")
    };
    format!(
        "<dl class=\"cert\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{} — {}</dd><dt>{}</dt><dd>{}</dd></dl>",
        t("Власник", "Holder"), escape(&v.name),
        t("Видавець", "Issuer"), escape(s.issuer_name.as_deref().unwrap_or(&s.issuer)),
        t("Чинний", "Valid"), escape(&s.not_before), escape(&s.not_after),
        t("Статус", "Status"), qualified,
    )
}

/// The approval page body for a pending request, or why there is none.
fn approval_body(app: &App, id: &str, error: Option<&ApiError>) -> Result<String, ApiError> {
    app.requests.with_pending(id, |r| {
        let origin = escape(&r.origin);
        let mut body = String::new();
        body.push_str(&format!("<h1>{}</h1>", t("Запит від вебсайту", "Request from a website")));
        body.push_str(&format!("<p class=\"origin\"><strong>{origin}</strong></p>"));
        let (what, container) = match &r.action {
            Action::Containers => (t("Дозволити цьому сайту бачити ваші сертифікати?", "Allow this site to see your certificates?"), None),
            Action::Authenticate { container, certificate, .. } => (
                t(&format!("Увійти на {origin}"), &format!("Sign in to {origin}")),
                Some((container.clone(), certificate.clone())),
            ),
            Action::Sign { container, certificate, document } => {
                let mut d = t(&format!("Підписати документ для {origin}"), &format!("Sign a document for {origin}"));
                d.push_str(&format!(
                    "<dl class=\"doc\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd><code>{}</code></dd></dl>",
                    t("Файл", "File"), escape(&document.name),
                    t("Розмір", "Size"),
                    if matches!(document.body, DocumentBody::Digest(..)) && document.size == 0 { t("лише геш", "hash only") } else { format!("{} B", document.size) },
                    match document.body {
                        DocumentBody::Digest(d, _) if document.size == 0 => d.name(),
                        _ => "SHA-256",
                    },
                    escape(&document.fingerprint),
                ));
                if let Some(p) = &document.preview {
                    d.push_str(&format!("<pre class=\"preview\">{}</pre>", escape(p)));
                }
                (d, Some((container.clone(), certificate.clone())))
            }
        };
        body.push_str(&format!("<p class=\"what\">{what}</p>"));
        let mut needs_password = false;
        let mut token = None;
        if let Some((container, certificate)) = container {
            match app.container(&container).and_then(|c| {
                let cert = c.signing_certificate(certificate.as_deref())?;
                Ok((c, cert))
            }) {
                Ok((c, cert)) => {
                    if let Some(v) = CertificateView::of(&cert) {
                        body.push_str(&certificate_block(&v));
                    }
                    body.push_str(&format!("<p class=\"medium\">{} {}</p>", t("Носій:", "Medium:"), escape(&format!("{} ({})", c.label, c.medium))));
                    if let Some(tk) = &c.token {
                        if tk.pin.locked {
                            body.push_str(&error_box(&ApiError::PinBlocked));
                        } else if tk.pin.final_try {
                            body.push_str(&format!("<p class=\"error\" role=\"alert\" data-code=\"final_try\">{}</p>", t(
                                "Залишилася остання спроба: ще один неправильний PIN-код заблокує токен.",
                                "One try left: one more wrong PIN blocks the token.")));
                        }
                    }
                    token = c.token.clone();
                    needs_password = true;
                }
                Err(e) => body.push_str(&error_box(&e)),
            }
        }
        if let Some(e) = error {
            body.push_str(&error_box(e));
        }
        body.push_str(&format!("<form method=\"post\" action=\"/ui/approve/{id}\"><input type=\"hidden\" name=\"csrf_token\" value=\"{}\">", escape(&r.csrf_token)));
        if needs_password && token.is_some() {
            // A token logs out after each signature: there is nothing to remember.
            body.push_str(&format!(
                "<label>{}<input type=\"password\" name=\"password\" autocomplete=\"off\" autofocus></label>",
                t("PIN-код токена", "Token PIN"),
            ));
        } else if needs_password {
            body.push_str(&format!(
                "<label>{}<input type=\"password\" name=\"password\" autocomplete=\"off\" autofocus></label>\
                 <label class=\"remember\"><input type=\"checkbox\" name=\"remember\" value=\"1\"> {}</label>",
                t("Пароль до ключа", "Key password"),
                t("Не питати пароль для цього сайту кілька хвилин", "Do not ask for the password for this site for a few minutes"),
            ));
        }
        body.push_str(&format!(
            "<div class=\"buttons\" data-delay=\"{}\"><button name=\"decision\" value=\"approve\" disabled>{}</button>\
             <button name=\"decision\" value=\"deny\" disabled>{}</button></div></form>",
            app.config.approval_delay_ms, t("Дозволити", "Approve"), t("Відхилити", "Deny"),
        ));
        body
    })
}

fn gone_page(e: &ApiError) -> Response {
    let status = if matches!(e, ApiError::UnknownRequest) {
        StatusCode::NOT_FOUND
    } else {
        e.status()
    };
    (
        status,
        page("Brama", &format!("<h1>Brama</h1>{}", error_box(e))),
    )
        .into_response()
}

pub async fn approve_page(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match approval_body(&app, &id, None) {
        Ok(body) => page("Brama — підтвердження", &body).into_response(),
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
        Ok(Decision::Done) => page(
            "Brama",
            &format!(
                "<h1>Brama</h1><p class=\"done\" data-close=\"1\">{}</p>",
                t(
                    "Готово. Це вікно можна закрити.",
                    "Done. You can close this window."
                )
            ),
        )
        .into_response(),
        Ok(Decision::Denied) => page(
            "Brama",
            &format!(
                "<h1>Brama</h1><p class=\"denied\" data-close=\"1\">{}</p>",
                t("Запит відхилено.", "Request denied.")
            ),
        )
        .into_response(),
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
        ) => match approval_body(&app, &id, Some(&e)) {
            Ok(body) => (e.status(), page("Brama — підтвердження", &body)).into_response(),
            Err(gone) => gone_page(&gone),
        },
        Err(e) => gone_page(&e),
    }
}

pub async fn origins_page(State(app): State<Arc<App>>) -> Response {
    let mut body = format!("<h1>{}</h1>", t("Дозволені сайти", "Approved sites"));
    let list = app.origins.list();
    if list.is_empty() {
        body.push_str(&format!("<p>{}</p>", t("Жодного.", "None.")));
    }
    for (origin, approval) in list {
        body.push_str(&format!(
            "<form method=\"post\" action=\"/ui/origins/revoke\" class=\"origin\"><span>{}</span> <small>{}</small>\
             <input type=\"hidden\" name=\"origin\" value=\"{}\"><button>{}</button></form>",
            escape(&origin), escape(&approval.approved_at), escape(&origin), t("Відкликати", "Revoke"),
        ));
    }
    page("Brama", &body).into_response()
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
