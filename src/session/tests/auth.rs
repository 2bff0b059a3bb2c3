//! Sign-in, rotation, logout, remember-me and binding, checked on the
//! `CookieUpdate` each commit returns.

use super::*;
use crate::store::placement;

#[tokio::test]
async fn login_issues_a_new_token_and_retires_the_old() {
    let mut b = with_session().await;
    let old = b.session.clone().unwrap();
    let s = b.request().await;
    let id = s.id().unwrap();
    s.login("alice").await.unwrap();
    assert_eq!(s.user_id().as_deref(), Some("alice"));
    assert!(s.is_fresh(Duration::from_secs(60)));
    let update = b.respond(&s).await;
    let new = session_cookie(&update.session);
    assert_ne!(new, old);
    assert_eq!(update.remember, None);

    // The session, signed in, with its data, under a new id of alice's
    // placement; the anonymous id has ended.
    let s = b.request().await;
    let signed_in = s.id().unwrap();
    assert_ne!(signed_in, id);
    assert_eq!(
        placement::tag_of_session(signed_in),
        placement::tag_of_user("alice")
    );
    assert_eq!(s.user_id().as_deref(), Some("alice"));
    assert_eq!(s.get::<u32>("k").unwrap(), Some(1));
    let old_row = b.store.get(id).await.unwrap();
    assert!(
        old_row.as_ref().is_none_or(|r| !r.is_live(now())),
        "{old_row:?}"
    );

    // A request still carrying the old token (it left before the sign-in)
    // is anonymous, and must not expire the cookie the sign-in set.
    let s = b.request_with(Some(&old), None).await;
    assert_eq!(s.id(), None);
    assert_eq!(b.other().respond(&s).await, NOTHING);
}

#[tokio::test]
async fn login_as_another_user_starts_a_fresh_session() {
    let mut b = with_session().await;
    let s = b.request().await;
    s.login("alice").await.unwrap();
    b.respond(&s).await;
    let alice = b.request().await.id().unwrap();

    let s = b.request().await;
    s.login("bob").await.unwrap();
    assert_ne!(s.id(), Some(alice));
    assert_eq!(s.get::<u32>("k").unwrap(), None, "bob inherits nothing");
    session_cookie(&b.respond(&s).await.session);
    assert!(b.store.get(alice).await.unwrap().is_none());
}

#[tokio::test]
async fn rotate_and_reauthenticate_issue_a_token_without_grace() {
    let mut b = with_session().await;
    for reauthenticate in [false, true] {
        let old = b.session.clone().unwrap();
        let s = b.request().await;
        if reauthenticate {
            s.reauthenticate().await.unwrap();
            assert!(s.authenticated_at().is_some());
        } else {
            s.rotate().await.unwrap();
            assert_eq!(s.authenticated_at(), None);
        }
        let new = session_cookie(&b.respond(&s).await.session);
        assert_ne!(new, old);
        assert_eq!(b.request().await.get::<u32>("k").unwrap(), Some(1));
        assert_eq!(b.request_with(Some(&old), None).await.id(), None);
    }

    // Without a session, nothing happens.
    let mut anon = b.other();
    let s = anon.request().await;
    s.rotate().await.unwrap();
    s.reauthenticate().await.unwrap();
    assert_eq!(anon.respond(&s).await, NOTHING);
}

#[tokio::test]
async fn a_due_rotation_sends_a_pending_token_promoted_on_first_use() {
    let mut config = SessionConfig::default();
    // Due at every request made with the current token.
    config.rotation.interval = Some(Duration::ZERO);
    let b = with_session_under(config).await;
    let old = b.session.clone().unwrap();
    let id = b.request().await.id().unwrap();

    // The request with the current token gets a pending token...
    let s = b.request_with(Some(&old), None).await;
    let update = s.commit(false).await.cookies;
    let pending = session_cookie(&update.session);
    assert_ne!(pending, old);
    assert_eq!(update.remember, None);

    // ...while a concurrent request with the old token still works, and
    // starts no second rotation within the grace window.
    let s = b.request_with(Some(&old), None).await;
    assert_eq!(s.id(), Some(id));
    assert_eq!(s.commit(false).await.cookies, NOTHING);

    // The pending token is promoted on first use: same session, no new
    // cookie.
    let s = b.request_with(Some(&pending), None).await;
    assert_eq!(s.id(), Some(id));
    assert_eq!(s.get::<u32>("k").unwrap(), Some(1));
    assert_eq!(s.commit(false).await.cookies, NOTHING);

    // The old token is superseded, and works for the grace window.
    let s = b.request_with(Some(&old), None).await;
    assert_eq!(s.id(), Some(id));
    assert_eq!(s.commit(false).await.cookies, NOTHING);
}

