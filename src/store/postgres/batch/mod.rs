//! Batching: the loads, the data writes and the new sessions of many
//! sessions that arrive while the store's statements of their kind are busy
//! go out together, one statement for many sessions.
//!
//! A load ([`reads`]), a data write ([`writes`]) or a new session
//! ([`inserts`]) joins its kind's queue and awaits its own answer. At most
//! [`Batching::max_read_statements`] (or [`Batching::max_write_statements`])
//! statements of a kind are in
//! flight at once, each sent by a task of its own. While one is free, a
//! call is sent at once, alone, with the single-row statement: no latency
//! is added when the load is low. When all are busy, calls wait, and the
//! next task to come free takes up to [`Batching::max_rows`] of them as one
//! statement ([`send`]):
//!
//! - a call whose caller went away before its batch left is withdrawn, and
//!   never sent; a batch in flight is never cut by a caller going away;
//! - each call has its own answer, so a row never fails the others;
//! - writes: at most one per session in a batch (a second write to the same
//!   session waits for the next batch, in its order), their rows locked in
//!   id order, so that two batches never deadlock on each other.
//!
//! One statement of 16 writes (or new sessions) costs the database one
//! commit where 16 statements cost 16; one statement of 16 loads, one round-trip, one
//! snapshot and one plan where 16 cost 16 of each.

use super::PgStorage;
use crate::store::error::Error;
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::Mutex;
use tokio::sync::oneshot;
use uuid::Uuid;

mod config;
mod inserts;
mod order;
mod reads;
mod writes;

pub use config::Batching;
pub(super) use inserts::InsertCall;
pub(super) use reads::LoadCall;
pub(super) use writes::WriteCall;

/// The queues of a [`PgStorage`], shared by its clones.
#[derive(Debug)]
pub(super) struct Batches {
    writes: Batcher<writes::WriteCall>,
    inserts: Batcher<inserts::InsertCall>,
    reads: Batcher<reads::LoadCall>,
    /// This process's data writes that have not ended, for its loads.
    pub(super) going: order::Writes,
    config: Batching,
}

impl Batches {
    pub(super) fn new(config: Batching) -> Self {
        Self {
            writes: Batcher::new(config.max_write_statements(), config.max_rows()),
            inserts: Batcher::new(config.max_write_statements(), config.max_rows()),
            reads: Batcher::new(config.max_read_statements(), config.max_rows()),
            going: order::Writes::default(),
            config,
        }
    }

    pub(super) fn config(&self) -> Batching {
        self.config
    }
}

impl Default for Batches {
    fn default() -> Self {
        Self::new(Batching::default())
    }
}

/// One kind of call the store batches: what is queued, what it answers,
/// and how a batch of them is sent.
pub(super) trait Call: Sized + Send + 'static {
    /// What a call answers.
    type Answer: Send + 'static;
    /// Whether a batch holds at most one call per session.
    const ONE_PER_SESSION: bool;
    /// The session the call is about, when the call names it.
    fn session(&self) -> Option<Uuid>;
    /// This kind's queue in `storage`.
    fn queue(storage: &PgStorage) -> &Batcher<Self>;
    /// Sends one call alone, with its single-row statement.
    fn send_one(
        self, storage: &PgStorage,
    ) -> impl Future<Output = Result<Self::Answer, Error>> + Send;
    /// Sends `calls` in one statement: the answer of each, in their order.
    fn send_many(
        calls: &[Self], storage: &PgStorage,
    ) -> impl Future<Output = Result<Vec<Self::Answer>, Error>> + Send;
}

/// Sends `batch` and answers each of its calls: alone, or all in one
/// statement. In an outage every call answers unavailable; a batch that
/// fails any other way (a deadlock with a revocation over many sessions, a
/// value one row's column refuses, a row that does not read) is sent again
/// call by call, so that one call never fails the others.
async fn send<C: Call>(storage: &PgStorage, batch: Vec<Queued<C>>) {
    let (calls, replies): (Vec<C>, Vec<_>) = batch.into_iter().map(|q| (q.call, q.reply)).unzip();
    if calls.len() > 1 {
        match C::send_many(&calls, storage).await {
            Ok(answers) => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(Ok(answer));
                }
                return;
            }
            Err(e) if e.is_unavailable() => {
                for reply in replies {
                    let _ = reply.send(Err(outage(&e)));
                }
                return;
            }
            Err(_) => {}
        }
    }
    for (call, reply) in calls.into_iter().zip(replies) {
        let _ = reply.send(call.send_one(storage).await);
    }
}

