//! The `SessionStore` contract, called directly, on every store: the same
//! calls must give the same answers on Postgres, SQLite and memory.

use crate::common;

use axum_user_sessions::store::{
    DataPatch, Reissue, Revocation, RevokeReason, RevokedBy, SessionRecord, SessionStore,
    TokenState, Touch,
};
use axum_user_sessions::store::{RevokeScope, TokenHash};
use common::Backend;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

conformance!(
    promotion_keeps_newer_pending_tokens,
    at_most_two_pending_tokens,
    sign_in_retires_every_token,
    update_only_writes_never_resurrect,
    every_change_counts_a_version,
    revocations_record_who_and_why,
    stats_and_gc,
    gc_batches_are_bounded,
    update_value_is_a_compare_and_set,
);

fn hash(n: u8) -> TokenHash {
    TokenHash::from_bytes([n; 32])
}

fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap()
}

fn record(now: OffsetDateTime, user: Option<&str>, idle: Duration) -> SessionRecord {
    let mut r = SessionRecord::new(Uuid::new_v4(), now);
    r.user_id = user.map(str::to_owned);
    r.absolute_expires_at = now + Duration::from_secs(3600);
    r.expires_at = now + idle;
    r
}

fn touch(now: OffsetDateTime) -> Touch {
    // Never due: these tests look at token states, not activity.
    let mut t = Touch::new(now, now + Duration::from_secs(1800));
    t.stale_before = now - Duration::from_secs(3600);
    t
}

async fn state(
    store: &dyn SessionStore, token: &TokenHash, now: OffsetDateTime,
) -> Option<TokenState> {
    store
        .load(token, &touch(now))
        .await
        .unwrap()
        .map(|l| l.token)
}

