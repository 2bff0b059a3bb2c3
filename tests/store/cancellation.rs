//! Store calls dropped in the middle (a client that disconnected, a
//! deadline) leave no transaction open and no lock held: the session's next
//! write is served, and no write that returned is lost. Every store; on
//! Postgres no backend of the test database stays `idle in transaction`, on
//! SQLite the write lock comes free.

use crate::common;

use axum_user_sessions::store::{
    DataPatch, Reissue, RememberCredential, Restore, SessionProtocol, SessionRecord, TokenHash,
    TokenState, Touch, ValidatorStep,
};
use axum_user_sessions::{CacheConfig, CachedStore, SqliteStore};
use common::{Backend, Kind, Rng};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

conformance!(cancelled_calls_leave_nothing_open);

/// The store's own deadline: a follow-up write that waits this long counts
/// as "hit the store timeout".
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

const ROUNDS: u32 = 200;

fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap()
}

/// A fresh hash for every call.
fn fresh(n: &mut u32) -> TokenHash {
    *n += 1;
    let mut b = [0x3C; 32];
    b[..4].copy_from_slice(&n.to_be_bytes());
    TokenHash::from_bytes(b)
}

/// The store under test on a small pool of its own (so that a connection
/// left in a transaction would be the next one handed out), and the pool
/// the test inspects the database with.
async fn small_store(b: &Backend) -> Arc<dyn SessionProtocol> {
    match b.kind {
        Kind::Postgres | Kind::PostgresCached | Kind::PgBouncer => {
            let opts = b.store_connect_options();
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(3)
                .acquire_timeout(STORE_TIMEOUT)
                .test_before_acquire(false)
                .connect_with(opts)
                .await
                .unwrap();
            let store = b.pg_store(pool);
            if b.kind == Kind::PostgresCached {
                let cached = CachedStore::new(store, CacheConfig::default());
                common::wait_listening(&cached).await;
                Arc::new(cached)
            } else {
                Arc::new(store)
            }
        }
        Kind::Sqlite => {
            let opts = (*b.sqlite.as_ref().unwrap().connect_options()).clone();
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(2)
                .acquire_timeout(STORE_TIMEOUT)
                .connect_with(opts)
                .await
                .unwrap();
            Arc::new(SqliteStore::new(pool))
        }
        Kind::Memory | Kind::Redis | Kind::RedisCluster => b.store.clone(),
    }
}

/// Waits until nothing is left open in the database: on Postgres, no
/// backend of the test database `idle in transaction`; on SQLite, the write
/// lock free. `false` if that did not happen within the bound.
async fn nothing_open(b: &Backend) -> bool {
    let limit = Duration::from_secs(10);
    if let Some(pg) = &b.pg {
        let pg = pg.clone();
        return common::eventually(limit, || {
            let pg = pg.clone();
            async move {
                let open: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity
                      WHERE datname = current_database()
                        AND state LIKE 'idle in transaction%'",
                )
                .fetch_one(&pg)
                .await
                .unwrap();
                (open == 0).then_some(())
            }
        })
        .await
        .is_some();
    }
    if let Some(lite) = &b.sqlite {
        let lite = lite.clone();
        return common::eventually(limit, || {
            let lite = lite.clone();
            async move {
                let tx = lite.begin_with("BEGIN IMMEDIATE").await.ok()?;
                tx.rollback().await.ok()
            }
        })
        .await
        .is_some();
    }
    true
}

