//! All of the crate's integration tests in one binary (one link instead of one per file; the
//! files are independent modules). Run one file's tests with `cargo test --test suite <file>::`.

mod clocks;
mod common;
mod crash;
mod encryption;
mod migrations;
mod neighbourhoods;
mod personal_data;
mod photos;
mod properties;
mod report;
mod walk_lifecycle;
