//! The change feed: how a store tells caches that other processes changed
//! sessions (Postgres `LISTEN/NOTIFY`, see `postgres/feed.rs`).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use uuid::Uuid;

/// A message from a store's change feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// The session with this id changed (or went away) somewhere.
    Session(Uuid),
    /// The feed lost changes (it reconnected): forget everything.
    Flush,
}

/// A store's feed of changes made by other processes, for caches.
#[derive(Debug)]
#[non_exhaustive]
pub struct ChangeFeed {
    /// The changes.
    pub changes: tokio::sync::mpsc::UnboundedReceiver<Change>,
    /// Whether the feed is connected now. While it is not, a cache must not
    /// serve from memory: changes may be missed.
    pub live: Arc<AtomicBool>,
}
