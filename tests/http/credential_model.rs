//! A model-based test of the credential state machine (issue #14 item 13):
//! session tokens and remember-me together, through the real server, on
//! every store. proptest draws sequences of operations on one browser (the
//! "laptop", signed in with remember-me) beside a second device: bursts of
//! concurrent requests whose responses arrive in any order or are lost,
//! browser restarts (session cookie dropped, remember cookie kept), waits
//! across rotation intervals and grace windows, sign-ins, "sign out
//! everywhere else", and revocation of all the user's sessions.
//!
//! Invariants:
//! - the browser, holding the latest cookies it received, is signed in
//!   unless the model revoked it (every request of every burst, and after
//!   every restart);
//! - a credential that a sign-in or revoke-others replaced (no grace) never
//!   grants access again, and after a revocation nothing does;
//! - no token row outlives its session (the SQL stores, by query).
//!
//! Sign-in and revoke-others responses are never lost in the model: both
//! replace this browser's cookies with no grace on purpose (fixation, and a
//! copy of the cookies must die), so losing their response signs the
//! browser out by design. Cases are drawn with proptest's strategies
//! (printed when one fails); there is no shrinking, since the server's
//! state cannot be replayed.

use crate::common;

use axum_user_sessions::{RevokeReason, RevokedBy, SessionAdmin};
use common::{Backend, Client, Kind};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use std::time::Duration;

conformance!(credential_state_machine_model);

#[derive(Debug, Clone)]
enum Op {
    /// `n` concurrent requests with the jar's cookies (writes when
    /// `write`); responses are taken in reverse order when `reverse`, and
    /// only those whose bit is set in `kept`.
    Burst {
        n: usize,
        kept: u8,
        reverse: bool,
        write: bool,
    },
    /// A browser restart: the session cookie is gone.
    Restart,
    /// A wait, in milliseconds (rotation interval 1 s, grace windows 2 s).
    Wait(u64),
    /// Signs in again (with remember-me).
    SignIn,
    /// "Sign out everywhere else" from this browser.
    RevokeOthers,
    /// An admin revokes every session of the user.
    RevokeAll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (1usize..5, any::<u8>(), any::<bool>(), any::<bool>())
            .prop_map(|(n, kept, reverse, write)| Op::Burst { n, kept, reverse, write }),
        2 => Just(Op::Restart),
        2 => (0u64..1500).prop_map(Op::Wait),
        1 => Just(Op::SignIn),
        1 => Just(Op::RevokeOthers),
        1 => Just(Op::RevokeAll),
    ]
}

const SAME_ORIGIN: &[(&str, &str)] = &[("sec-fetch-site", "same-origin")];

async fn signed_in_as(c: &Client) -> Option<String> {
    let res = c.send_raw("GET", "/me", None, &[]).await;
    match res.status {
        200 => Some(res.json()["user_id"].as_str().unwrap().to_owned()),
        401 => None,
        s => panic!("GET /me answered {s}: {}", res.body),
    }
}

async fn credential_state_machine_model(b: Backend) {
    let layer = b
        .layer()
        .with_rotation_interval(Duration::from_secs(1))
        .with_rotation_grace(Duration::from_secs(2))
        .with_remember_grace(Duration::from_secs(2));
    let app = common::serve_demo(layer).await;
    let mut runner = TestRunner::new(Config {
        cases: 3,
        ..Config::default()
    });
    let ops = prop::collection::vec(op(), 6..14);
    for case in 0..3 {
        let ops = ops.new_tree(&mut runner).unwrap().current();
        println!("case {case}: {ops:?}");
        run_case(&b, &app, &ops, case).await;
    }
    assert_no_orphan_tokens(&b).await;
}

