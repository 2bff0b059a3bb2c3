//! How the Postgres store sends a statement: on a pooled connection, or,
//! behind a pooler in transaction mode (PgBouncer's `pool_mode =
//! transaction`), in a transaction of its own.
//!
//! A transaction-mode pooler lends a server connection to a client for one
//! transaction, and takes it back whenever the server says it is idle (a
//! `ReadyForQuery` outside a transaction). Two things sqlx does by default
//! do not survive that:
//!
//! - It prepares *named* statements (`sqlx_s_1`, …) and reuses them on the
//!   next call, even with the statement cache turned off. The next call may
//!   land on a server connection that never saw the statement, or one where
//!   another client prepared a different statement under the same name.
//!   [`Query::persistent(false)`](sqlx::query::Query::persistent) makes sqlx
//!   use the unnamed statement instead.
//! - It sends a statement with arguments as two exchanges, each ending in a
//!   `Sync` (so each answered by a `ReadyForQuery`): `Parse` and `Describe`,
//!   then `Bind` and `Execute`. Outside a transaction the pooler may hand the
//!   second half to another server connection, where it binds to another
//!   client's unnamed statement (`bind message supplies 3 parameters, but
//!   prepared statement "" requires 13`).
//!
//! So behind a pooler every statement is unnamed, and a single statement
//! runs inside `BEGIN` … `COMMIT`: between the two the server is in a
//! transaction, and the pooler keeps the connection with this client.
//! Transactions of several statements are transactions already. The cost is
//! round trips: a single statement takes four (`BEGIN`, parse, execute,
//! `COMMIT`) where a cached prepared statement takes one. The transaction
//! runs through [`tx::run`](super::tx::run), so a caller dropped while
//! `BEGIN` is in flight cannot leave the connection inside it.

use super::{PgStorage, PgStore, Query, tx};
use crate::store::error::Error;
use crate::store::protocol::Protocol;
use crate::store::sql::{self, Run};
use sqlx::PgConnection;

impl PgStore {
    /// This store, for a database reached through a connection pooler in
    /// transaction mode (PgBouncer with `pool_mode = transaction`, or any
    /// pooler that reassigns server connections between transactions).
    ///
    /// Every statement is then sent unnamed (sqlx's `persistent(false)`) and
    /// runs in a transaction of its own, so each costs four round trips
    /// instead of one. The cache's change feed polls (no `LISTEN`), so it
    /// works there too. Run [`migrate`](crate::store::migrate()) on a
    /// direct connection to Postgres (its advisory lock is session-level).
    /// The pooler must let sqlx's startup parameter through:
    /// `ignore_startup_parameters = extra_float_digits` (the
    /// [PgBouncer guide](crate::guide::pgbouncer)).
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sqlx::Error> {
    /// use axum_user_sessions::{PgStore, SessionLayer};
    /// use sqlx::postgres::PgPoolOptions;
    ///
    /// // Migrations on a direct connection, sessions through PgBouncer.
    /// let direct = PgPoolOptions::new().max_connections(1)
    ///     .connect("postgres://db:5432/app").await?;
    /// axum_user_sessions::migrate(&direct).await.expect("migrate");
    /// direct.close().await;
    ///
    /// let pool = PgPoolOptions::new().test_before_acquire(false)
    ///     .connect("postgres://pgbouncer:6432/app").await?;
    /// let layer = SessionLayer::new(PgStore::new(pool).behind_pgbouncer());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn behind_pgbouncer(self) -> Self {
        let mut storage = self.0.storage().clone();
        storage.behind_pgbouncer = true;
        Self(Protocol::new(storage))
    }

    /// Whether this store was made with
    /// [`behind_pgbouncer`](Self::behind_pgbouncer).
    pub fn is_behind_pgbouncer(&self) -> bool {
        self.0.storage().behind_pgbouncer
    }
}

impl PgStorage {
    /// Runs one statement, `run(query, connection)`: on a pooled connection,
    /// or behind a pooler unnamed and in a transaction of its own.
    pub(super) async fn one<T, F>(&self, query: Query<'static>, run: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(Query<'static>, &'c mut PgConnection) -> Run<'c, T> + Send + 'static,
    {
        if !self.behind_pgbouncer {
            return sql::on_pool(&self.pool, query, run).await;
        }
        let query = query.persistent(false);
        tx::run(&self.pool, move |conn| {
            Box::pin(async move { Ok(run(query, conn).await?) })
        })
        .await
    }

    /// [`one`](Self::one), for a statement that writes: the same (a write
    /// cut off in the middle that lands later is reported by the change
    /// feed, like any other).
    pub(super) async fn one_write<T, F>(&self, query: Query<'static>, run: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(Query<'static>, &'c mut PgConnection) -> Run<'c, T> + Send + 'static,
    {
        self.one(query, run).await
    }
}
