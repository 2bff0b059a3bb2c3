//! The Redis store, on one node and on a Cluster of 3 masters with a
//! replica each (both started by `scripts/test.sh`): the conformance kit,
//! and what is Redis' own: the placement of a user's sessions, keys of the
//! wrong type, remember-me selectors, revoking everyone across masters,
//! and `WAIT`.

use crate::common::redis::{cluster_store, node_store};
use axum_user_sessions::SessionProtocol;
use axum_user_sessions::store::RedisOptions;
use axum_user_sessions::store::conformance as kit;
use std::sync::Arc;

async fn node() -> Option<Arc<dyn SessionProtocol>> {
    let store = node_store(RedisOptions::default()).await?;
    axum_user_sessions::migrate(&store).await.expect("migrate");
    Some(Arc::new(store))
}

async fn cluster() -> Option<Arc<dyn SessionProtocol>> {
    let store = cluster_store(RedisOptions::default()).await?;
    axum_user_sessions::migrate(&store).await.expect("migrate");
    Some(Arc::new(store))
}

/// Every scenario of the kit on the node and on the Cluster.
macro_rules! on_redis {
    ($($name:ident),* $(,)?) => {
        mod redis_node {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(store) = super::node().await {
                        super::kit::$name(store).await
                    }
                }
            )*
        }
        mod redis_cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(store) = super::cluster().await {
                        super::kit::$name(store).await
                    }
                }
            )*
        }
    };
}

axum_user_sessions::__store_conformance_scenarios!([on_redis]);
