//! The wrappers around a store, assembled in one place and one order: the
//! cache next to the store, the deadline outermost (a cache hit needs no
//! deadline; a miss gets one).

#[cfg(feature = "cache")]
use super::cache::{CacheConfig, CachedStore};
use super::session_store::SessionProtocol;
use super::timeout::TimeoutStore;
use std::sync::Arc;
use std::time::Duration;

/// A store and its wrappers, as a layer configures them.
#[derive(Debug, Clone)]
pub(crate) struct Stack {
    /// The store with its cache, if any: the one instance the service, admin
    /// code and [`SessionLayer::store`](crate::SessionLayer::store) share.
    shared: Arc<dyn SessionProtocol>,
    /// The deadline of each call the service makes.
    timeout: Option<Duration>,
}

impl Stack {
    /// `store`, with no cache and no deadline.
    pub(crate) fn new(store: Arc<dyn SessionProtocol>) -> Self {
        Self {
            shared: store,
            timeout: None,
        }
    }

    /// Puts a cache in front of the store, now, so that everyone who asks
    /// for [`shared`](Self::shared) from here on sees the same cache.
    #[cfg(feature = "cache")]
    pub(crate) fn with_cache(mut self, config: CacheConfig) -> Self {
        self.shared = Arc::new(CachedStore::new(self.shared, config));
        self
    }

    /// Sets (or, with `None`, removes) the deadline of every call.
    pub(crate) fn with_timeout(mut self, limit: Option<Duration>) -> Self {
        self.timeout = limit;
        self
    }

    /// The store with its cache, without the deadline.
    pub(crate) fn shared(&self) -> &Arc<dyn SessionProtocol> {
        &self.shared
    }

    /// The whole stack: the shared store under the deadline.
    pub(crate) fn build(&self) -> Arc<dyn SessionProtocol> {
        match self.timeout {
            Some(limit) => Arc::new(TimeoutStore::new(self.shared.clone(), limit)),
            None => self.shared.clone(),
        }
    }
}
