//! `brama-agent`: the signing agent on the citizen's computer.
//!
//! It listens on loopback only, finds the user's key containers (PKCS#12, encrypted PEM,
//! PKCS#11 tokens) and signs origin-bound login statements and CAdES documents for the web
//! origins the user approved, with the key password typed on the agent's own page.
//! See `../shared/design.md` §7 for the security rules this crate follows.
//!
//! The API, container stores and signer land with the agent issue; today the crate holds
//! the command line only, so that its shape is fixed early.
