//! The app before the switch: tower-sessions with its sqlx store, on the
//! database the app after the switch uses; and that app, the demo with
//! `SESSION_IMPORT=tower-sessions` (its import, `demo::import`).

use crate::common::{Backend, TestApp, demo, serve, serve_demo};
use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Extension, Router};
use axum_user_sessions::{Session, SessionLayer};
use std::collections::HashMap;
use std::time::Duration;
use tower_sessions::SessionManagerLayer;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::SessionStore as TowerStore;
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore, sqlx as sqlx08};

/// Both sides of a switch on one database.
pub(super) struct Switch {
    /// The tower-sessions app, before the switch.
    pub(super) old: TestApp,
    /// The demo adopting tower-sessions sessions, after it.
    pub(super) new: TestApp,
    /// tower-sessions' store, to write records directly.
    pub(super) store: Box<dyn TowerStore>,
    pub(super) backend: Backend,
}

/// The demo after the switch, with `GET /fresh`: whether the session counts
/// as signed in within the hour (`Session::is_fresh`).
async fn new_app(layer: SessionLayer) -> TestApp {
    async fn fresh(session: Session) -> String {
        session.is_fresh(Duration::from_secs(3600)).to_string()
    }
    serve(demo::routes().route("/fresh", get(fresh)).layer(layer)).await
}

/// `POST /login/{user}`: tower-sessions stores `user_id` and `theme`.
fn old_app<S: TowerStore + Clone>(store: S) -> Router {
    async fn login(
        Extension(session): Extension<tower_sessions::Session>, Path(user): Path<String>,
    ) -> &'static str {
        session.insert("user_id", user).await.unwrap();
        session.insert("theme", "dark").await.unwrap();
        "ok"
    }
    Router::new()
        .route("/login/{user}", post(login))
        .layer(SessionManagerLayer::new(store).with_secure(false))
}

impl Switch {
    /// On the fresh Postgres database of `#[sqlx::test]`.
    pub(super) async fn postgres(pool: sqlx::PgPool) -> Self {
        let backend = Backend::postgres(pool).await;
        let pg = backend.pg.clone().unwrap();
        let db: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(&pg)
            .await
            .unwrap();
        let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
        let (server, _) = base.rsplit_once('/').unwrap();
        let old_pool = sqlx08::PgPool::connect(&format!("{server}/{db}"))
            .await
            .unwrap();
        let store = PostgresStore::new(old_pool);
        store.migrate().await.unwrap();
        let old = serve(old_app(store.clone())).await;
        let layer = backend
            .layer()
            .adopt_tower_sessions(demo::import::postgres(pg));
        let new = new_app(layer).await;
        Self {
            old,
            new,
            store: Box::new(store),
            backend,
        }
    }

    /// On a fresh SQLite file.
    pub(super) async fn sqlite() -> Self {
        let backend = Backend::sqlite().await;
        let pool = backend.sqlite.clone().unwrap();
        let file = pool.connect_options().get_filename().to_owned();
        let old_pool = sqlx08::SqlitePool::connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        let store = SqliteStore::new(old_pool);
        store.migrate().await.unwrap();
        let old = serve(old_app(store.clone())).await;
        let layer = backend
            .layer()
            .adopt_tower_sessions(demo::import::sqlite(pool));
        let new = new_app(layer).await;
        Self {
            old,
            new,
            store: Box::new(store),
            backend,
        }
    }

    /// Another instance of the app after the switch (a restart): no
    /// adoption in memory.
    pub(super) async fn restarted(&self) -> TestApp {
        let layer = self.backend.layer();
        let layer = match (&self.backend.pg, &self.backend.sqlite) {
            (Some(pg), _) => layer.adopt_tower_sessions(demo::import::postgres(pg.clone())),
            (None, Some(lite)) => layer.adopt_tower_sessions(demo::import::sqlite(lite.clone())),
            (None, None) => unreachable!("the switch runs on a database"),
        };
        serve_demo(layer).await
    }

    /// Signs `user` in on the tower-sessions app: its `id` cookie.
    pub(super) async fn old_login(&self, user: &str) -> String {
        let res = reqwest::Client::new()
            .post(format!("{}/login/{user}", self.old.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
        let (pair, _) = cookie.split_once(';').unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        assert_eq!(name, "id", "{cookie}");
        value.to_owned()
    }

    /// A record of `user` that expired a minute ago, saved by tower-sessions'
    /// store: its id.
    pub(super) async fn expired_record(&self, user: &str) -> String {
        let record = Record {
            id: Id(uuid::Uuid::new_v4().as_u128() as i128),
            data: HashMap::from([("user_id".to_owned(), serde_json::json!(user))]),
            expiry_date: time::OffsetDateTime::now_utc() - time::Duration::minutes(1),
        };
        self.store.save(&record).await.unwrap();
        record.id.to_string()
    }
}
