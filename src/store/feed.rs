//! The change feed: how a store tells caches that sessions changed, in this
//! process or any other (Postgres polls for changes, see `postgres/feed.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use uuid::Uuid;

/// A message from a store's change feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// The session with this id changed, or went away, somewhere.
    Session {
        /// Its id.
        id: Uuid,
        /// The version of its row after the change
        /// ([`SessionRecord::version`](super::SessionRecord::version)): a
        /// copy of this version or a newer one is still right. `None` when
        /// the change is not to the row itself (its tokens, or a deletion):
        /// every copy is stale.
        version: Option<u64>,
    },
    /// Every change committed before `at` has been sent. A cache may serve
    /// from memory while the last of these is recent enough.
    CaughtUp {
        /// When the feed started the read that caught up (before it).
        at: Instant,
    },
    /// The feed may have lost changes (it failed): forget everything, and
    /// serve nothing from memory until the next [`CaughtUp`](Self::CaughtUp).
    Flush,
}

/// What a cache asks of a store's change feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeedOptions {
    /// The shortest time between the starts of two reads of the changes. A
    /// feed that reads when asked ([`ChangeFeed::demand`]) reads at most this
    /// often while its cache is busy, and rarely while it is idle.
    pub poll_interval: Duration,
}

impl FeedOptions {
    /// Reads of the changes at most every `poll_interval`.
    pub fn new(poll_interval: Duration) -> Self {
        Self { poll_interval }
    }
}

/// A store's feed of session changes, for caches.
#[derive(Debug)]
#[non_exhaustive]
pub struct ChangeFeed {
    /// The changes, each [`Change::CaughtUp`] after the changes it covers.
    /// The feed stops when this receiver is dropped.
    pub changes: tokio::sync::mpsc::UnboundedReceiver<Change>,
    /// For a feed that reads the changes when asked (Postgres polls): the
    /// cache notifies it when its view is getting old and it serves
    /// requests, so that an idle cache costs the database next to nothing.
    /// `None`: the feed sends on its own.
    pub demand: Option<Arc<Notify>>,
}

impl ChangeFeed {
    /// A feed of what `changes` receives (for stores outside this crate).
    pub fn new(changes: tokio::sync::mpsc::UnboundedReceiver<Change>) -> Self {
        Self {
            changes,
            demand: None,
        }
    }

    /// The same feed, reading when `demand` is notified.
    pub fn with_demand(mut self, demand: Arc<Notify>) -> Self {
        self.demand = Some(demand);
        self
    }
}

/// The change feed a cache ([`CachedStore`](super::CachedStore)) over a
/// store that other processes write to (Postgres) needs, to hear of their
/// changes. A store offers it through [`Extensions::with_cache`](super::Extensions::with_cache); one whose
/// database lives in this process names it instead
/// ([`Extensions::in_process`](super::Extensions::in_process)); a cache refuses any other store.
pub trait CacheSupport: Send + Sync {
    /// A feed of the changes made to sessions, by this process or any
    /// other. Called from within a Tokio runtime, once per cache.
    fn subscribe(&self, options: &FeedOptions) -> ChangeFeed;
}