async fn run_case(b: &Backend, app: &common::TestApp, ops: &[Op], case: usize) {
    let user = ["alice", "bob", "carol"][case].to_owned();
    let mut phone = Client::new(app);
    phone.login(&user).await;
    let mut c = Client::new(app);
    c.login_with(&user, true).await;
    let mut signed_in = true;
    for (i, op) in ops.iter().enumerate() {
        let at = format!("case {case} op {i} {op:?} of {ops:?}");
        match op {
            Op::Burst {
                n,
                kept,
                reverse,
                write,
            } => {
                let tasks: Vec<_> = (0..*n)
                    .map(|k| {
                        let c = c.clone();
                        let write = *write && signed_in;
                        tokio::spawn(async move {
                            if write {
                                let body = Some(("text/plain", "v".to_owned()));
                                c.send_raw("PUT", &format!("/kv/k{k}"), body, &[]).await
                            } else {
                                c.send_raw("GET", "/me", None, &[]).await
                            }
                        })
                    })
                    .collect();
                let mut responses = Vec::new();
                for t in tasks {
                    let res = t.await.unwrap();
                    if signed_in {
                        assert!(
                            res.status == 200 || res.status == 204,
                            "{at}: signed out ({}: {})",
                            res.status,
                            res.body
                        );
                        if res.status == 200 {
                            assert_eq!(res.json()["user_id"], user.as_str(), "{at}");
                        }
                    } else {
                        assert_eq!(res.status, 401, "{at}: a revoked browser got in");
                    }
                    responses.push(res);
                }
                if *reverse {
                    responses.reverse();
                }
                for (k, res) in responses.iter().enumerate() {
                    if kept & (1 << k) != 0 {
                        c.absorb(res);
                    }
                }
            }
            Op::Restart => c.cookie = None,
            Op::Wait(ms) => {
                let until = std::time::Instant::now() + Duration::from_millis(*ms);
                common::eventually(Duration::from_secs(5), || async {
                    (std::time::Instant::now() >= until).then_some(())
                })
                .await;
            }
            Op::SignIn => {
                let before = c.clone();
                c.login_with(&user, true).await;
                signed_in = true;
                assert_replaced(&before, &at).await;
            }
            Op::RevokeOthers if signed_in => {
                let before = c.clone();
                let res = c
                    .send_with("POST", "/sessions/revoke-others", SAME_ORIGIN)
                    .await;
                assert_eq!(res.status, 200, "{at}: {}", res.body);
                assert_replaced(&before, &at).await;
                assert_eq!(signed_in_as(&phone).await, None, "{at}: the phone survived");
            }
            Op::RevokeOthers => {}
            Op::RevokeAll => {
                let admin = SessionAdmin::new(b.store.clone());
                let by = RevokedBy::operator("model");
                admin
                    .revoke_user_sessions(&user, None, by, RevokeReason::Admin)
                    .await
                    .unwrap();
                signed_in = false;
            }
        }
        // The browser as it stands (this response is lost). Not a copy of
        // it after a restart: a restore retires the tokens issued before
        // it, which the copy's original would still hold.
        let expected = signed_in.then(|| user.clone());
        assert_eq!(signed_in_as(&c).await, expected, "{at}");
    }
    // At the end, a restart.
    c.cookie = None;
    let expected = signed_in.then(|| user.clone());
    assert_eq!(
        signed_in_as(&c).await,
        expected,
        "case {case}: after a restart"
    );
}

/// The cookies a sign-in or revoke-others replaced (no grace): neither the
/// session cookie alone nor the remember cookie alone grants access.
async fn assert_replaced(before: &Client, at: &str) {
    let mut token = before.clone();
    token.remember = None;
    if token.cookie.is_some() {
        assert_eq!(
            signed_in_as(&token).await,
            None,
            "{at}: a replaced session cookie worked"
        );
    }
    let mut remember = before.clone();
    remember.cookie = None;
    if remember.remember.is_some() {
        assert_eq!(
            signed_in_as(&remember).await,
            None,
            "{at}: a replaced remember cookie worked"
        );
    }
}

/// No token row belongs to a session that is gone (SQL stores), once
/// garbage collection has removed ended sessions.
async fn assert_no_orphan_tokens(b: &Backend) {
    let far = time::OffsetDateTime::now_utc() + time::Duration::days(365);
    while b.store.gc_batch(far, far, 1000).await.unwrap() > 0 {}
    let orphans: i64 = match b.kind {
        Kind::Postgres | Kind::PostgresCached | Kind::PgBouncer => sqlx::query_scalar(
            "SELECT count(*) FROM axum_user_sessions.tokens t
              WHERE NOT EXISTS (SELECT 1 FROM axum_user_sessions.sessions s
                                 WHERE s.id = t.session_id)",
        )
        .fetch_one(b.pg.as_ref().unwrap())
        .await
        .unwrap(),
        Kind::Sqlite => sqlx::query_scalar(
            "SELECT count(*) FROM aus_tokens t
              WHERE NOT EXISTS (SELECT 1 FROM aus_sessions s WHERE s.id = t.session_id)",
        )
        .fetch_one(b.sqlite.as_ref().unwrap())
        .await
        .unwrap(),
        // The memory store deletes a session's tokens with it
        // (`Tables::remove_session`); its tables are not visible from here.
        Kind::Memory => 0,
        // Redis keeps a session's tokens inside its one key.
        Kind::Redis | Kind::RedisCluster => 0,
    };
    assert_eq!(orphans, 0, "token rows outlived their sessions");
}
