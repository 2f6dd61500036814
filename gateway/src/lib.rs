//! `brama-gateway`: the reverse proxy in front of a cabinet backend.
//!
//! It issues challenges, verifies signed login statements (CMS signature, chain to trusted
//! qualified CAs, revocation, qualified status, origin, single-use challenge), registers
//! accounts from the names in the certificate, keeps sessions and forwards requests with
//! trusted identity headers. See `../shared/design.md` §4–§5 and §8.
//!
//! So far: [`verify`], the login verifier (design.md §4 steps 1, 3, 4, 5).

pub mod challenge;
pub mod error;
pub mod store;
pub mod verify;

pub use error::LoginError;
