//! Shared test harness: stores, a real server over real HTTP, a cookie-aware
//! client, and the `conformance!` macro that runs a scenario on every store.
#![allow(dead_code, unreachable_pub, unused_imports)]

pub mod api_client;
#[path = "../../examples/demo.rs"]
pub mod demo;
pub mod pgbouncer;

mod backend;
mod client;
mod logs;
mod proxy;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "redis")]
mod redis_backend;
#[cfg(feature = "redis")]
pub mod redis_cluster;
mod required_only;
#[cfg(feature = "redis")]
mod resp_counter;
mod server;
mod wait;
mod wire_counter;

pub use backend::{Backend, Kind, init_tracing, wait_listening};
pub use client::{Client, Resp, http};
pub use logs::Captured;
pub use proxy::Proxy;
pub use required_only::RequiredOnly;
#[cfg(feature = "redis")]
pub use resp_counter::RespCounter;
pub use server::{TestApp, serve, serve_demo};
pub use wait::{Rng, eventually};
pub use wire_counter::WireCounter;

/// Runs each named scenario `async fn name(Backend)` on Postgres (direct,
/// behind the cache, through PgBouncer), SQLite and memory.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[sqlx::test(migrations = false)]
                async fn $name(pool: sqlx::PgPool) {
                    super::$name($crate::common::Backend::postgres(pool).await).await
                }
            )*
        }
        mod postgres_cached {
            $(
                #[sqlx::test(migrations = false)]
                async fn $name(pool: sqlx::PgPool) {
                    super::$name($crate::common::Backend::postgres_cached(pool).await).await
                }
            )*
        }
        mod pgbouncer {
            $(
                #[sqlx::test(migrations = false)]
                async fn $name(pool: sqlx::PgPool) {
                    super::$name($crate::common::Backend::pgbouncer(pool).await).await
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::sqlite().await).await
                }
            )*
        }
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::memory()).await
                }
            )*
        }
    };
}

/// Runs each named scenario `async fn name(Backend)` on Redis as well: one
/// node and a Cluster (feature `redis`; `scripts/test.sh` starts both).
#[macro_export]
macro_rules! on_redis {
    ($($name:ident),* $(,)?) => {
        #[cfg(feature = "redis")]
        mod redis_node {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(b) = $crate::common::Backend::redis_node().await {
                        super::$name(b).await
                    }
                }
            )*
        }
        #[cfg(feature = "redis")]
        mod redis_cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(b) = $crate::common::Backend::redis_cluster().await {
                        super::$name(b).await
                    }
                }
            )*
        }
    };
}

/// [`conformance!`] and [`on_redis!`] of the same scenarios: every store.
#[macro_export]
macro_rules! everywhere {
    ($($name:ident),* $(,)?) => {
        conformance!($($name),*);
        on_redis!($($name),*);
    };
}
