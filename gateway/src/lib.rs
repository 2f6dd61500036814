//! `brama-gateway`: the reverse proxy in front of a cabinet backend.
//!
//! It issues challenges, verifies signed login statements (CMS signature, chain to trusted
//! qualified CAs, revocation, qualified status, origin, single-use challenge), registers
//! accounts from the names in the certificate, keeps sessions and forwards requests with
//! trusted identity headers. See `../shared/design.md` §4–§5 and §8.
//!
//! Modules, each with one job: [`verify`] (design.md §4: the CMS signature and the certificate
//! checks), [`challenge`] (HMAC-sealed challenges), [`login`] (the login as a plain function),
//! [`store`] (accounts, sessions, audit; SQLite or PostgreSQL), [`assertion`] (ES256 assertion
//! for the backend), [`proxy`] (header hygiene), [`server`] (routes and forwarding),
//! [`listener`] + [`framing`] + [`tls`] (connections), [`admin`] (health and metrics),
//! [`limits`] and [`config`].

pub mod admin;
pub mod assertion;
pub mod challenge;
pub mod config;
pub mod error;
pub mod framing;
pub mod limits;
pub mod listener;
pub mod login;
pub mod proxy;
pub mod revocation;
pub mod server;
pub mod store;
pub mod tls;
pub mod verify;

pub use error::LoginError;

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
