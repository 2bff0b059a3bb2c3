//! The `SessionStore` contract, called directly, on every store: the
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

from_kit!(
    promotion_keeps_newer_pending_tokens,
    at_most_two_pending_tokens,
    sign_in_retires_every_token,
    update_only_writes_never_resurrect,
    every_change_counts_a_version,
    revocations_record_who_and_why,
    stats_and_gc,
    gc_batches_are_bounded,
    update_value_is_a_compare_and_set,
);

/// The kit's list and its macro name the same scenarios as this file.
#[test]
fn the_kit_lists_every_scenario() {
    let listed: Vec<&str> = kit::scenarios().iter().map(|(name, _)| *name).collect();
    assert_eq!(listed.len(), 9, "{listed:?}");
}
