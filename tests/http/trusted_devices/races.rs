//! Trusted devices under a browser's own races (one sign-in form sent
//! twice with the same trust cookie), and a browser whose trust was
//! forgotten from elsewhere coming back.

use super::{Browser, SAME, TRUST, app};
use crate::common::Backend;

everywhere!(
    a_sign_in_sent_twice_rotates_the_trust_once,
    a_trust_forgotten_elsewhere_comes_back_without_an_alarm,
);

/// The second of two sign-ins presenting the same trust validator (a
/// double-submitted form) finds it replaced by the first, within the grace
/// window: trusted, and it sets no trust cookie. It used to rotate again,
/// so that the validator the first response set was neither current nor
/// (after the grace window) previous: if that response arrived last, the
/// browser's next sign-in was taken for a replay and its trust forgotten.
async fn a_sign_in_sent_twice_rotates_the_trust_once(b: Backend) {
    let (app, events) = app(&b).await;
    let mut laptop = Browser::new(&app);
    laptop
        .login("alice", "&second_factor=on&trust_device=on")
        .await;
    assert!(laptop.trusted().await);
    assert_eq!(laptop.send("POST", "/logout", None).await.status, 303);
    let mut second = Browser::new(&app);
    second.trust = laptop.trust.clone();

    let first = laptop.login("alice", "").await;
    let rotated = first
        .cookie_value(TRUST)
        .expect("the first sign-in rotates");
    assert_ne!(Some(&rotated), second.trust.as_ref());
    let again = second.login("alice", "").await;
    assert_eq!(again.cookie_value(TRUST), None, "rotated twice");
    assert!(
        second.trusted().await,
        "the replaced validator, within grace"
    );
    // The first response's validator is the current one: still trusted,
    // and no replay was seen.
    assert_eq!(laptop.send("POST", "/logout", None).await.status, 303);
    laptop.login("alice", "").await;
    assert!(laptop.trusted().await);
    let seen = events.lock().unwrap().clone();
    assert!(
        !seen.contains(&"trusted_device_replayed".into()),
        "{seen:?}"
    );
}

/// A trust forgotten from another device ("sign out everywhere else" on
/// the phone) leaves the laptop's cookie where it was: the laptop's next
/// sign-in is not trusted, and raises no replay alarm. It raised one, at
/// each device such a sign-out or a password change had forgotten. A copy
/// of a cookie whose trust was forgotten on its own browser still does
/// (`a_replayed_trust_is_refused_and_forgotten`).
async fn a_trust_forgotten_elsewhere_comes_back_without_an_alarm(b: Backend) {
    let (app, events) = app(&b).await;
    let mut laptop = Browser::new(&app);
    laptop
        .login("alice", "&second_factor=on&trust_device=on")
        .await;
    let mut phone = Browser::new(&app);
    phone.login("alice", "&second_factor=on").await;
    let res = phone
        .c
        .send_with("POST", "/sessions/revoke-others", &[SAME])
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(laptop.trust.is_some(), "the laptop kept its cookie");
    laptop.login("alice", "").await;
    assert!(!laptop.trusted().await, "a forgotten trust skips nothing");
    let seen = events.lock().unwrap().clone();
    assert!(
        seen.contains(&"trusted_devices_forgotten".into()),
        "{seen:?}"
    );
    assert!(
        !seen.contains(&"trusted_device_replayed".into()),
        "{seen:?}"
    );
}
