//! Header hygiene for forwarding (design.md §5), as pure functions over a `HeaderMap`, in
//! this order: hop-by-hop headers and every header named in `Connection`; client identity
//! headers (any letter case, `_` for `-`), `Forwarded`, `X-Real-IP`, `X-Forwarded-*`; the
//! gateway's own cookies; then the gateway's headers ([`upstream_headers`]). A backend
//! `Set-Cookie` for a gateway cookie is dropped ([`strip_backend_cookies`]).
//!
//! Over 500 lines on purpose: half of it is the unit tests of these pure functions, which sit
//! next to what they check.

use std::net::IpAddr;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::identity::{Names, Packed, ASSERTION, NEW_ACCOUNT};

pub use crate::cookies::{cookie, LOGIN_COOKIE, SESSION_COOKIE};

const HOP_BY_HOP: [HeaderName; 10] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    // h2c's settings travel only with an upgrade the gateway never forwards.
    HeaderName::from_static("http2-settings"),
    header::PROXY_AUTHORIZATION,
    header::PROXY_AUTHENTICATE,
];

/// The proxy headers the gateway writes itself (names built at compile time, so setting them
/// costs no parsing per request).
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Remove hop-by-hop headers, including every header the `Connection` header names.
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    // One pass over the names first: most requests and responses carry none (or only
    // `Connection`), and a removal costs a hash and a probe per name.
    if !h.keys().any(|k| HOP_BY_HOP.contains(k)) {
        return;
    }
    // Nothing is allocated unless `Connection` names headers (the usual request has none).
    let named: Vec<String> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| {
            !s.is_empty()
                && !HOP_BY_HOP
                    .iter()
                    .any(|h| h.as_str().eq_ignore_ascii_case(s))
        })
        .map(str::to_ascii_lowercase)
        .collect();
    for name in &HOP_BY_HOP {
        h.remove(name);
    }
    for name in named {
        h.remove(name.as_str());
    }
}

/// `name` starts with `prefix` when letter case is ignored and `_` stands for `-`.
fn starts_loosely(name: &str, prefix: &str) -> bool {
    let fold = |b: u8| {
        if b == b'_' {
            b'-'
        } else {
            b.to_ascii_lowercase()
        }
    };
    name.len() >= prefix.len()
        && name
            .bytes()
            .zip(prefix.bytes())
            .all(|(a, b)| fold(a) == fold(b))
}

/// Whether a client header claims to be one of the gateway's identity headers: the prefix in
/// any letter case, with `_` standing for `-` (the oauth2-proxy CVE-2025-64484 lesson).
pub fn is_identity_header(name: &str, prefix: &str) -> bool {
    starts_loosely(name, prefix)
}

/// Strip what a client must never forward: identity headers, and proxy headers unless the
/// peer is a trusted proxy (`keep_forwarded`).
pub fn strip_client_identity(h: &mut HeaderMap, prefix: &str, keep_forwarded: bool) {
    let refused = |n: &HeaderName| {
        let n = n.as_str();
        let proxy_header =
            n == "forwarded" || n == "x-real-ip" || starts_loosely(n, "x-forwarded-");
        is_identity_header(n, prefix) || (proxy_header && !keep_forwarded)
    };
    // Checked first without allocating: most requests carry none of these.
    if !h.keys().any(refused) {
        return;
    }
    let names: Vec<HeaderName> = h.keys().filter(|n| refused(n)).cloned().collect();
    for n in names {
        h.remove(n);
    }
}

/// The `Cookie` header without the gateway's own cookies (the backend never sees them).
/// Whether a cookie named `name` (bytes before `=`, surrounding spaces ignored) is one of the
/// gateway's own. Compared without ASCII case, as browsers now treat the `__Host-` prefix:
/// `__host-brama-session` must not pass either way.
fn is_gateway_cookie(name: &[u8]) -> bool {
    let name = name.trim_ascii();
    [LOGIN_COOKIE, SESSION_COOKIE]
        .iter()
        .any(|c| name.eq_ignore_ascii_case(c.as_bytes()))
}

fn cookie_name(pair: &[u8]) -> &[u8] {
    pair.split(|b| *b == b'=').next().unwrap_or_default()
}

