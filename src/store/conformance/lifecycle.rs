//! Revocation by scope, statistics and garbage collection.

use super::support::*;

/// Revocation by scope records who and why: the owner check of one
/// session, a user's sessions but one, everyone; revoked rows leave the
/// user's list.
pub async fn revocations_record_who_and_why(store: Arc<dyn SessionProtocol>) {
    let s = store.as_ref();
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

/// Statistics count live sessions and users (an idle remembered session
/// is live), and garbage collection takes expired rows at once and revoked
/// ones after the retention horizon, with their tokens.
pub async fn stats_and_gc(store: Arc<dyn SessionProtocol>) {
    let s = store.as_ref();
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
        state(s, idle.id, &hash(4), t0).await.is_none(),
        "tokens outlived their session"
    );
    let after = t0 + Duration::from_secs(1);
    assert_eq!(s.gc_batch(t0, after, 100).await.unwrap(), 1);
    assert!(s.get(revoked.id).await.unwrap().is_none());
    assert!(s.get(remembered.id).await.unwrap().is_some());
    assert_eq!(s.gc_batch(t0, after, 100).await.unwrap(), 0);
    assert!(
        state(s, live.id, &hash(1), t0).await.is_some(),
        "gc took a live session"
    );
}

/// Garbage collection deletes at most its batch size per call.
pub async fn gc_batches_are_bounded(store: Arc<dyn SessionProtocol>) {
    let s = store.as_ref();
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

/// A revocation from an instance whose clock runs ahead still ends a
/// session that an instance with a slower clock serves: one whose idle end
/// came less than [`Revocation::CLOCK_ALLOWANCE`] before the revocation's
/// instant is revoked, for every scope, and the slower instance's next
/// load finds it revoked and touches nothing. A session that ended before
/// the allowance keeps its end as it was.
pub async fn a_revocation_reaches_what_a_slower_clock_still_serves(
    store: Arc<dyn SessionProtocol>,
) {
    let s = store.as_ref();
    // The slower instance's "now", and the revoker's, 60 s ahead.
    let slow = now();
    let ahead = slow + Duration::from_secs(60);
    let allowance = Duration::try_from(Revocation::CLOCK_ALLOWANCE).unwrap();
    // Idle-ended 30 s before the revocation's instant: live at `slow`.
    let serving = |user| {
        record(
            slow - Duration::from_secs(1770),
            user,
            Duration::from_secs(1800),
        )
    };
    let (one, user, every) = (
        serving(Some("erin")),
        serving(Some("erin")),
        serving(Some("finn")),
    );
    // Idle-ended well before the allowance: ended, and left so.
    let long = slow - allowance - Duration::from_secs(600);
    let ended = record(long, Some("erin"), Duration::from_secs(60));
    for (i, r) in [&one, &user, &every, &ended].into_iter().enumerate() {
        s.create(r, &hash(i as u8 + 1)).await.unwrap();
        assert!(r.is_live(slow) == (i < 3) && !r.is_live(ahead));
    }
    let how = Revocation::new(RevokeReason::User, RevokedBy::user("erin"), ahead);
    let revoked = [
        s.revoke(&RevokeScope::session(one.id), &how).await.unwrap(),
        s.revoke(
            &RevokeScope::User {
                user_id: "erin",
                keep: None,
            },
            &how,
        )
        .await
        .unwrap(),
        s.revoke(&RevokeScope::Everyone, &how).await.unwrap(),
    ];
    assert_eq!(revoked, [1, 1, 1], "one session, the user's other, finn's");
    for (i, r) in [&one, &user, &every].into_iter().enumerate() {
        let row = s.get(r.id).await.unwrap().unwrap();
        assert_eq!(row.revoked_at, Some(ahead), "session {i}");
        let due = Touch::new(slow, slow + Duration::from_secs(1800)).with_stale_before(slow);
        let loaded = s.load(Some(r.id), &hash(i as u8 + 1), &due).await.unwrap();
        assert!(
            loaded.is_none_or(|l| l.record.revoked_at.is_some()),
            "session {i} is served after its revocation"
        );
        assert_eq!(
            s.get(r.id).await.unwrap().unwrap(),
            row,
            "session {i} was touched"
        );
    }
    let kept = s.get(ended.id).await.unwrap().unwrap();
    assert_eq!(
        kept.revoked_at, None,
        "a session long ended is left as it was"
    );
    assert_eq!(kept.ended_at(), long + Duration::from_secs(60));
}
