//! `brama-gateway`: the reverse proxy in front of a cabinet backend.
//!
//! It issues challenges, verifies signed login statements (CMS signature, chain to trusted
//! qualified CAs, revocation, qualified status, origin, single-use challenge), registers
//! accounts from the names in the certificate, keeps sessions and forwards requests with
//! trusted identity headers. See docs/architecture.md.
//!
//! Modules, each with one job (docs/architecture.md walks a login and a forwarded request
//! through them):
//!
//! - connections: [`listener`] (accept, TLS, hyper) + [`framing`] (request smuggling guard)
//!   + [`tls`]; [`server`] (the router and the start of it all), [`request_log`].
//! - state: [`state`] (the [`Gateway`] built once from [`config`]), [`cookies`].
//! - the `/auth` routes: [`auth`] (thin handlers) over [`login`] (a login as a plain
//!   function), [`verify`] (design.md §4 steps 1–5), [`revocation`] (step 7), [`challenge`]
//!   (HMAC-sealed challenges), [`limits`]; [`pages`] (login and role pages).
//! - forwarding: [`proxy`] (the phases of a forwarded request; header hygiene in
//!   [`proxy::headers`]), [`sessions`] (the session check), [`assertion`] (ES256 for the
//!   backend).
//! - [`store`] (accounts, sessions, audit, keys; SQLite or PostgreSQL), [`cache`] (the one
//!   bounded cache), [`error`] (what clients are told), [`admin`] + [`metrics`].

pub mod admin;
pub mod assertion;
pub mod auth;
pub mod cache;
pub mod challenge;
pub mod config;
pub mod cookies;
pub mod error;
pub mod framing;
pub mod front;
pub mod limits;
pub mod listener;
pub mod login;
pub mod metrics;
pub mod pages;
pub mod proxy;
pub mod request_log;
pub mod revocation;
pub mod server;
pub mod sessions;
pub mod state;
pub mod store;
pub mod tls;
pub mod verify;

pub use error::{GatewayError, LoginError};
pub use state::{Gateway, StartError};

/// An origin as browsers serialise it: `scheme://host[:port]`, lower case, no path.
pub fn is_origin(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    matches!(scheme, "https" | "http")
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@'])
        && rest.bytes().all(|b| b.is_ascii_graphic())
        && s == s.to_ascii_lowercase()
}
