//! A session's token history stays bounded over its whole life, on every
//! store: the current token, at most two pending ones and the newest
//! `REPLACED_TOKENS_KEPT` replaced ones. Counted with SQL on Postgres and
//! SQLite, and on every store by what `load` still recognises.

use crate::common;

use axum_user_sessions::store::{
    REPLACED_TOKENS_KEPT, Reissue, RememberCredential, Restore, SessionProtocol, SessionRecord,
    TokenHash, TokenState, Touch, ValidatorStep,
};
use common::{Backend, Rng};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

conformance!(
    thousand_rotations_keep_a_few_token_rows,
    lost_cookies_never_grow_the_history,
    sign_in_and_restore_prune_too,
);

/// The most token rows a session may hold: current, two pending, the kept
/// replaced ones.
const BOUND: usize = 8;

/// Token `n`: distinct for every `n`.
fn token(n: u32) -> TokenHash {
    let mut b = [0xA5; 32];
    b[..4].copy_from_slice(&n.to_be_bytes());
    TokenHash::from_bytes(b)
}

fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap()
}

/// A remembered device's session, alive for 30 days from `now`.
fn remembered(now: OffsetDateTime) -> SessionRecord {
    let mut r = SessionRecord::new(Uuid::new_v4(), now);
    r.user_id = Some("alice".into());
    r.persistent = true;
    r.absolute_expires_at = now + Duration::from_secs(30 * 24 * 3600);
    r.expires_at = now + Duration::from_secs(1800);
    r
}

fn touch(now: OffsetDateTime) -> Touch {
    // Never due: these tests look at token states, not activity.
    let mut t = Touch::new(now, now + Duration::from_secs(1800));
    t.stale_before = now - Duration::from_secs(3600);
    t
}

async fn state(
    s: &dyn SessionProtocol, token: &TokenHash, at: OffsetDateTime,
) -> Option<TokenState> {
    s.load(None, token, &touch(at))
        .await
        .unwrap()
        .map(|l| l.token)
}

/// The token rows of session `id`, by SQL; `None` for the memory store.
async fn rows(b: &Backend, id: Uuid) -> Option<usize> {
    let n: i64 = if let Some(pg) = &b.pg {
        sqlx::query_scalar("SELECT count(*) FROM axum_user_sessions.tokens WHERE session_id = $1")
            .bind(id)
            .fetch_one(pg)
            .await
            .unwrap()
    } else if let Some(lite) = &b.sqlite {
        sqlx::query_scalar("SELECT count(*) FROM aus_tokens WHERE session_id = ?1")
            .bind(id)
            .fetch_one(lite)
            .await
            .unwrap()
    } else {
        return None;
    };
    Some(usize::try_from(n).unwrap())
}

/// How many of `tokens` the store still recognises.
async fn known(s: &dyn SessionProtocol, tokens: &[TokenHash], at: OffsetDateTime) -> usize {
    let mut n = 0;
    for t in tokens {
        if state(s, t, at).await.is_some() {
            n += 1;
        }
    }
    n
}

/// A remembered device rotating every 15 minutes for about ten days: 1,000
/// rotations through the store API leave the current token and the newest
/// replaced ones; the newest superseded token is still a theft signal, one
/// from long ago is unknown.
async fn thousand_rotations_keep_a_few_token_rows(b: Backend) {
    let s = b.store.as_ref();
    let t0 = now();
    let r = remembered(t0);
    s.create(&r, &token(0)).await.unwrap();
    let mut seen = r.rotated_at;
    let mut at = t0;
    for i in 1..=1000u32 {
        at = t0 + Duration::from_secs(900 * u64::from(i));
        assert!(
            s.begin_rotation(r.id, seen, &token(i), at).await.unwrap(),
            "rotation {i} lost its compare-and-set"
        );
        seen = at;
        s.promote(r.id, &token(i), at + Duration::from_secs(1))
            .await
            .unwrap();
    }
    let end = at + Duration::from_secs(3600);
    let all: Vec<TokenHash> = (0..=1000).map(token).collect();
    let recognised = known(s, &all, end).await;
    let counted = rows(&b, r.id).await;
    println!(
        "{:?}: after 1,000 rotations, {counted:?} token rows (SQL), {recognised} tokens recognised",
        b.kind
    );
    assert_eq!(recognised, 1 + REPLACED_TOKENS_KEPT, "current + kept");
    if let Some(n) = counted {
        assert!(n <= BOUND, "{n} token rows after 1,000 rotations");
        assert_eq!(n, recognised, "a row load does not see");
    }
    assert_eq!(state(s, &token(1000), end).await, Some(TokenState::Current));
    // The newest superseded token: replayed after the grace window, it is
    // the theft signal that revokes the session.
    assert_eq!(
        state(s, &token(999), end).await,
        Some(TokenState::Superseded {
            at: at + Duration::from_secs(1)
        })
    );
    // The oldest kept one still is.
    let oldest_kept = 1000 - REPLACED_TOKENS_KEPT as u32;
    assert!(matches!(
        state(s, &token(oldest_kept), end).await,
        Some(TokenState::Superseded { .. })
    ));
    // Older ones are unknown: anonymous, no alarm.
    assert_eq!(state(s, &token(oldest_kept - 1), end).await, None);
    assert_eq!(state(s, &token(0), end).await, None);
    assert_eq!(state(s, &token(500), end).await, None);
    // The session itself is untouched.
    let l = s
        .load(None, &token(1000), &touch(end))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(l.record.id, r.id);
    assert!(l.record.revoked_at.is_none());
}