pub fn strip_gateway_cookies(h: &mut HeaderMap) {
    let ours = |v: &HeaderValue| {
        v.as_bytes()
            .split(|b| *b == b';')
            .any(|c| is_gateway_cookie(cookie_name(c)))
    };
    // Rebuilt only when one of the gateway's cookies is there (a signed-in browser: always one,
    // so this is the path that counts; it joins the rest in one buffer).
    if !h.get_all(header::COOKIE).iter().any(ours) {
        return;
    }
    let mut kept = Vec::with_capacity(256);
    for v in h.get_all(header::COOKIE) {
        for c in v.as_bytes().split(|b| *b == b';') {
            let c = c.trim_ascii();
            if c.is_empty() || is_gateway_cookie(cookie_name(c)) {
                continue;
            }
            if !kept.is_empty() {
                kept.extend_from_slice(b"; ");
            }
            kept.extend_from_slice(c);
        }
    }
    h.remove(header::COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_bytes(&kept) {
            h.insert(header::COOKIE, v);
        }
    }
}

/// Drop a backend's attempt to set one of the gateway's cookies.
pub fn strip_backend_cookies(h: &mut HeaderMap) {
    let ours = |v: &HeaderValue| is_gateway_cookie(cookie_name(v.as_bytes()));
    // Nearly every response sets none of them: nothing to rebuild.
    if !h.get_all(header::SET_COOKIE).iter().any(ours) {
        return;
    }
    let kept: Vec<HeaderValue> = h
        .get_all(header::SET_COOKIE)
        .iter()
        // On the raw bytes: a value that is not visible ASCII must not hide the name.
        .filter(|v| !is_gateway_cookie(cookie_name(v.as_bytes())))
        .cloned()
        .collect();
    h.remove(header::SET_COOKIE);
    for v in kept {
        h.append(header::SET_COOKIE, v);
    }
}

/// UTF-8 percent-encoding for header values (names are Cyrillic).
const HEADER_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b' ');

pub fn encode_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(
        &utf8_percent_encode(s, HEADER_VALUE)
            .to_string()
            .replace(' ', "%20"),
    )
    .expect("percent-encoded ASCII")
}

/// Whether `path` is already what [`normalise_path`] makes of it: visible ASCII from `/`, no
/// `%`, `\\`, empty segment (but a trailing `/`), `.` or `..`. The usual path is, and is then
/// forwarded without a copy.
pub fn is_normal_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    if !rest
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'%' && b != b'\\')
    {
        return false;
    }
    let mut segments = rest.split('/').peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        if (seg.is_empty() && !last) || seg == "." || seg == ".." {
            return false;
        }
    }
    true
}

/// Normalise a request path: decode percent-encoded unreserved characters (so `%2e%2e` is
/// `..`), resolve `.` and `..`, collapse `//`. `None` when it climbs above the root or holds
/// an encoded `/`, `\` or NUL: such a request is refused, never forwarded.
pub fn normalise_path(path: &str) -> Option<String> {
    let mut decoded = String::with_capacity(path.len());
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            let b = u8::from_str_radix(hex, 16).ok()?;
            match b {
                b'/' | b'\\' | 0 => return None,
                b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => decoded.push(b as char),
                _ => decoded.push_str(&path[i..i + 3].to_ascii_uppercase()),
            }
            i += 3;
        } else if bytes[i] == b'%' {
            return None;
        } else {
            if bytes[i] == b'\\' {
                return None;
            }
            decoded.push(bytes[i] as char);
            i += 1;
        }
    }
    let mut out: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            s => out.push(s),
        }
    }
    let trailing = decoded.ends_with('/') && !out.is_empty();
    Some(format!(
        "/{}{}",
        out.join("/"),
        if trailing { "/" } else { "" }
    ))
}

/// One session's identity headers for one request.
pub struct Identity<'a> {
    /// The session's values, encoded when it was read.
    pub packed: &'a Packed,
    /// The header names with the gateway's prefix.
    pub names: &'a Names,
    /// The first request after the account was registered (the cabinet may ask for more).
    pub new_account: bool,
    /// The signed assertion for this session (design.md §5).
    pub assertion: Option<HeaderValue>,
}

