//! "Your devices" revocations: one device, every other one, all of them,
//! and the current one by id, on every store, over real HTTP.

use crate::common::Backend;
use crate::routes::{IPHONE, SAME, app, delete, list, session_id, signed_in};

everywhere!(
    revoking_a_device_signs_it_out,
    revoke_others_keeps_only_the_current_session,
    revoke_all_signs_out_everywhere,
    revoking_the_current_session_by_id_signs_out,
);

async fn revoking_a_device_signs_it_out(b: Backend) {
    let app = app(&b).await;
    let mut laptop = signed_in(&app, "alice", None).await;
    let mut phone = signed_in(&app, "alice", Some(IPHONE)).await;
    let mut tablet = signed_in(&app, "alice", None).await;
    let phone_id = session_id(&mut phone).await;
    let res = delete(&mut laptop, &phone_id, &[SAME]).await;
    assert_eq!(res.status, 204);
    assert_eq!(
        phone.me().await,
        None,
        "the revoked device is still signed in"
    );
    assert_eq!(laptop.me().await.as_deref(), Some("alice"));
    assert!(
        list(&mut laptop)
            .await
            .iter()
            .all(|d| d["id"] != phone_id.as_str())
    );
    // Again: it is gone.
    assert_eq!(delete(&mut laptop, &phone_id, &[SAME]).await.status, 404);
    // The form variant redirects back to the list.
    let tablet_id = session_id(&mut tablet).await;
    let res = laptop
        .send_with(
            "POST",
            &format!("/sessions/{tablet_id}/revoke"),
            &[SAME, ("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(res.headers["location"], "/sessions");
    assert_eq!(tablet.me().await, None);
}

async fn revoke_others_keeps_only_the_current_session(b: Backend) {
    let app = app(&b).await;
    let mut me = signed_in(&app, "alice", None).await;
    let mut others = vec![
        signed_in(&app, "alice", None).await,
        signed_in(&app, "alice", Some(IPHONE)).await,
    ];
    let mut bob = signed_in(&app, "bob", None).await;
    assert_eq!(me.me().await.as_deref(), Some("alice")); // (fills the cache, if any)
    let n = b.round_trips();
    let res = me
        .send_with("POST", "/sessions/revoke-others", &[SAME])
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["revoked"], 2);
    // This device's new token (no grace for the old one, #14 item 5) is two
    // more round-trips (a read of its credentials, their compare-and-set),
    // and the read of the user's device records, whose trust signing out
    // the others forgets, one (none here: nothing is written).
    let expected = if b.cached() { 4 } else { 5 };
    assert_eq!(
        b.round_trips() - n,
        expected,
        "load + one revoking statement + the reissue's read and swap + the device records"
    );
    let left = list(&mut me).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["current"], true);
    for o in &mut others {
        assert_eq!(o.me().await, None);
    }
    assert_eq!(bob.me().await.as_deref(), Some("bob"));
    let res = me
        .send_with("POST", "/sessions/revoke-others", &[SAME])
        .await;
    assert_eq!(res.json()["revoked"], 0);
}

async fn revoke_all_signs_out_everywhere(b: Backend) {
    let app = app(&b).await;
    let mut me = signed_in(&app, "alice", None).await;
    let mut other = signed_in(&app, "alice", None).await;
    let mut bob = signed_in(&app, "bob", None).await;
    let res = me.send_with("POST", "/sessions/revoke-all", &[SAME]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["revoked"], 2);
    assert_eq!(
        res.cookie_value("__Host-session").as_deref(),
        Some(""),
        "cookie not expired"
    );
    assert_eq!(me.me().await, None);
    assert_eq!(other.me().await, None);
    assert_eq!(bob.me().await.as_deref(), Some("bob"));
}

async fn revoking_the_current_session_by_id_signs_out(b: Backend) {
    let app = app(&b).await;
    let mut me = signed_in(&app, "alice", None).await;
    let token = me.cookie.clone();
    let id = session_id(&mut me).await;
    let res = delete(&mut me, &id, &[SAME]).await;
    assert_eq!(res.status, 204);
    assert_eq!(res.cookie_value("__Host-session").as_deref(), Some(""));
    me.cookie = token;
    assert_eq!(me.me().await, None);
}
