//! SessionAdmin over a memory store: revocations with their events, and
//! the session limit under racing sign-ins.

use super::*;
use crate::store::MemoryStore;
use crate::token::Token;
use std::sync::Mutex;

/// A session of `user` in `store`, ending `ttl` from now (expired when
/// negative).
pub(crate) async fn session_of(
    store: &dyn SessionProtocol, user: &str, ttl: time::Duration,
) -> Uuid {
    let now = OffsetDateTime::now_utc();
    let mut r = SessionRecord::new(Uuid::new_v4(), now + ttl.min(time::Duration::ZERO) * 2);
    r.user_id = Some(user.into());
    r.expires_at = now + ttl;
    r.absolute_expires_at = now + ttl;
    let token = Token::generate().unwrap().hash();
    store.create(&r, &token).await.unwrap();
    r.id
}

type Log = Arc<Mutex<Vec<SessionEvent>>>;

/// An admin handle acting for a request, its event log, and a live
/// session each of alice and bob.
async fn alice_and_bob() -> (SessionAdmin, Log, Uuid, Uuid) {
    let log = Log::default();
    let sink = EventSink::new({
        let log = log.clone();
        move |e: &SessionEvent| log.lock().unwrap().push(e.clone())
    });
    let store: Arc<dyn SessionProtocol> = Arc::new(MemoryStore::new());
    let client = ClientInfo::new(Some([203, 0, 113, 7].into()), Some("Firefox".into()));
    let hour = time::Duration::hours(1);
    let alice = session_of(store.as_ref(), "alice", hour).await;
    let bob = session_of(store.as_ref(), "bob", hour).await;
    let admin = SessionAdmin::with_sink(store, sink).with_client(client);
    (admin, log, alice, bob)
}

fn revoked(reason: &str, by: &str) -> SessionEventKind {
    SessionEventKind::Revoked {
        reason: reason.into(),
        by: by.into(),
        count: 1,
    }
}

#[tokio::test]
async fn owner_checked_revocation_carries_the_client() {
    let (admin, log, mine, bobs) = alice_and_bob().await;
    let by = || RevokedBy::user("alice");
    let owned = admin.revoke_owned(bobs, "alice", by(), RevokeReason::User);
    assert!(!owned.await.unwrap(), "someone else's session");
    assert!(log.lock().unwrap().is_empty());
    let owned = admin.revoke_owned(mine, "alice", by(), RevokeReason::User);
    assert!(owned.await.unwrap());
    let owned = admin.revoke_owned(mine, "alice", by(), RevokeReason::User);
    assert!(!owned.await.unwrap(), "already revoked");
    let events = log.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, revoked("user", "alice"));
    assert_eq!(events[0].session_id, Some(mine));
    assert_eq!(events[0].user_id.as_deref(), Some("alice"));
    assert_eq!(events[0].ip, Some([203, 0, 113, 7].into()));
    assert_eq!(events[0].user_agent.as_deref(), Some("Firefox"));
}

#[tokio::test]
async fn admins_revoke_others_only_when_allowed() {
    let (admin, log, mine, bobs) = alice_and_bob().await;
    let ended = -time::Duration::hours(1);
    let gone = session_of(admin.store().as_ref(), "bob", ended).await;
    assert!(
        !admin
            .revoke_as_admin(bobs, "alice", |_| false)
            .await
            .unwrap()
    );
    assert!(
        !admin
            .revoke_as_admin(mine, "alice", |_| true)
            .await
            .unwrap()
    );
    assert!(
        !admin
            .revoke_as_admin(gone, "alice", |_| true)
            .await
            .unwrap()
    );
    assert!(log.lock().unwrap().is_empty());
    let allowed = admin.revoke_as_admin(bobs, "alice", |owner| owner == "bob");
    assert!(allowed.await.unwrap());
    let events = log.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, revoked("admin", "alice"));
    assert_eq!(events[0].user_id.as_deref(), Some("bob"));
    let record = admin.session(bobs).await.unwrap().unwrap();
    assert_eq!(record.revoke_reason.as_deref(), Some("admin"));
    assert_eq!(record.revoked_by.as_deref(), Some("alice"));
}

/// A live session of `user` that signed in at `at`.
async fn signed_in_at(
    store: &dyn SessionProtocol, user: &str, at: OffsetDateTime,
) -> SessionRecord {
    let mut r = SessionRecord::new(Uuid::new_v4(), at);
    r.user_id = Some(user.into());
    r.authenticated_at = Some(at);
    r.expires_at = at + time::Duration::hours(1);
    r.absolute_expires_at = at + time::Duration::hours(12);
    store
        .create(&r, &Token::generate().unwrap().hash())
        .await
        .unwrap();
    r
}

/// Two sign-ins of alice race under a limit of one session (two devices,
/// a sign-in form sent twice): each listed the other before either
/// enforced the limit. The later sign-in's session stays; before, each
/// revoked the other and alice was signed out of both.
#[tokio::test]
async fn racing_sign_ins_under_a_limit_keep_the_later_one() {
    let store: Arc<dyn SessionProtocol> = Arc::new(MemoryStore::new());
    let now = OffsetDateTime::now_utc();
    let earlier = signed_in_at(store.as_ref(), "alice", now - time::Duration::seconds(1)).await;
    let later = signed_in_at(store.as_ref(), "alice", now).await;
    let admin = SessionAdmin::new(store.clone());
    let listed = [later.clone(), earlier.clone()];
    admin
        .enforce_session_limit("alice", earlier.id, &listed, 1)
        .await
        .unwrap();
    admin
        .enforce_session_limit("alice", later.id, &listed, 1)
        .await
        .unwrap();
    let live = store
        .list_user("alice", OffsetDateTime::now_utc())
        .await
        .unwrap();
    let live: Vec<Uuid> = live.iter().map(|r| r.id).collect();
    assert_eq!(live, [later.id], "signed out of both, or kept both");
}