async fn promotion_keeps_newer_pending_tokens(b: Backend) {
    let s = b.store.as_ref();
    let t0 = now();
    let r = record(t0, Some("alice"), Duration::from_secs(1800));
    s.create(&r, &hash(1)).await.unwrap();
    // P2 issued, lost; P3 issued later; then P2 arrives late and is used.
    let t1 = t0 + Duration::from_secs(10);
    assert!(
        s.begin_rotation(r.id, r.rotated_at, &hash(2), t1)
            .await
            .unwrap()
    );
    let t2 = t0 + Duration::from_secs(50);
    assert!(s.begin_rotation(r.id, t1, &hash(3), t2).await.unwrap());
    assert!(
        !s.begin_rotation(r.id, t1, &hash(9), t2).await.unwrap(),
        "compare-and-set let two win"
    );
    let t3 = t0 + Duration::from_secs(60);
    s.promote(r.id, &hash(2), t3).await.unwrap();
    assert_eq!(state(s, &hash(2), t3).await, Some(TokenState::Current));
    assert_eq!(
        state(s, &hash(1), t3).await,
        Some(TokenState::Superseded { at: t3 })
    );
    assert_eq!(
        state(s, &hash(3), t3).await,
        Some(TokenState::Pending),
        "a newer pending token was superseded"
    );
    // Promoting it later supersedes the one before.
    let t4 = t0 + Duration::from_secs(70);
    s.promote(r.id, &hash(3), t4).await.unwrap();
    assert_eq!(state(s, &hash(3), t4).await, Some(TokenState::Current));
    assert_eq!(
        state(s, &hash(2), t4).await,
        Some(TokenState::Superseded { at: t4 })
    );
    // Idempotent.
    s.promote(r.id, &hash(3), t4 + Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(state(s, &hash(3), t4).await, Some(TokenState::Current));
}

async fn at_most_two_pending_tokens(b: Backend) {
    let s = b.store.as_ref();
    let t0 = now();
    let r = record(t0, None, Duration::from_secs(1800));
    s.create(&r, &hash(1)).await.unwrap();
    let mut seen = r.rotated_at;
    for i in 0..5u8 {
        let at = t0 + Duration::from_secs(10 * (u64::from(i) + 1));
        assert!(
            s.begin_rotation(r.id, seen, &hash(10 + i), at)
                .await
                .unwrap()
        );
        seen = at;
    }
    let at = t0 + Duration::from_secs(100);
    let mut pending = 0;
    for i in 0..5u8 {
        if state(s, &hash(10 + i), at).await == Some(TokenState::Pending) {
            pending += 1;
        }
    }
    assert_eq!(
        pending, 2,
        "a client that ignores Set-Cookie grows the token table"
    );
    assert_eq!(state(s, &hash(14), at).await, Some(TokenState::Pending));
    assert_eq!(state(s, &hash(13), at).await, Some(TokenState::Pending));
    assert_eq!(state(s, &hash(1), at).await, Some(TokenState::Current));
}

async fn sign_in_retires_every_token(b: Backend) {
    let s = b.store.as_ref();
    let t0 = now();
    let r = record(t0, None, Duration::from_secs(1800));
    s.create(&r, &hash(1)).await.unwrap();
    assert!(
        s.begin_rotation(r.id, r.rotated_at, &hash(2), t0)
            .await
            .unwrap()
    );
    let t1 = t0 + Duration::from_secs(1);
    let mut re = Reissue::new(Some("alice".into()), t1);
    re.authenticated_at = Some(t1);
    assert!(s.reissue(r.id, &hash(3), &re).await.unwrap());
    assert_eq!(
        state(s, &hash(1), t1).await,
        Some(TokenState::Retired { at: t1 })
    );
    assert_eq!(
        state(s, &hash(2), t1).await,
        Some(TokenState::Retired { at: t1 }),
        "pending token survived sign-in"
    );
    let l = s.load(&hash(3), &touch(t1)).await.unwrap().unwrap();
    assert_eq!(l.token, TokenState::Current);
    assert_eq!(l.record.user_id.as_deref(), Some("alice"));
    assert_eq!(l.record.authenticated_at, Some(t1));
    assert!(!l.has_pending);
}

/// Each change of a session row counts one version, the same on every store;
/// token bookkeeping alone does not.
async fn every_change_counts_a_version(b: Backend) {
    let s = b.store.as_ref();
    let t0 = now();
    let r = record(t0, Some("alice"), Duration::from_secs(1800));
    s.create(&r, &hash(1)).await.unwrap();
    let version = async |token: u8, touch: Touch| {
        let l = s.load(&hash(token), &touch).await.unwrap().unwrap();
        let got = s.get(l.record.id).await.unwrap().unwrap();
        assert_eq!(got.version, l.record.version, "get and load disagree");
        l.record.version
    };
    assert_eq!(version(1, touch(t0)).await, 0, "a new row");
    let mut patch = DataPatch::default();
    patch.set.insert("k".into(), serde_json::json!(1));
    assert_eq!(s.patch_data(r.id, &patch).await.unwrap(), Some(1));
    assert_eq!(s.patch_data(r.id, &patch).await.unwrap(), Some(2));
    assert_eq!(version(1, touch(t0)).await, 2, "a load that does not touch");
    let t1 = t0 + Duration::from_secs(1);
    let due = Touch::new(t1, t1 + Duration::from_secs(1800));
    assert_eq!(version(1, due).await, 3, "the touch");
    assert!(
        s.begin_rotation(r.id, r.rotated_at, &hash(2), t1)
            .await
            .unwrap()
    );
    assert_eq!(version(1, touch(t1)).await, 4, "a rotation");
    s.promote(r.id, &hash(2), t1).await.unwrap();
    assert_eq!(version(2, touch(t1)).await, 4, "a promotion (tokens only)");
    let re = Reissue::new(Some("alice".into()), t1);
    assert!(s.reissue(r.id, &hash(3), &re).await.unwrap());
    assert_eq!(version(3, touch(t1)).await, 5, "a sign-in");
    let listed = s.list_user("alice", t1).await.unwrap();
    assert_eq!(listed.iter().map(|r| r.version).collect::<Vec<_>>(), [5]);
    let how = Revocation::new(RevokeReason::other("test"), RevokedBy::System, t1);
    assert_eq!(
        s.revoke(&RevokeScope::session(r.id), &how).await.unwrap(),
        1
    );
    assert_eq!(version(3, touch(t1)).await, 6, "a revocation");
}

async fn update_only_writes_never_resurrect(b: Backend) {
    let s = b.store.as_ref();
    let t0 = now();
    let r = record(t0, Some("alice"), Duration::from_secs(1800));
    s.create(&r, &hash(1)).await.unwrap();
    let mut patch = DataPatch::default();
    patch.set.insert("k".into(), serde_json::json!(1));
    assert_eq!(s.patch_data(r.id, &patch).await.unwrap(), Some(1));
    assert!(s.delete(r.id).await.unwrap());
    assert_eq!(s.patch_data(r.id, &patch).await.unwrap(), None);
    assert!(
        !s.reissue(r.id, &hash(2), &Reissue::new(None, t0))
            .await
            .unwrap()
    );
    assert!(
        !s.begin_rotation(r.id, r.rotated_at, &hash(3), t0)
            .await
            .unwrap()
    );
    assert!(
        s.get(r.id).await.unwrap().is_none(),
        "a write brought the session back"
    );
    assert!(s.load(&hash(1), &touch(t0)).await.unwrap().is_none());
    // Revoked rows refuse writes too.
    let r2 = record(t0, Some("alice"), Duration::from_secs(1800));
    s.create(&r2, &hash(4)).await.unwrap();
    assert_eq!(
        s.revoke(
            &RevokeScope::session(r2.id),
            &Revocation::new(RevokeReason::other("test"), RevokedBy::System, t0)
        )
        .await
        .unwrap(),
        1
    );
    assert_eq!(s.patch_data(r2.id, &patch).await.unwrap(), None);
    assert_eq!(
        s.revoke(
            &RevokeScope::session(r2.id),
            &Revocation::new(RevokeReason::other("test"), RevokedBy::System, t0)
        )
        .await
        .unwrap(),
        0,
        "a revoked session is not revoked again"
    );
}

async fn revocations_record_who_and_why(b: Backend) {
    let s = b.store.as_ref();
    let t0 = now();
    let a1 = record(t0, Some("alice"), Duration::from_secs(1800));
    let a2 = record(t0, Some("alice"), Duration::from_secs(1800));
    let bob = record(t0, Some("bob"), Duration::from_secs(1800));
    let anon = record(t0, None, Duration::from_secs(1800));
    for (i, r) in [&a1, &a2, &bob, &anon].into_iter().enumerate() {
        s.create(r, &hash(i as u8 + 1)).await.unwrap();
    }
    // Owner check.
    let how = Revocation::new(RevokeReason::User, RevokedBy::user("bob"), t0);
    assert_eq!(
        s.revoke(
            &RevokeScope::Session {
                id: a1.id,
                owner: Some("bob")
            },
            &how
        )
        .await
        .unwrap(),
        0
    );
    let how = Revocation::new(RevokeReason::PasswordChange, RevokedBy::user("alice"), t0);
    assert_eq!(
        s.revoke(
            &RevokeScope::User {
                user_id: "alice",
                keep: Some(a1.id)
            },
            &how
        )
        .await
        .unwrap(),
        1
    );
    let gone = s.get(a2.id).await.unwrap().unwrap();
    assert_eq!(gone.revoked_at, Some(t0));
    assert_eq!(gone.revoke_reason.as_deref(), Some("password_change"));
    assert_eq!(gone.revoked_by.as_deref(), Some("alice"));
    let left = s.list_user("alice", t0).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, a1.id);
    let how = Revocation::new(
        RevokeReason::other("incident"),
        RevokedBy::operator("admin:carol"),
        t0,
    );
    assert_eq!(
        s.revoke(&RevokeScope::Everyone, &how).await.unwrap(),
        3,
        "alice's last, bob's, the anonymous one"
    );
    assert_eq!(
        s.get(bob.id).await.unwrap().unwrap().revoked_by.as_deref(),
        Some("admin:carol")
    );
    assert!(s.list_user("bob", t0).await.unwrap().is_empty());
}