/// Many times over, one transaction-bearing call (promote, reissue, restore,
/// set_remember) under a random small deadline, then: nothing is left open,
/// and the next write to the same session succeeds within the store's
/// deadline. Counts, not speeds.
async fn cancelled_calls_leave_nothing_open(b: Backend) {
    let s = small_store(&b).await;
    let s = s.as_ref();
    let mut rng = Rng::new(0xCA9C_E113);
    let mut n = 0;
    let t0 = now();
    let mut r = SessionRecord::new(Uuid::new_v4(), t0);
    r.user_id = Some("alice".into());
    r.absolute_expires_at = t0 + Duration::from_secs(24 * 3600);
    r.expires_at = r.absolute_expires_at;
    let selector = [9; 16];
    s.create(&r, &fresh(&mut n)).await.unwrap();
    let first = RememberCredential::new(selector, fresh(&mut n), r.absolute_expires_at);
    assert!(
        s.set_remember(r.id, Some(&first), r.absolute_expires_at, t0)
            .await
            .unwrap()
    );
    let names = ["promote", "reissue", "restore", "set_remember"];
    let mut cancelled = BTreeMap::<&str, u32>::new();
    let mut completed = BTreeMap::<&str, u32>::new();
    let mut applied_anyway = 0;
    let mut follow_up = BTreeMap::<&str, u32>::new();
    for round in 0..ROUNDS {
        let op = names[(rng.next() % 4) as usize];
        let at = now();
        let token = fresh(&mut n);
        let outcome = match op {
            "promote" => {
                let current = within(s.get(r.id)).await.unwrap().rotated_at;
                within(s.begin_rotation(r.id, current, &token, at)).await;
                cut(&mut rng, s.promote(r.id, &token, at))
                    .await
                    .map(|r| r.map(|()| true))
            }
            "reissue" => {
                let re = Reissue::new(Some("alice".into()), at);
                cut(&mut rng, s.reissue(r.id, &token, &re)).await
            }
            "restore" => {
                let found = within(s.find_remember(&selector)).await.unwrap();
                let next = fresh(&mut n);
                let touch = Touch::new(at, at + Duration::from_secs(1800));
                let step = ValidatorStep::Issue {
                    presented: found.validator,
                    next,
                    stale_before: at,
                };
                let end = at + Duration::from_secs(3600);
                let restore = Restore::new(token, end, step, at, touch);
                cut(&mut rng, s.restore_remembered(r.id, &restore)).await
            }
            _ => {
                let c = RememberCredential::new(selector, token, r.absolute_expires_at);
                cut(
                    &mut rng,
                    s.set_remember(r.id, Some(&c), r.absolute_expires_at, at),
                )
                .await
            }
        };
        let was_cancelled = outcome.is_err();
        match outcome {
            Err(_) => {
                *cancelled.entry(op).or_default() += 1;
                assert!(
                    nothing_open(&b).await,
                    "round {round}: a cancelled {op} left a transaction open"
                );
            }
            Ok(Ok(true)) => *completed.entry(op).or_default() += 1,
            // The validator was replaced between our read and the restore by
            // an earlier cut call that still ran to its end: its
            // compare-and-set lost, as it would to a concurrent request.
            Ok(Ok(false)) if op == "restore" => {
                *completed.entry("restore (lost CAS)").or_default() += 1
            }
            Ok(done) => panic!("round {round}: {op} answered {done:?}"),
        }
        // The next write to the same session is served within the deadline.
        let mut patch = DataPatch::default();
        patch.set.insert("round".into(), round.into());
        let res = tokio::time::timeout(STORE_TIMEOUT, s.patch_data(r.id, &patch)).await;
        let what = match res {
            Ok(Ok(Some(_))) => "ok",
            Ok(Ok(None)) => "session gone",
            Ok(Err(_)) => "error",
            Err(_) => "store timeout",
        };
        *follow_up.entry(what).or_default() += 1;
        if was_cancelled
            && matches!(op, "promote" | "reissue")
            && within(s.load(None, &token, &never_due(at)))
                .await
                .map(|l| l.token)
                == Some(TokenState::Current)
        {
            applied_anyway += 1;
        }
    }
    assert!(nothing_open(&b).await, "a transaction was left open");
    let data = within(s.get(r.id)).await.unwrap().data;
    println!(
        "{:?}: {ROUNDS} rounds; cancelled {cancelled:?} (of which promote/reissue applied \
         anyway: {applied_anyway}); completed {completed:?}; next write {follow_up:?}",
        b.kind
    );
    assert_eq!(follow_up.get("ok"), Some(&ROUNDS), "{follow_up:?}");
    assert_eq!(data["round"], ROUNDS - 1, "an acknowledged write was lost");
    if b.kind != Kind::Memory {
        // The memory store never suspends: there is nothing to cut.
        let total: u32 = cancelled.values().sum();
        assert!(total > 0, "no call was cancelled");
    }
}

