//! Redis failing under the store, on servers of the tests' own (so that
//! killing one disturbs no other test): a master of a Cluster (3 masters
//! with a replica each, `cluster-node-timeout` 1 s) dies in the middle of
//! revocations (issue #24, item 6), and after its replica takes over every
//! revocation the store acknowledged holds and every session whose sign-in
//! it acknowledged is still there; a lone node stops and comes back, and
//! the app answers 503 meanwhile.

use crate::common::eventually;
use crate::common::redis_cluster::{
    Nodes, cli, cluster_node, free, masters, redis_server, start_cluster, start_cluster_possible,
};
use axum_user_sessions::SessionProtocol;
use axum_user_sessions::store::{
    RedisOptions, RedisStore, Revocation, RevokeReason, RevokeScope, SessionRecord, TokenHash,
    placement,
};
use std::process::Child;
use std::time::Duration;
use time::OffsetDateTime;

fn user_session(user: &str) -> SessionRecord {
    let t0 = OffsetDateTime::now_utc();
    let mut r = SessionRecord::new(placement::session_id(Some(user)), t0);
    r.user_id = Some(user.into());
    (r.expires_at, r.absolute_expires_at) = (
        t0 + Duration::from_secs(600),
        t0 + Duration::from_secs(3600),
    );
    r
}

fn hash(i: usize) -> TokenHash {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&(i as u64).to_be_bytes());
    TokenHash::from_bytes(b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_failover_keeps_every_acknowledged_revocation() {
    let Some(mut nodes) = start_cluster().await else {
        return;
    };
    let addrs: Vec<String> = nodes
        .ports
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let options = RedisOptions::default().response_timeout(Duration::from_millis(500));
    let store = RedisStore::cluster_with(&addrs, options).await.unwrap();
    assert_eq!(store.min_replicas(), 1);

    // Sign-ins, acknowledged once a replica has them: those a replica
    // did not take in time (a loaded machine) are not acknowledged, and
    // the test keeps only the acknowledged ones.
    let (mut sessions, mut i) = (Vec::new(), 0);
    while sessions.len() < 120 {
        i += 1;
        assert!(i < 1000, "sign-ins keep failing");
        let r = user_session(&format!("user-{i}"));
        match store.create(&r, &hash(i)).await {
            Ok(()) => sessions.push(r),
            Err(e) => assert!(e.is_unavailable(), "{e:?}"),
        }
    }

    // Revocations; a master dies after the first third.
    let victim = masters(nodes.ports[0])[0];
    let (mut acked, mut refused) = (Vec::new(), Vec::new());
    for (i, r) in sessions.iter().enumerate() {
        if i == sessions.len() / 3 {
            let at = nodes.ports.iter().position(|&p| p == victim).unwrap();
            nodes.children[at].kill().unwrap();
            let _ = nodes.children[at].wait();
        }
        let how = Revocation::system(RevokeReason::User, OffsetDateTime::now_utc());
        match store.revoke(&RevokeScope::session(r.id), &how).await {
            Ok(1) => acked.push(r.id),
            Ok(n) => panic!("revoked {n}"),
            Err(e) => {
                assert!(e.is_unavailable(), "a fault is an outage: {e:?}");
                refused.push(r.id);
            }
        }
    }
    println!(
        "{} revocations acknowledged, {} refused during the failover",
        acked.len(),
        refused.len()
    );

    // The replica takes over; then every acknowledged write holds.
    let survivor = *nodes.ports.iter().find(|&&p| p != victim).unwrap();
    let over = eventually(Duration::from_secs(30), || async {
        let ok = cli(survivor, &["cluster", "info"]).contains("cluster_state:ok")
            && masters(survivor).len() == 3
            && !masters(survivor).contains(&victim);
        ok.then_some(())
    })
    .await;
    assert!(over.is_some(), "no failover within 30 s");
    // The promoted master has no replica until the dead one comes back as
    // its replica: until then a revocation there is refused (even one that
    // finds its session revoked: that state is on one node only).
    let at = nodes.ports.iter().position(|&p| p == victim).unwrap();
    nodes.children[at] = cluster_node(victim, nodes._dir.path());
    let rejoined = eventually(Duration::from_secs(30), || async {
        cli(victim, &["info", "replication"])
            .contains("master_link_status:up")
            .then_some(())
    })
    .await;
    assert!(
        rejoined.is_some(),
        "the dead master never came back as a replica"
    );
    // The same store finds the new master on its own: the refused
    // revocations go through now.
    for id in refused {
        let how = Revocation::system(RevokeReason::User, OffsetDateTime::now_utc());
        let done = eventually(Duration::from_secs(30), || async {
            store.revoke(&RevokeScope::session(id), &how).await.ok()
        })
        .await;
        assert!(
            done.is_some(),
            "a revocation still refused after the failover"
        );
        acked.push(id);
    }
    // A store that never knew the dead master sees the same.
    let store = RedisStore::cluster_with(
        addrs.iter().filter(|a| !a.ends_with(&format!(":{victim}"))),
        RedisOptions::default(),
    )
    .await
    .unwrap();
    for r in &sessions {
        let got = eventually(Duration::from_secs(10), || async {
            store.get(r.id).await.ok()
        })
        .await
        .expect("the store answers after the failover");
        let got = got.unwrap_or_else(|| panic!("an acknowledged sign-in was lost"));
        if acked.contains(&r.id) {
            assert!(
                got.revoked_at.is_some(),
                "an acknowledged revocation was lost in the failover"
            );
        }
    }
    assert_eq!(acked.len(), sessions.len());
}

/// One Redis node of the test's own, on `port`.
fn start_node(port: u16, dir: &std::path::Path) -> Child {
    redis_server(port, dir).spawn().expect("start redis-server")
}

/// Redis down answers `503` with `Retry-After`, in bounded time, never a
/// `500` nor a hang; once it is back the app serves again on its own (a
/// node without persistence or replicas lost its sessions: the scale
/// guide's warning).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_answers_503_and_the_app_recovers() {
    use crate::common::{Client, serve_demo};
    if start_cluster_possible().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = (0..500u16)
        .map(|i| 26_000 + (std::process::id() as u16 % 1000) * 3 + i)
        .find(|&p| free(p))
        .unwrap();
    let mut node = Nodes {
        ports: vec![port],
        children: vec![start_node(port, dir.path())],
        _dir: dir,
    };
    let up = eventually(Duration::from_secs(10), || async move {
        cli(port, &["ping"]).contains("PONG").then_some(())
    })
    .await;
    assert!(up.is_some(), "redis-server did not start");
    let options = RedisOptions::default().response_timeout(Duration::from_millis(500));
    let store = RedisStore::connect_with(&format!("redis://127.0.0.1:{port}"), options)
        .await
        .unwrap();
    let app = serve_demo(axum_user_sessions::SessionLayer::new(store)).await;
    let mut c = Client::new(&app);
    c.login("alice").await;
    assert_eq!(c.me().await.as_deref(), Some("alice"));

    node.children[0].kill().unwrap();
    let _ = node.children[0].wait();
    for _ in 0..3 {
        let start = std::time::Instant::now();
        let res = c.get("/me").await;
        assert_eq!(res.status, 503, "{}", res.body);
        assert!(res.headers.contains_key("retry-after"), "{:?}", res.headers);
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }

    node.children[0] = start_node(port, node._dir.path());
    let back = eventually(Duration::from_secs(20), || {
        let mut c = Client::new(&app);
        async move {
            c.login("bob").await;
            (c.me().await.as_deref() == Some("bob")).then_some(())
        }
    })
    .await;
    assert!(back.is_some(), "the app never recovered");
}
