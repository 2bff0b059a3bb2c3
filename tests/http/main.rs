//! Scenarios through a real axum server over real HTTP, each on every store
//! (Postgres, Postgres behind the cache, SQLite, memory) via `conformance!`.
//! One module per topic; `tests/README.md` lists the test binaries.

// `conformance!` is defined in the harness: `#[macro_use]` makes it visible
// in the modules declared below.
#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod admin_cache;
#[cfg(feature = "tower-sessions-import")]
mod adopt;
mod api_clients;
#[cfg(feature = "axum-login")]
mod axum_login;
mod binding;
mod cancellation;
mod conformance;
mod cookies;
mod credential_model;
mod credentials;
mod data;
mod ended;
mod expiry;
mod extract;
mod failed_sign_ins;
mod keys;
mod late_restore;
mod limits;
mod names;
mod page;
mod paging;
mod read_your_writes;
mod remember;
mod revoking;
mod rotation;
mod routes;
mod seen;
mod strength;
mod token_form;
mod trusted_devices;
mod unsupported;
mod update;
mod wiring;
