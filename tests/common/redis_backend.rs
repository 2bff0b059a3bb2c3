//! The Redis backends of the HTTP scenarios: a store on the node or on the
//! Cluster that `scripts/test.sh` starts, under a key prefix of the test's
//! own. Without the servers, `None` (the scenario is skipped, loudly; a
//! failure under CI).

use super::backend::{Backend, Kind, init_tracing};
use super::redis::{cluster_nodes, fresh_prefix, node_url};
use axum_user_sessions::SessionProtocol;
use axum_user_sessions::store::{CountingStore, Protocol, RedisOptions, RedisStore};
use std::sync::Arc;

impl Backend {
    /// A fresh store on the Redis node.
    pub async fn redis_node() -> Option<Self> {
        node_url()?;
        Some(Self::redis(Kind::Redis).await)
    }

    /// A fresh store on the Redis Cluster.
    pub async fn redis_cluster() -> Option<Self> {
        cluster_nodes()?;
        Some(Self::redis(Kind::RedisCluster).await)
    }

    async fn redis(kind: Kind) -> Self {
        init_tracing();
        let prefix = fresh_prefix();
        let store = open(kind, &prefix).await;
        axum_user_sessions::migrate(&store).await.expect("migrate");
        let counted = CountingStore::new(store.storage().clone());
        let mut b = Self::memory();
        b.kind = kind;
        b.store = Arc::new(Protocol::new(counted.clone()));
        b.counted = counted;
        b.redis_prefix = Some(prefix);
        b
    }

    /// Another app instance's store on the same Redis keys.
    pub(super) async fn redis_instance(&self) -> Arc<dyn SessionProtocol> {
        let prefix = self.redis_prefix.as_deref().expect("a Redis backend");
        Arc::new(open(self.kind, prefix).await)
    }
}

async fn open(kind: Kind, prefix: &str) -> RedisStore {
    let options = RedisOptions::default().prefix(prefix);
    if kind == Kind::RedisCluster {
        let nodes = cluster_nodes().expect("AUS_REDIS_CLUSTER_NODES");
        RedisStore::cluster_with(&nodes, options).await
    } else {
        let url = node_url().expect("AUS_REDIS_URL");
        RedisStore::connect_with(&url, options).await
    }
    .expect("connect to Redis")
}
