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

/// The turns of every key being updated in this process (per layer).
#[derive(Clone, Default)]
pub(crate) struct KeyQueues(Arc<Mutex<HashMap<(Uuid, String), Slot>>>);

impl fmt::Debug for KeyQueues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A count only: no session ids or keys in logs.
        f.debug_struct("KeyQueues")
            .field("keys", &self.map().len())
            .finish()
    }
}

impl KeyQueues {
    fn map(&self) -> MutexGuard<'_, HashMap<(Uuid, String), Slot>> {
        // Never held across an await or user code.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the turn of key `key` of session `id` (first come, first
    /// served), and holds it until the returned value is dropped.
    pub(crate) async fn turn(&self, id: Uuid, key: &str) -> Turn {
        let slot = self.map().entry((id, key.to_owned())).or_default().clone();
        Turn {
            queues: self.clone(),
            key: (id, key.to_owned()),
            guard: slot.lock_owned().await,
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
        self.map()
            .get(&(id, key.to_owned()))
            .map_or(0, |slot| Arc::strong_count(slot) - 1)
    }
}

/// The turn of one key: derefs to what the previous turn knew of it, for
/// this turn to update.
pub(crate) struct Turn {
    queues: KeyQueues,
    key: (Uuid, String),
    guard: OwnedMutexGuard<Known>,
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

impl Drop for Turn {
    fn drop(&mut self) {
        // Every handle on the slot is cloned under the map's lock: when only
        // the map and this turn hold it, nobody waits, and the entry goes.
        // (The guard is released after this, and the next turn, if any,
        // starts.)
        let mut map = self.queues.map();
        if Arc::strong_count(OwnedMutexGuard::mutex(&self.guard)) == 2 {
            map.remove(&self.key);
        }
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
}
