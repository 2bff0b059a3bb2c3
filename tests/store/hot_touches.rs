//! A touch is a HOT update on Postgres (issue #25): it changes no indexed
//! column (migration `20261205003001_hot_touches`), so it writes one heap
//! tuple and no index entry. Counted by Postgres itself.

use crate::common;
use axum_user_sessions::store::{TokenHash, Touch};
use std::time::Duration;
use time::OffsetDateTime;

/// Updates of `sessions` and how many of them were HOT, once the
/// statistics show at least `at_least` updates.
async fn updates(pg: &sqlx::PgPool, at_least: i64) -> Option<(i64, i64)> {
    common::eventually(Duration::from_secs(30), || async move {
        let (all, hot): (i64, i64) = sqlx::query_as(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
              WHERE relid = 'axum_user_sessions.sessions'::regclass",
        )
        .fetch_one(pg)
        .await
        .unwrap();
        (all >= at_least).then_some((all, hot))
    })
    .await
}

#[sqlx::test(migrations = false)]
async fn touches_are_hot_updates(pool: sqlx::PgPool) {
    let b = common::Backend::postgres(pool).await;
    let pg = b.pg.clone().unwrap();
    let start = OffsetDateTime::now_utc();
    let id = b.seed_session("alice", start).await;
    let mut hash = [0u8; 32];
    hash[..16].copy_from_slice(id.as_bytes());
    let token = TokenHash::from_bytes(hash);
    let touches = 20;
    for i in 1..=touches {
        // A request a second later each time, pushing the idle end on.
        let now = start + time::Duration::seconds(i);
        let touch = Touch::new(now, now + time::Duration::minutes(30));
        let loaded = b.store.load(Some(id), &token, &touch).await.unwrap();
        assert_eq!(
            loaded.unwrap().record.last_seen_at,
            now,
            "touch {i} not written"
        );
    }
    let (all, hot) = updates(&pg, touches).await.expect("no statistics");
    // The first touch moves the end past the row's `collect_after` (its
    // end when inserted): that one update may change the index.
    assert!(
        hot >= all - 1,
        "{hot} of {all} updates were HOT: a touch changes an indexed column"
    );
}
