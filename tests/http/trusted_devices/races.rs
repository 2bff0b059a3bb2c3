//! Trusted devices under a browser's own races: one sign-in form sent
//! twice with the same trust cookie.

use super::{Browser, TRUST, app};
use crate::common::Backend;

everywhere!(a_sign_in_sent_twice_rotates_the_trust_once);

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