#[tokio::test]
async fn a_superseded_token_after_the_grace_window_revokes_the_session() {
    let mut b = with_session().await;
    let old = b.session.clone().unwrap();
    let id = b.request().await.id().unwrap();
    // A rotation completed ten minutes ago.
    let new = supersede(&b, id, now() - Duration::from_secs(600)).await;

    // The old token replayed: theft. Anonymous, and its cookie expired.
    let s = b.request_with(Some(&old), None).await;
    assert_eq!(s.id(), None);
    let update = b.respond(&s).await;
    assert_eq!(update.session, Some(CookieChange::Expire));
    assert_eq!(update.remember, None);
    let record = b.store.get(id).await.unwrap().unwrap();
    assert!(record.revoked_at.is_some());
    assert_eq!(record.revoke_reason.as_deref(), Some("token_reuse"));

    // The rightful holder of the new token is signed out too.
    let s = b.request_with(Some(&new.encode()), None).await;
    assert_eq!(s.id(), None);
}

#[tokio::test]
async fn logout_expires_both_cookies() {
    let mut b = Browser::new();
    let s = b.request().await;
    s.login_remember("bob", true).await.unwrap();
    let update = b.respond(&s).await;
    session_cookie(&update.session);
    match &update.remember {
        Some(CookieChange::Set {
            max_age: Some(secs),
            ..
        }) => {
            let lifetime = b.config.remember.lifetime.as_secs() as i64;
            assert!((lifetime - 60..=lifetime).contains(secs), "{secs}");
        }
        other => panic!("expected a remember-me cookie, got {other:?}"),
    }
    let old = b.session.clone().unwrap();

    let s = b.request().await;
    assert!(s.is_persistent());
    let id = s.id().unwrap();
    s.logout().await.unwrap();
    assert_eq!(s.id(), None);
    let update = b.respond(&s).await;
    assert_eq!(update.session, Some(CookieChange::Expire));
    assert_eq!(update.remember, Some(CookieChange::Expire));
    // Revoked as "logout" (kept for "Recently signed out"), with its
    // remember-me credential.
    let row = b.store.get(id).await.unwrap().expect("kept for the list");
    assert_eq!(row.revoke_reason.as_deref(), Some("logout"));
    assert!(!row.is_live(time::OffsetDateTime::now_utc()));

    // The old token now names nothing: its cookie is expired.
    let s = b.request_with(Some(&old), None).await;
    assert_eq!(s.id(), None);
    assert_eq!(b.respond(&s).await.session, Some(CookieChange::Expire));

    // Signing out without a session or cookies changes nothing.
    let s = b.request().await;
    s.logout().await.unwrap();
    assert_eq!(b.respond(&s).await, NOTHING);
}

#[tokio::test]
async fn the_remember_me_cookie_reopens_the_session() {
    let mut b = Browser::new();
    let s = b.request().await;
    s.login_remember("carol", true).await.unwrap();
    b.respond(&s).await;
    let id = b.request().await.id().unwrap();
    let remember = b.remember.clone().unwrap();

    // The browser restarted: only the remember-me cookie is left.
    b.session = None;
    let s = b.request().await;
    assert_eq!(s.id(), Some(id));
    assert!(s.is_restored());
    let update = b.respond(&s).await;
    session_cookie(&update.session);
    assert!(
        matches!(&update.remember, Some(CookieChange::Set { value, max_age: Some(_) }) if *value != remember),
        "a new validator: {update:?}"
    );
    let s = b.request().await;
    assert_eq!(s.id(), Some(id));
    assert!(!s.is_restored());

    // Signing in again without "remember me" drops the credential.
    let s = b.request().await;
    s.login("carol").await.unwrap();
    let update = b.respond(&s).await;
    session_cookie(&update.session);
    assert_eq!(update.remember, Some(CookieChange::Expire));
    assert!(!b.request().await.is_persistent());
}

