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

mod redis_own {
    use super::*;
    use crate::common::redis::{both, hash, user_record};
    use axum_user_sessions::store::{
        Error, RedisStore, RememberCredential, Revocation, RevokeReason, RevokeScope,
        SessionRecord, Touch, placement,
    };
    use std::time::Duration;
    use time::OffsetDateTime;
    use uuid::Uuid;

    /// A user's session whose id does not carry the user's placement tag
    /// would sit outside the user's slot: refused, nothing written.
    #[tokio::test]
    async fn redis_refuses_a_users_session_without_its_placement() {
        for s in both(RedisOptions::default()).await {
            let mut id = placement::session_id(Some("alice"));
            while placement::tag_of_session(id) == placement::tag_of_user("alice") {
                id = Uuid::new_v4();
            }
            let err = s.create(&user_record(id, "alice"), &hash(1)).await;
            assert!(matches!(err, Err(Error::Corrupt(_))), "{err:?}");
            assert!(s.get(id).await.unwrap().is_none());
            let ok = placement::session_id(Some("alice"));
            s.create(&user_record(ok, "alice"), &hash(2)).await.unwrap();
            let err = s.create(&user_record(ok, "alice"), &hash(3)).await;
            assert!(err.is_err(), "a duplicate id");
        }
    }

    /// A key of the store holding a value of another type (written by
    /// something else) is a typed error, not a panic nor a session.
    #[tokio::test]
    async fn redis_a_key_of_another_type_is_corrupt() {
        let Some(url) = crate::common::redis::node_url() else {
            return;
        };
        let prefix = crate::common::redis::fresh_prefix();
        let s = RedisStore::connect_with(&url, RedisOptions::default().prefix(prefix.clone()))
            .await
            .unwrap();
        let id = Uuid::new_v4();
        let key = format!("{prefix}:{{{:04x}}}:s:{id}", placement::tag_of_session(id));
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg("not a session")
            .query_async(&mut c)
            .await
            .unwrap();
        let err = s.get(id).await;
        assert!(matches!(err, Err(Error::Corrupt(_))), "{err:?}");
        let _: () = redis::cmd("DEL")
            .arg(&key)
            .query_async(&mut c)
            .await
            .unwrap();
        let _: () = redis::cmd("HSET")
            .arg(&key)
            .arg("v")
            .arg("0")
            .arg("e")
            .arg("0")
            .arg("b")
            .arg("{}")
            .query_async(&mut c)
            .await
            .unwrap();
        let err = s.get(id).await;
        assert!(matches!(err, Err(Error::Corrupt(_))), "{err:?}");
    }

    /// An ended-list retention beyond what an instant can hold counts as
    /// 100 years: writing a session computes its keys' expiry without a
    /// panic.
    #[tokio::test]
    async fn redis_a_huge_retention_is_clamped() {
        let options = RedisOptions::default().ended_retention(Duration::MAX);
        for s in both(options).await {
            let id = placement::session_id(Some("keeps-long"));
            s.create(&user_record(id, "keeps-long"), &hash(1))
                .await
                .unwrap();
            assert!(s.get(id).await.unwrap().is_some());
        }
    }

    /// A user's index holds the sessions whose keys are still there: each
    /// insert drops the members whose keys expired, so a user who signs in
    /// again and again, and never lists, does not grow it.
    #[tokio::test]
    async fn redis_a_users_index_drops_sessions_whose_keys_expired() {
        let Some(url) = crate::common::redis::node_url() else {
            return;
        };
        let prefix = crate::common::redis::fresh_prefix();
        // No retention: a session's keys go at its hard end.
        let options = RedisOptions::default()
            .prefix(prefix.clone())
            .ended_retention(Duration::ZERO);
        let s = RedisStore::connect_with(&url, options).await.unwrap();
        let user = "signs-in-often";
        for n in 0..50u8 {
            let mut r = user_record(placement::session_id(Some(user)), user);
            // Ended already: its keys expire as they are written.
            r.absolute_expires_at = OffsetDateTime::now_utc() - Duration::from_secs(1);
            s.create(&r, &hash(n)).await.unwrap();
        }
        let key = format!("{prefix}:{{{:04x}}}:u:{user}", placement::tag_of_user(user));
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        // Until the server's clock has passed the last one's expiry (a
        // bounded poll: it is a millisecond away at most).
        for _ in 0..1_000 {
            let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut c).await.unwrap();
            let newest: Vec<(String, f64)> = redis::cmd("ZRANGE")
                .arg(&key)
                .arg(-1)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(&mut c)
                .await
                .unwrap();
            let now_ms = (secs * 1_000 + micros / 1_000) as f64;
            if newest.iter().all(|(_, at)| *at < now_ms) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let live = user_record(placement::session_id(Some(user)), user);
        s.create(&live, &hash(99)).await.unwrap();
        let members: u64 = redis::cmd("ZCARD")
            .arg(&key)
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(members, 1, "the ended sessions left the index");
        let store: &dyn SessionProtocol = &s;
        let listed = store
            .list_user(user, OffsetDateTime::now_utc())
            .await
            .unwrap();
        assert_eq!(listed.iter().map(|r| r.id).collect::<Vec<_>>(), [live.id]);
    }