/// A call in a queue, with where its answer goes.
struct Queued<C: Call> {
    call: C,
    reply: oneshot::Sender<Result<C::Answer, Error>>,
}

struct Queue<C: Call> {
    waiting: VecDeque<Queued<C>>,
    in_flight: usize,
}

/// The queue of one kind of call of a [`PgStorage`], shared by its clones.
pub(super) struct Batcher<C: Call> {
    queue: Mutex<Queue<C>>,
    statements: usize,
    rows: usize,
}

impl<C: Call> std::fmt::Debug for Batcher<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("statements", &self.statements)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl<C: Call> Batcher<C> {
    fn new(statements: usize, rows: usize) -> Self {
        Self {
            queue: Mutex::new(Queue {
                waiting: VecDeque::new(),
                in_flight: 0,
            }),
            statements,
            rows,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<C>> {
        // The queue is consistent between statements: keep going after a
        // panic elsewhere.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the next batch, or, when nothing is left to send, gives its
    /// task's slot back (under one lock, so that no call is left behind).
    fn next_batch(&self) -> Option<Vec<Queued<C>>> {
        let mut queue = self.lock();
        let mut batch = Vec::new();
        let mut sessions = HashSet::new();
        let mut kept = VecDeque::new();
        while let Some(queued) = queue.waiting.pop_front() {
            if queued.reply.is_closed() {
                continue; // withdrawn: its caller went away
            }
            let fits = batch.len() < self.rows
                && (!C::ONE_PER_SESSION
                    || queued.call.session().is_none_or(|id| sessions.insert(id)));
            if fits {
                batch.push(queued);
            } else {
                kept.push_back(queued);
            }
        }
        queue.waiting = kept;
        if batch.is_empty() {
            queue.in_flight -= 1;
            return None;
        }
        Some(batch)
    }
}

impl PgStorage {
    /// Queues `call` ([module docs](self)) and awaits its answer.
    pub(super) async fn batched<C: Call>(&self, call: C) -> Result<C::Answer, Error> {
        let (reply, answer) = oneshot::channel();
        let batcher = C::queue(self);
        let start = {
            let mut queue = batcher.lock();
            queue.waiting.push_back(Queued { call, reply });
            let start = queue.in_flight < batcher.statements;
            if start {
                queue.in_flight += 1;
            }
            start
        };
        if start {
            Slot::<C>::spawn(self.clone());
        }
        answer
            .await
            .unwrap_or_else(|_| Err(Error::backend("a batch's task ended without an answer")))
    }
}

/// An outage's error, for each call of a batch that met it.
fn outage(e: &Error) -> Error {
    Error::unavailable(format!("{e} (in a batch)"))
}

/// One of a queue's statement slots, held by the task that
/// sends batches until the queue is empty. If the task ends any other way
/// (a panic), the slot is given back, and the queue handed to a new task.
struct Slot<C: Call> {
    storage: PgStorage,
    /// Given back by [`Batcher::next_batch`].
    released: bool,
    call: std::marker::PhantomData<fn() -> C>,
}

impl<C: Call> Slot<C> {
    fn spawn(storage: PgStorage) {
        let slot = Slot::<C> {
            storage,
            released: false,
            call: std::marker::PhantomData,
        };
        tokio::spawn(slot.drain());
    }

    async fn drain(mut self) {
        while let Some(batch) = C::queue(&self.storage).next_batch() {
            send(&self.storage, batch).await;
        }
        self.released = true;
    }
}

impl<C: Call> Drop for Slot<C> {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let respawn = {
            let mut queue = C::queue(&self.storage).lock();
            let respawn =
                !queue.waiting.is_empty() && tokio::runtime::Handle::try_current().is_ok();
            if !respawn {
                queue.in_flight -= 1;
            }
            respawn
        };
        if respawn {
            Slot::<C>::spawn(self.storage.clone());
        }
    }
}