/// Clients that lose the cookies of some rotations (pending tokens never
/// presented, or presented late, out of order): the bound holds at every
/// step, not only at the end.
async fn lost_cookies_never_grow_the_history(b: Backend) {
    let s = b.store.as_ref();
    let mut rng = Rng::new(0x5EED_0013);
    let t0 = now();
    let r = remembered(t0);
    s.create(&r, &token(0)).await.unwrap();
    let mut seen = r.rotated_at;
    let mut issued: Vec<TokenHash> = vec![token(0)];
    let mut pending: Vec<TokenHash> = Vec::new();
    let mut promotions = 0;
    for i in 1..=300u32 {
        let at = t0 + Duration::from_secs(60 * u64::from(i));
        assert!(s.begin_rotation(r.id, seen, &token(i), at).await.unwrap());
        seen = at;
        issued.push(token(i));
        pending.push(token(i));
        if pending.len() > 2 {
            pending.remove(0); // the store keeps the newest two
        }
        let later = at + Duration::from_secs(1);
        if rng.chance(0.4) {
            s.promote(r.id, pending.last().unwrap(), later)
                .await
                .unwrap();
            pending.clear();
            promotions += 1;
        } else if rng.chance(0.3) {
            // A late response: the older pending token is used.
            let p = pending.remove(0);
            s.promote(r.id, &p, later).await.unwrap();
            promotions += 1;
        }
        if let Some(n) = rows(&b, r.id).await {
            assert!(n <= BOUND, "step {i}: {n} token rows");
        } else if i % 25 == 0 {
            let n = known(s, &issued, later).await;
            assert!(n <= BOUND, "step {i}: {n} tokens recognised");
        }
    }
    let end = t0 + Duration::from_secs(60 * 400);
    let n = known(s, &issued, end).await;
    println!(
        "{:?}: 300 rotations, {promotions} promotions: {n} tokens recognised, {:?} rows",
        b.kind,
        rows(&b, r.id).await
    );
    assert!(n <= BOUND, "{n} tokens recognised");
    for p in &pending {
        assert_eq!(state(s, p, end).await, Some(TokenState::Pending));
    }
}

/// A sign-in and a remember-me restore retire every token and keep only the
/// newest replaced ones; the tokens they just retired are still recognised
/// (a request in flight with one is anonymous without losing the new
/// cookie).
async fn sign_in_and_restore_prune_too(b: Backend) {
    let s = b.store.as_ref();
    let t0 = now();
    let r = remembered(t0);
    s.create(&r, &token(0)).await.unwrap();
    let mut seen = r.rotated_at;
    for i in 1..=10u32 {
        let at = t0 + Duration::from_secs(60 * u64::from(i));
        assert!(s.begin_rotation(r.id, seen, &token(i), at).await.unwrap());
        seen = at;
        s.promote(r.id, &token(i), at).await.unwrap();
    }
    // One more rotation left pending, then a sign-in.
    let t1 = t0 + Duration::from_secs(3600);
    assert!(s.begin_rotation(r.id, seen, &token(11), t1).await.unwrap());
    let t2 = t1 + Duration::from_secs(1);
    assert!(
        s.reissue(r.id, &token(12), &Reissue::new(Some("alice".into()), t2))
            .await
            .unwrap()
    );
    let all: Vec<TokenHash> = (0..=12).map(token).collect();
    assert_eq!(known(s, &all, t2).await, 1 + REPLACED_TOKENS_KEPT);
    if let Some(n) = rows(&b, r.id).await {
        assert_eq!(n, 1 + REPLACED_TOKENS_KEPT);
    }
    assert_eq!(state(s, &token(12), t2).await, Some(TokenState::Current));
    for just_retired in [10, 11] {
        assert_eq!(
            state(s, &token(just_retired), t2).await,
            Some(TokenState::Retired { at: t2 }),
            "token {just_retired}"
        );
    }
    assert_eq!(state(s, &token(0), t2).await, None);

    // A remember-me restore that rotates the validator retires them again.
    let validator = TokenHash::from_bytes([0xB1; 32]);
    let next = TokenHash::from_bytes([0xB2; 32]);
    let credential = RememberCredential::new([7; 16], validator, r.absolute_expires_at);
    assert!(
        s.set_remember(r.id, Some(&credential), r.absolute_expires_at, t2)
            .await
            .unwrap()
    );
    let t3 = t2 + Duration::from_secs(1);
    let step = ValidatorStep::Issue {
        presented: validator,
        next,
        stale_before: t3,
    };
    let touch = Touch::new(t3, t3 + Duration::from_secs(1800));
    let restore = Restore::new(token(13), t3 + Duration::from_secs(3600), step, t3, touch);
    assert!(s.restore_remembered(r.id, &restore).await.unwrap());
    let all: Vec<TokenHash> = (0..=13).map(token).collect();
    assert_eq!(known(s, &all, t3).await, 1 + REPLACED_TOKENS_KEPT);
    if let Some(n) = rows(&b, r.id).await {
        assert_eq!(n, 1 + REPLACED_TOKENS_KEPT);
    }
    assert_eq!(state(s, &token(13), t3).await, Some(TokenState::Current));
    assert_eq!(
        state(s, &token(12), t3).await,
        Some(TokenState::Retired { at: t3 })
    );
}
