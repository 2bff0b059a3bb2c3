//! "Your devices", failed sign-ins shown to their owner (issue 27, item 2):
//! a wrong password of an existing user is recorded off the response path
//! and listed (`failed_sign_ins`: when, IP, device) after the user's next
//! successful sign-in, bounded, and gone after the one after. Every store,
//! over real HTTP through the demo.

use crate::common;

use axum_user_sessions::{ClientInfo, SessionAdmin, SessionEvent};
use common::eventually;
use common::{Backend, Client};
use std::sync::{Arc, Mutex};
use std::time::Duration;

everywhere!(
    wrong_passwords_are_shown_after_the_next_sign_in,
    failed_sign_ins_are_bounded_and_counted,
    concurrent_failures_are_all_counted,
    a_flood_for_one_user_is_counted_in_full_and_delays_nobody_else,
    a_user_id_holding_nul_has_no_device_records,
);

fn wrong(user: &str) -> Option<(&'static str, String)> {
    Some((
        "application/x-www-form-urlencoded",
        format!("username={user}&password=nope"),
    ))
}

/// How many failed sign-ins of `user` the store has, once it has `n`.
async fn recorded(admin: &SessionAdmin, user: &str, n: u64) {
    let got = eventually(Duration::from_secs(10), || async {
        let (_, count) = admin.failed_sign_ins(user).await.unwrap();
        (count >= n).then_some(count)
    })
    .await;
    assert_eq!(got, Some(n), "{user}'s failed sign-ins");
}

async fn wrong_passwords_are_shown_after_the_next_sign_in(b: Backend) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let layer = b.layer().with_events(move |e: &SessionEvent| {
        seen.lock().unwrap().push(e.kind.clone());
    });
    let app = common::serve_demo(layer).await;
    let admin = SessionAdmin::new(b.store.clone());
    let mut attacker = Client::new(&app);
    for _ in 0..2 {
        let res = attacker.send("POST", "/login", wrong("alice")).await;
        assert_eq!(res.status, 401);
    }
    // An unknown user: the same answer, nothing recorded.
    let res = attacker.send("POST", "/login", wrong("mallory")).await;
    assert_eq!(res.status, 401);
    recorded(&admin, "alice", 2).await;
    assert_eq!(admin.failed_sign_ins("mallory").await.unwrap().1, 0);
    // The event fires after the store has the attempt: wait for it too.
    let second = axum_user_sessions::SessionEventKind::FailedSignIn { count: 2 };
    let fired = eventually(Duration::from_secs(10), || async {
        events.lock().unwrap().contains(&second).then_some(())
    })
    .await;
    assert!(fired.is_some(), "{:?}", events.lock().unwrap());

    let mut alice = Client::new(&app);
    alice.login("alice").await;
    let list = alice.get("/sessions").await.json();
    let failed = list["failed_sign_ins"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{list}");
    assert_eq!(list["failed_sign_in_count"], 2);
    for f in failed {
        assert_eq!(f["ip"], "127.0.0.1", "{f}");
        assert_eq!(f["device"], "Firefox on Linux", "{f}");
        assert!(f["at"].as_str().unwrap().ends_with('Z'), "{f}");
    }
    let page = alice
        .send_raw("GET", "/sessions", None, &[("accept", b"text/html")])
        .await;
    assert!(
        page.body
            .contains("Failed sign-ins since your last sign-in (2)"),
        "{}",
        page.body
    );

    // Bob does not see them.
    let mut bob = Client::new(&app);
    bob.login("bob").await;
    let list = bob.get("/sessions").await.json();
    assert_eq!(
        list["failed_sign_ins"].as_array().unwrap().len(),
        0,
        "{list}"
    );

    // After alice's next successful sign-in, they are older than her
    // previous one: no longer shown.
    let mut again = Client::new(&app);
    again.login("alice").await;
    let list = again.get("/sessions").await.json();
    assert_eq!(list["failed_sign_in_count"], 0, "{list}");
}

