//! New sessions that wait go out together, in one statement and one
//! commit, each column where the single-row statement puts it; a session
//! the database refuses fails alone.

use super::{Setup, setup, token_of};
use axum_user_sessions::store::{
    Batching, Error, Lookup, SessionProtocol as _, SessionRecord, SessionStore as _,
};
use futures::FutureExt as _;
use serde_json::json;
use sqlx::{PgPool, Postgres, Transaction};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use time::OffsetDateTime;
use uuid::Uuid;

type Pending = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// A new session `id` whose every column holds a value of its own (`n`
/// makes them differ from session to session; an even `n` is persistent),
/// at Postgres' precision (microseconds).
fn record(id: Uuid, n: u8, data: serde_json::Value) -> SessionRecord {
    let now = OffsetDateTime::now_utc();
    let now = now
        .replace_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap();
    let minutes = |m: i64| now + time::Duration::minutes(m + i64::from(n));
    let mut r = SessionRecord::new(id, now - time::Duration::minutes(90));
    r.user_id = Some(format!("user-{n}"));
    r.authenticated_at = Some(minutes(-80));
    r.last_seen_at = minutes(-1);
    r.expires_at = minutes(30);
    r.absolute_expires_at = minutes(if n.is_multiple_of(2) { 20 } else { 600 });
    r.tokens_expire_at = Some(minutes(700));
    r.rotated_at = minutes(-70);
    r.ip = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)));
    r.last_ip = Some(IpAddr::V6(Ipv6Addr::new(
        0x2001,
        0xdb8,
        0,
        0,
        0,
        0,
        0,
        u16::from(n),
    )));
    r.user_agent = Some(format!("agent {n}"));
    r.location = Some(format!("place {n}"));
    r.sign_in_method = Some(format!("method {n}"));
    r.name = Some(format!("device {n}"));
    r.persistent = n.is_multiple_of(2);
    r.second_factor = n % 2 == 1;
    r.api_client = n.is_multiple_of(3);
    if let serde_json::Value::Object(map) = data {
        r.data = map;
    }
    r
}

/// An insert of `r`, polled once: queued, or in flight.
fn insert_record(s: &Setup, r: SessionRecord) -> Pending {
    let store = s.store.clone();
    let token = token_of(r.id);
    let mut pending: Pending = Box::pin(async move { store.create(&r, &token).await });
    assert!(
        (&mut pending).now_or_never().is_none(),
        "an insert answered before its statement ran"
    );
    pending
}

/// A new session `id` with data `data`, polled once.
fn insert(s: &Setup, id: Uuid, data: serde_json::Value) -> Pending {
    insert_record(s, record(id, 1, data))
}

/// Holds every insert into the token table until the returned lock goes.
async fn lock_tokens(s: &Setup) -> Transaction<'static, Postgres> {
    let mut lock = s.direct.begin().await.unwrap();
    sqlx::query("LOCK TABLE axum_user_sessions.tokens IN SHARE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    lock
}

/// The session `id`'s token finds.
async fn load(s: &Setup, id: Uuid) -> Option<SessionRecord> {
    let found = s.store.storage().load(&Lookup::Token(token_of(id))).await;
    found.unwrap().map(|l| l.record)
}

#[sqlx::test(migrations = false)]
async fn new_sessions_that_wait_go_out_together(pool: PgPool) {
    let s = setup(&pool, Batching::default().write_statements(1)).await;
    // Alone at low load: one statement.
    let first = record(Uuid::new_v4(), 9, json!({}));
    let before = s.counter.statements();
    insert_record(&s, first.clone()).await.unwrap();
    assert_eq!(s.counter.statements() - before, 1, "an insert alone");
    assert_eq!(load(&s, first.id).await.as_ref(), Some(&first));
    // Counted from here: the blocked insert and the batch.
    let before = s.counter.statements();
    let lock = lock_tokens(&s).await;
    let blocked_id = Uuid::new_v4();
    let blocked = insert(&s, blocked_id, json!({}));
    s.until_waiting(1).await;
    let records: Vec<SessionRecord> = (0..5)
        .map(|n| record(Uuid::new_v4(), n, json!({ "n": n })))
        .collect();
    let queued: Vec<Pending> = records
        .iter()
        .map(|r| insert_record(&s, r.clone()))
        .collect();
    let withdrawn = Uuid::new_v4();
    drop(insert(&s, withdrawn, json!({})));
    lock.commit().await.unwrap();
    blocked.await.unwrap();
    for outcome in futures::future::join_all(queued).await {
        outcome.unwrap();
    }
    assert_eq!(
        s.counter.statements() - before,
        2,
        "the blocked insert, then five inserts in one statement"
    );
    for r in &records {
        assert_eq!(load(&s, r.id).await.as_ref(), Some(r), "every column kept");
        // The end the single-row statement writes: a persistent session's
        // absolute end, another's earlier of its two ends.
        let collect_after: OffsetDateTime = sqlx::query_scalar(
            "SELECT collect_after FROM axum_user_sessions.sessions WHERE id = $1",
        )
        .bind(r.id)
        .fetch_one(&s.direct)
        .await
        .unwrap();
        let end = if r.persistent {
            r.absolute_expires_at
        } else {
            r.expires_at.min(r.absolute_expires_at)
        };
        assert_eq!(collect_after, end, "collect_after of session {:?}", r.name);
    }
    assert!(load(&s, blocked_id).await.is_some());
    let never: i64 =
        sqlx::query_scalar("SELECT count(*) FROM axum_user_sessions.sessions WHERE id = $1")
            .bind(withdrawn)
            .fetch_one(&s.direct)
            .await
            .unwrap();
    assert_eq!(never, 0, "a withdrawn insert is never sent");
}

#[sqlx::test(migrations = false)]
async fn a_new_session_the_database_refuses_fails_alone(pool: PgPool) {
    let s = setup(&pool, Batching::default().write_statements(1)).await;
    let before = s.counter.statements();
    let lock = lock_tokens(&s).await;
    let blocked = insert(&s, Uuid::new_v4(), json!({}));
    s.until_waiting(1).await;
    let [a, b, c] = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    // Postgres refuses a NUL character in a `jsonb` string.
    let queued = vec![
        insert(&s, a, json!({ "k": 1 })),
        insert(&s, b, json!({ "k": "nul \u{0} inside" })),
        insert(&s, c, json!({ "k": 3 })),
    ];
    lock.commit().await.unwrap();
    blocked.await.unwrap();
    let mut outcomes = futures::future::join_all(queued).await.into_iter();
    outcomes.next().unwrap().unwrap();
    let refused = outcomes.next().unwrap();
    assert!(
        matches!(&refused, Err(e) if !e.is_unavailable()),
        "the refused session: {refused:?}"
    );
    outcomes.next().unwrap().unwrap();
    assert_eq!(
        s.counter.statements() - before,
        5,
        "the blocked insert, the batch that failed, then each insert alone"
    );
    let data = |r: Option<SessionRecord>| r.map(|r| json!(r.data));
    assert_eq!(data(load(&s, a).await), Some(json!({ "k": 1 })));
    assert_eq!(
        load(&s, b).await.map(|r| r.id),
        None,
        "nothing of it stored"
    );
    assert_eq!(data(load(&s, c).await), Some(json!({ "k": 3 })));
}
