//! `brama-gateway`: the reverse proxy in front of a cabinet backend.
//!
//! It issues challenges, verifies signed login statements (CMS, chain to trusted qualified
//! CAs, revocation, qualified status, origin, single-use challenge), registers accounts from
//! the names in the certificate, keeps sessions and forwards requests with trusted identity
//! headers. See `../shared/design.md` §4–§5 and §8.
//!
//! The verifier, stores and proxy land with the gateway issue; today the crate holds the
//! command line only.
