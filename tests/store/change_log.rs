//! The Postgres change log (`session_changes`) that caches poll: a running
//! cache keeps it short by itself, so it does not grow with every write in
//! an app that never runs garbage collection; and the feed that reads it
//! reports every change once, one committed out of order included.

use crate::common;
use crate::quiet_log::{open_writer, session_id};
use axum_user_sessions::PgStore;
use std::time::Duration;
use uuid::Uuid;

/// The change log's rows for session `id`.
pub(crate) async fn logged(pg: &sqlx::PgPool, id: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM axum_user_sessions.session_changes WHERE session_id = $1",
    )
    .bind(id)
    .fetch_one(pg)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_running_cache_collects_the_log_of_ended_transactions(pool: sqlx::PgPool) {
    let b = common::Backend::postgres_cached(pool).await;
    let pg = b.pg.clone().unwrap();
    let old = Uuid::new_v4();
    sqlx::query("INSERT INTO axum_user_sessions.session_changes (session_id, kind) VALUES ($1, 2)")
        .bind(old)
        .execute(&pg)
        .await
        .unwrap();
    // Collected once a horizon read after it is 30 s old: a collection
    // every 15 s, so within a minute; room for a loaded machine.
    let gone = common::eventually(Duration::from_secs(120), || {
        let pg = pg.clone();
        async move { (logged(&pg, old).await == 0).then_some(()) }
    })
    .await;
    assert!(gone.is_some(), "the log row was never collected");
    drop(b);
}

/// The bug this replaces: the log was collected by its rows' age (five
/// minutes), so a transaction that ran longer had its rows collected as it
/// committed, before a poll read them.
#[sqlx::test(migrations = false)]
async fn a_long_transaction_is_heard_of_whatever_its_age(pool: sqlx::PgPool) {
    let b = common::Backend::postgres_cached(pool).await;
    let pg = b.pg.clone().unwrap();
    let app = common::serve_demo(b.layer()).await;
    let mut c = common::Client::new(&app);
    c.login("alice").await;
    assert_eq!(c.put_kv("k", "before").await.status, 204);
    let id = session_id(&mut c).await;
    let canary = Uuid::new_v4();
    sqlx::query("INSERT INTO axum_user_sessions.session_changes (session_id, kind) VALUES ($1, 2)")
        .bind(canary)
        .execute(&pg)
        .await
        .unwrap();

    // A writer that stays open across collections, its log row dated ten
    // minutes back as if it had run that long.
    let mut writer = open_writer(&pg, id).await;
    sqlx::query(
        "UPDATE axum_user_sessions.session_changes SET at = at - interval '10 minutes'
          WHERE xid = pg_current_xact_id()",
    )
    .execute(&mut *writer)
    .await
    .unwrap();
    // Collections ran past the canary while the writer was open.
    let collected = common::eventually(Duration::from_secs(120), || {
        let pg = pg.clone();
        async move { (logged(&pg, canary).await == 0).then_some(()) }
    })
    .await;
    assert!(collected.is_some(), "no collection ran");
    assert_eq!(c.get("/kv").await.json()["k"], "before");
    writer.commit().await.unwrap();
    assert!(logged(&pg, id).await > 0, "the writer's log row went");
    let heard = common::eventually(Duration::from_secs(10), || {
        let mut c = c.clone();
        async move { (c.get("/kv").await.json()["k"] == "after").then_some(()) }
    })
    .await;
    assert!(heard.is_some(), "the cache never heard of the long writer");
    drop(b);
}

/// A starting cache waits for the transactions that write the session
/// tables when it registers, and for no other.
#[sqlx::test(migrations = false)]
async fn a_starting_cache_waits_only_for_writers_of_sessions(pool: sqlx::PgPool) {
    let b = common::Backend::postgres(pool).await;
    let pg = b.pg.clone().unwrap();
    // A long transaction on another table (it has a transaction id).
    let mut other = pg.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *other)
        .await
        .unwrap();
    let cached = axum_user_sessions::CachedStore::new(
        axum_user_sessions::PgStore::new(pg.clone()),
        axum_user_sessions::CacheConfig::default(),
    );
    common::wait_listening(&cached).await;
    other.rollback().await.unwrap();
}

/// Waits for the change feed's next `CaughtUp`, returning the changes before it.
async fn next_poll(
    feed: &mut axum_user_sessions::store::ChangeFeed,
) -> Vec<axum_user_sessions::store::Change> {
    use axum_user_sessions::store::Change;
    let mut seen = Vec::new();
    loop {
        let change = tokio::time::timeout(Duration::from_secs(10), feed.changes.recv())
            .await
            .expect("the feed went quiet")
            .expect("the feed ended");
        match change {
            Change::CaughtUp { .. } => return seen,
            Change::Flush => panic!("the feed failed"),
            other => seen.push(other),
        }
    }
}