    /// Remember-me finds its session by selector (an index key of its own
    /// slot); a revocation drops the credential, and the stale index entry
    /// finds nothing.
    #[tokio::test]
    async fn redis_remember_me_selector_finds_its_session() {
        for s in both(RedisOptions::default()).await {
            let r = user_record(placement::session_id(Some("carol")), "carol");
            let t0 = r.created_at;
            s.create(&r, &hash(1)).await.unwrap();
            let end = t0 + Duration::from_secs(86_400);
            let cred = RememberCredential::new([7; 16], hash(100), end);
            assert!(s.set_remember(r.id, Some(&cred), end, t0).await.unwrap());
            let found = s.find_remember(&[7; 16]).await.unwrap().unwrap();
            assert_eq!((found.record.id, found.validator), (r.id, hash(100)));
            assert!(s.find_remember(&[8; 16]).await.unwrap().is_none());
            let how = Revocation::system(RevokeReason::User, t0);
            assert_eq!(
                s.revoke(&RevokeScope::session(r.id), &how).await.unwrap(),
                1
            );
            assert!(s.find_remember(&[7; 16]).await.unwrap().is_none());
        }
    }

    /// Each master of the Cluster has one replica: a minimum of three is
    /// never met, and a revocation or a sign-in fails as unavailable
    /// (`503`) rather than being acknowledged; data writes do not wait.
    #[tokio::test]
    async fn redis_wait_below_the_minimum_is_unavailable() {
        let options = RedisOptions::default()
            .min_replicas(3)
            .wait_timeout(Duration::from_millis(50));
        let Some(s) = cluster_store(options).await else {
            return;
        };
        assert_eq!(s.min_replicas(), 3);
        let anon = SessionRecord::new(Uuid::new_v4(), OffsetDateTime::now_utc());
        let mut anon = anon;
        anon.absolute_expires_at = anon.created_at + Duration::from_secs(600);
        anon.expires_at = anon.absolute_expires_at;
        s.create(&anon, &hash(1))
            .await
            .expect("no wait for a visitor");
        let signed_in = user_record(placement::session_id(Some("dan")), "dan");
        let err = s.create(&signed_in, &hash(2)).await.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        let how = Revocation::system(RevokeReason::User, OffsetDateTime::now_utc());
        let err = s
            .revoke(&RevokeScope::session(anon.id), &how)
            .await
            .unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");

        let Some(default) = cluster_store(RedisOptions::default()).await else {
            return;
        };
        assert_eq!(
            default.min_replicas(),
            1,
            "a Cluster with replicas waits for one"
        );
        if let Some(node) = node_store(RedisOptions::default()).await {
            assert_eq!(
                node.min_replicas(),
                0,
                "a node without replicas waits for none"
            );
        }
    }

    /// `store::connect` (the CLI's) opens a node from `redis://host:port`
    /// and a Cluster from comma-separated nodes.
    #[tokio::test]
    async fn redis_urls_open_through_store_connect() {
        let (Some(url), Some(nodes)) = (
            crate::common::redis::node_url(),
            crate::common::redis::cluster_nodes(),
        ) else {
            return;
        };
        let cluster: Vec<String> = nodes.iter().map(|n| format!("redis://{n}")).collect();
        for url in [url, cluster.join(",")] {
            let store = axum_user_sessions::store::connect(&url).await.unwrap();
            axum_user_sessions::migrate(&store).await.unwrap();
            let r = user_record(placement::session_id(Some("erin")), "erin");
            store.create(&r, &hash(1)).await.unwrap();
            assert!(store.get(r.id).await.unwrap().is_some());
            store.delete(r.id).await.unwrap();
        }
    }

    /// Redis out of reach is an outage (`503`), not a panic nor a `500`.
    #[tokio::test]
    async fn redis_down_is_unavailable() {
        // A port nothing listens on: bound, then closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = RedisOptions::default().response_timeout(Duration::from_millis(500));
        let err = RedisStore::connect_with(&format!("redis://127.0.0.1:{port}"), options)
            .await
            .unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
    }

    /// The in-process cache over Redis is refused with a typed error: no
    /// change feed would tell it of another instance's revocation.
    #[tokio::test]
    async fn redis_refuses_the_in_process_cache() {
        let Some(s) = node_store(RedisOptions::default()).await else {
            return;
        };
        let cached = axum_user_sessions::CachedStore::new(s, Default::default());
        let now = OffsetDateTime::now_utc();
        let err = cached
            .load(Some(Uuid::new_v4()), &hash(1), &Touch::new(now, now))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unsupported(_)), "{err:?}");
    }

    /// A server that evicts keys at its memory limit could drop the keys
    /// that hold revocations of everyone (`allkeys-*`) or a user's index,
    /// so that "sign out everywhere" misses sessions (`volatile-*`):
    /// `migrate` refuses both, saying what to set; with `noeviction` it
    /// passes. On a `redis-server` of the test's own.
    #[tokio::test]
    async fn redis_migrate_refuses_a_server_that_may_evict_keys() {
        if crate::common::redis::node_url().is_none() {
            return;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server: scripts/test.sh installs it");
        let _stop = KillOnDrop(server);
        let url = format!("redis://127.0.0.1:{port}");
        let store = crate::common::eventually(Duration::from_secs(10), || async {
            RedisStore::connect(&url).await.ok()
        })
        .await
        .expect("the server answers");
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        for policy in ["allkeys-lru", "volatile-lru", "volatile-ttl", "noeviction"] {
            let _: () = redis::cmd("CONFIG")
                .arg("SET")
                .arg("maxmemory-policy")
                .arg(policy)
                .query_async(&mut c)
                .await
                .unwrap();
            let migrated = axum_user_sessions::migrate(&store).await;
            if policy == "noeviction" {
                migrated.unwrap();
                continue;
            }
            let err = migrated.unwrap_err();
            assert!(
                matches!(err, Error::Misconfigured { .. }),
                "{policy}: {err:?}"
            );
            assert!(err.to_string().contains("noeviction"), "{err}");
        }
    }

    /// Kills the child process when dropped.
    struct KillOnDrop(std::process::Child);

    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