/// Everything [`upstream_headers`] needs besides the client's headers.
pub struct Upstream<'a> {
    /// The identity header prefix (`X-Brama-`).
    pub prefix: &'a str,
    /// The cabinet's public origin: `X-Forwarded-Proto`.
    pub public_origin: &'a str,
    /// Its host, `X-Forwarded-Host` ([`forwarded_host`], made once per gateway).
    pub forwarded_host: Option<HeaderValue>,
    pub peer: IpAddr,
    /// The peer is a configured reverse proxy whose `X-Forwarded-*` is believed.
    pub trusted_proxy: bool,
    pub identity: Option<Identity<'a>>,
    /// The protocol asked for with `Connection: upgrade` (a WebSocket), passed on.
    pub upgrade: Option<HeaderValue>,
}

/// The client's headers made into the backend's: hygiene first, then the gateway's own.
pub fn upstream_headers(h: &mut HeaderMap, u: &Upstream<'_>) {
    let forwarded_for = match h
        .get(X_FORWARDED_FOR)
        .and_then(|v| v.to_str().ok())
        .filter(|_| u.trusted_proxy)
    {
        Some(before) => HeaderValue::from_str(&format!("{before}, {}", u.peer)).ok(),
        None => peer_value(u.peer),
    };
    strip_hop_by_hop(h);
    strip_client_identity(h, u.prefix, u.trusted_proxy);
    strip_gateway_cookies(h);
    h.remove(header::HOST);
    // Room for the identity and proxy headers at once: the map would otherwise grow (and
    // rehash) twice on the way.
    h.reserve(24);
    if let Some(identity) = &u.identity {
        for (name, value) in identity_headers(identity) {
            h.insert(identity.names.get(name).clone(), value);
        }
    }
    h.insert(
        X_FORWARDED_FOR,
        forwarded_for.unwrap_or_else(|| HeaderValue::from_static("unknown")),
    );
    if !u.trusted_proxy || !h.contains_key(X_FORWARDED_PROTO) {
        let secure = u.public_origin.starts_with("https://");
        h.insert(
            X_FORWARDED_PROTO,
            HeaderValue::from_static(if secure { "https" } else { "http" }),
        );
    }
    if let Some(host) = &u.forwarded_host {
        h.insert(X_FORWARDED_HOST, host.clone());
    }
    if let Some(protocol) = &u.upgrade {
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(header::UPGRADE, protocol.clone());
    }
}

/// The `X-Forwarded-Host` value for a public origin (its host and port).
pub fn forwarded_host(public_origin: &str) -> Option<HeaderValue> {
    let host = public_origin.split("://").nth(1)?;
    HeaderValue::from_str(host).ok()
}

/// An address as a header value, written without an intermediate string.
fn peer_value(peer: IpAddr) -> Option<HeaderValue> {
    use std::io::Write;
    let mut buf = [0u8; 48];
    let mut w = &mut buf[..];
    write!(w, "{peer}").ok()?;
    let len = 48 - w.len();
    HeaderValue::from_bytes(&buf[..len]).ok()
}

/// The identity headers as (index into [`NAMES`], value), in a fixed order.
pub fn identity_headers<'a>(
    i: &'a Identity<'_>,
) -> impl Iterator<Item = (usize, HeaderValue)> + 'a {
    let new_account = i
        .new_account
        .then(|| (NEW_ACCOUNT, HeaderValue::from_static("true")));
    let assertion = i.assertion.as_ref().map(|t| (ASSERTION, t.clone()));
    i.packed.values().chain(new_account).chain(assertion)
}

#[cfg(test)]
mod tests {
    use super::super::identity::NAMES;
    use super::*;
    use crate::store::{Account, KeyKind, Role, Session};

    #[test]
    fn identity_headers_in_every_disguise() {
        for n in [
            "X-Brama-Account-Id",
            "x-brama-role",
            "X_BRAMA_SURNAME",
            "x_brama-given-name",
        ] {
            assert!(is_identity_header(n, "X-Brama-"), "{n}");
        }
        assert!(!is_identity_header("X-Bramaxx", "X-Brama-"));
        assert!(!is_identity_header("Accept", "X-Brama-"));
    }

