//! What Brama's tests share, in one place: a development PKI made fresh per test
//! ([`Pki`]), a gateway in front of an echo backend ([`gateway`]), an agent with its approval
//! page answered as a browser would ([`agent`]), and the built programs ([`programs`]).
//!
//! Used by the integration tests of `gateway`, `agent` and `tests/` (the end-to-end ones) and by
//! the gateway's micro-benchmarks; never by the programs themselves.
#![allow(clippy::missing_panics_doc)] // test support: a failed step panics with its reason

pub mod agent;
pub mod gateway;
pub mod jkurwa;
pub mod ocsp;
pub mod pki;
pub mod programs;

pub use pki::Pki;
