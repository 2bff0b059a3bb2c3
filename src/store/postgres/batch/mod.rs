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
//! - writes: at most one row per session in a batch, their rows locked in
//!   id order, so that two batches never deadlock on each other. Data
//!   writes of one session that wait one after the other, with no version
//!   to check nor activity, go as one row that does them all in their
//!   order and counts a version for each ([`Call::merge`]); any other
//!   second write of a session waits for the next batch, in its order.
//!
//! One statement of 16 writes (or new sessions) costs the database one
//! commit where 16 statements cost 16; one statement of 16 loads, one round-trip, one
//! snapshot and one plan where 16 cost 16 of each.

use super::PgStorage;
use crate::store::error::Error;
use std::collections::{HashMap, HashSet, VecDeque};
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
    /// One call that does `self` then `later` (a later call on the same
    /// session), if the two can be one; `None` (the default) otherwise.
    fn merge(&self, later: &Self) -> Option<Self> {
        let _ = later;
        None
    }
    /// The answers of the `n` calls a merged call did, in their order,
    /// from its `answer` (the default: `n` is 1).
    fn split(answer: Self::Answer, n: usize) -> Vec<Self::Answer> {
        debug_assert_eq!(n, 1, "a kind of call that merges splits its answers");
        vec![answer]
    }
}

/// A row of a batch: one call, or several calls on one session merged into
/// one ([`Call::merge`]), with where each answer goes.
struct Entry<C: Call> {
    /// What is sent.
    call: C,
    /// Where the answers go, in the calls' order.
    replies: Vec<Reply<C>>,
    /// The calls `call` merges, in their order (empty: `call` is one), sent
    /// one by one if the merged call fails but for an outage.
    parts: Vec<C>,
}

type Reply<C> = oneshot::Sender<Result<<C as Call>::Answer, Error>>;

impl<C: Call> Entry<C> {
    fn new(queued: Queued<C>) -> Self {
        Self {
            call: queued.call,
            replies: vec![queued.reply],
            parts: Vec::new(),
        }
    }

    /// Takes `later` into this row, if the calls merge; gives it back if not.
    fn absorb(&mut self, later: Queued<C>) -> Result<(), Queued<C>> {
        let Some(merged) = self.call.merge(&later.call) else {
            return Err(later);
        };
        let first = std::mem::replace(&mut self.call, merged);
        if self.parts.is_empty() {
            self.parts.push(first);
        }
        self.parts.push(later.call);
        self.replies.push(later.reply);
        Ok(())
    }
}

/// Answers every call of a row from the row's answer.
fn answer<C: Call>(replies: Vec<Reply<C>>, answer: Result<C::Answer, Error>) {
    let n = replies.len();
    match answer {
        Ok(a) => {
            for (reply, a) in replies.into_iter().zip(C::split(a, n)) {
                let _ = reply.send(Ok(a));
            }
        }
        // A call alone gets its error as it is; the calls of a row, each
        // an outage.
        Err(e) if n == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(e));
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(outage(&e)));
            }
        }
    }
}

/// Sends the calls of a row one by one, each with its own answer.
async fn send_parts<C: Call>(storage: &PgStorage, parts: Vec<C>, replies: Vec<Reply<C>>) {
    for (call, reply) in parts.into_iter().zip(replies) {
        let _ = reply.send(call.send_one(storage).await);
    }
}

/// Sends `batch` and answers each of its calls: alone, or all in one
/// statement. In an outage every call answers unavailable; a batch that
/// fails any other way (a deadlock with a revocation over many sessions, a
/// value one row's column refuses, a row that does not read) is sent again
/// call by call, so that one call never fails the others.
async fn send<C: Call>(storage: &PgStorage, batch: Vec<Entry<C>>) {
    let mut calls = Vec::with_capacity(batch.len());
    let mut rows = Vec::with_capacity(batch.len());
    for e in batch {
        calls.push(e.call);
        rows.push((e.replies, e.parts));
    }
    if calls.len() > 1 {
        match C::send_many(&calls, storage).await {
            Ok(answers) => {
                for ((replies, _), a) in rows.into_iter().zip(answers) {
                    answer::<C>(replies, Ok(a));
                }
                return;
            }
            Err(e) if e.is_unavailable() && !e.is_rolled_back() => {
                for (replies, _) in rows {
                    for reply in replies {
                        let _ = reply.send(Err(outage(&e)));
                    }
                }
                return;
            }
            Err(_) => {}
        }
    }
    let alone = calls.len() == 1;
    for (call, (replies, parts)) in calls.into_iter().zip(rows) {
        if parts.is_empty() {
            answer::<C>(replies, call.send_one(storage).await);
            continue;
        }
        // Merged: as one, when the row is the batch; its calls one by one
        // when that (or the batch) failed but for an outage.
        if alone {
            match call.send_one(storage).await {
                Err(e) if !e.is_unavailable() || e.is_rolled_back() => {}
                a => {
                    answer::<C>(replies, a);
                    continue;
                }
            }
        }
        send_parts(storage, parts, replies).await;
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
    fn next_batch(&self) -> Option<Vec<Entry<C>>> {
        let mut queue = self.lock();
        let mut batch: Vec<Entry<C>> = Vec::new();
        // Each session's row in the batch, and the sessions that have a
        // call left for later (their later calls wait too: in order).
        let mut rows: HashMap<Uuid, usize> = HashMap::new();
        let mut waits = HashSet::new();
        let mut kept = VecDeque::new();
        while let Some(queued) = queue.waiting.pop_front() {
            if queued.reply.is_closed() {
                continue; // withdrawn: its caller went away
            }
            let session = queued.call.session().filter(|_| C::ONE_PER_SESSION);
            let left = match session {
                Some(id) if waits.contains(&id) => Some(queued),
                Some(id) if rows.contains_key(&id) => batch[rows[&id]].absorb(queued).err(),
                _ if batch.len() < self.rows => {
                    if let Some(id) = session {
                        rows.insert(id, batch.len());
                    }
                    batch.push(Entry::new(queued));
                    None
                }
                _ => Some(queued),
            };
            if let Some(queued) = left {
                waits.extend(session);
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
