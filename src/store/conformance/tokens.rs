//! Token states: two-phase rotation, the bound on pending tokens, sign-in.

use super::support::*;

/// Asserts the state, at `at`, of each token `(n, state)` of session `id`
/// (`hash(n)`).
async fn assert_states(
    store: &dyn SessionProtocol, id: Uuid, at: OffsetDateTime, expected: &[(u8, TokenState)],
) {
    for &(n, want) in expected {
        assert_eq!(
            state(store, id, &hash(n), at).await,
            Some(want),
            "token {n}"
        );
    }
}

/// Two-phase rotation: one compare-and-set wins; promoting a late pending
/// token supersedes the current one and keeps newer pending ones;
/// promotion is idempotent.
pub async fn promotion_keeps_newer_pending_tokens(store: Arc<dyn SessionProtocol>) {
    let s = store.as_ref();
    let t0 = now();
    let r = created(s, t0, Some("alice"), Duration::from_secs(1800)).await;
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
    // The newer pending token stays pending.
    let superseded = TokenState::Superseded { at: t3 };
    let expected = [
        (2, TokenState::Current),
        (1, superseded),
        (3, TokenState::Pending),
    ];
    assert_states(s, r.id, t3, &expected).await;
    // Promoting it later supersedes the one before.
    let t4 = t0 + Duration::from_secs(70);
    s.promote(r.id, &hash(3), t4).await.unwrap();
    let superseded = TokenState::Superseded { at: t4 };
    assert_states(s, r.id, t4, &[(3, TokenState::Current), (2, superseded)]).await;
    // Idempotent.
    s.promote(r.id, &hash(3), t4 + Duration::from_secs(1))
        .await
        .unwrap();
    assert_states(s, r.id, t4, &[(3, TokenState::Current)]).await;
}

/// A client that never takes its new cookie leaves at most two pending
/// tokens: the two newest.
pub async fn at_most_two_pending_tokens(store: Arc<dyn SessionProtocol>) {
    let s = store.as_ref();
    let t0 = now();
    let r = created(s, t0, None, Duration::from_secs(1800)).await;
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
        if state(s, r.id, &hash(10 + i), at).await == Some(TokenState::Pending) {
            pending += 1;
        }
    }
    assert_eq!(
        pending, 2,
        "a client that ignores Set-Cookie grows the token table"
    );
    let expected = [
        (14, TokenState::Pending),
        (13, TokenState::Pending),
        (1, TokenState::Current),
    ];
    assert_states(s, r.id, at, &expected).await;
}

/// A sign-in retires every token (pending ones too) and records the user
/// and the time of the sign-in; no rotation begins on the id it left.
pub async fn sign_in_retires_every_token(store: Arc<dyn SessionProtocol>) {
    let s = store.as_ref();
    let t0 = now();
    let r = created(s, t0, None, Duration::from_secs(1800)).await;
    assert!(
        s.begin_rotation(r.id, r.rotated_at, &hash(2), t0)
            .await
            .unwrap()
    );
    let t1 = t0 + Duration::from_secs(1);
    let mut re = Reissue::new(Some("alice".into()), t1);
    re.authenticated_at = Some(t1);
    // As the layer signs in: to a new id of the user's placement.
    let new_id = crate::store::placement::session_id(Some("alice"));
    re.new_id = Some(new_id);
    assert!(s.reissue(r.id, &hash(3), &re).await.unwrap());
    // The pending token too.
    let retired = TokenState::Retired { at: t1 };
    assert_states(s, r.id, t1, &[(1, retired), (2, retired)]).await;
    // A request that read the old id before the sign-in and finds its
    // rotation due begins none there: its token would end with the row.
    assert!(
        !s.begin_rotation(r.id, t0, &hash(4), t1).await.unwrap(),
        "a rotation began on the id a sign-in moved from"
    );
    // Nor does its data write land there, where no cookie reaches it: it
    // is refused, so that its request is not told it was saved.
    let old = s.get(r.id).await.unwrap().unwrap();
    let patch = DataPatch::of_key("late", Some(&serde_json::json!(1)));
    assert_eq!(
        s.patch_data(r.id, &patch).await.unwrap(),
        None,
        "a late write landed"
    );
    let set = s
        .update_value(r.id, "late", None, Some(&serde_json::json!(2)))
        .await;
    assert_eq!(set.unwrap(), crate::store::UpdateOutcome::Gone);
    assert_eq!(
        s.get(r.id).await.unwrap().unwrap(),
        old,
        "the moved-from row changed"
    );
    let l = s
        .load(Some(new_id), &hash(3), &touch(t1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(l.token, TokenState::Current);
    assert_eq!(l.record.user_id.as_deref(), Some("alice"));
    assert_eq!(l.record.authenticated_at, Some(t1));
    assert!(!l.has_pending);
}

/// A token is found only within the session a cookie names: another
/// session's id with it is no session, and nothing is touched; without an
/// id (a token of 0.1's form) a store that keeps such tokens finds it by
/// its hash, and one that does not answers no session.
pub async fn a_token_is_found_only_in_the_session_it_names(store: Arc<dyn SessionProtocol>) {
    let s = store.as_ref();
    let t0 = now();
    let a = record(t0, Some("alice"), Duration::from_secs(1800));
    let b = record(t0, Some("bob"), Duration::from_secs(1800));
    s.create(&a, &hash(1)).await.unwrap();
    s.create(&b, &hash(2)).await.unwrap();
    // Always due: whatever a load finds with it, it touches.
    let t1 = t0 + Duration::from_secs(120);
    let later = Touch::new(t1, t1 + Duration::from_secs(1800));
    let found = s.load(Some(a.id), &hash(1), &later).await.unwrap();
    assert_eq!(found.map(|l| l.record.id), Some(a.id));
    let b_before = s.get(b.id).await.unwrap().unwrap();
    assert!(
        s.load(Some(b.id), &hash(1), &later)
            .await
            .unwrap()
            .is_none(),
        "a token found in another session than the one named"
    );
    assert!(
        s.load(Some(b.id), &hash(9), &later)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.get(b.id).await.unwrap().unwrap(),
        b_before,
        "a wrong token touched"
    );
    if let Some(l) = s.load(None, &hash(2), &later).await.unwrap() {
        assert_eq!(l.record.id, b.id);
    }
}
