//! Running the crate: events, IP anonymisation, garbage collection, the
//! `axum-user-sessions` command-line tool, several app instances sharing one
//! Postgres, and the README's usage example. `tests/README.md` lists the test
//! binaries.

// `conformance!` is defined in the harness: `#[macro_use]` makes it visible
// in the modules declared below.
#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod cli;
mod gc;
mod msrv;
mod multi_instance;
mod operations;
mod readme;
mod rolling;
