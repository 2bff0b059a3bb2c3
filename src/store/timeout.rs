//! A deadline on every store call, so that a slow or stuck database answers
//! `503` instead of holding the request (and a connection) forever.

use super::delegate::{Call, Wrapper, wrap_store};
use super::error::Error;
use super::session_store::SessionProtocol;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// Wraps a store so that each call fails with [`Error::Timeout`] (a `503`)
/// after `limit`. The call's future is dropped, which returns its connection
/// to the pool only once the driver has cleaned it up; set the server-side
/// `statement_timeout` too (the pools [`connect`](super::connect) makes do)
/// so the database stops the work as well. `migrate` has no deadline.
#[derive(Debug, Clone)]
pub(crate) struct TimeoutStore {
    inner: Arc<dyn SessionProtocol>,
    limit: Duration,
}

impl TimeoutStore {
    pub(crate) fn new(inner: Arc<dyn SessionProtocol>, limit: Duration) -> Self {
        Self { inner, limit }
    }
}

impl Wrapper for TimeoutStore {
    fn wrapped(&self) -> &dyn SessionProtocol {
        self.inner.as_ref()
    }

    async fn around<T>(
        &self, call: Call<'_>, run: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        // A call that answers at once (a cache hit) gets no deadline at
        // all: no runtime handle, clock read or timer entry (whose drop
        // takes the time driver's lock) for it. One that has to wait gets
        // its deadline from here.
        let mut run = std::pin::pin!(run);
        if let Poll::Ready(answer) =
            std::future::poll_fn(|cx| Poll::Ready(run.as_mut().poll(cx))).await
        {
            return answer;
        }
        match tokio::time::timeout(self.limit, run).await {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!(call = call.name, limit = ?self.limit, "session store call timed out");
                Err(Error::Timeout(self.limit))
            }
        }
    }
}

wrap_store!(TimeoutStore);

#[cfg(test)]
mod tests {
    use super::TimeoutStore;
    use crate::store::counting::CountingStore;
    use crate::store::memory::MemoryStorage;
    use crate::store::protocol::Protocol;
    use crate::store::session_store::SessionProtocol;
    use std::sync::Arc;
    use std::time::Duration;

    /// The device records go through the wrappers like the session calls:
    /// under the deadline of a `TimeoutStore` (its `around`), counted by a
    /// `CountingStore` beneath the protocol.
    #[tokio::test]
    async fn device_records_go_through_the_wrappers() {
        let counted = CountingStore::new(MemoryStorage::default());
        let protocol = Arc::new(Protocol::new(counted.clone()));
        let store = TimeoutStore::new(protocol, Duration::from_secs(5));
        let devices = store
            .extensions()
            .devices
            .expect("the memory store keeps devices");
        assert!(devices.load_devices("ann").await.unwrap().is_none());
        assert_eq!(
            counted.round_trips(),
            1,
            "the call went through the deadline, the protocol and the count"
        );
    }
}
