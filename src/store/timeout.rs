//! A deadline on every store call, so that a slow or stuck database answers
//! `503` instead of holding the request (and a connection) forever.

use super::{
    DataPatch, LoadedSession, Reissue, RememberCredential, RememberedSession, Revocation,
    SessionRecord, SessionStore, StoreStats, Touch,
};
use crate::{Error, TokenHash};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// Wraps a store so that each call fails with [`Error::Timeout`] (a `503`)
/// after `limit`. The call's future is dropped, which returns its connection
/// to the pool only once the driver has cleaned it up; set the server-side
/// `statement_timeout` too (the pools [`connect`](super::connect) makes do)
/// so the database stops the work as well.
#[derive(Debug, Clone)]
pub(crate) struct TimeoutStore {
    pub(crate) inner: Arc<dyn SessionStore>,
    pub(crate) limit: Duration,
}

impl TimeoutStore {
    async fn run<T>(
        &self,
        what: &'static str,
        f: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout(self.limit, f).await {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!(call = what, limit = ?self.limit, "session store call timed out");
                Err(Error::Timeout(self.limit))
            }
        }
    }
}

macro_rules! timed_impl {
    ($($name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty;)*) => {
        #[async_trait]
        impl SessionStore for TimeoutStore {
            async fn migrate(&self) -> Result<(), Error> {
                // Migrations run at startup and may legitimately take long.
                self.inner.migrate().await
            }

            $(
                async fn $name(&self, $($arg: $ty),*) -> Result<$ret, Error> {
                    self.run(stringify!($name), self.inner.$name($($arg),*)).await
                }
            )*

            fn subscribe(&self) -> Option<crate::cache::ChangeFeed> {
                self.inner.subscribe()
            }

            fn round_trips(&self) -> u64 {
                self.inner.round_trips()
            }
        }
    };
}

timed_impl! {
    load(token: &TokenHash, touch: &Touch) -> Option<LoadedSession>;
    create(record: &SessionRecord, token: &TokenHash) -> ();
    patch_data(id: Uuid, patch: &DataPatch) -> bool;
    reissue(id: Uuid, token: &TokenHash, reissue: &Reissue) -> bool;
    delete(id: Uuid) -> bool;
    begin_rotation(id: Uuid, expected_rotated_at: OffsetDateTime, pending: &TokenHash, now: OffsetDateTime) -> bool;
    promote(id: Uuid, token: &TokenHash, now: OffsetDateTime) -> ();
    set_remember(id: Uuid, credential: Option<&RememberCredential>, absolute_if_cleared: OffsetDateTime, now: OffsetDateTime) -> bool;
    find_remember(selector: &[u8; 16]) -> Option<RememberedSession>;
    restore(id: Uuid, token: &TokenHash, rotate: Option<(&TokenHash, &TokenHash)>, touch: &Touch) -> bool;
    get(id: Uuid) -> Option<SessionRecord>;
    revoke(id: Uuid, user_id: Option<&str>, how: &Revocation) -> bool;
    revoke_user_sessions(user_id: &str, keep: Option<Uuid>, how: &Revocation) -> u64;
    revoke_every_session(how: &Revocation) -> u64;
    stats(now: OffsetDateTime, revoked_before: OffsetDateTime) -> StoreStats;
    gc_batch(now: OffsetDateTime, revoked_before: OffsetDateTime, limit: u32) -> u64;
    list_user(user_id: &str, now: OffsetDateTime) -> Vec<SessionRecord>;
}