/// Polls until a poll reports `id`; the version reported and how many polls
/// it took.
async fn reported(
    feed: &mut axum_user_sessions::store::ChangeFeed, id: uuid::Uuid,
) -> (Option<u64>, usize) {
    use axum_user_sessions::store::Change;
    for polls in 1..=500 {
        for change in next_poll(feed).await {
            if let Change::Session { id: got, version } = change
                && got == id
            {
                return (version, polls);
            }
        }
    }
    panic!("{id} was never reported");
}

/// A change committed after a newer transaction's change (a lower
/// transaction id committing later) is reported all the same, once; token
/// changes and deletions are reported without a version.
#[sqlx::test(migrations = false)]
async fn pg_the_feed_reports_changes_committed_out_of_order(pool: sqlx::PgPool) {
    use axum_user_sessions::SessionProtocol as _;
    use axum_user_sessions::store::{Change, FeedOptions, SessionRecord, TokenHash};
    axum_user_sessions::migrate(&pool).await.unwrap();
    let store = PgStore::new(pool.clone());
    let now = time::OffsetDateTime::now_utc();
    let mut ids = Vec::new();
    for n in 1..=2u8 {
        let mut r = SessionRecord::new(uuid::Uuid::new_v4(), now);
        r.expires_at = now + time::Duration::hours(1);
        r.absolute_expires_at = now + time::Duration::hours(1);
        store
            .create(&r, &TokenHash::from_bytes([n; 32]))
            .await
            .unwrap();
        ids.push(r.id);
    }
    let (older, newer) = (ids[0], ids[1]);
    let mut feed = store
        .extensions()
        .cache
        .expect("Postgres has a feed")
        .subscribe(&FeedOptions::new(Duration::from_millis(5)));
    next_poll(&mut feed).await;

    // The older transaction writes first and commits last.
    let mut first = pool.begin().await.unwrap();
    sqlx::query("UPDATE axum_user_sessions.sessions SET data = '{\"a\": 1}' WHERE id = $1")
        .bind(older)
        .execute(&mut *first)
        .await
        .unwrap();
    let update = "UPDATE axum_user_sessions.sessions SET data = '{\"b\": 1}' WHERE id = $1";
    sqlx::query(update)
        .bind(newer)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(reported(&mut feed, newer).await.0, Some(1));
    for _ in 0..3 {
        let polled = next_poll(&mut feed).await;
        assert!(
            polled.is_empty(),
            "reported again, or uncommitted: {polled:?}"
        );
    }
    first.commit().await.unwrap();
    assert_eq!(reported(&mut feed, older).await.0, Some(1));
    for _ in 0..3 {
        let polled = next_poll(&mut feed).await;
        assert!(polled.is_empty(), "reported twice: {polled:?}");
    }

    // A token change and a deletion carry no version.
    sqlx::query("UPDATE axum_user_sessions.tokens SET state = 3, superseded_at = now() WHERE session_id = $1")
        .bind(newer)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(reported(&mut feed, newer).await.0, None);
    assert!(store.delete(older).await.unwrap());
    assert_eq!(reported(&mut feed, older).await.0, None);
    let _ = Change::Flush;
}

/// An operator's `TRUNCATE` of the session tables (everyone signed out at
/// once) reaches the caches: the feed reports it as a flush. Before, no
/// trigger fired on it, and a cache served its copies until their time to
/// live. The same when the change log is truncated with them, which takes
/// the flush's row with it: the feed sees the log's new file.
#[sqlx::test(migrations = false)]
async fn a_truncate_of_the_session_tables_reaches_the_cache(pool: sqlx::PgPool) {
    let b = common::Backend::postgres_cached(pool).await;
    let pg = b.pg.clone().unwrap();
    let app = common::serve_demo(b.layer()).await;
    for truncate in [
        "TRUNCATE axum_user_sessions.sessions CASCADE",
        "BEGIN; TRUNCATE axum_user_sessions.sessions CASCADE; \
         TRUNCATE axum_user_sessions.session_changes; COMMIT",
    ] {
        let mut c = common::Client::new(&app);
        c.login("alice").await;
        assert_eq!(c.me().await.as_deref(), Some("alice"));
        assert_eq!(
            c.me().await.as_deref(),
            Some("alice"),
            "served from the cache"
        );
        sqlx::raw_sql(truncate).execute(&pg).await.unwrap();
        let out = common::eventually(Duration::from_secs(10), || {
            let mut c = c.clone();
            async move { c.me().await.is_none().then_some(()) }
        })
        .await;
        assert!(
            out.is_some(),
            "the cache served a truncated session: {truncate}"
        );
    }
}
