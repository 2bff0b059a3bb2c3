//! A change feed that cannot be fooled (issue #25): a heartbeat set back
//! makes every cache bypass rather than serve a session revoked meanwhile;
//! feeds beat through `feed_beat()`, which moves the heartbeat forward only
//! and needs no UPDATE on the sequence.

use crate::change_log::logged;
use crate::common;
use axum_user_sessions::{CacheConfig, CachedStore, PgStore, SessionLayer};
use common::{Backend, Client, eventually, serve_demo, wait_listening};
use std::time::Duration;
use uuid::Uuid;

async fn exec(pg: &sqlx::PgPool, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pg)
        .await
        .unwrap();
}

#[sqlx::test(migrations = false)]
async fn a_heartbeat_set_back_makes_caches_bypass_not_serve_a_revoked_session(pool: sqlx::PgPool) {
    revoked_behind_a_set_back(pool, "", SET_BACK, "").await;
}

/// Sets the heartbeat back: writers skip the log.
const SET_BACK: &str = "PERFORM setval('axum_user_sessions.feed_heartbeat', 0);";
/// Another instance's beat.
const BEAT: &str = "PERFORM axum_user_sessions.feed_beat();";

/// The gap hidden: after the set-back and the revocation, another
/// instance's beat moves the heartbeat to the clock again before this feed
/// polls (as the first beat after a jump of the database's clock does), so
/// no check of the heartbeat shows it. The beat counted the gap
/// (`feed_gaps`), and the feed reads the count.
#[sqlx::test(migrations = false)]
async fn a_gap_hidden_by_another_instance_s_beat_still_makes_caches_bypass(pool: sqlx::PgPool) {
    revoked_behind_a_set_back(pool, "", SET_BACK, BEAT).await;
}

/// The same after the owner restarted the count of gaps before the feed
/// registered (`ALTER SEQUENCE … RESTART`): the next gap's `nextval` then
/// leaves `last_value` as it was (it only marks the sequence called), so
/// the feed reads `is_called` too.
#[sqlx::test(migrations = false)]
async fn a_gap_after_the_count_of_gaps_restarted_still_makes_caches_bypass(pool: sqlx::PgPool) {
    // A beat first, so that the feed registers without counting a gap
    // (which would mark the sequence called).
    let restart = "DO $$ BEGIN
                       PERFORM axum_user_sessions.feed_beat();
                       ALTER SEQUENCE axum_user_sessions.feed_gaps RESTART;
                   END $$";
    revoked_behind_a_set_back(pool, restart, SET_BACK, BEAT).await;
}

/// The owner restarts the heartbeat at the clock (`ALTER SEQUENCE …
/// RESTART WITH`): not called, it reads as no heartbeat to writers, who
/// skip the log, while its value looks fresh to feeds and beats, and the
/// next beat hides it. The sequence's new file tells the feed.
#[sqlx::test(migrations = false)]
async fn a_heartbeat_restarted_at_the_clock_makes_caches_bypass(pool: sqlx::PgPool) {
    let restart =
        "EXECUTE format('ALTER SEQUENCE axum_user_sessions.feed_heartbeat RESTART WITH %s',
                                  (extract(epoch FROM clock_timestamp()) * 1000)::int8);";
    revoked_behind_a_set_back(pool, "", restart, BEAT).await;
}

/// Runs `before` (SQL), signs in, serves `/me` from the cache, then runs
/// `skip` (which makes writers skip the log) and revokes the session by
/// plain SQL at once, runs `then`, and waits (bounded) for the cache to
/// refuse the session.
async fn revoked_behind_a_set_back(pool: sqlx::PgPool, before: &str, skip: &str, then: &str) {
    let b = Backend::postgres(pool).await;
    let pg = b.pg.clone().unwrap();
    if !before.is_empty() {
        exec(&pg, before).await;
    }
    let cached = CachedStore::new(PgStore::new(pg.clone()), CacheConfig::default());
    let app = serve_demo(SessionLayer::new(cached.clone())).await;
    wait_listening(&cached).await;
    // Tries a few times: a heartbeat landing between the set-back and the
    // revocation (5 s apart, the two statements microseconds) would log it.
    for attempt in 0.. {
        let mut c = Client::new(&app);
        c.login(["alice", "bob", "carol"][attempt % 3]).await;
        let me = c.get("/me").await;
        let id: Uuid = me.json()["session_id"].as_str().unwrap().parse().unwrap();
        let hits = cached.hits();
        assert_eq!(c.get("/me").await.status, 200);
        assert!(cached.hits() > hits, "not served from memory");

        // Writers skip the log, then revoked by plain SQL at once.
        let revoke = format!(
            "DO $$ BEGIN
                {skip}
                UPDATE axum_user_sessions.sessions
                   SET revoked_at = now(), revoke_reason = 'admin', revoked_by = 'admin'
                 WHERE id = '{id}';
                {then}
             END $$"
        );
        exec(&pg, &revoke).await;
        if logged(&pg, id).await > 0 {
            assert!(attempt < 3, "a heartbeat landed in every attempt");
            continue;
        }
        let refused = eventually(Duration::from_secs(10), || {
            let mut c = c.clone();
            async move { (c.get("/me").await.status == 401).then_some(()) }
        })
        .await;
        assert!(
            refused.is_some(),
            "the cache kept serving a revoked session after {before} {skip} {then}"
        );
        break;
    }
}

#[sqlx::test(migrations = false)]
async fn feeds_beat_forward_only_without_update_on_the_sequence(pool: sqlx::PgPool) {
    let b = Backend::postgres(pool).await;
    let pg = b.pg.clone().unwrap();
    let role = format!("aus_beat_{}", Uuid::new_v4().simple());
    exec(&pg, &format!("CREATE ROLE {role}")).await;
    exec(
        &pg,
        &format!("GRANT USAGE ON SCHEMA axum_user_sessions TO {role}"),
    )
    .await;
    let ahead = "SELECT setval('axum_user_sessions.feed_heartbeat',
                 (extract(epoch FROM clock_timestamp()) * 1000)::bigint + 3600000)";
    exec(&pg, ahead).await;
    let mut tx = pg.begin().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("SET LOCAL ROLE {role}")))
        .execute(&mut *tx)
        .await
        .unwrap();
    let before: i64 =
        sqlx::query_scalar("SELECT last_value FROM axum_user_sessions.feed_heartbeat")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    let beat: i64 = sqlx::query_scalar("SELECT axum_user_sessions.feed_beat()")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(beat, before, "a beat moved the heartbeat back");
    let set_back = sqlx::query("SELECT setval('axum_user_sessions.feed_heartbeat', 0)")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(
        set_back.to_string().contains("permission denied"),
        "{set_back}"
    );
    tx.rollback().await.unwrap();
    // Nor may it set back the count of the log's gaps, which would hide one.
    let mut tx = pg.begin().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("SET LOCAL ROLE {role}")))
        .execute(&mut *tx)
        .await
        .unwrap();
    let hide = sqlx::query("SELECT setval('axum_user_sessions.feed_gaps', 1)")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(hide.to_string().contains("permission denied"), "{hide}");
    tx.rollback().await.unwrap();
    exec(&pg, &format!("DROP OWNED BY {role}")).await;
    exec(&pg, &format!("DROP ROLE {role}")).await;
}
