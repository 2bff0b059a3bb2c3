//! The stores a scenario runs on: fresh, migrated, one per test.

use super::{eventually, pgbouncer};
use axum_user_sessions::store::{CountingStore, Protocol};
use axum_user_sessions::{MemoryStore, PgStore, SessionLayer, SessionProtocol, SqliteStore};
use std::sync::Arc;
use std::time::Duration;

/// Which store a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    /// Postgres behind the in-process cache (`CachedStore`).
    PostgresCached,
    Sqlite,
    Memory,
    /// Postgres through PgBouncer in transaction-pooling mode
    /// (`PgStore::behind_pgbouncer`).
    PgBouncer,
    /// One Redis node (`AUS_REDIS_URL`), under a key prefix of the test's own.
    Redis,
    /// A Redis Cluster of 3 masters with a replica each
    /// (`AUS_REDIS_CLUSTER_NODES`), under a key prefix of the test's own.
    RedisCluster,
}

/// A fresh, migrated store.
pub struct Backend {
    pub kind: Kind,
    pub store: Arc<dyn SessionProtocol>,
    /// The calls that reached the database's storage (beneath the protocol,
    /// and the cache if any): what the scenarios count as round-trips.
    pub counted: CountingStore,
    pub pg: Option<sqlx::PgPool>,
    pub sqlite: Option<sqlx::SqlitePool>,
    _dir: Option<tempfile::TempDir>,
    /// The PgBouncer the store goes through (kind `PgBouncer`); `pg` is the
    /// direct pool, for the test's own SQL.
    pub bouncer: Option<pgbouncer::PgBouncer>,
    /// The key prefix of a Redis backend's store.
    pub redis_prefix: Option<String>,
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

impl Backend {
    /// From the fresh database `#[sqlx::test]` made, with a pool configured
    /// as the docs recommend (no ping before each acquire).
    pub async fn postgres(test_pool: sqlx::PgPool) -> Self {
        init_tracing();
        let opts = (*test_pool.connect_options()).clone();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(false)
            .connect_with(opts)
            .await
            .expect("connect to the test database");
        axum_user_sessions::migrate(&pool).await.expect("migrate");
        let counted = CountingStore::new(PgStore::new(pool.clone()).storage().clone());
        Self {
            kind: Kind::Postgres,
            store: Arc::new(Protocol::new(counted.clone())),
            counted,
            pg: Some(pool),
            sqlite: None,
            _dir: None,
            bouncer: None,
            redis_prefix: None,
        }
    }

    /// Postgres behind the in-process cache.
    pub async fn postgres_cached(test_pool: sqlx::PgPool) -> Self {
        let mut b = Self::postgres(test_pool).await;
        let pg = axum_user_sessions::PgStore::new(b.pg.clone().unwrap());
        // A loaded test machine may delay a poll past the default lag, and
        // the scenarios count round-trips: give the feed room (the lag rule
        // has tests of its own).
        let config =
            axum_user_sessions::CacheConfig::default().with_max_lag(Duration::from_secs(10));
        b.counted = CountingStore::new(pg.storage().clone());
        let counted = Protocol::new(b.counted.clone());
        let cached = axum_user_sessions::CachedStore::new(counted, config);
        wait_listening(&cached).await;
        b.store = Arc::new(cached);
        b.kind = Kind::PostgresCached;
        b
    }

    /// A live session of `user` made in the store directly, last seen at
    /// `seen` and signed in an hour before, with a token no client holds.
    pub async fn seed_session(&self, user: &str, seen: time::OffsetDateTime) -> uuid::Uuid {
        use axum_user_sessions::store::{SessionRecord, TokenHash};
        let now = time::OffsetDateTime::now_utc();
        // An id of the user's placement, as sign-in mints it.
        let id = axum_user_sessions::store::placement::session_id(Some(user));
        let mut r = SessionRecord::new(id, seen - time::Duration::hours(1));
        r.user_id = Some(user.into());
        r.last_seen_at = seen;
        r.expires_at = now + time::Duration::hours(1);
        r.absolute_expires_at = now + time::Duration::days(1);
        let mut hash = [0u8; 32];
        hash[..16].copy_from_slice(r.id.as_bytes());
        self.store
            .create(&r, &TokenHash::from_bytes(hash))
            .await
            .unwrap();
        r.id
    }

