//! Adopting tower-sessions sessions (`SessionLayer::adopt_tower_sessions`):
//! sessions made by tower-sessions itself, over real HTTP, through the demo
//! with its `SESSION_IMPORT=tower-sessions` import, on Postgres, SQLite and
//! Redis (our store on the node, tower-sessions' table on Postgres).

/// Runs each scenario `async fn name(Switch)` on Postgres, SQLite and a
/// Redis node (feature `redis`; skipped without `AUS_REDIS_URL`, as every
/// Redis test), and those after `sql_only:` on the SQL databases alone.
macro_rules! on_both {
    (@pg $name:ident) => {
        #[sqlx::test(migrations = false)]
        async fn $name(pool: sqlx::PgPool) {
            super::$name(crate::adopt::tower::Switch::postgres(pool).await).await
        }
    };
    (@lite $name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            super::$name(crate::adopt::tower::Switch::sqlite().await).await
        }
    };
    ($($name:ident),* $(,)? $(; sql_only: $($sql:ident),* $(,)?)?) => {
        mod postgres {
            $($crate::adopt::on_both!(@pg $name);)*
            $($($crate::adopt::on_both!(@pg $sql);)*)?
        }
        mod sqlite {
            $($crate::adopt::on_both!(@lite $name);)*
            $($($crate::adopt::on_both!(@lite $sql);)*)?
        }
        #[cfg(feature = "redis")]
        mod redis_node {
            $(
                #[sqlx::test(migrations = false)]
                async fn $name(pool: sqlx::PgPool) {
                    if let Some(switch) = crate::adopt::tower::Switch::redis(pool).await {
                        super::$name(switch).await
                    }
                }
            )*
        }
    };
}
use on_both;

#[cfg(feature = "axum-login")]
mod axum_login;
mod cut;
mod tower;

use crate::common::{Client, Resp, TestApp, demo, serve, serve_demo};
use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Extension, Router};
use axum_user_sessions::Session;
use std::time::Duration;
use tower::{Switch, old_cookie};
use tower_sessions::SessionManagerLayer;

/// The app before the switch: tower-sessions on `switch`'s database;
/// `POST /login/{user}` stores `user_id` and `theme`.
async fn old_app(switch: &Switch) -> TestApp {
    async fn login(
        Extension(session): Extension<tower_sessions::Session>, Path(user): Path<String>,
    ) -> &'static str {
        session.insert("user_id", user).await.unwrap();
        session.insert("theme", "dark").await.unwrap();
        "ok"
    }
    let layer = SessionManagerLayer::new(switch.store.clone()).with_secure(false);
    serve(
        Router::new()
            .route("/login/{user}", post(login))
            .layer(layer),
    )
    .await
}

/// The demo after the switch, adopting with its `SESSION_IMPORT` mapping,
/// with `GET /fresh`: whether the session counts as signed in within the
/// hour (`Session::is_fresh`).
async fn new_app(switch: &Switch) -> TestApp {
    async fn fresh(session: Session) -> String {
        session.is_fresh(Duration::from_secs(3600)).to_string()
    }
    let layer = switch
        .backend
        .layer()
        .adopt_tower_sessions(switch.import(demo::import::user_of));
    serve(demo::routes().route("/fresh", get(fresh)).layer(layer)).await
}

/// Signs `user` in on the tower-sessions app: its `id` cookie.
async fn old_login(old: &TestApp, user: &str) -> String {
    old_cookie(old, &format!("/login/{user}"), "").await
}

/// `GET /me` with tower-sessions' cookie `id`, from `client`.
async fn present(client: &mut Client, id: &str) -> Resp {
    let cookie = format!("id={id}");
    client.send_with("GET", "/me", &[("cookie", &cookie)]).await
}

/// Whether `res` expires tower-sessions' cookie.
fn expires_old_cookie(res: &Resp) -> bool {
    res.set_cookies()
        .iter()
        .any(|c| c.starts_with("id=;") && c.contains("Max-Age=0"))
}

/// A session tower-sessions made comes back signed in, with its data; its
/// cookie is expired and ours set. Replayed later (another client, or after
/// a restart) it signs nobody in: the row is gone.
async fn comes_back_signed_in(switch: Switch) {
    let (old, new) = (old_app(&switch).await, new_app(&switch).await);
    let id = old_login(&old, "alice").await;
    let mut browser = Client::new(&new);
    let res = present(&mut browser, &id).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["user_id"], "alice");
    assert!(expires_old_cookie(&res), "{:?}", res.set_cookies());
    assert!(
        browser.cookie.is_some(),
        "our cookie set: {:?}",
        res.set_cookies()
    );
    // Our cookie alone now.
    assert_eq!(browser.me().await.as_deref(), Some("alice"));
    let data = browser.get("/kv").await.json();
    assert_eq!(data["theme"], "dark", "{data}");
    assert_eq!(data["user_id"], "alice", "{data}");

    let mut thief = Client::new(&new);
    thief.user_agent = "curl/8.5.0".into();
    let res = present(&mut thief, &id).await;
    assert_eq!(
        res.status, 401,
        "a replay from another client: {}",
        res.body
    );
    assert!(thief.cookie.is_none());

    let layer = switch.backend.layer();
    let restarted =
        serve_demo(layer.adopt_tower_sessions(switch.import(demo::import::user_of))).await;
    let mut again = Client::new(&restarted);
    let res = present(&mut again, &id).await;
    assert_eq!(res.status, 401, "a replay after a restart: {}", res.body);
    assert!(again.cookie.is_none());
    // The adopted session is untouched by the replays.
    assert_eq!(browser.me().await.as_deref(), Some("alice"));
    // Adopted is not freshly authenticated; a password sign-in is.
    assert_eq!(browser.get("/fresh").await.body, "false");
    browser.login("alice").await;
    assert_eq!(browser.get("/fresh").await.body, "true");
}

