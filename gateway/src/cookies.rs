//! The gateway's two cookies, both `__Host-` (Secure, Path=/, no Domain: no subdomain can set
//! or read them) and HttpOnly: the login cookie binds a challenge to one browser (SameSite
//! Strict, lives as long as the challenge); the session cookie carries the session (Lax).

use axum::http::{header, HeaderMap, HeaderValue};

pub const LOGIN_COOKIE: &str = "__Host-brama-login";
pub const SESSION_COOKIE: &str = "__Host-brama-session";

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
        })
}

/// A `Set-Cookie` value for one of the gateway's cookies (`max_age` 0 deletes it).
pub fn set_cookie(name: &str, value: &str, max_age: i64, same_site: &str) -> HeaderValue {
    // Always Secure: `__Host-` cookies require it, and browsers accept Secure cookies from
    // http://localhost, so a development gateway works too.
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite={same_site}; Secure"
    ))
    .expect("cookie is ASCII")
}
