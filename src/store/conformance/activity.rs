//! What a load and a remember-me restore write: the touch when it is due
//! (and nothing else), the validator's two phases.

use super::support::*;
use crate::store::{RememberCredential, Restore, ValidatorStep};

/// A load touches only when the touch is due: the token is current, the
/// session live and on the token's channel, and last seen before the
/// interval. The touch moves `last_seen_at` to now and the idle deadline,
/// capped at the session's hard end, and counts one version. A pending
/// token, the other channel or a revoked session write nothing (a wrong
/// secret neither: `a_token_is_found_only_in_the_session_it_names`).
pub async fn a_touch_writes_only_when_due(store: Arc<dyn SessionProtocol>) {
    let s = store.as_ref();
    let t0 = now();
    let r = record(
        t0 - Duration::from_secs(120),
        Some("alice"),
        Duration::from_secs(1800),
    );
    s.create(&r, &hash(1)).await.unwrap();
    let get = || async { s.get(r.id).await.unwrap().unwrap() };
    let load = |n: u8, touch: Touch| async move {
        let loaded = s.load(Some(r.id), &hash(n), &touch).await.unwrap();
        loaded.map(|l| l.token)
    };
    let at = |t: OffsetDateTime, stale_before| {
        Touch::new(t, t + Duration::from_secs(1800)).with_stale_before(stale_before)
    };
    let before = get().await;
    let due = at(t0, t0 - Duration::from_secs(60));

    let quiet = at(t0, t0 - Duration::from_secs(300));
    assert_eq!(load(1, quiet).await, Some(TokenState::Current));
    assert_eq!(get().await, before, "not due: nothing written");
    let bearer = due.with_api_client(true);
    assert_eq!(load(1, bearer).await, Some(TokenState::Current));
    assert_eq!(
        get().await,
        before,
        "a browser's session on the API channel"
    );
    assert!(
        s.begin_rotation(r.id, r.rotated_at, &hash(2), t0)
            .await
            .unwrap()
    );
    let rotating = get().await;
    assert_eq!(load(2, due).await, Some(TokenState::Pending));
    assert_eq!(get().await, rotating, "a pending token does not touch");

    assert_eq!(load(1, due).await, Some(TokenState::Current));
    let touched = get().await;
    assert_eq!(touched.last_seen_at, t0);
    assert_eq!(touched.expires_at, t0 + Duration::from_secs(1800));
    assert_eq!(touched.version, rotating.version + 1, "one version a touch");
    let t1 = t0 + Duration::from_secs(600);
    let far = Touch::new(t1, t1 + Duration::from_secs(86_400)).with_stale_before(t1);
    assert_eq!(load(1, far).await, Some(TokenState::Current));
    let capped = get().await;
    assert_eq!(capped.last_seen_at, t1);
    assert_eq!(
        capped.expires_at, capped.absolute_expires_at,
        "capped at the hard end"
    );

    let how = Revocation::new(RevokeReason::User, RevokedBy::user("alice"), t1);
    assert_eq!(
        s.revoke(&RevokeScope::session(r.id), &how).await.unwrap(),
        1
    );
    let revoked = get().await;
    let t2 = t1 + Duration::from_secs(600);
    let _ = load(1, at(t2, t2)).await;
    assert_eq!(get().await, revoked, "a revoked session is not touched");
}

/// A session's tokens end where its record says (`tokens_expire_at`, kept
/// as given): a touch before that end is capped at it, a load after it
/// touches nothing, a re-authentication's reissue moves it, and a row
/// without one (0.1's) keeps none. A store that dropped it would let a
/// token outlive the sign-in that issued it.
pub async fn tokens_end_where_the_record_says(store: Arc<dyn SessionProtocol>) {
    let s = store.as_ref();
    let t0 = now();
    let get = |id| async move { s.get(id).await.unwrap().unwrap() };
    let due = |t: OffsetDateTime| Touch::new(t, t + Duration::from_secs(1800)).with_stale_before(t);
    let mut r = record(t0, Some("alice"), Duration::from_secs(1800));
    let end = t0 + Duration::from_secs(600);
    r.tokens_expire_at = Some(end);
    s.create(&r, &hash(1)).await.unwrap();
    assert_eq!(get(r.id).await.tokens_expire_at, Some(end), "kept as given");

    let t1 = t0 + Duration::from_secs(300);
    let loaded = s.load(Some(r.id), &hash(1), &due(t1)).await.unwrap();
    assert_eq!(loaded.map(|l| l.token), Some(TokenState::Current));
    let touched = get(r.id).await;
    assert_eq!(touched.last_seen_at, t1);
    assert_eq!(
        touched.expires_at, end,
        "a touch is capped at the tokens' end"
    );

    let _ = s.load(Some(r.id), &hash(1), &due(end)).await.unwrap();
    assert_eq!(
        get(r.id).await,
        touched,
        "a token at its end touches nothing"
    );

    let later = end + Duration::from_secs(1200);
    let mut re = Reissue::new(Some("alice".into()), t1);
    re.authenticated_at = Some(t1);
    re.tokens_expire_at = Some(later);
    assert!(s.reissue(r.id, &hash(2), &re).await.unwrap());
    assert_eq!(get(r.id).await.tokens_expire_at, Some(later), "moved");

    let old = record(t0, Some("bob"), Duration::from_secs(1800));
    assert_eq!(old.tokens_expire_at, None);
    s.create(&old, &hash(3)).await.unwrap();
    assert!(get(old.id).await.tokens_expire_at.is_none(), "none kept");
}

