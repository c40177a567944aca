//! All of the crate's integration tests in one binary (one link instead of one per file; the
//! files are independent modules). Run one file's tests with `cargo test --test suite <file>::`.

mod adversary;
mod at_rest;
mod bad_input;
mod cli;
mod common;
mod conformance;
mod convergence;
mod e2e;
mod faults;
mod instances;
mod integrity;
mod photos;
mod retention;
mod roles;
mod schema;
mod settings;
mod web;
