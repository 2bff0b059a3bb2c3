//! What the scenarios share: fixed hashes, times to the microsecond (as the
//! SQL stores keep them), records, a touch that is never due.

pub(super) use crate::store::{
    DataPatch, Reissue, Revocation, RevokeReason, RevokeScope, RevokedBy, SessionProtocol,
    SessionRecord, TokenHash, TokenState, Touch,
};
pub(super) use std::sync::Arc;
pub(super) use std::time::Duration;
pub(super) use time::OffsetDateTime;
pub(super) use uuid::Uuid;

pub(super) fn hash(n: u8) -> TokenHash {
    TokenHash::from_bytes([n; 32])
}

pub(super) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap()
}

/// A session of `user` (with an id of the user's placement, as sign-in
/// mints it: a sharded store keeps a user's sessions together), or an
/// anonymous one.
pub(super) fn record(now: OffsetDateTime, user: Option<&str>, idle: Duration) -> SessionRecord {
    let mut r = SessionRecord::new(crate::store::placement::session_id(user), now);
    r.user_id = user.map(str::to_owned);
    r.absolute_expires_at = now + Duration::from_secs(3600);
    r.expires_at = now + idle;
    r
}

/// [`record`], created with token `hash(1)` as its current token: most
/// scenarios start so.
pub(super) async fn created(
    store: &dyn SessionProtocol, now: OffsetDateTime, user: Option<&str>, idle: Duration,
) -> SessionRecord {
    let r = record(now, user, idle);
    store.create(&r, &hash(1)).await.unwrap();
    r
}

pub(super) fn touch(now: OffsetDateTime) -> Touch {
    // Never due: these tests look at token states, not activity.
    let mut t = Touch::new(now, now + Duration::from_secs(1800));
    t.stale_before = now - Duration::from_secs(3600);
    t
}

/// The state of `token` in session `id`, as a cookie that names its
/// session finds it (every store finds those).
pub(super) async fn state(
    store: &dyn SessionProtocol, id: Uuid, token: &TokenHash, now: OffsetDateTime,
) -> Option<TokenState> {
    store
        .load(Some(id), token, &touch(now))
        .await
        .unwrap()
        .map(|l| l.token)
}
