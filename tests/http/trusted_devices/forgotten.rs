//! Trusted devices: a browser whose trust was forgotten from elsewhere
//! coming back.

use super::{Browser, SAME, app};
use crate::common::Backend;

everywhere!(a_trust_forgotten_elsewhere_comes_back_without_an_alarm);

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