    /// A session as 0.1 created it (a version 4 id, no `tokens_expire_at`)
    /// of `user`, `age` old and live, and the token of 0.1's form that
    /// names it: what a 0.1 browser holds.
    pub async fn seed_0_1_session(&self, user: Option<&str>, age: time::Duration) -> String {
        use axum_user_sessions::store::{SessionRecord, TokenHash};
        use base64::Engine as _;
        use sha2::Digest as _;
        let now = time::OffsetDateTime::now_utc();
        let mut r = SessionRecord::new(uuid::Uuid::new_v4(), now - age);
        r.user_id = user.map(Into::into);
        r.expires_at = now + time::Duration::hours(1);
        r.absolute_expires_at = now + time::Duration::hours(12);
        let mut raw = [0u8; 32];
        raw[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        raw[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        let hash: [u8; 32] = sha2::Sha256::digest(raw).into();
        self.store
            .create(&r, &TokenHash::from_bytes(hash))
            .await
            .unwrap();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn cached(&self) -> bool {
        self.kind == Kind::PostgresCached
    }

    pub async fn sqlite() -> Self {
        init_tracing();
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("sessions.db").display());
        let store = SqliteStore::connect(&url).await.expect("open sqlite");
        axum_user_sessions::migrate(store.pool())
            .await
            .expect("migrate");
        let counted = CountingStore::new(store.storage().clone());
        Self {
            kind: Kind::Sqlite,
            sqlite: Some(store.pool().clone()),
            store: Arc::new(Protocol::new(counted.clone())),
            counted,
            pg: None,
            _dir: Some(dir),
            bouncer: None,
            redis_prefix: None,
        }
    }

    pub fn memory() -> Self {
        let counted = CountingStore::new(MemoryStore::new().storage().clone());
        Self {
            kind: Kind::Memory,
            store: Arc::new(Protocol::new(counted.clone())),
            counted,
            pg: None,
            sqlite: None,
            _dir: None,
            bouncer: None,
            redis_prefix: None,
        }
    }

    /// The layer with the crate's defaults, on this store, but for tokens
    /// that name their session (0.2's form, off by default while fleets
    /// still run 0.1; the default in 0.3): every scenario runs on the form
    /// it will have. `legacy_layer` gives 0.1's form.
    pub fn layer(&self) -> SessionLayer {
        self.legacy_layer().with_session_ids_in_tokens(true)
    }

    /// The layer with the crate's defaults, tokens of 0.1's form included.
    pub fn legacy_layer(&self) -> SessionLayer {
        SessionLayer::new(self.store.clone())
    }

    pub fn round_trips(&self) -> u64 {
        self.counted.round_trips()
    }

    /// The store of another app instance on the same database: its own pool
    /// (and its own cache when this backend has one). The memory store lives
    /// in one process: the other instance shares it as it is.
    pub async fn another_instance(&self) -> Arc<dyn SessionProtocol> {
        match self.kind {
            Kind::Postgres | Kind::PostgresCached | Kind::PgBouncer => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(Duration::from_secs(5))
                    .test_before_acquire(false)
                    .connect_with(self.store_connect_options())
                    .await
                    .expect("connect to the test database");
                let pg = self.pg_store(pool);
                if !self.cached() {
                    return Arc::new(pg);
                }
                let cached = axum_user_sessions::CachedStore::new(
                    pg,
                    axum_user_sessions::CacheConfig::default(),
                );
                wait_listening(&cached).await;
                Arc::new(cached)
            }
            Kind::Sqlite => {
                let opts = (*self.sqlite.as_ref().unwrap().connect_options()).clone();
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(8)
                    .connect_with(opts)
                    .await
                    .expect("open sqlite");
                Arc::new(SqliteStore::new(pool))
            }
            Kind::Memory => self.store.clone(),
            #[cfg(feature = "redis")]
            Kind::Redis | Kind::RedisCluster => self.redis_instance().await,
            #[cfg(not(feature = "redis"))]
            Kind::Redis | Kind::RedisCluster => unreachable!("Redis backends need the feature"),
        }
    }
}

/// Starts a cache's change feed and waits until it listens.
pub async fn wait_listening(cached: &axum_user_sessions::CachedStore) {
    use axum_user_sessions::SessionProtocol as _;
    let now = time::OffsetDateTime::now_utc();
    let probe = axum_user_sessions::store::TokenHash::from_bytes([0; 32]);
    let touch = axum_user_sessions::store::Touch::new(now, now);
    cached.load(None, &probe, &touch).await.unwrap();
    let ok = eventually(Duration::from_secs(10), || async {
        cached.is_listening().then_some(())
    })
    .await;
    assert!(ok.is_some(), "the cache never started listening");
}