/// Runs `fut` until it has been suspended `budget` times, and drops it at
/// that suspension point (`None`): every await point of a call can be cut,
/// whatever the machine's speed.
async fn cut_after<F: std::future::Future>(budget: u32, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut left = budget;
    std::future::poll_fn(move |cx| match fut.as_mut().poll(cx) {
        std::task::Poll::Ready(v) => std::task::Poll::Ready(Some(v)),
        std::task::Poll::Pending if left == 0 => std::task::Poll::Ready(None),
        std::task::Poll::Pending => {
            left -= 1;
            std::task::Poll::Pending
        }
    })
    .await
}

/// A call's future dropped either at a random small deadline or at a random
/// suspension point: `Err(())` when it was cut.
async fn cut<F: std::future::Future>(rng: &mut Rng, fut: F) -> Result<F::Output, ()> {
    if rng.chance(0.5) {
        let deadline = Duration::from_micros(rng.next() % 3_000);
        tokio::time::timeout(deadline, fut).await.map_err(|_| ())
    } else {
        let budget = (rng.next() % 8) as u32;
        cut_after(budget, fut).await.ok_or(())
    }
}

/// A setup or check call, which must answer within twice the store's
/// deadline: a lock left held fails the test instead of hanging it.
async fn within<T>(
    call: impl std::future::Future<Output = Result<T, axum_user_sessions::store::Error>>,
) -> T {
    tokio::time::timeout(2 * STORE_TIMEOUT, call)
        .await
        .expect("a store call did not answer: a lock left held?")
        .unwrap()
}

fn never_due(now: OffsetDateTime) -> Touch {
    let mut t = Touch::new(now, now + Duration::from_secs(1800));
    t.stale_before = now - Duration::from_secs(3600);
    t
}

/// A revocation cut off while SQLite's write lock is held elsewhere still
/// lands once the lock is free (SQLite's worker runs the statement to its
/// end). A cached load between the cut and the landing read the session
/// live; once it landed, the cache of this process drops that copy: the
/// next load is revoked, not served live until the time to live.
#[tokio::test]
async fn a_cut_revocation_that_lands_later_reaches_the_cache() {
    use axum_user_sessions::store::{Revocation, RevokeReason, RevokeScope, RevokedBy};
    let b = Backend::sqlite().await;
    let pool = b.sqlite.clone().unwrap();
    let cache = CachedStore::new(SqliteStore::new(pool.clone()), CacheConfig::default());
    let t0 = now();
    let mut record = SessionRecord::new(Uuid::new_v4(), t0);
    record.user_id = Some("cut".into());
    (record.expires_at, record.absolute_expires_at) = (
        t0 + Duration::from_secs(1800),
        t0 + Duration::from_secs(3600),
    );
    let (id, token) = (record.id, TokenHash::from_bytes([0x5A; 32]));
    within(cache.create(&record, &token)).await;
    let load = || async {
        let loaded = cache.load(None, &token, &never_due(now())).await.unwrap();
        loaded.expect("the session is there")
    };
    assert!(load().await.record.revoked_at.is_none());

    let held = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
    let how = Revocation::new(RevokeReason::User, RevokedBy::user("cut"), now());
    let scope = RevokeScope::Session { id, owner: None };
    // Well within SQLite's busy timeout (5 s), and long enough for the
    // statement to reach SQLite on a loaded machine.
    let cut = tokio::time::timeout(Duration::from_secs(1), cache.revoke(&scope, &how)).await;
    assert!(cut.is_err(), "the revocation waits for the write lock");
    assert!(load().await.record.revoked_at.is_none(), "not landed yet");
    held.rollback().await.unwrap();

    let landed = common::eventually(Duration::from_secs(10), || async {
        let at: Option<i64> =
            sqlx::query_scalar("SELECT revoked_at FROM aus_sessions WHERE id = ?")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap();
        at.map(drop)
    });
    assert!(landed.await.is_some(), "the cut revocation landed");
    let served = common::eventually(Duration::from_secs(10), || async {
        load().await.record.revoked_at.map(drop)
    });
    assert!(served.await.is_some(), "the cache served the session live");
}
