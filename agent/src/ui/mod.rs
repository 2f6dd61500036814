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
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use zeroize::Zeroizing;

use askama::Template;

use crate::app::{App, Decision};
use crate::lang::Lang;
use crate::ApiError;

mod approval;
mod notice;

pub use approval::{approval_page, medium_words};
pub use notice::Notice;

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    lang: Lang,
    switch: Option<String>,
    /// (class, text) of a finished request; the page closes itself.
    outcome: Option<(&'static str, &'static str)>,
    notices: Vec<Notice>,
}

#[derive(Template)]
#[template(path = "origins.html")]
struct OriginsPage {
    lang: Lang,
    switch: Option<String>,
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

fn gone_page(e: &ApiError, lang: Lang) -> Response {
    let status = if matches!(e, ApiError::UnknownRequest) {
        StatusCode::NOT_FOUND
    } else {
        e.status()
    };
    let page = MessagePage {
        lang,
        switch: None,
        outcome: None,
        notices: vec![Notice::of(e, lang)],
    };
    (status, html(&page)).into_response()
}

fn finished(lang: Lang, class: &'static str, text: [&'static str; 3]) -> Response {
    let [uk, en, ru] = text;
    html(&MessagePage {
        lang,
        switch: None,
        outcome: Some((class, lang.pick(uk, en, ru))),
        notices: Vec::new(),
    })
    .into_response()
}

/// `?lang=` of the page's address, else the browser's `Accept-Language`.
fn page_lang(query: Option<&str>, headers: &HeaderMap) -> Lang {
    let asked = query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.into_owned())
    });
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::choose(asked.as_deref(), accept)
}

pub async fn approve_page(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = page_lang(query.as_deref(), &headers);
    match approval_page(&app, &id, lang, None) {
        Ok(page) => html(&page).into_response(),
        Err(e) => gone_page(&e, lang),
    }
}

/// The form as posted. The password is copied straight into zeroizing memory.
struct Form {
    csrf_token: String,
    decision: String,
    password: Zeroizing<String>,
    remember: bool,
    /// The certificate chosen on the page when the key has several.
    certificate: Option<String>,
    lang: Option<String>,
}

fn parse_form(body: &[u8]) -> Form {
    let mut f = Form {
        csrf_token: String::new(),
        decision: String::new(),
        password: Zeroizing::new(String::new()),
        remember: false,
        certificate: None,
        lang: None,
    };
    for (k, v) in form_urlencoded::parse(body) {
        match k.as_ref() {
            "csrf_token" => f.csrf_token = v.into_owned(),
            "decision" => f.decision = v.into_owned(),
            "password" => f.password.push_str(&v),
            "remember" => f.remember = !v.is_empty(),
            "certificate" if !v.is_empty() => f.certificate = Some(v.into_owned()),
            "lang" => f.lang = Some(v.into_owned()),
            _ => {}
        }
    }
    f
}

pub async fn approve_post(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = Zeroizing::new(body.to_vec());
    let form = parse_form(&body);
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let lang = Lang::choose(form.lang.as_deref(), accept);
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => {
            return gone_page(
                &ApiError::BadRequest("decision must be approve or deny".into()),
                lang,
            )
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
            form.certificate.as_deref(),
        )
    })
    .await
    .unwrap_or_else(|e| Err(ApiError::SigningFailed(e.to_string())));
    match outcome {
        Ok(Decision::Done) => finished(
            lang,
            "done",
            [
                "Готово. Це вікно можна закрити.",
                "Done. You can close this window.",
                "Готово. Это окно можно закрыть.",
            ],
        ),
        Ok(Decision::Denied) => finished(
            lang,
            "denied",
            ["Запит відхилено.", "Request denied.", "Запрос отклонён."],
        ),
        Err(
            e @ (ApiError::WrongPassword { .. }
            | ApiError::LockedOut { .. }
            | ApiError::NeedsUnlock
            | ApiError::ContainerBusy
            | ApiError::KeyMismatch
            | ApiError::UnknownContainer
            | ApiError::UnknownCertificate
            | ApiError::ChooseCertificate
            | ApiError::NotForSigning
            | ApiError::ContainerUnreadable(_)
            | ApiError::SigningFailed(_)),
        ) => match approval_page(&app, &id, lang, Some(&e)) {
            Ok(page) => (e.status(), html(&page)).into_response(),
            Err(gone) => gone_page(&gone, lang),
        },
        Err(e) => gone_page(&e, lang),
    }
}

pub async fn origins_page(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = page_lang(query.as_deref(), &headers);
    origins_list(&app, lang)
}

fn origins_list(app: &App, lang: Lang) -> Response {
    let origins = app
        .origins
        .list()
        .into_iter()
        .map(|(origin, approval)| (origin, lang.date(&approval.approved_at)))
        .collect();
    html(&OriginsPage {
        lang,
        switch: Some("/ui/".into()),
        origins,
    })
    .into_response()
}

pub async fn revoke_origin(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let lang = Lang::choose(field("lang").as_deref(), accept);
    match app.origins.revoke(&field("origin").unwrap_or_default()) {
        Ok(_) => origins_list(&app, lang),
        Err(e) => gone_page(&ApiError::SigningFailed(e.to_string()), lang),
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
        include_str!("../../web/approve.js"),
    )
        .into_response()
}

pub async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../web/style.css"),
    )
        .into_response()
}