    #[test]
    fn a_normal_path_is_its_own_normal_form() {
        for p in [
            "/", "/a", "/a/", "/a/b.c/d", "/a/.b", "/a/..b", "/~x", "/a?b", "/x/y/z/",
        ] {
            assert!(is_normal_path(p), "{p}");
            assert_eq!(normalise_path(p).as_deref(), Some(p));
        }
        for p in [
            "", "a", "//", "/a//b", "/./a", "/a/.", "/a/..", "/%41", "/a\\b", "/é", "/a b",
            "/a/../b", "/a/./",
        ] {
            assert!(!is_normal_path(p), "{p}");
        }
    }

    #[test]
    fn paths_normalise_without_tricks() {
        for (given, want) in [
            ("/cabinet", Some("/cabinet")),
            ("/public/../cabinet", Some("/cabinet")),
            ("/public/%2e%2e/cabinet", Some("/cabinet")),
            ("/public/%2E%2E/cabinet", Some("/cabinet")),
            ("//cabinet///x/", Some("/cabinet/x/")),
            ("/./a/./b", Some("/a/b")),
            ("/a%20b", Some("/a%20b")),
            ("/%D0%86", Some("/%D0%86")),
            ("/..", None),
            ("/a/../../b", None),
            ("/a%2fb", None),
            ("/a%5cb", None),
            ("/a\\b", None),
            ("/a%00", None),
            ("/a%zz", None),
            ("/a%2", None),
            ("/", Some("/")),
        ] {
            assert_eq!(normalise_path(given).as_deref(), want, "{given}");
        }
    }

