//! Turns for [`Session::update`](crate::Session::update): in one process,
//! updates of the same key of the same session wait for each other, and each
//! starts from the value the one before it read or wrote.
//!
//! Correctness never depends on this (the store's compare-and-set decides);
//! it keeps this process's own requests from racing each other to the store.
//! Without it, `n` concurrent updates of one key cost up to `n` attempts each
//! (every round of the race has one winner), which no bounded retry survives.
//! With it, they cost one attempt each unless another process writes the key.
//!
//! A key has an entry only while an update of it runs or waits.

use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

/// What the previous turn knew of the key: `Some(value)` as the store held
/// it then (`Some(None)`: absent), `None` when it does not know (a turn that
/// failed or was cancelled half-way).
pub(crate) type Known = Option<Option<Value>>;

type Slot = Arc<tokio::sync::Mutex<Known>>;

/// A key's turn, and how many turns of it run or wait.
type Entry = (Slot, usize);

/// The turns of every key being updated in this process (per layer).
#[derive(Clone, Default)]
pub(crate) struct KeyQueues(Arc<Mutex<HashMap<(Uuid, String), Entry>>>);

impl fmt::Debug for KeyQueues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A count only: no session ids or keys in logs.
        f.debug_struct("KeyQueues")
            .field("keys", &self.map().len())
            .finish()
    }
}

impl KeyQueues {
    fn map(&self) -> MutexGuard<'_, HashMap<(Uuid, String), Entry>> {
        // Never held across an await or user code.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the turn of key `key` of session `id` (first come, first
    /// served), and holds it until the returned value is dropped. Dropped
    /// while it waits, it leaves the queue.
    pub(crate) async fn turn(&self, id: Uuid, key: &str) -> Turn {
        let ticket = Ticket::new(self.clone(), (id, key.to_owned()));
        let guard = ticket.slot.clone().lock_owned().await;
        Turn {
            guard,
            _ticket: ticket,
        }
    }

    /// How many keys have an entry.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }

    /// How many turns of a key run or wait.
    #[cfg(test)]
    pub(crate) fn turns(&self, id: Uuid, key: &str) -> usize {
        self.map().get(&(id, key.to_owned())).map_or(0, |(_, n)| *n)
    }
}

/// A place in a key's queue, waiting or holding the turn: counted in the
/// key's entry, which goes with the last one.
struct Ticket {
    queues: KeyQueues,
    key: (Uuid, String),
    slot: Slot,
}

impl Ticket {
    fn new(queues: KeyQueues, key: (Uuid, String)) -> Self {
        let slot = {
            let mut map = queues.map();
            let (slot, n) = map.entry(key.clone()).or_default();
            *n += 1;
            slot.clone()
        };
        Self { queues, key, slot }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut map = self.queues.map();
        if let Some((_, n)) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// The turn of one key: derefs to what the previous turn knew of it, for
/// this turn to update. Dropped, it passes the turn on.
pub(crate) struct Turn {
    // Released before the ticket is given back (fields drop in order).
    guard: OwnedMutexGuard<Known>,
    _ticket: Ticket,
}

impl Deref for Turn {
    type Target = Known;

    fn deref(&self) -> &Known {
        &self.guard
    }
}

impl DerefMut for Turn {
    fn deref_mut(&mut self) -> &mut Known {
        &mut self.guard
    }
}

#[cfg(test)]
mod tests {
    use super::KeyQueues;
    use serde_json::json;
    use uuid::Uuid;

    #[tokio::test]
    async fn turns_pass_on_what_they_know_and_entries_go_when_idle() {
        let queues = KeyQueues::default();
        let id = Uuid::new_v4();
        let mut first = queues.turn(id, "n").await;
        assert_eq!(*first, None, "a new key is unknown");
        *first = Some(Some(json!(1)));
        let queues2 = queues.clone();
        let second = tokio::spawn(async move { queues2.turn(id, "n").await.clone() });
        // Another key is not blocked by this one.
        drop(queues.turn(id, "other").await);
        while queues.turns(id, "n") < 2 {
            tokio::task::yield_now().await;
        }
        assert!(!second.is_finished(), "the second turn did not wait");
        drop(first);
        assert_eq!(second.await.unwrap(), Some(Some(json!(1))));
        assert_eq!(queues.len(), 0, "an idle key kept its entry");
    }

    #[tokio::test]
    async fn a_waiter_dropped_leaves_the_queue() {
        let queues = KeyQueues::default();
        let id = Uuid::new_v4();
        let first = queues.turn(id, "n").await;
        let queues2 = queues.clone();
        let waiter = tokio::spawn(async move { drop(queues2.turn(id, "n").await) });
        while queues.turns(id, "n") < 2 {
            tokio::task::yield_now().await;
        }
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        assert_eq!(queues.turns(id, "n"), 1);
        drop(first);
        assert_eq!(queues.len(), 0, "a cancelled waiter kept the entry");
    }
}