async fn stats_and_gc(b: Backend) {
    let s = b.store.as_ref();
    let t0 = now();
    let live = record(t0, Some("alice"), Duration::from_secs(1800));
    let live2 = record(t0, Some("alice"), Duration::from_secs(1800));
    let anon = record(t0, None, Duration::from_secs(1800));
    let mut idle = record(
        t0 - Duration::from_secs(100),
        Some("bob"),
        Duration::from_secs(10),
    );
    idle.rotated_at = t0;
    let mut remembered = record(
        t0 - Duration::from_secs(100),
        Some("carol"),
        Duration::from_secs(10),
    );
    remembered.persistent = true; // idle, but kept alive by remember-me
    let revoked = record(t0, Some("dave"), Duration::from_secs(1800));
    for (i, r) in [&live, &live2, &anon, &idle, &remembered, &revoked]
        .into_iter()
        .enumerate()
    {
        s.create(r, &hash(i as u8 + 1)).await.unwrap();
    }
    s.revoke(
        &RevokeScope::session(revoked.id),
        &Revocation::new(RevokeReason::User, RevokedBy::user("dave"), t0),
    )
    .await
    .unwrap();
    let horizon_before = t0 - Duration::from_secs(60);
    let st = s.stats(t0, horizon_before).await.unwrap();
    assert_eq!(
        (st.active_sessions, st.active_users, st.collectable),
        (4, 2, 1),
        "{st:?}"
    );
    // The revoked row is kept for audit until the retention horizon passes it.
    assert_eq!(s.gc_batch(t0, horizon_before, 100).await.unwrap(), 1);
    assert!(s.get(idle.id).await.unwrap().is_none());
    assert!(s.get(revoked.id).await.unwrap().is_some());
    assert!(
        s.load(&hash(4), &touch(t0)).await.unwrap().is_none(),
        "tokens outlived their session"
    );
    let after = t0 + Duration::from_secs(1);
    assert_eq!(s.gc_batch(t0, after, 100).await.unwrap(), 1);
    assert!(s.get(revoked.id).await.unwrap().is_none());
    assert!(s.get(remembered.id).await.unwrap().is_some());
    assert_eq!(s.gc_batch(t0, after, 100).await.unwrap(), 0);
    assert!(
        s.load(&hash(1), &touch(t0)).await.unwrap().is_some(),
        "gc took a live session"
    );
}

