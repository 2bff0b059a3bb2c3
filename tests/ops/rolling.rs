//! A rolling upgrade from the released version: the demo of 0.1.0 (built by
//! `scripts/released-demo.sh`) and this build on one Postgres database, one
//! browser sent to either at random as a load balancer would. Nobody is
//! signed out, whichever instance rotates the token or restores the session,
//! and a replayed token is still taken for theft on either instance. This
//! build runs with its defaults, tokens of 0.1's form: what a fleet that
//! still runs 0.1 needs (`with_session_ids_in_tokens` comes after).

use crate::common;

use axum_user_sessions::SessionLayer;
use common::{Client, TestApp, eventually};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(20);

/// The released demo, running until dropped.
struct Released {
    child: Child,
    base: String,
}

impl Drop for Released {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the released demo on the database `url`.
async fn released(url: &str) -> Released {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/released-demo.sh");
    let out = Command::new(script)
        .output()
        .expect("scripts/released-demo.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", url)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("SESSION_ROTATE_SECS", "1")
        .env("SESSION_GRACE_SECS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the released demo starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = common::http();
    let up = eventually(LIMIT, || async {
        let res = http.get(format!("{base}/health")).send().await.ok()?;
        res.status().is_success().then_some(())
    })
    .await;
    assert!(up.is_some(), "the released demo did not answer /health");
    Released { child, base }
}

/// The database URL of the test's pool.
fn url_of(pool: &sqlx::PgPool) -> String {
    let o = pool.connect_options();
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let (server, _) = base.rsplit_once('/').expect("a database URL");
    format!("{server}/{}", o.get_database().expect("a database name"))
}

/// This build's demo on the same database, with the released demo's
/// settings (plain-http cookies, rotation every second, 1 s of grace).
async fn this_build(pool: &sqlx::PgPool) -> TestApp {
    axum_user_sessions::migrate(pool).await.unwrap();
    let layer = SessionLayer::new(pool.clone())
        .with_secure(false)
        .with_rotation_interval(Duration::from_secs(1))
        .with_rotation_grace(Duration::from_secs(1));
    common::serve_demo(layer).await
}

/// A new browser on `base`, with the demo's plain-http cookie names.
fn browser_at(app: &TestApp, base: &str) -> Client {
    let mut browser = Client::with_cookie_name(app, "session");
    browser.remember_name = "remember".into();
    browser.base = base.to_owned();
    browser
}

/// The browser, sent to `base`.
fn at(browser: &Client, base: &str) -> Client {
    let mut c = browser.clone();
    c.base = base.to_owned();
    c
}

/// Counts on both instances in turn until each has rotated the token at
/// least twice: every answer is Alice's, and the counter never loses a
/// step.
async fn alternate_until_both_rotated(browser: &mut Client, bases: [&str; 2]) {
    let mut rotations = [0; 2];
    let mut expected = browser_counter(browser).await;
    let start = Instant::now();
    while rotations.iter().any(|&n| n < 2) {
        assert!(start.elapsed() < LIMIT, "rotations seen: {rotations:?}");
        for (i, base) in bases.iter().enumerate() {
            let mut c = at(browser, base);
            let before = c.cookie.clone();
            let res = c.post("/counter").await;
            assert_eq!(res.status, 200, "signed out on instance {i}: {}", res.body);
            expected += 1;
            assert_eq!(res.json()["counter"], expected, "on instance {i}");
            if c.cookie != before {
                rotations[i] += 1;
            }
            browser.cookie = c.cookie;
        }
    }
}

/// The counter as it stands (one more step).
async fn browser_counter(browser: &mut Client) -> i64 {
    let res = browser.post("/counter").await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()["counter"].as_i64().unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_fleet_of_0_1_and_this_build_signs_nobody_out(pool: sqlx::PgPool) {
    // The released instance starts first, on a database it migrates itself,
    // then this build upgrades the schema under it.
    let old = released(&url_of(&pool)).await;
    let new = this_build(&pool).await;
    let bases = [old.base.as_str(), new.base.as_str()];

    for (first, second) in [(0, 1), (1, 0)] {
        // Signed in on one, used on both while each rotates the token.
        let mut browser = browser_at(&new, bases[first]);
        browser.login("alice").await;
        assert_eq!(browser.cookie.as_ref().map(String::len), Some(43));
        assert_eq!(
            at(&browser, bases[second]).me().await.as_deref(),
            Some("alice")
        );
        alternate_until_both_rotated(&mut browser, bases).await;

        // One more rotation on the first instance, its token promoted by a
        // request on the second; the token it replaced, replayed on the
        // second after its grace, is theft, and the session ends for both.
        let stolen = browser.cookie.clone();
        let start = Instant::now();
        while browser.cookie == stolen {
            assert!(start.elapsed() < LIMIT, "no rotation on instance {first}");
            let mut c = at(&browser, bases[first]);
            assert_eq!(c.me().await.as_deref(), Some("alice"));
            browser.cookie = c.cookie;
        }
        let mut c = at(&browser, bases[second]);
        assert_eq!(
            c.me().await.as_deref(),
            Some("alice"),
            "the new token failed"
        );
        browser.cookie = c.cookie;
        let mut thief = at(&browser, bases[second]);
        thief.cookie = stolen;
        let refused = eventually(LIMIT, || {
            let mut t = thief.clone();
            async move { t.me().await.is_none().then_some(()) }
        })
        .await;
        assert!(refused.is_some(), "a replayed token kept working");
        for base in bases {
            assert_eq!(
                at(&browser, base).me().await,
                None,
                "theft did not end the session"
            );
        }
    }
}

#[sqlx::test(migrations = false)]
async fn remember_me_restores_on_either_instance(pool: sqlx::PgPool) {
    common::init_tracing();
    let old = released(&url_of(&pool)).await;
    let new = this_build(&pool).await;
    let bases = [old.base.as_str(), new.base.as_str()];
    for (first, second) in [(0, 1), (1, 0)] {
        let mut browser = browser_at(&new, bases[first]);
        browser.login_with("alice", true).await;
        // The browser closes: the session cookie is gone, the remember-me
        // cookie restores it on the other instance, then back again.
        for base in [bases[second], bases[first]] {
            browser.cookie = None;
            let mut c = at(&browser, base);
            assert_eq!(
                c.me().await.as_deref(),
                Some("alice"),
                "not restored on {base}"
            );
            browser = c;
        }
    }
    // A 0.1 instance started after this build migrated (scaled out,
    // restarted) runs its migrations at its start, starts, and serves the
    // browsers signed in on this build.
    let late = released(&url_of(&pool)).await;
    let mut browser = browser_at(&new, &new.base);
    browser.login("alice").await;
    assert_eq!(
        at(&browser, &late.base).me().await.as_deref(),
        Some("alice")
    );
}
