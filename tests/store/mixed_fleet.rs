//! A fleet that mixes 0.1 and this version during a rolling upgrade, on
//! one Postgres database: a change of credentials made by a 0.1 instance
//! (its own statements, run here as it runs them) between this version's
//! read of a session and its compare-and-set makes that compare-and-set
//! fail, so that the swap does not undo it. (`tests/ops/rolling.rs` runs
//! the released build beside this one, a request at a time.)

use axum_user_sessions::PgStore;
use axum_user_sessions::store::{Lookup, SessionRecord, SessionStore, TokenHash};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// 0.1's `BEGIN_ROTATION`: session `$1`, last rotated at `$2`, is rotated
/// at `$3` with the pending token `$4`.
const BEGIN_ROTATION_0_1: &str = "WITH s AS (
        UPDATE axum_user_sessions.sessions SET rotated_at = $3
         WHERE id = $1 AND rotated_at = $2 AND revoked_at IS NULL
        RETURNING id
    ), older AS (
        DELETE FROM axum_user_sessions.tokens
         WHERE session_id IN (SELECT id FROM s) AND state = 1
           AND token_hash <> (SELECT token_hash FROM axum_user_sessions.tokens
                               WHERE session_id = $1 AND state = 1
                               ORDER BY created_at DESC LIMIT 1)
    )
    INSERT INTO axum_user_sessions.tokens (token_hash, session_id, state, created_at)
    SELECT $4, id, 1, $3 FROM s";

/// 0.1's `REMEMBER`: session `$1` gets selector `$2`, validator hash `$3`,
/// ending at `$4`, issued at `$5`.
const REMEMBER_0_1: &str = "UPDATE axum_user_sessions.sessions
        SET persistent = true, absolute_expires_at = $4,
            expires_at = LEAST(expires_at, $4),
            remember_selector = $2, remember_validator_hash = $3,
            remember_prev_validator_hash = NULL, remember_rotated_at = $5,
            remember_expires_at = $4
      WHERE id = $1 AND revoked_at IS NULL";

async fn epoch(pool: &sqlx::PgPool, id: Uuid) -> i64 {
    sqlx::query_scalar("SELECT cred_epoch FROM axum_user_sessions.sessions WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A new session in `store`, migrated first, and the time it was made.
async fn session_in(
    store: &dyn axum_user_sessions::SessionProtocol,
) -> (SessionRecord, OffsetDateTime) {
    axum_user_sessions::migrate(store).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let mut r = SessionRecord::new(Uuid::new_v4(), now);
    (r.expires_at, r.absolute_expires_at) = (
        now + Duration::from_secs(1800),
        now + Duration::from_secs(3600),
    );
    let token = TokenHash::from_bytes([1; 32]);
    store.create(&r, &token).await.unwrap();
    (r, now)
}

#[sqlx::test(migrations = false)]
async fn a_0_1_change_of_credentials_fails_a_swap_read_before_it(pool: sqlx::PgPool) {
    let store = PgStore::new(pool.clone());
    let (r, now) = session_in(&store).await;
    let storage = store.storage();

    // A rotation by 0.1 between the read and the swap.
    let read = storage.load(&Lookup::Id(r.id)).await.unwrap().unwrap();
    let pending = [2u8; 32];
    sqlx::query(BEGIN_ROTATION_0_1)
        .bind(r.id)
        .bind(read.record.rotated_at)
        .bind(now + Duration::from_secs(1))
        .bind(&pending[..])
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(epoch(&pool, r.id).await, read.epoch as i64 + 1);
    let swapped = storage
        .swap_credentials(r.id, read.epoch, &read.credentials, None)
        .await
        .unwrap();
    assert!(!swapped, "the swap landed over 0.1's rotation");
    let kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM axum_user_sessions.tokens WHERE token_hash = $1")
            .bind(&pending[..])
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(kept, 1, "the pending token 0.1 sent is gone");

    // A remember-me credential by 0.1, likewise.
    let read = storage.load(&Lookup::Id(r.id)).await.unwrap().unwrap();
    sqlx::query(REMEMBER_0_1)
        .bind(r.id)
        .bind(&[7u8; 16][..])
        .bind(&[8u8; 32][..])
        .bind(now + Duration::from_secs(86_400))
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
    let swapped = storage
        .swap_credentials(r.id, read.epoch, &read.credentials, None)
        .await
        .unwrap();
    assert!(!swapped, "the swap landed over 0.1's remember-me");

    // A touch or a data write moves no epoch.
    let before = epoch(&pool, r.id).await;
    sqlx::query(
        "UPDATE axum_user_sessions.sessions
            SET last_seen_at = last_seen_at + interval '1 second',
                data = data || '{\"k\": 1}'
          WHERE id = $1",
    )
    .bind(r.id)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(epoch(&pool, r.id).await, before);
}

/// The same on SQLite: a change of `rotated_at` by plain SQL (as 0.1's
/// rotation makes it) fails a swap read before it; a touch moves no epoch.
#[tokio::test]
async fn sqlite_a_0_1_change_of_credentials_fails_a_swap_read_before_it() {
    use axum_user_sessions::SqliteStore;
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    let store = SqliteStore::new(pool.clone());
    let (r, _) = session_in(&store).await;
    let storage = store.storage();
    let epoch = async || -> i64 {
        sqlx::query_scalar("SELECT cred_epoch FROM aus_sessions")
            .fetch_one(&pool)
            .await
            .unwrap()
    };

    let read = storage.load(&Lookup::Id(r.id)).await.unwrap().unwrap();
    sqlx::query("UPDATE aus_sessions SET rotated_at = rotated_at + 1000")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(epoch().await, read.epoch as i64 + 1);
    let swapped = storage
        .swap_credentials(r.id, read.epoch, &read.credentials, None)
        .await
        .unwrap();
    assert!(!swapped, "the swap landed over 0.1's rotation");

    let before = epoch().await;
    sqlx::query("UPDATE aus_sessions SET last_seen_at = last_seen_at + 1000")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(epoch().await, before, "a touch moved the epoch");
}
