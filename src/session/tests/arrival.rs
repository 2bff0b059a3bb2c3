//! Credentials judged as of the request's arrival: a request held before
//! it reads its session (a slow middleware) keeps the grace it arrived
//! with, up to a bound.

use super::auth::supersede;
use super::*;

/// A browser with an anonymous session, no grace for replaced tokens, its
/// token and the session's id.
async fn without_grace() -> (Browser, String, uuid::Uuid) {
    let mut config = SessionConfig::default();
    config.rotation.grace = Duration::ZERO;
    let b = with_session_under(config).await;
    let old = b.session.clone().unwrap();
    let id = b.request().await.id().unwrap();
    (b, old, id)
}

/// A request that arrived before a rotation and read its session only
/// after the grace window: its token was current when it arrived, so it
/// is served. Counted to its load, it was taken for a replay and the
/// session revoked.
#[tokio::test]
async fn a_request_held_past_the_grace_before_it_loads_is_no_replay() {
    let (b, old, id) = without_grace().await;
    let held = b.unloaded(Some(&old), None);
    let then = now();
    supersede(&b, id, then).await;
    past(then).await;
    held.ensure_loaded().await.unwrap();
    assert_eq!(held.id(), Some(id));
    let record = b.store.get(id).await.unwrap().unwrap();
    assert_eq!(record.revoked_at, None, "{:?}", record.revoke_reason);
}

/// The credit has a bound: a request held longer than `HELD_AT_MOST`
/// between its arrival and its load (perhaps on purpose, with a stolen
/// token, behind a middleware that waits on the client) is granted
/// nothing by its grace, but is not taken for a replay either.
#[tokio::test]
async fn a_request_held_too_long_earns_no_grace() {
    let (b, old, id) = without_grace().await;
    let mut held = b.unloaded(Some(&old), None);
    Arc::get_mut(&mut held.inner).unwrap().arrived = now() - Duration::from_secs(31);
    supersede(&b, id, now() - Duration::from_secs(10)).await;
    held.ensure_loaded().await.unwrap();
    assert_eq!(held.id(), None, "served past its grace");
    let record = b.store.get(id).await.unwrap().unwrap();
    assert_eq!(record.revoked_at, None, "{:?}", record.revoke_reason);
    assert_eq!(held.commit(false).await.cookies, NOTHING);
}

/// A request carrying the remember-me validator that another tab's restore
/// then replaced, held past the grace before it loads: as of its arrival it
/// presented the current validator, so it is no theft. Counted to its
/// load, the session was revoked.
#[tokio::test]
async fn a_remember_me_request_held_past_the_grace_is_no_theft() {
    let mut config = SessionConfig::default();
    config.remember.grace = Duration::ZERO;
    let mut b = Browser::with_config(config);
    let s = b.request().await;
    s.login_remember("carol", true).await.unwrap();
    b.respond(&s).await;
    let id = b.request().await.id().unwrap();
    let held = b.unloaded(None, b.remember.clone().as_deref());
    // Another tab restores (a pending validator), then its next restore
    // presents that one and promotes it: the held one is now the previous.
    for _ in 0..2 {
        b.session = None;
        let s = b.request().await;
        assert_eq!(s.id(), Some(id));
        b.respond(&s).await;
    }
    past(now()).await;
    held.ensure_loaded().await.unwrap();
    assert_eq!(held.id(), Some(id));
    let record = b.store.get(id).await.unwrap().unwrap();
    assert_eq!(record.revoked_at, None, "{:?}", record.revoke_reason);
}