/// A forged id, an expired record and a record the app's mapping refuses
/// (an unknown user) adopt nothing; tower-sessions' cookie is expired.
async fn forged_expired_refused(switch: Switch) {
    let (old, new) = (old_app(&switch).await, new_app(&switch).await);
    let forged = "AAAAAAAAAAAAAAAAAAAAAA";
    let expired = switch.expired_record("alice").await;
    let refused = old_login(&old, "mallory").await;
    for (what, id) in [
        ("forged", forged),
        ("expired", &expired),
        ("refused", &refused),
    ] {
        let mut client = Client::new(&new);
        let res = present(&mut client, id).await;
        assert_eq!(res.status, 401, "{what}: {}", res.body);
        assert!(client.cookie.is_none(), "{what}: {:?}", res.set_cookies());
        assert!(expires_old_cookie(&res), "{what}: {:?}", res.set_cookies());
    }
    // A cookie that cannot be a tower-sessions id costs no query and is
    // left alone.
    let mut client = Client::new(&new);
    let res = present(&mut client, "not-an-id").await;
    assert_eq!(res.status, 401);
    assert!(!expires_old_cookie(&res), "{:?}", res.set_cookies());
}

/// When our session cannot be written, the old one is put back and its
/// cookie kept: the next request adopts it.
async fn failed_write_keeps_the_old_session(switch: Switch) {
    let (old, new) = (old_app(&switch).await, new_app(&switch).await);
    let id = old_login(&old, "alice").await;
    switch.our_table(true).await;
    let mut browser = Client::new(&new);
    let res = present(&mut browser, &id).await;
    assert_ne!(res.status, 200, "{}", res.body);
    assert!(!expires_old_cookie(&res), "{:?}", res.set_cookies());
    assert!(browser.cookie.is_none(), "{:?}", res.set_cookies());
    switch.our_table(false).await;
    let res = present(&mut browser, &id).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["user_id"], "alice");
    assert!(expires_old_cookie(&res), "{:?}", res.set_cookies());
}

/// A session ours cannot take for a reason of its own (here the mapping
/// names a user id with U+0000, which no session can have) adopts
/// nothing, once: the row is not put back for every request to take again.
async fn an_unwritable_session_adopts_nothing(switch: Switch) {
    let old = old_app(&switch).await;
    let id = old_login(&old, "alice").await;
    let import = switch.import(|_| async { Some("ali\0ce".to_owned()) });
    let broken = serve_demo(switch.backend.layer().adopt_tower_sessions(import)).await;
    let mut browser = Client::new(&broken);
    let res = present(&mut browser, &id).await;
    assert_eq!(res.status, 401, "{}", res.body);
    assert!(expires_old_cookie(&res), "{:?}", res.set_cookies());
    // The row is gone: an app with a working mapping finds nothing either.
    let new = new_app(&switch).await;
    let mut again = Client::new(&new);
    let res = present(&mut again, &id).await;
    assert_eq!(res.status, 401, "{}", res.body);
    assert!(again.cookie.is_none());
}

/// Tabs of one browser presenting the same old cookie at once all come back
/// in the one adopted session.
async fn tabs_join_one_session(switch: Switch) {
    let (old, new) = (old_app(&switch).await, new_app(&switch).await);
    let id = old_login(&old, "alice").await;
    let tabs: Vec<Client> = (0..3).map(|_| Client::new(&new)).collect();
    let answers = futures::future::join_all(tabs.into_iter().map(|mut tab| {
        let id = id.clone();
        async move {
            let res = present(&mut tab, &id).await;
            (res, tab)
        }
    }))
    .await;
    let mut sessions = Vec::new();
    for (res, mut tab) in answers {
        assert_eq!(res.status, 200, "{}", res.body);
        assert_eq!(res.json()["user_id"], "alice");
        sessions.push(res.json()["session_id"].clone());
        assert_eq!(
            tab.me().await.as_deref(),
            Some("alice"),
            "the tab's own cookie"
        );
    }
    sessions.dedup();
    assert_eq!(sessions.len(), 1, "one adopted session: {sessions:?}");
}

on_both!(
    comes_back_signed_in,
    forged_expired_refused,
    an_unwritable_session_adopts_nothing,
    tabs_join_one_session;
    // It takes our table away: SQL only.
    sql_only: failed_write_keeps_the_old_session
);
