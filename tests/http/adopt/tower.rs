//! The database a switch happens on: tower-sessions' sqlx store (its
//! tables, its records) next to ours, and the import that reads it.

use crate::common::{Backend, TestApp};
use async_trait::async_trait;
use axum_user_sessions::{TowerRecord, TowerSessionsImport};
use std::collections::HashMap;
use std::future::Future;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore as TowerStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore, sqlx as sqlx08};

/// tower-sessions' sqlx store, Postgres or SQLite.
#[derive(Debug, Clone)]
pub(super) enum OldStore {
    Postgres(PostgresStore),
    Sqlite(SqliteStore),
}

#[async_trait]
impl TowerStore for OldStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Postgres(s) => s.create(record).await,
            Self::Sqlite(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Postgres(s) => s.save(record).await,
            Self::Sqlite(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Postgres(s) => s.load(id).await,
            Self::Sqlite(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Postgres(s) => s.delete(id).await,
            Self::Sqlite(s) => s.delete(id).await,
        }
    }
}

/// Where tower-sessions' table is, as our import reads it.
enum Source {
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

/// Our store and tower-sessions' table: one database with both crates'
/// tables, or our store on Redis and tower-sessions' table on Postgres.
pub(super) struct Switch {
    pub(super) backend: Backend,
    /// tower-sessions' store (through sqlx 0.8), migrated.
    pub(super) store: OldStore,
    source: Source,
}

/// tower-sessions' store on the Postgres database of `pool`, migrated.
async fn old_postgres(pool: &sqlx::PgPool) -> OldStore {
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .unwrap();
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let (server, _) = base.rsplit_once('/').unwrap();
    let old_pool = sqlx08::PgPool::connect(&format!("{server}/{db}"))
        .await
        .unwrap();
    let store = PostgresStore::new(old_pool);
    store.migrate().await.unwrap();
    OldStore::Postgres(store)
}

impl Switch {
    /// On the fresh Postgres database of `#[sqlx::test]`.
    pub(super) async fn postgres(pool: sqlx::PgPool) -> Self {
        let backend = Backend::postgres(pool).await;
        let pg = backend.pg.clone().unwrap();
        Self {
            store: old_postgres(&pg).await,
            source: Source::Postgres(pg),
            backend,
        }
    }

    /// Our store on the Redis node (`AUS_REDIS_URL`), tower-sessions' table
    /// on the fresh Postgres database of `#[sqlx::test]`; `None` (skipped)
    /// without the node.
    #[cfg(feature = "redis")]
    pub(super) async fn redis(pool: sqlx::PgPool) -> Option<Self> {
        let backend = Backend::redis_node().await?;
        Some(Self {
            store: old_postgres(&pool).await,
            source: Source::Postgres(pool),
            backend,
        })
    }

    /// On a fresh SQLite file.
    pub(super) async fn sqlite() -> Self {
        let backend = Backend::sqlite().await;
        let file = backend
            .sqlite
            .as_ref()
            .unwrap()
            .connect_options()
            .get_filename()
            .to_owned();
        let old_pool = sqlx08::SqlitePool::connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        let store = SqliteStore::new(old_pool);
        store.migrate().await.unwrap();
        Self {
            source: Source::Sqlite(backend.sqlite.clone().unwrap()),
            backend,
            store: OldStore::Sqlite(store),
        }
    }

    /// The import of tower-sessions' table on this database, with `mapping`.
    pub(super) fn import<F, Fut>(&self, mapping: F) -> TowerSessionsImport
    where
        F: Fn(TowerRecord) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<String>> + Send + 'static,
    {
        match &self.source {
            Source::Postgres(pg) => TowerSessionsImport::postgres(pg.clone(), mapping),
            Source::Sqlite(lite) => TowerSessionsImport::sqlite(lite.clone(), mapping),
        }
    }

    /// Takes our sessions table away (`away`), so that writing a session
    /// fails, or puts it back.
    pub(super) async fn our_table(&self, away: bool) {
        let (from, to) = if away { ("", "_away") } else { ("_away", "") };
        match (&self.backend.pg, &self.backend.sqlite) {
            (Some(pg), _) => {
                let sql =
                    format!("ALTER TABLE axum_user_sessions.sessions{from} RENAME TO sessions{to}");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(pg)
                    .await
                    .unwrap();
            }
            (None, Some(lite)) => {
                let sql = format!("ALTER TABLE aus_sessions{from} RENAME TO aus_sessions{to}");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(lite)
                    .await
                    .unwrap();
            }
            (None, None) => unreachable!("a switch runs on a database"),
        }
    }

    /// How many sessions of ours `user` has, live or ended (on Redis: live).
    #[cfg(feature = "axum-login")] // only the axum-login scenario counts them
    pub(super) async fn sessions_of(&self, user: &str) -> i64 {
        use crate::common::Kind;
        if matches!(self.backend.kind, Kind::Redis | Kind::RedisCluster) {
            let admin = axum_user_sessions::SessionAdmin::new(self.backend.store.clone());
            return admin.list_user(user).await.unwrap().len() as i64;
        }
        match (&self.backend.pg, &self.backend.sqlite) {
            (Some(pg), _) => sqlx::query_scalar(
                "SELECT count(*) FROM axum_user_sessions.sessions WHERE user_id = $1",
            )
            .bind(user)
            .fetch_one(pg)
            .await
            .unwrap(),
            (None, Some(lite)) => {
                sqlx::query_scalar("SELECT count(*) FROM aus_sessions WHERE user_id = ?1")
                    .bind(user)
                    .fetch_one(lite)
                    .await
                    .unwrap()
            }
            (None, None) => unreachable!("a switch runs on a database"),
        }
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

/// `POST path` on the tower-sessions app `old`, with the form `form`: the
/// `id` cookie it sets.
pub(super) async fn old_cookie(old: &TestApp, path: &str, form: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{}{path}", old.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let (pair, _) = cookie.split_once(';').unwrap();
    let (name, value) = pair.split_once('=').unwrap();
    assert_eq!(name, "id", "{cookie}");
    value.to_owned()
}
