//! The end-to-end tests of `tests/tests/` and the demo ([`demo`]): the agent, the gateway
//! and a demo cabinet started together. What every test shares lives in `brama-testkit`.

pub mod demo;