async fn failed_sign_ins_are_bounded_and_counted(b: Backend) {
    let admin = SessionAdmin::new(b.store.clone());
    let client = ClientInfo::new(Some([198, 51, 100, 7].into()), Some("curl/8.0".into()));
    let kept = axum_user_sessions::store::devices::FAILED_SIGN_INS_KEPT as u64;
    for i in 1..=kept + 5 {
        let n = admin.record_failed_sign_in("carol", &client).await.unwrap();
        assert_eq!(n, i, "the count an app throttles on");
    }
    let (list, count) = admin.failed_sign_ins("carol").await.unwrap();
    assert_eq!((list.len() as u64, count), (kept, kept + 5));
    assert!(
        list.windows(2).all(|w| w[0].at <= w[1].at),
        "the first ones, in order"
    );
    assert_eq!(list[0].ip, Some([198, 51, 100, 7].into()));

    // The layer's IP anonymisation applies to what the demo records.
    let app = common::serve_demo(b.layer().with_ip_anonymization(true)).await;
    let mut c = Client::new(&app);
    let res = c.send("POST", "/login", wrong("bob")).await;
    assert_eq!(res.status, 401);
    recorded(&admin, "bob", 1).await;
    let (list, _) = admin.failed_sign_ins("bob").await.unwrap();
    assert_eq!(list[0].ip, Some([127, 0, 0, 0].into()));
}

/// A burst of wrong passwords for one user, at once: each is counted (in
/// one process they take turns, so no compare-and-set runs out of tries).
async fn concurrent_failures_are_all_counted(b: Backend) {
    let app = common::serve_demo(b.layer()).await;
    let admin = SessionAdmin::new(b.store.clone());
    let burst = (0..40).map(|_| {
        let c = Client::new(&app);
        async move {
            c.send_raw("POST", "/login", wrong("carol"), &[])
                .await
                .status
        }
    });
    let answers = futures::future::join_all(burst).await;
    assert!(answers.iter().all(|s| *s == 401), "{answers:?}");
    recorded(&admin, "carol", 40).await;
}

/// A flood of wrong passwords for one user, far more than were ever in
/// flight at once: every one is counted (those that wait go in one write),
/// and another user's failure is recorded all the same.
async fn a_flood_for_one_user_is_counted_in_full_and_delays_nobody_else(b: Backend) {
    use futures::StreamExt as _;
    let app = common::serve_demo(b.layer()).await;
    let admin = SessionAdmin::new(b.store.clone());
    let flood = 600;
    let answers: Vec<u16> = futures::stream::iter(0..flood)
        .map(|_| {
            let c = Client::new(&app);
            async move {
                c.send_raw("POST", "/login", wrong("carol"), &[])
                    .await
                    .status
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(answers.iter().all(|s| *s == 401), "{answers:?}");
    let res = Client::new(&app)
        .send("POST", "/login", wrong("alice"))
        .await;
    assert_eq!(res.status, 401);
    recorded(&admin, "alice", 1).await;
    recorded(&admin, "carol", flood).await;
    let (list, _) = admin.failed_sign_ins("carol").await.unwrap();
    let kept = axum_user_sessions::store::devices::FAILED_SIGN_INS_KEPT;
    assert_eq!(list.len(), kept, "the first ones keep their client");
    assert!(list.iter().all(|f| f.ip == Some([127, 0, 0, 1].into())));
}

/// A user id holding U+0000 names nobody (a sign-in refuses one): the
/// admin calls on device records answer as for a user without any, on
/// every store (Postgres refused the text: a 500 in an admin page).
async fn a_user_id_holding_nul_has_no_device_records(b: Backend) {
    let admin = SessionAdmin::new(b.store.clone());
    let user = "al\0ice";
    let client = ClientInfo::new(None, None);
    assert_eq!(admin.record_failed_sign_in(user, &client).await.unwrap(), 0);
    let (list, count) = admin.failed_sign_ins(user).await.unwrap();
    assert!(list.is_empty());
    assert_eq!(count, 0);
    assert!(admin.trusted_devices(user).await.unwrap().is_empty());
    let all = axum_user_sessions::ForgetTrust::All;
    assert_eq!(admin.forget_trusted_devices(user, all).await.unwrap(), 0);
}
