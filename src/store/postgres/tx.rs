//! The Postgres store's multi-statement transactions, run so that a dropped
//! caller cannot cut them.
//!
//! When a client disconnects, hyper drops the request's future, and with it
//! whatever store call it was awaiting (a deadline does the same). A
//! transaction cut in the middle is not reliably undone: sqlx queues the
//! `ROLLBACK` of a dropped `Transaction` and sends it from a background task
//! once the statement in flight has answered, and a future dropped while
//! `BEGIN` is in flight is not seen as a transaction at all (sqlx 0.9 counts
//! it only once `BEGIN` is answered), so its connection goes back to the
//! pool inside an open transaction. The
//! statements of whoever takes that connection next then run in it and are
//! never committed, and the locks it holds (a promotion locks the session
//! row) make the session's other requests wait until the store's deadline
//! answers `503`.
//!
//! Two cures were weighed: close the connection when a transaction is
//! dropped before its commit (the server then aborts it), or never let the
//! caller's drop reach the transaction. The second is what [`run`] does: the
//! transaction (its `BEGIN`, statements and `COMMIT`) runs on a task of its
//! own that owns its arguments; the caller awaits the task's handle, and
//! dropping that handle does not stop the task. So a transaction always runs
//! to its end, committed or rolled back by its own error, and holds its locks
//! only for its own statements. It keeps connections in the pool (closing
//! them would turn a burst of aborted requests into a burst of new
//! connections, each a TLS and authentication handshake), it does not rely
//! on the driver's cancellation paths, and the write a client gave up on is
//! applied whole or not at all, as if the client had stayed. A single
//! statement needs none of this: the server runs it to its end and commits
//! it by itself, and sqlx drains its answer before the connection is reused.
//!
//! A deadline ([`TimeoutStore`](crate::store::timeout::TimeoutStore)) still
//! answers the request on time; the transaction finishes behind it (bounded
//! by the server's `statement_timeout`).

use crate::store::error::Error;
use sqlx::{PgConnection, PgPool};
use std::future::Future;
use std::pin::Pin;

/// The body of a transaction: statements on the transaction's connection.
pub(super) type Body<'c, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'c>>;

/// Runs `body` in a transaction on `pool`, on a task of its own: `BEGIN`,
/// the body, `COMMIT` (or, when the body fails, the rollback). Dropping the
/// returned future does not stop it. `body` owns what it binds.
pub(super) async fn run<T, F>(pool: &PgPool, body: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut PgConnection) -> Body<'c, T> + Send + 'static,
{
    let pool = pool.clone();
    let task = tokio::spawn(async move {
        let mut conn = pool.acquire().await?;
        let result = async {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let out = body(&mut tx).await?;
            tx.commit().await?;
            Ok(out)
        }
        .await;
        // A connection that cannot write any more is closed, not lent again.
        if result.as_ref().is_err_and(Error::spoils_connection) {
            conn.close_on_drop();
        }
        result
    });
    match task.await {
        Ok(result) => result,
        // A panic in the body is the caller's panic, as if it had run inline.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // The runtime is shutting down.
        Err(e) => Err(Error::unavailable(e)),
    }
}