#[tokio::test]
async fn a_write_after_the_session_ended_is_an_error_and_sets_no_cookie() {
    let b = with_session().await;
    let s = b.request().await;
    let id = s.id().unwrap();
    s.insert("k", 2).unwrap();
    // Signed out elsewhere while this request ran: the other request's
    // cookies stand (a sign-in's new one, perhaps), so none is set here.
    assert!(b.store.delete(id).await.unwrap());
    let commit = s.commit(false).await;
    assert!(matches!(commit.error, Some(Error::SessionEnded)));
    assert_eq!(commit.cookies.session, None);
    assert_eq!(commit.cookies.remember, None);
    assert_eq!(s.id(), None);
    assert_eq!(b.sessions().await, 0, "the write must not resurrect it");
}

#[tokio::test]
async fn a_client_refused_by_the_binding_is_anonymous_and_keeps_the_cookie() {
    let config = SessionConfig {
        binding: Binding::Default(DefaultBinding {
            ip: BindingMode::Enforce,
            ..DefaultBinding::default()
        }),
        ..SessionConfig::default()
    };
    let mut b = Browser::with_config(config);
    let s = b.request().await;
    s.login("dave").await.unwrap();
    b.respond(&s).await;
    let id = b.request().await.id().unwrap();

    let mut thief = b.clone();
    thief.ip = ELSEWHERE;
    let s = thief.request().await;
    assert_eq!(s.id(), None);
    assert_eq!(thief.respond(&s).await, NOTHING);

    // The rightful client is still signed in.
    assert_eq!(b.request().await.id(), Some(id));
}

/// Rotates session `id` to a new token at `at`, as another request would
/// have (begun and promoted): the browser's token is superseded from then.
pub(super) async fn supersede(
    b: &Browser, id: uuid::Uuid, at: time::OffsetDateTime,
) -> SessionToken {
    let record = b.store.get(id).await.unwrap().unwrap();
    let new = SessionToken::generate(None).unwrap();
    assert!(
        b.store
            .begin_rotation(id, record.rotated_at, &new.hash(), at)
            .await
            .unwrap()
    );
    b.store.promote(id, &new.hash(), at).await.unwrap();
    new
}

/// A sign-in form sent twice (a double click, two tabs) from an anonymous
/// session: both requests read it before either signed in. The first
/// moves it to a new id and ends it; the second moves it too, and its
/// cookie (the one the browser keeps: it shows the last response) signs
/// the user in, with the visit's data, for a whole absolute timeout.
#[tokio::test]
async fn a_sign_in_sent_twice_signs_in_with_the_last_cookie() {
    let mut b = with_session().await;
    let (first, second) = (b.request().await, b.request().await);
    first.login("alice").await.unwrap();
    b.respond(&first).await;
    second.login("alice").await.unwrap();
    b.respond(&second).await;
    let s = b.request().await;
    assert_eq!(s.user_id().as_deref(), Some("alice"), "signed out");
    assert_eq!(s.get::<u32>("k").unwrap(), Some(1));
    let record = b.store.get(s.id().unwrap()).await.unwrap().unwrap();
    let full = now() + b.config.absolute_timeout - Duration::from_secs(60);
    assert!(record.absolute_expires_at > full, "{record:?}");
}

/// An anonymous visit signs in: the signed-in session lasts a whole
/// absolute timeout from the sign-in, not what was left of the visit's.
#[tokio::test]
async fn a_sign_in_lasts_a_whole_absolute_timeout_from_itself() {
    let mut b = with_session().await;
    let s = b.request().await;
    let visit = b.store.get(s.id().unwrap()).await.unwrap().unwrap();
    past(visit.created_at).await;
    let before = now();
    s.login("alice").await.unwrap();
    b.respond(&s).await;
    let s = b.request().await;
    let record = b.store.get(s.id().unwrap()).await.unwrap().unwrap();
    let full = before + b.config.absolute_timeout;
    assert!(record.absolute_expires_at >= full, "{record:?}");
    assert!(record.absolute_expires_at > visit.absolute_expires_at);
}