    #[test]
    fn hygiene_in_order() {
        let mut h = HeaderMap::new();
        h.insert("connection", "close, X-Secret".parse().unwrap());
        h.insert("x-secret", "1".parse().unwrap());
        h.insert("keep-alive", "5".parse().unwrap());
        h.insert("x-brama-account-id", "victim".parse().unwrap());
        h.insert("x_brama_role", "admin".parse().unwrap());
        h.insert("forwarded", "for=1.2.3.4".parse().unwrap());
        h.insert("x-forwarded-for", "1.2.3.4".parse().unwrap());
        h.insert("x-real-ip", "1.2.3.4".parse().unwrap());
        h.insert(
            "cookie",
            format!("a=1; {SESSION_COOKIE}=s; {LOGIN_COOKIE}=l; b=2")
                .parse()
                .unwrap(),
        );
        h.insert("accept", "text/html".parse().unwrap());
        strip_hop_by_hop(&mut h);
        strip_client_identity(&mut h, "X-Brama-", false);
        strip_gateway_cookies(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort();
        assert_eq!(left, ["accept", "cookie"]);
        assert_eq!(h["cookie"], "a=1; b=2");
        assert_eq!(encode_value("Шевченко-Коваль Марʼяна"), "%D0%A8%D0%B5%D0%B2%D1%87%D0%B5%D0%BD%D0%BA%D0%BE-%D0%9A%D0%BE%D0%B2%D0%B0%D0%BB%D1%8C%20%D0%9C%D0%B0%D1%80%CA%BC%D1%8F%D0%BD%D0%B0");
    }

    #[test]
    fn backend_cannot_set_gateway_cookies() {
        let mut h = HeaderMap::new();
        h.append(
            "set-cookie",
            format!("{SESSION_COOKIE}=forged; Path=/").parse().unwrap(),
        );
        h.append("set-cookie", "theme=dark".parse().unwrap());
        // Any case of the name, spaces around it, bytes that are not visible ASCII after it.
        h.append(
            "set-cookie",
            "__host-BRAMA-session=forged; Path=/".parse().unwrap(),
        );
        h.append(
            "set-cookie",
            HeaderValue::from_bytes(b" __Host-brama-login =x\xff; Path=/").unwrap(),
        );
        strip_backend_cookies(&mut h);
        assert_eq!(
            h.get_all("set-cookie").iter().collect::<Vec<_>>(),
            ["theme=dark"]
        );
        // From the client, the same names never reach the backend; look-alikes do.
        let mut from_client = HeaderMap::new();
        from_client.insert(
            "cookie",
            "a=1; __HOST-brama-session=x; __Host-brama-sessionx=2"
                .parse()
                .unwrap(),
        );
        strip_gateway_cookies(&mut from_client);
        assert_eq!(from_client["cookie"], "a=1; __Host-brama-sessionx=2");
        let mut c = HeaderMap::new();
        c.insert(
            "cookie",
            format!("x=1; {SESSION_COOKIE}=abc").parse().unwrap(),
        );
        assert_eq!(cookie(&c, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&c, LOGIN_COOKIE), None);
    }

    fn person() -> (Session, Account) {
        use crate::store::{AccountKey, Names, RoleGrant};
        let session = Session {
            account_id: "a1".into(),
            role: Role::Representative,
            org_key: "registration:UA:12345678".into(),
            expires_at: 0,
            new_account: false,
        };
        let account = Account {
            id: "0123abcd".into(),
            key: AccountKey {
                kind: KeyKind::Id(certs::IdKind::TaxNumber),
                country: "UA".into(),
                value: "1234567890".into(),
            },
            names: Names {
                surname: Some("Шевченко".into()),
                given_name: Some("Тарас".into()),
                patronymic: None,
                full_name: Some("Шевченко Тарас".into()),
            },
            blocked_reason: None,
            version: 1,
            roles: vec![RoleGrant {
                role: Role::Representative,
                org_key: "registration:UA:12345678".into(),
                org_name: Some("ТОВ \"Кобзар\"".into()),
            }],
        };
        (session, account)
    }

    #[test]
    fn identity_headers_for_a_representative() {
        let (session, account) = person();
        let (packed, prefixed) = (Packed::of(&session, &account), Names::new("X-Brama-"));
        let i = Identity {
            packed: &packed,
            names: &prefixed,
            new_account: true,
            assertion: Some(HeaderValue::from_static("h.c.s")),
        };
        let names: Vec<&str> = identity_headers(&i).map(|(n, _)| NAMES[n]).collect();
        assert_eq!(
            names,
            [
                "Account-Id",
                "Role",
                "Surname",
                "Given-Name",
                "Full-Name",
                "Tax-Number",
                "Org-Id",
                "Org-Name",
                "New-Account",
                "Assertion"
            ]
        );
        let citizen = Session {
            role: Role::Citizen,
            org_key: String::new(),
            ..session.clone()
        };
        let packed = Packed::of(&citizen, &account);
        let i = Identity {
            packed: &packed,
            names: &prefixed,
            new_account: false,
            assertion: None,
        };
        let h: Vec<_> = identity_headers(&i).collect();
        assert!(h
            .iter()
            .all(|(n, _)| !NAMES[*n].starts_with("Org") && NAMES[*n] != "New-Account"));
        assert_eq!(h[1].1, "citizen");
    }

    #[test]
    fn upstream_headers_replace_what_the_client_claimed() {
        let (session, account) = person();
        let (packed, names) = (Packed::of(&session, &account), Names::new("X-Brama-"));
        let mut h = HeaderMap::new();
        h.insert("host", "evil.example".parse().unwrap());
        h.insert("x-brama-account-id", "victim".parse().unwrap());
        h.insert("x-forwarded-for", "6.6.6.6".parse().unwrap());
        h.insert("x-forwarded-proto", "http".parse().unwrap());
        h.insert("upgrade", "websocket".parse().unwrap());
        let u = Upstream {
            prefix: "X-Brama-",
            public_origin: "https://cabinet.example",
            forwarded_host: forwarded_host("https://cabinet.example"),
            peer: "192.0.2.7".parse().unwrap(),
            trusted_proxy: false,
            identity: Some(Identity {
                packed: &packed,
                names: &names,
                new_account: false,
                assertion: None,
            }),
            upgrade: None,
        };
        upstream_headers(&mut h, &u);
        assert_eq!(h["x-brama-account-id"], "0123abcd");
        assert_eq!(h["x-forwarded-for"], "192.0.2.7");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "cabinet.example");
        assert!(!h.contains_key("host") && !h.contains_key("upgrade"));

        // From a trusted proxy its X-Forwarded-For is extended and its proto kept.
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.5".parse().unwrap());
        h.insert("x-forwarded-proto", "http".parse().unwrap());
        upstream_headers(
            &mut h,
            &Upstream {
                trusted_proxy: true,
                identity: None,
                upgrade: Some(HeaderValue::from_static("websocket")),
                ..u
            },
        );
        assert_eq!(h["x-forwarded-for"], "203.0.113.5, 192.0.2.7");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert!(!h.contains_key("x-brama-account-id"));
        assert_eq!(h["connection"], "upgrade");
        assert_eq!(h["upgrade"], "websocket");
    }
}
