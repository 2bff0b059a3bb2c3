//! The Postgres store: the primary store, correct across many app instances.
//! [`PgStore`] is the session protocol ([`Protocol`]) over [`PgStorage`],
//! whose storage operations are in `storage.rs` and their statements in
//! `statements.rs`; its change feed is in `feed/`, its multi-statement
//! transactions run through `tx.rs` (which a dropped caller cannot cut),
//! and `pooler.rs` sends single statements (in a transaction of their own
//! behind PgBouncer).

use crate::store::delegate::protocol_store;
use crate::store::error::Error;
use crate::store::feed::{CacheSupport, ChangeFeed, FeedOptions};
use crate::store::migrate;
use crate::store::protocol::Protocol;
use crate::store::session_store::{IntoSessionStore, SessionProtocol};
use crate::store::sql::Dialect;
use serde_json::{Map, Value};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Row as _};
use std::sync::Arc;
use time::OffsetDateTime;

mod batch;
mod devices;
mod feed;
mod pooler;
mod rows;
mod statements;
mod storage;
mod tx;

/// A [`SessionProtocol`] on a Postgres pool: the session protocol
/// ([`Protocol`]) over [`PgStorage`].
///
/// Usually created for you by `SessionLayer::new(pool)`. Create it yourself to
/// share it with admin code, or to count the round-trips of its
/// [`storage`](Self::storage) ([`CountingStore`](super::CountingStore)).
///
/// # Pool settings
///
/// sqlx pings every connection it hands out unless told not to
/// (`test_before_acquire`), which doubles the cost of a one-query request.
/// For the session layer's one round-trip per request, build the pool with:
///
/// ```no_run
/// # async fn f() -> Result<(), sqlx::Error> {
/// use sqlx::postgres::PgPoolOptions;
/// use std::time::Duration;
///
/// let pool = PgPoolOptions::new()
///     .max_connections(20)
///     .acquire_timeout(Duration::from_secs(3)) // an outage answers 503 after this
///     .test_before_acquire(false)
///     .connect("postgres://localhost/app")
///     .await?;
/// # Ok(()) }
/// ```
///
/// Behind PgBouncer in transaction mode, use
/// [`behind_pgbouncer`](Self::behind_pgbouncer).
#[derive(Debug, Clone)]
pub struct PgStore(Protocol<PgStorage>);

/// The Postgres [`SessionStore`](crate::store::SessionStore) under [`PgStore`]: the
/// tables of schema `axum_user_sessions` on a pool.
#[derive(Debug, Clone)]
pub struct PgStorage {
    pool: PgPool,
    /// Set by [`PgStore::behind_pgbouncer`].
    behind_pgbouncer: bool,
    /// The queues of loads, data writes and new sessions
    /// ([`PgStore::batching`]).
    batches: Arc<batch::Batches>,
}

pub use batch::Batching;

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

impl PgStore {
    /// A store on `pool`. Run [`migrate`](crate::store::migrate()) once at
    /// startup.
    pub fn new(pool: PgPool) -> Self {
        Self(Protocol::new(PgStorage {
            pool,
            behind_pgbouncer: false,
            batches: Arc::default(),
        }))
    }

    /// This store, with its concurrent loads (by id, token or remember-me
    /// selector), data writes and new sessions grouped as `batching` says
    /// (default: [`Batching::default`]). Calls that arrive while the
    /// store's statements of their kind are busy go out together: one
    /// statement (and, for writes and new sessions, one commit) for many
    /// sessions. At low load each call is sent at once, alone.
    ///
    /// ```no_run
    /// # async fn f(pool: sqlx::PgPool) {
    /// use axum_user_sessions::{PgStore, store::Batching};
    ///
    /// let store = PgStore::new(pool).batching(Batching::default().write_statements(4));
    /// assert_eq!(store.batching_config().max_write_statements(), 4);
    /// # }
    /// ```
    #[must_use]
    pub fn batching(self, batching: Batching) -> Self {
        let mut storage = self.0.storage().clone();
        storage.batches = Arc::new(batch::Batches::new(batching));
        Self(Protocol::new(storage))
    }

    /// How this store groups its calls ([`batching`](Self::batching)).
    pub fn batching_config(&self) -> Batching {
        self.0.storage().batches.config()
    }

    /// The pool this store uses.
    pub fn pool(&self) -> &PgPool {
        &self.0.storage().pool
    }

    /// The embedded migrations, all of them, tracked in
    /// `axum_user_sessions._sqlx_migrations`: to list them. Do not run
    /// this migrator: run [`migrate`](crate::store::migrate()), which keeps
    /// the ones since 0.1 in a table of their own
    /// (`_sqlx_migrations_since_0_1`), so that a 0.1 instance still starts
    /// during a rolling upgrade. Run on a database `migrate` upgraded, this
    /// one would apply those again, and fail.
    pub fn migrator() -> sqlx::migrate::Migrator {
        migrate::postgres_all()
    }

    /// The storage underneath the protocol.
    pub fn storage(&self) -> &PgStorage {
        self.0.storage()
    }
}

protocol_store!(PgStore);

impl Dialect for PgRow {
    fn time(&self, col: &str) -> Result<OffsetDateTime, Error> {
        Ok(self.try_get(col)?)
    }

    fn opt_time(&self, col: &str) -> Result<Option<OffsetDateTime>, Error> {
        Ok(self.try_get(col)?)
    }

    fn data(&self, col: &str) -> Result<Map<String, Value>, Error> {
        Ok(self.try_get::<Json<_>, _>(col)?.0)
    }
}

impl IntoSessionStore for sqlx::PgPool {
    fn into_session_store(self) -> std::sync::Arc<dyn SessionProtocol> {
        std::sync::Arc::new(PgStore::new(self))
    }
}

impl CacheSupport for PgStorage {
    fn subscribe(&self, options: &FeedOptions) -> ChangeFeed {
        feed::subscribe(self.clone(), options)
    }
}