async fn gc_batches_are_bounded(b: Backend) {
    let s = b.store.as_ref();
    let t0 = now();
    for i in 0..25u8 {
        let r = record(t0 - Duration::from_secs(100), None, Duration::from_secs(1));
        s.create(&r, &hash(i + 1)).await.unwrap();
    }
    assert_eq!(s.gc_batch(t0, t0, 10).await.unwrap(), 10);
    assert_eq!(s.gc_batch(t0, t0, 10).await.unwrap(), 10);
    assert_eq!(s.gc_batch(t0, t0, 10).await.unwrap(), 5);
    assert_eq!(s.gc_batch(t0, t0, 10).await.unwrap(), 0);
}

async fn update_value_is_a_compare_and_set(b: Backend) {
    use axum_user_sessions::store::UpdateOutcome::{Conflict, Gone, Updated};
    use serde_json::json;
    let s = b.store.as_ref();
    let t0 = now();
    let mut r = record(t0, Some("alice"), Duration::from_secs(1800));
    r.data.insert("n".into(), json!(1));
    r.data.insert("other".into(), json!({"kept": true}));
    s.create(&r, &hash(1)).await.unwrap();
    let data = async || s.get(r.id).await.unwrap().unwrap().data;
    // A write says the row's version after it: the one before, plus one.
    let next = async || Updated {
        version: s.get(r.id).await.unwrap().unwrap().version + 1,
    };
    // Each call, whatever its outcome, is one round-trip.
    let cas =
        async |key: &str, expected: Option<serde_json::Value>, new: Option<serde_json::Value>| {
            let before = b.round_trips();
            let outcome = s
                .update_value(r.id, key, expected.as_ref(), new.as_ref())
                .await
                .unwrap();
            assert_eq!(b.round_trips() - before, 1, "{key}: {outcome:?}");
            outcome
        };

    let want = next().await;
    assert_eq!(cas("n", Some(json!(1)), Some(json!(2))).await, want);
    // A stale expectation writes nothing and says what is there now.
    assert_eq!(
        cas("n", Some(json!(1)), Some(json!(3))).await,
        Conflict {
            current: Some(json!(2))
        }
    );
    assert_eq!(
        cas("n", None, Some(json!(3))).await,
        Conflict {
            current: Some(json!(2))
        },
        "a present key is not absent"
    );
    assert_eq!(data().await["n"], json!(2));
    // Retried with what is there: written.
    let want = next().await;
    assert_eq!(cas("n", Some(json!(2)), Some(json!(3))).await, want);
    // Removing, and setting an absent key.
    let want = next().await;
    assert_eq!(cas("n", Some(json!(3)), None).await, want);
    assert!(!data().await.contains_key("n"));
    assert_eq!(
        cas("n", Some(json!(3)), None).await,
        Conflict { current: None }
    );
    let want = next().await;
    assert_eq!(cas("n", None, Some(json!(null))).await, want);
    // JSON null is a value, not an absent key.
    assert_eq!(
        cas("n", None, Some(json!(5))).await,
        Conflict {
            current: Some(json!(null))
        }
    );
    let nested = json!({"a": [1, {"b": "c"}], "z": 1.5});
    let want = next().await;
    assert_eq!(
        cas("n", Some(json!(null)), Some(nested.clone())).await,
        want
    );
    let want = next().await;
    assert_eq!(cas("n", Some(nested.clone()), Some(json!("x"))).await, want);
    let mut expected = serde_json::Map::new();
    expected.insert("n".into(), json!("x"));
    expected.insert("other".into(), json!({"kept": true}));
    assert_eq!(data().await, expected, "other keys are left alone");

    // A revoked session is not written, nor brought back.
    let how = Revocation::system(RevokeReason::User, t0);
    assert_eq!(
        s.revoke(&RevokeScope::session(r.id), &how).await.unwrap(),
        1
    );
    assert_eq!(cas("n", Some(json!("x")), Some(json!("y"))).await, Gone);
    let after = s.get(r.id).await.unwrap().unwrap();
    // The revocation cleared the data; the late write put nothing back.
    assert!(after.data.is_empty(), "{:?}", after.data);
    assert!(after.revoked_at.is_some());
    // Nor is a deleted one, or one that never was.
    let gone = record(t0, None, Duration::from_secs(1800));
    s.create(&gone, &hash(2)).await.unwrap();
    assert!(s.delete(gone.id).await.unwrap());
    for id in [gone.id, Uuid::new_v4()] {
        assert_eq!(
            s.update_value(id, "n", None, Some(&json!(1)))
                .await
                .unwrap(),
            Gone
        );
        assert!(s.get(id).await.unwrap().is_none());
    }
}
