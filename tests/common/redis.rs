//! The Redis servers `scripts/test.sh` starts: a node (`AUS_REDIS_URL`) and a
//! Cluster of 3 masters with a replica each (`AUS_REDIS_CLUSTER_NODES`). Each
//! store a test opens keeps its keys under a prefix of its own, so tests
//! run in parallel on one server without seeing each other.

use super::RespCounter;
use axum_user_sessions::store::{RedisOptions, RedisStore, SessionRecord, TokenHash};
use std::net::SocketAddr;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// The variable's value; without it, a test under CI fails (the test
/// command starts Redis), and elsewhere it is skipped, loudly.
fn server(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("{var} is not set: scripts/test.sh starts Redis and sets it")
        }
        _ => {
            eprintln!(
                "\n*** SKIPPED: {var} is not set; run scripts/test.sh, which starts Redis ***\n"
            );
            None
        }
    }
}

/// A prefix no other test uses.
pub fn fresh_prefix() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

/// The node's URL.
pub fn node_url() -> Option<String> {
    server("AUS_REDIS_URL")
}

/// The Cluster's nodes, `host:port` each.
pub fn cluster_nodes() -> Option<Vec<String>> {
    server("AUS_REDIS_CLUSTER_NODES").map(|v| v.split(',').map(|n| n.trim().to_owned()).collect())
}

/// A store on the node, under a fresh prefix.
pub async fn node_store(options: RedisOptions) -> Option<RedisStore> {
    let url = node_url()?;
    let options = options.prefix(fresh_prefix());
    Some(
        RedisStore::connect_with(&url, options)
            .await
            .expect("connect to AUS_REDIS_URL"),
    )
}

/// A store on the Cluster, under a fresh prefix.
pub async fn cluster_store(options: RedisOptions) -> Option<RedisStore> {
    let nodes = cluster_nodes()?;
    let options = options.prefix(fresh_prefix());
    Some(
        RedisStore::cluster_with(&nodes, options)
            .await
            .expect("connect to AUS_REDIS_CLUSTER_NODES"),
    )
}

/// A store on the node through a counting proxy, with `options` (and
/// their prefix: give it one).
pub async fn counted(options: RedisOptions) -> Option<(RedisStore, RespCounter)> {
    let url = node_url()?;
    let rest = url.trim_start_matches("redis://");
    let (host_port, db) = rest.split_once('/').unwrap_or((rest, ""));
    let upstream: SocketAddr = tokio::net::lookup_host(host_port)
        .await
        .unwrap()
        .next()
        .unwrap();
    let counter = RespCounter::start(upstream).await;
    let url = format!("redis://{}/{db}", counter.addr);
    let store = RedisStore::connect_with(&url, options).await.unwrap();
    Some((store, counter))
}

/// The commands `call` sent through `counter`, by name.
pub async fn sent<T>(counter: &RespCounter, call: impl Future<Output = T>) -> (T, Vec<String>) {
    let before = counter.commands().len();
    let out = call.await;
    (out, counter.commands().split_off(before))
}

/// A store on the node and one on the Cluster, with `options` (each under
/// a fresh prefix).
pub async fn both(options: RedisOptions) -> Vec<RedisStore> {
    let mut stores = Vec::new();
    stores.extend(node_store(options.clone()).await);
    stores.extend(cluster_store(options).await);
    stores
}

/// A token hash of `n`s.
pub fn hash(n: u8) -> TokenHash {
    TokenHash::from_bytes([n; 32])
}

/// Session `id` of `user`, created now: its idle end in a minute, its hard
/// end in ten.
pub fn user_record(id: Uuid, user: &str) -> SessionRecord {
    let t0 = OffsetDateTime::now_utc();
    let mut r = SessionRecord::new(id, t0);
    r.user_id = Some(user.into());
    (r.expires_at, r.absolute_expires_at) =
        (t0 + Duration::from_secs(60), t0 + Duration::from_secs(600));
    r
}
