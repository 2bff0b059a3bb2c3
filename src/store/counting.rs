//! A store that counts the calls that reach the store it wraps: the layer's
//! database cost per request, measured from outside the stores.

use super::delegate::{Call, Wrapper, wrap_store};
use super::error::Error;
use super::session_store::{IntoSessionStore, SessionProtocol};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Wraps a store and counts the calls made to it. Every
/// [`SessionProtocol`] call is one round-trip to the database (one statement
/// or one transaction), so the count is what the layer cost the database:
/// put it directly around the database's store (beneath a
/// [`CachedStore`](super::CachedStore), whose hits then cost nothing),
/// and read [`round_trips`](Self::round_trips) before and after the
/// requests you measure. Clones share the count. `migrate` is not counted,
/// nor is a cache's change feed.
///
/// ```
/// use axum_user_sessions::store::CountingStore;
/// use axum_user_sessions::{MemoryStore, SessionLayer};
///
/// let counted = CountingStore::new(MemoryStore::new());
/// let layer = SessionLayer::new(counted.clone());
/// assert_eq!(counted.round_trips(), 0);
/// ```
#[derive(Debug, Clone)]
pub struct CountingStore {
    inner: Arc<dyn SessionProtocol>,
    calls: Arc<AtomicU64>,
}

impl CountingStore {
    /// Counts the calls made to `store`.
    pub fn new(store: impl IntoSessionStore) -> Self {
        Self {
            inner: store.into_session_store(),
            calls: Arc::default(),
        }
    }

    /// How many calls reached the wrapped store so far.
    pub fn round_trips(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

impl Wrapper for CountingStore {
    fn wrapped(&self) -> &dyn SessionProtocol {
        self.inner.as_ref()
    }

    async fn around<T>(
        &self, _call: Call<'_>, run: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        run.await
    }
}

wrap_store!(CountingStore);
