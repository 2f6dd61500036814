//! Helpers shared by the agent's tests (and the latency example): answering the agent's
//! approval page exactly as a browser on the agent's own origin does.
#![allow(dead_code)]

use reqwest::{Client, StatusCode};

/// The CSRF token the approval page carries in its form.
pub fn csrf_token(page: &str) -> Option<String> {
    let at = page.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    Some(page[at..].split('"').next()?.to_string())
}

/// Load the approval page at `url` and post its form from `own_origin` (the agent's origin):
/// `decision` is approve or deny. Returns the status and the page that came back.
pub async fn answer(
    http: &Client,
    url: &str,
    own_origin: &str,
    decision: &str,
    password: &str,
    remember: bool,
) -> (StatusCode, String) {
    let page = http.get(url).send().await.unwrap().text().await.unwrap();
    let token = csrf_token(&page).unwrap_or_else(|| panic!("no csrf token in {page}"));
    let mut form = vec![
        ("csrf_token", token),
        ("decision", decision.to_string()),
        ("password", password.to_string()),
    ];
    if remember {
        form.push(("remember", "1".into()));
    }
    let r = http
        .post(url)
        .header("origin", own_origin)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.text().await.unwrap())
}
