//! Read-your-writes within one process: a load never answers a session as
//! it was before a data write that this process began earlier and has not
//! finished (two tabs of one browser, a client that does not wait for its
//! answers). With batching, a write may wait in its queue while a later
//! load of the same session goes out: the load then waits for the write
//! (at most [`WRITE_WAIT`]) and reads again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// How long a load waits for this process's writes on its session.
const WRITE_WAIT: Duration = Duration::from_secs(1);

/// The data writes of this process that have begun and not ended, per
/// session, numbered in the order they began.
#[derive(Debug, Default)]
pub(in crate::store::postgres) struct Writes {
    going: Mutex<HashMap<Uuid, Vec<u64>>>,
    /// How many writes are going: none, and a load needs no lock.
    count: AtomicUsize,
    numbered: AtomicU64,
    ended: Notify,
}

/// A write that has begun: it ends when this is dropped.
pub(in crate::store::postgres) struct Going<'a> {
    writes: &'a Writes,
    session: Uuid,
    number: u64,
}

impl Writes {
    fn going(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Vec<u64>>> {
        self.going.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A write on `session` begins.
    pub(in crate::store::postgres) fn begin(&self, session: Uuid) -> Going<'_> {
        let mut going = self.going();
        self.count.fetch_add(1, Ordering::AcqRel);
        let number = self.numbered.fetch_add(1, Ordering::AcqRel) + 1;
        going.entry(session).or_default().push(number);
        Going {
            writes: self,
            session,
            number,
        }
    }

    /// The number of the last write begun so far.
    pub(in crate::store::postgres) fn mark(&self) -> u64 {
        self.numbered.load(Ordering::Acquire)
    }

    /// Whether a write on `session` numbered up to `mark` has not ended.
    fn pending(&self, session: Uuid, mark: u64) -> bool {
        self.count.load(Ordering::Acquire) > 0
            && self
                .going()
                .get(&session)
                .is_some_and(|n| n.iter().any(|n| *n <= mark))
    }

    /// Waits until every write on `session` numbered up to `mark` has
    /// ended: `false` when there was none, or [`WRITE_WAIT`] passed first.
    pub(in crate::store::postgres) async fn waited(&self, session: Uuid, mark: u64) -> bool {
        if !self.pending(session, mark) {
            return false;
        }
        let until = tokio::time::Instant::now() + WRITE_WAIT;
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            // Registered before the look: an end in between wakes it.
            ended.as_mut().enable();
            if !self.pending(session, mark) {
                return true;
            }
            if tokio::time::timeout_at(until, ended).await.is_err() {
                return false;
            }
        }
    }
}

impl Drop for Going<'_> {
    fn drop(&mut self) {
        let mut going = self.writes.going();
        if let Some(numbers) = going.get_mut(&self.session) {
            numbers.retain(|n| *n != self.number);
            if numbers.is_empty() {
                going.remove(&self.session);
            }
        }
        self.writes.count.fetch_sub(1, Ordering::AcqRel);
        drop(going);
        self.writes.ended.notify_waiters();
    }
}
