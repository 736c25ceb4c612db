//! The integration tests, one binary: each test binary links the whole crate, and linking is
//! most of what a fresh `cargo test` spends, so the suites are modules of this one.

mod common;

mod bad_inputs;
mod bad_scenarios;
mod charts;
mod fast_equals_reference;
mod fixtures;
mod results;
mod run;
mod size;
mod sweep;