/// Remember-me: a credential is found by its selector; a restore that
/// presents the current validator issues a pending one (one
/// compare-and-set wins), records the activity and retires the older
/// session tokens; a restore that presents the pending one promotes it
/// (the old one kept as previous); a revocation drops the credential, and
/// nothing restores the session after it.
pub async fn remember_me_restores_in_two_phases(store: Arc<dyn SessionProtocol>) {
    let s = store.as_ref();
    let t0 = now();
    let r = created(s, t0, Some("alice"), Duration::from_secs(60)).await;
    let end = t0 + Duration::from_secs(86_400);
    let selector = [7; 16];
    let cred = RememberCredential::new(selector, hash(100), end);
    assert!(s.set_remember(r.id, Some(&cred), end, t0).await.unwrap());
    let found = s.find_remember(&selector).await.unwrap().unwrap();
    assert_eq!((found.record.id, found.validator), (r.id, hash(100)));
    assert!(found.record.persistent);
    assert!(s.find_remember(&[8; 16]).await.unwrap().is_none());

    let t1 = t0 + Duration::from_secs(120);
    let touch = Touch::new(t1, t1 + Duration::from_secs(60));
    let issue = |next: u8| ValidatorStep::Issue {
        presented: hash(100),
        next: hash(next),
        stale_before: t0,
    };
    let restore =
        |token: u8, step| Restore::new(hash(token), t1 + Duration::from_secs(600), step, t1, touch);
    assert!(restored(s, r.id, restore(2, issue(101))).await);
    assert!(
        !restored(s, r.id, restore(3, issue(102))).await,
        "a second tab's issue lost the compare-and-set"
    );
    let found = s.find_remember(&selector).await.unwrap().unwrap();
    assert_eq!(found.pending, Some((hash(101), t1)));
    assert_eq!(
        found.record.last_seen_at, t1,
        "the restore recorded the activity"
    );
    assert_eq!(
        state(s, r.id, &hash(1), t1).await,
        Some(TokenState::Retired { at: t1 })
    );
    assert_eq!(
        state(s, r.id, &hash(2), t1).await,
        Some(TokenState::Current)
    );

    let promote = ValidatorStep::Promote {
        presented: hash(101),
    };
    assert!(restored(s, r.id, restore(4, promote)).await);
    let found = s.find_remember(&selector).await.unwrap().unwrap();
    assert_eq!(
        (found.validator, found.previous),
        (hash(101), Some(hash(100)))
    );
    assert_eq!(found.pending, None);

    // Keep: on the current or the previous validator only.
    let keep = |n| ValidatorStep::Keep { presented: hash(n) };
    assert!(restored(s, r.id, restore(5, keep(100))).await);
    assert!(
        !restored(s, r.id, restore(6, keep(99))).await,
        "kept on a validator the credential no longer has"
    );
    assert_eq!(state(s, r.id, &hash(6), t1).await, None);

    let how = Revocation::system(RevokeReason::User, t1);
    assert_eq!(
        s.revoke(&RevokeScope::session(r.id), &how).await.unwrap(),
        1
    );
    assert!(
        s.find_remember(&selector).await.unwrap().is_none(),
        "dropped with the revocation"
    );
    assert!(!restored(s, r.id, restore(7, keep(101))).await);
}

/// Whether `restore` took on session `id`.
async fn restored(s: &dyn SessionProtocol, id: Uuid, restore: Restore) -> bool {
    s.restore_remembered(id, &restore).await.unwrap()
}
