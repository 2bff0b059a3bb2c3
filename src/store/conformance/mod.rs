//! The conformance kit: the scenarios every built-in store passes, for a
//! store of your own (feature `conformance`).
//!
//! Each scenario is an `async fn(Arc<dyn SessionProtocol>)` that calls the
//! [`SessionProtocol`] contract directly on a fresh,
//! migrated store and panics, naming what broke, when an answer differs from
//! what the built-in stores answer. The crate's own tests run them on
//! Postgres (direct, behind the cache, through PgBouncer), SQLite and
//! memory, and on a store written outside the crate.
//!
//! In your crate's tests, with `tokio` (`macros`, `rt-multi-thread`) as a
//! dev-dependency, one test per scenario:
//!
//! ```
//! use axum_user_sessions::{MemoryStore, SessionProtocol};
//! use std::sync::Arc;
//!
//! // A fresh, migrated store of yours for each scenario.
//! async fn fresh() -> Arc<dyn SessionProtocol> {
//!     Arc::new(MemoryStore::new())
//! }
//!
//! axum_user_sessions::store_conformance!(fresh);
//! # fn main() {}
//! ```
//!
//! or all of them in one test, [`run_all`].
//!
//! What the kit checks: two-phase rotation and its compare-and-set, the
//! bound on pending tokens, sign-in retiring every token (and closing the
//! id it moves from to writes), one version per change, update-only
//! writes that never bring a session back, revocation by
//! [scope](super::RevokeScope) with who and why, reaching what a slower
//! clock still serves, statistics, bounded
//! garbage collection, the compare-and-set of one key, the touch a load
//! writes only when it is due, remember-me's two-phase validator, the
//! lists (live sessions a keyset page at a time, recently ended ones), and,
//! when the store keeps them, device names and places and the users'
//! device records (trusted devices, failed sign-ins).

mod activity;
mod data;
mod devices;
mod lifecycle;
mod listing;
mod support;
mod tokens;

pub use activity::{
    a_touch_writes_only_when_due, remember_me_restores_in_two_phases,
    tokens_end_where_the_record_says,
};
pub use data::{
    every_change_counts_a_version, update_only_writes_never_resurrect,
    update_value_is_a_compare_and_set,
};
pub use devices::{device_records_are_a_compare_and_set, device_records_are_collected};
pub use lifecycle::{
    a_revocation_reaches_what_a_slower_clock_still_serves, gc_batches_are_bounded,
    revocations_record_who_and_why, stats_and_gc,
};
pub use listing::{
    device_names_and_places_keep_their_conditions, ended_sessions_list_most_recent_first,
    lists_page_by_recent_activity,
};
pub use tokens::{
    a_token_is_found_only_in_the_session_it_names, at_most_two_pending_tokens,
    promotion_keeps_newer_pending_tokens, sign_in_retires_every_token,
};

use super::SessionProtocol;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// One scenario: its name, and the scenario run on a store.
pub type Scenario = (
    &'static str,
    fn(Arc<dyn SessionProtocol>) -> Pin<Box<dyn Future<Output = ()> + Send>>,
);

/// Every scenario of the kit, by name.
pub fn scenarios() -> Vec<Scenario> {
    macro_rules! list {
        ($($name:ident),* $(,)?) => {
            vec![$((stringify!($name), |s| Box::pin($name(s)) as Pin<Box<dyn Future<Output = ()> + Send>>)),*]
        };
    }
    crate::__store_conformance_scenarios!([list])
}

/// The kit's scenario names, given to `$callback!` after `$args`: the one
/// list that [`scenarios`] and [`store_conformance!`](crate::store_conformance)
/// are made from.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_scenarios {
    ([$($callback:tt)*] $($args:tt)*) => {
        $($callback)*! { $($args)*
            promotion_keeps_newer_pending_tokens,
            at_most_two_pending_tokens,
            sign_in_retires_every_token,
            a_token_is_found_only_in_the_session_it_names,
            every_change_counts_a_version,
            update_only_writes_never_resurrect,
            update_value_is_a_compare_and_set,
            revocations_record_who_and_why,
            a_revocation_reaches_what_a_slower_clock_still_serves,
            stats_and_gc,
            gc_batches_are_bounded,
            device_records_are_a_compare_and_set,
            device_records_are_collected,
            a_touch_writes_only_when_due,
            tokens_end_where_the_record_says,
            remember_me_restores_in_two_phases,
            lists_page_by_recent_activity,
            ended_sessions_list_most_recent_first,
            device_names_and_places_keep_their_conditions,
        }
    };
}

/// Runs every scenario, each on a fresh store from `fresh`, and panics at
/// the first that fails (its name is printed before it runs).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axum_user_sessions::MemoryStore;
/// use std::sync::Arc;
/// axum_user_sessions::store::conformance::run_all(|| async {
///     Arc::new(MemoryStore::new()) as Arc<dyn axum_user_sessions::SessionProtocol>
/// })
/// .await;
/// # }
/// ```
pub async fn run_all<F, Fut>(mut fresh: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<dyn SessionProtocol>>,
{
    for (name, scenario) in scenarios() {
        println!("store conformance: {name}");
        scenario(fresh().await).await;
    }
}

/// One `#[tokio::test]` per scenario of the [conformance kit](crate::store::conformance),
/// each on a fresh store from `$fresh`, an `async fn() -> Arc<dyn SessionProtocol>`
/// in scope. Needs `tokio` with `macros` and `rt-multi-thread` in the
/// calling crate.
#[macro_export]
macro_rules! store_conformance {
    ($fresh:ident) => {
        $crate::__store_conformance_scenarios!([$crate::store_conformance] @tests $fresh;);
    };
    (@tests $fresh:ident; $($name:ident),* $(,)?) => {
        mod store_conformance {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::store::conformance::$name(super::$fresh().await).await
                }
            )*
        }
    };
}
