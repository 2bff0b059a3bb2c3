//! A connection that runs a write, and what a write cut off in the middle
//! (a client that disconnected, a deadline) leaves behind.
//!
//! sqlx runs each SQLite connection on a worker thread that takes the
//! connection's commands in order and runs the statement in progress to
//! its end even when its caller is gone: a cut `UPDATE`, or a cut
//! `COMMIT`, still lands, later. The caches of this process on the
//! database ([`siblings`](crate::store::siblings)) were told at the cut
//! that the call may have changed its session, and no change feed will
//! report the write when it lands: a load in between would cache what it
//! read before, until the cache's time to live. So a cut write keeps its
//! connection until the worker is past the statement (the next command on
//! the connection, a `ROLLBACK` or a ping, answers after it), then tells
//! those caches to drop every copy. A cut open transaction is rolled back
//! there too, so the connection goes back to the pool without one.

use crate::store::delegate::Stale;
use crate::store::error::Error;
use crate::store::siblings;
use sqlx::pool::PoolConnection;
use sqlx::{Connection as _, Executor as _, Sqlite, SqliteConnection, SqlitePool};
use std::sync::Arc;
use tokio::sync::OwnedSemaphorePermit;

/// A pooled connection running a write (one statement, or a transaction).
pub(super) struct Writing {
    conn: Option<PoolConnection<Sqlite>>,
    /// The database, for the caches of this process on it.
    database: Arc<str>,
    /// A transaction is open, or being opened: dropped, it is rolled back.
    pub(super) open: bool,
    /// What runs now may land once its caller is gone: dropped, the caches
    /// are told once it ended.
    pub(super) may_land: bool,
    /// This process's turn to write on the database ([`gate`](super::gate)),
    /// held until the write ended.
    turn: Option<OwnedSemaphorePermit>,
}

impl Writing {
    /// A connection from `pool` for a write on `database`, once the writes
    /// of this process before it are done.
    pub(super) async fn acquire(pool: &SqlitePool, database: &Arc<str>) -> Result<Self, Error> {
        let turn = super::gate::turn(database).await?;
        Ok(Self {
            conn: Some(pool.acquire().await?),
            database: database.clone(),
            open: false,
            may_land: false,
            turn: Some(turn),
        })
    }

    /// The connection (there until the value is dropped).
    pub(super) fn conn(&mut self) -> Result<&mut SqliteConnection, Error> {
        match self.conn.as_mut() {
            Some(conn) => Ok(conn),
            None => Err(Error::unavailable("a write's connection was handed back")),
        }
    }

    /// Closes the connection when it is dropped if `err` spoils it (a file
    /// replaced under it: `spoils_connection`), rather than lend it again.
    /// Passes `err` on.
    pub(super) fn spoiled_by(&mut self, err: sqlx::Error) -> sqlx::Error {
        if crate::store::sqlx_error::spoils_connection(&err)
            && let Some(conn) = self.conn.as_mut()
        {
            conn.close_on_drop();
        }
        err
    }

    /// The write is over (landed or failed, its caller told): the
    /// connection goes back to the pool.
    pub(super) fn finish(mut self) {
        (self.open, self.may_land) = (false, false);
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        let (open, may_land) = (self.open, self.may_land);
        // The next write's turn comes once this one ended: at once, or
        // when the statement in progress did.
        let turn = self.turn.take();
        let Some(mut conn) = self.conn.take().filter(|_| open || may_land) else {
            return;
        };
        let database = self.database.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime to wait on: the connection closes (SQLite rolls
            // back what is open) and the caches are told now.
            drop(conn.detach());
            return told(&database, may_land);
        };
        runtime.spawn(async move {
            // Answered once the statement in progress ended.
            let ended = match open {
                true => conn.execute("ROLLBACK").await.map(drop),
                false => conn.ping().await,
            };
            if ended.is_err() && open {
                // Rolled back already (a cut `COMMIT` that landed), or
                // failed: the connection is closed rather than returned
                // with a transaction that may be open.
                conn.close_on_drop();
            }
            told(&database, may_land);
            drop(turn);
        });
    }
}

/// The caches of this process on `database` drop every copy, when a cut
/// write `may_land`.
fn told(database: &str, may_land: bool) {
    if may_land {
        siblings::changed_in(database, Stale::Every);
    }
}
