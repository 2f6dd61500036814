//! `brama-agent`: the signing agent on the citizen's computer.
//!
//! It listens on loopback only, finds the user's key containers (PKCS#12, IIT `Key-6.dat`, Java KeyStores, encrypted PEM,
//! hardware tokens through PKCS#11 in [`tokens`])
//! and signs origin-bound login statements and CAdES documents for the web origins the
//! user approved, with the key password typed on the agent's own page (design.md §7).
//!
//! A request walks: [`server`] → [`listener`] (accept, head timeout, connection cap) → [`guard`] (Host, peer user, Origin) → [`api`] or
//! [`ui`] handler → [`app::App`] (plain functions) → [`containers`], [`tokens`], [`signer`],
//! [`origins`], [`requests`].

pub mod api;
pub mod app;
pub mod config;
pub mod containers;
pub mod error;
pub mod guard;
pub mod lang;
pub mod listener;
pub mod origins;
pub mod peer;
pub mod requests;
pub mod server;
pub mod signer;
pub mod tls;
pub mod tokens;
pub mod ui;

pub use error::ApiError;
