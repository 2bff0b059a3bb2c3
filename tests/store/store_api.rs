//! The `SessionProtocol` contract, called directly, on every store: the
//! scenarios of the crate's conformance kit (`store::conformance`), run on
//! Postgres (direct, cached, through PgBouncer), SQLite and memory. A store
//! written outside the crate runs them through the kit's own
//! `store_conformance!` in `outside_store.rs`.

use crate::common;

use axum_user_sessions::store::conformance as kit;
use common::Backend;

/// `async fn name(Backend)` for each scenario of the kit.
macro_rules! from_kit {
    ($($name:ident),* $(,)?) => {
        $(async fn $name(b: Backend) {
            kit::$name(b.store.clone()).await
        })*
        conformance!($($name),*);
    };
}

// Every scenario of the kit, by the kit's own list.
axum_user_sessions::__store_conformance_scenarios!([from_kit]);

/// The kit's list and its macro name the same scenarios as this file.
#[test]
fn the_kit_lists_every_scenario() {
    let listed: Vec<&str> = kit::scenarios().iter().map(|(name, _)| *name).collect();
    assert_eq!(listed.len(), 19, "{listed:?}");
}
