//! This process's writes to one SQLite database take turns, in the order
//! they came.
//!
//! SQLite lets one writer at a time hold its write lock; a writer that
//! finds it taken sleeps in its busy handler (up to 100 ms at a time) and
//! tries again, not in turn. Garbage collection's batches, one right after
//! the other, took the lock back each time before a request's write woke
//! up, and that write failed after the busy timeout (`503`). Queued here,
//! a store write waits for the store writes of this process before it, one
//! batch at most, and holds no pooled connection while it waits, so reads
//! go on. (Writes that do not go through the store, such as migrations,
//! the tower-sessions import and the app's own on the pool, and writers in
//! other processes, still meet SQLite's busy handler.)

use crate::store::error::Error;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One queue per database (its file, or the unique name of an in-memory
/// one), shared by every pool of this process on it; gone with its last
/// writer.
static GATES: LazyLock<Mutex<HashMap<Arc<str>, Weak<Semaphore>>>> = LazyLock::new(Default::default);

/// This write's turn on `database`: the next write waits until it is
/// dropped.
pub(super) async fn turn(database: &Arc<str>) -> Result<OwnedSemaphorePermit, Error> {
    let gate = {
        let mut gates = GATES.lock().unwrap_or_else(|e| e.into_inner());
        match gates.get(database).and_then(Weak::upgrade) {
            Some(gate) => gate,
            None => {
                gates.retain(|_, gate| gate.strong_count() > 0);
                let gate = Arc::new(Semaphore::new(1));
                gates.insert(database.clone(), Arc::downgrade(&gate));
                gate
            }
        }
    };
    gate.acquire_owned()
        .await
        .map_err(|_| Error::unavailable("the database's write queue closed"))
}
