//! A remember-me restore's cookies, sent by a timely response only: a slow
//! response must not set a validator that a later restore replaced.

use super::*;
use uuid::Uuid;

/// The grace for replaced tokens and validators in these tests.
const GRACE: Duration = Duration::from_millis(300);

/// A browser signed in with "remember me" under [`GRACE`], then restarted
/// (only its remember-me cookie left), and its session's id.
async fn remembered_then_restarted() -> (Browser, Uuid) {
    let mut config = SessionConfig::default();
    config.remember.grace = GRACE;
    config.rotation.grace = GRACE;
    let mut b = Browser::with_config(config);
    let s = b.request().await;
    s.login_remember("carol", true).await.unwrap();
    b.respond(&s).await;
    let id = b.request().await.id().unwrap();
    b.session = None;
    (b, id)
}

/// After the grace, the browser restarts again and its remember-me cookie
/// still opens session `id`, which nobody revoked.
async fn still_signed_in(b: &mut Browser, id: Uuid) {
    past(now() + GRACE).await;
    b.session = None;
    let s = b.request().await;
    let record = b.store.get(id).await.unwrap().unwrap();
    assert_eq!(record.revoked_at, None, "{:?}", record.revoke_reason);
    assert_eq!(s.id(), Some(id));
    b.respond(&s).await;
}

/// `slow`'s response, sent after the grace.
async fn respond_late(b: &mut Browser, slow: &Session) -> CookieUpdate {
    past(now() + GRACE).await;
    b.respond(slow).await
}

/// `slow`, a request that restored, answers after the grace: it sets no
/// cookie.
async fn answers_late(b: &mut Browser, slow: &Session) {
    let update = respond_late(b, slow).await;
    assert_eq!(update, NOTHING, "set the restore's cookies");
}

/// The browser's next request restores session `id` again, with a new
/// validator, and a restart after every grace still opens it.
async fn restores_again(b: &mut Browser, id: Uuid) {
    let s = b.request().await;
    assert_eq!(s.id(), Some(id), "anonymous after a late restore");
    assert!(sets_a_validator(&b.respond(&s).await));
    still_signed_in(b, id).await;
}

fn sets_a_validator(update: &CookieUpdate) -> bool {
    matches!(update.remember, Some(CookieChange::Set { .. }))
}

/// A slow page restores (a pending validator) and answers after the
/// grace; meanwhile another tab restored again and replaced it. Sent, the
/// slow page's validator would be presented at the next restore: a theft.
#[tokio::test]
async fn a_late_restore_response_does_not_set_a_replaced_validator() {
    let (mut b, id) = remembered_then_restarted().await;
    let slow = b.request().await;
    assert!(slow.is_restored());
    past(now() + GRACE).await;
    let tab = b.request().await;
    assert!(tab.is_restored());
    assert!(sets_a_validator(&b.respond(&tab).await));
    assert_eq!(b.respond(&slow).await, NOTHING, "set the replaced cookies");
    still_signed_in(&mut b, id).await;
}

/// A slow restore nobody replaced: its cookies are left out all the same,
/// as if its response were lost, and the browser's next request restores
/// again.
#[tokio::test]
async fn a_late_restore_alone_signs_nobody_out() {
    let (mut b, id) = remembered_then_restarted().await;
    let slow = b.request().await;
    answers_late(&mut b, &slow).await;
    restores_again(&mut b, id).await;
}

/// What the handler asked for is sent however late: a sign-in on a page
/// that restored, and a sign-out.
#[tokio::test]
async fn a_late_response_still_sends_what_its_handler_asked_for() {
    let (mut b, _) = remembered_then_restarted().await;
    let slow = b.request().await;
    slow.login_remember("carol", true).await.unwrap();
    let update = respond_late(&mut b, &slow).await;
    session_cookie(&update.session);
    assert!(sets_a_validator(&update), "{update:?}");

    b.session = None;
    let slow = b.request().await;
    slow.logout().await.unwrap();
    let update = respond_late(&mut b, &slow).await;
    assert_eq!(update.session, Some(CookieChange::Expire));
    assert_eq!(update.remember, Some(CookieChange::Expire));
}

/// A request that arrived with the current validator loads only after the
/// grace, and another tab restored in between (its pending validator
/// reached the browser). Judged at its arrival, the request keeps that
/// pending validator instead of replacing it: replaced, the browser's
/// would be a theft at its next restore.
#[tokio::test]
async fn a_held_request_keeps_a_validator_issued_since_it_arrived() {
    let (mut b, id) = remembered_then_restarted().await;
    let held = b.unloaded(None, b.remember.clone().as_deref());
    let tab = b.request().await;
    assert!(sets_a_validator(&b.respond(&tab).await));
    past(now() + GRACE).await;
    held.ensure_loaded().await.unwrap();
    assert_eq!(held.id(), Some(id));
    let update = held.commit(false).await.cookies;
    assert_eq!(update.remember, None, "replaced the tab's validator");
    still_signed_in(&mut b, id).await;
}

/// The common restore: a tab left open past the idle timeout still sends
/// its session cookie, which the restore retires. Its slow response leaves
/// the browser that retired cookie; within a rotation grace longer than the
/// remember-me grace, the next request restores again instead of being
/// anonymous, as a request that left before a sign-in is.
#[tokio::test]
async fn a_late_restore_over_an_idled_out_cookie_signs_nobody_out() {
    let mut config = SessionConfig::default();
    config.remember.grace = GRACE;
    config.rotation.grace = Duration::from_secs(60);
    config.idle_timeout = Duration::from_millis(200);
    let mut b = Browser::with_config(config);
    let s = b.request().await;
    s.login_remember("carol", true).await.unwrap();
    b.respond(&s).await;
    let id = b.request().await.id().unwrap();
    past(b.store.get(id).await.unwrap().unwrap().expires_at).await;
    let slow = b.request().await;
    assert!(slow.is_restored());
    answers_late(&mut b, &slow).await;
    assert!(b.session.is_some(), "the idled-out cookie is still there");
    // A second slow page does the same: its restore moves `rotated_at` on,
    // past the instant the first one retired the cookie at.
    let slow = b.request().await;
    assert_eq!(slow.id(), Some(id), "anonymous after one slow restore");
    answers_late(&mut b, &slow).await;
    restores_again(&mut b, id).await;
}

/// Past the rotation grace, a token that a re-authentication retired (its
/// response lost: the browser kept the old session cookie) holds nothing
/// back: the remember-me cookie, still the session's, restores it. The
/// restore-retired rule looks at the row only within the grace.
#[tokio::test]
async fn a_remember_cookie_restores_past_the_grace_of_a_re_authentication() {
    let (mut b, id) = remembered_then_restarted().await;
    let s = b.request().await;
    assert!(s.is_restored());
    b.respond(&s).await;
    let s = b.request().await;
    s.reauthenticate().await.unwrap();
    assert!(s.is_fresh(Duration::from_secs(60)));
    // Its response is lost: the browser keeps the token it retired.
    past(now() + GRACE).await;
    let s = b.request().await;
    assert_eq!(s.id(), Some(id), "signed out by a lost re-auth");
    assert!(s.is_restored());
}
