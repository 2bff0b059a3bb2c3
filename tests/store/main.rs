//! The stores themselves: the `SessionProtocol` contract called directly on
//! every store, and what each store writes to its tables, its migrations and
//! its outages. `tests/README.md` lists the test binaries.

// `conformance!` is defined in the harness: `#[macro_use]` makes it visible
// in the modules declared below.
#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod batches;
mod cancellation;
mod change_log;
mod feed_cost;
mod heartbeat;
mod hot_touches;
mod logs;
mod mixed_fleet;
mod outside_store;
mod passing_errors;
mod quiet_log;
mod quiet_writes;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_failover;
#[cfg(feature = "redis")]
mod redis_generations;
#[cfg(feature = "redis")]
mod redis_index;
#[cfg(feature = "redis")]
mod redis_migration;
#[cfg(feature = "redis")]
mod redis_resend;
#[cfg(feature = "redis")]
mod redis_round_trips;
#[cfg(feature = "redis")]
mod redis_scans;
mod sqlite_turns;
mod statements;
mod storage;
mod store_api;
mod token_history;
mod upgrade;
