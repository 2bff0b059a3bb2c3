//! One list of the store's calls, from which the wrappers implement
//! [`SessionProtocol`]: the deadline ([`TimeoutStore`](super::timeout::TimeoutStore))
//! and the cache ([`CachedStore`](super::CachedStore)).
//!
//! A wrapper implements [`Wrapper`] (its inner store, and what it does around
//! one call) and writes `wrap_store!(Type);`; a store made of a
//! [`Protocol`](super::Protocol) writes `protocol_store!(Type);`. Next to each signature, the
//! list says which cached sessions the call can make stale ([`Stale`]): the
//! cache forgets them, the deadline ignores it. A method added to the trait
//! is one more line here: for a required method the compiler asks for it;
//! one with a default body must be listed all the same, or the wrappers
//! would answer with the default instead of asking the wrapped store.

use super::error::Error;
use super::revocation::RevokeScope;
use super::session_store::SessionProtocol;
use super::types::{DataPatch, LoadedSession, TokenHash, Touch, UpdateOutcome};
use serde_json::Value;
use std::future::Future;
use uuid::Uuid;

/// Which cached sessions a call can make stale, and from when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stale<'a> {
    /// None: reads, a new session (nothing of it is cached), and garbage
    /// collection (a collected row is expired, which a copy refuses by
    /// itself, or revoked, which dropped the copy already).
    Nothing,
    /// One session, from the start of the call: its data, user or life
    /// changes, so no copy is served while the call runs, nor after.
    Session(Uuid),
    /// One session, once the call is done: token and remember-me bookkeeping,
    /// during which a copy is still right.
    SessionAfter(Uuid),
    /// A user's sessions, from the start of the call.
    User(&'a str),
    /// Every session, from the start of the call.
    Every,
}

impl<'a> Stale<'a> {
    /// What a revocation of `scope` makes stale.
    pub(crate) fn of_scope(scope: &RevokeScope<'a>) -> Self {
        match *scope {
            RevokeScope::Session { id, .. } => Self::Session(id),
            RevokeScope::User { user_id, .. } => Self::User(user_id),
            RevokeScope::Everyone => Self::Every,
        }
    }

    /// Whether copies must go before the call runs (and again after it).
    #[cfg_attr(not(feature = "cache"), allow(dead_code))] // only the cache asks
    pub(crate) fn at_start(&self) -> bool {
        matches!(self, Self::Session(_) | Self::User(_) | Self::Every)
    }
}

/// One store call, as a wrapper sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    /// The method's name, for logs.
    pub(crate) name: &'static str,
    /// What it can make stale.
    #[cfg_attr(not(feature = "cache"), allow(dead_code))] // only the cache reads it
    pub(crate) stale: Stale<'a>,
}

/// A store that wraps another: `wrap_store!` implements [`SessionProtocol`] for
/// it by running every call of the inner store through [`around`](Self::around).
/// `migrate` and `extensions` go straight to
/// the inner store; `load`, `patch_data` and `update_value` go through methods
/// of their own, which the cache overrides.
pub(crate) trait Wrapper: Send + Sync {
    /// The wrapped store.
    fn wrapped(&self) -> &dyn SessionProtocol;

    /// Runs `run`, the inner store's answer to `call` (an `async` block: the
    /// inner store is called when `around` awaits it, not before).
    async fn around<T>(
        &self, call: Call<'_>, run: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error>;

    /// `load`, which a wrapper may answer by itself (the cache). By default,
    /// like every other call.
    async fn load(
        &self, session: Option<Uuid>, token: &TokenHash, touch: &Touch,
    ) -> Result<Option<LoadedSession>, Error> {
        let call = Call {
            name: "load",
            stale: Stale::Nothing,
        };
        self.around(call, async {
            self.wrapped().load(session, token, touch).await
        })
        .await
    }

    /// `patch_data`, which a wrapper may answer with more (the cache updates
    /// its copy). By default, like every other call.
    async fn patch_data(&self, id: Uuid, patch: &DataPatch) -> Result<Option<u64>, Error> {
        let call = Call {
            name: "patch_data",
            stale: Stale::Session(id),
        };
        self.around(call, async { self.wrapped().patch_data(id, patch).await })
            .await
    }

    /// `update_value`, which a wrapper may answer with more (the cache
    /// updates its copy). By default, like every other call.
    async fn update_value(
        &self, id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>,
    ) -> Result<UpdateOutcome, Error> {
        let call = Call {
            name: "update_value",
            stale: Stale::Session(id),
        };
        let run = async { self.wrapped().update_value(id, key, expected, new).await };
        self.around(call, run).await
    }
}

/// `impl SessionProtocol for $wrapper`, from the list of calls below.
macro_rules! wrap_store {
    ($wrapper:ty) => {
        $crate::store::delegate::wrap_store! { @impl $wrapper;
            load(session: Option<Uuid>, token: &TokenHash, touch: &Touch) -> Option<LoadedSession>;
            patch_data(id: Uuid, patch: &DataPatch) -> Option<u64>;
            update_value(id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>) -> UpdateOutcome;
            create(record: &SessionRecord, token: &TokenHash) -> () [Nothing];
            reissue(id: Uuid, token: &TokenHash, reissue: &Reissue) -> bool [Session(id)];
            delete(id: Uuid) -> bool [Session(id)];
            begin_rotation(id: Uuid, expected_rotated_at: OffsetDateTime, pending: &TokenHash, now: OffsetDateTime) -> bool [SessionAfter(id)];
            promote(id: Uuid, token: &TokenHash, now: OffsetDateTime) -> () [SessionAfter(id)];
            set_remember(id: Uuid, credential: Option<&RememberCredential>, absolute_if_cleared: OffsetDateTime, now: OffsetDateTime) -> bool [SessionAfter(id)];
            find_remember(selector: &[u8; 16]) -> Option<RememberedSession> [Nothing];
            restore_remembered(id: Uuid, restore: &Restore) -> bool [SessionAfter(id)];
            get(id: Uuid) -> Option<SessionRecord> [Nothing];
            revoke(scope: &RevokeScope<'_>, how: &Revocation) -> u64 [of_scope(scope)];
            stats(now: OffsetDateTime, revoked_before: OffsetDateTime) -> StoreStats [Nothing];
            gc_batch(now: OffsetDateTime, revoked_before: OffsetDateTime, limit: u32) -> u64 [Nothing];
            list(query: &ListQuery<'_>) -> Vec<SessionRecord> [Nothing];
            set_device(id: Uuid, write: &DeviceWrite<'_>) -> bool [Session(id)];
        }
    };
    (@impl $wrapper:ty;
        load($($la:ident: $lt:ty),*) -> $lr:ty;
        patch_data($($pa:ident: $pt:ty),*) -> $pr:ty;
        update_value($($ua:ident: $ut:ty),*) -> $ur:ty;
        $($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty [$($stale:tt)+];)*
    ) => {
        const _: () = {
            use $crate::store::delegate::{Call, Stale, Wrapper};
            use $crate::store::error::Error;
            use $crate::store::report::{MigrationReport, StoreStats};
            use $crate::store::restore::Restore;
            use $crate::store::revocation::{Revocation, RevokeScope};
            use $crate::store::session_store::SessionProtocol;
            use $crate::store::storage::{DeviceWrite, ListQuery};
            use $crate::store::types::{DataPatch, LoadedSession, SessionRecord, TokenHash, Touch};
use $crate::store::remember::{Reissue, RememberCredential, RememberedSession};
            use $crate::store::types::UpdateOutcome;
            use serde_json::Value;
            use time::OffsetDateTime;
            use uuid::Uuid;

            #[async_trait::async_trait]
            impl SessionProtocol for $wrapper {
                async fn migrate(&self) -> Result<MigrationReport, Error> {
                    // Migrations run at startup and may legitimately take
                    // long; they change tables, not sessions.
                    self.wrapped().migrate().await
                }

                async fn load(&self, $($la: $lt),*) -> Result<$lr, Error> {
                    Wrapper::load(self, $($la),*).await
                }

                async fn patch_data(&self, $($pa: $pt),*) -> Result<$pr, Error> {
                    Wrapper::patch_data(self, $($pa),*).await
                }

                async fn update_value(&self, $($ua: $ut),*) -> Result<$ur, Error> {
                    Wrapper::update_value(self, $($ua),*).await
                }

                $(
                    async fn $name(&self, $($arg: $ty),*) -> Result<$ret, Error> {
                        let call = Call {
                            name: stringify!($name),
                            stale: Stale::$($stale)+,
                        };
                        self.around(call, async { self.wrapped().$name($($arg),*).await }).await
                    }
                )*

                // The wrapped store's, its device records through this
                // wrapper: their calls get the wrapper's deadline, count, ...
                fn extensions(&self) -> $crate::store::Extensions<'_> {
                    let mut offered = self.wrapped().extensions();
                    if offered.devices.is_some() {
                        offered.devices = Some(self);
                    }
                    offered
                }
            }

            // A user's device records, each call through the wrapper's
            // `around` like the session calls (they change no session a
            // cache holds): the deadline, the count.
            #[async_trait::async_trait]
            impl $crate::store::DeviceRecords for $wrapper {
                async fn load_devices(
                    &self, user_id: &str,
                ) -> Result<Option<(u64, $crate::store::devices::UserDevices)>, Error> {
                    let call = Call { name: "load_devices", stale: Stale::Nothing };
                    self.around(call, async { $crate::store::delegate::inner_devices(self.wrapped())?.load_devices(user_id).await })
                        .await
                }

                async fn swap_devices(
                    &self, user_id: &str, expected: Option<u64>, version: u64,
                    devices: &$crate::store::devices::UserDevices,
                ) -> Result<bool, Error> {
                    let call = Call { name: "swap_devices", stale: Stale::Nothing };
                    self.around(call, async {
                        $crate::store::delegate::inner_devices(self.wrapped())?.swap_devices(user_id, expected, version, devices).await
                    })
                    .await
                }

                async fn collect_devices(
                    &self, now: OffsetDateTime, failed_before: OffsetDateTime, limit: u32,
                ) -> Result<u64, Error> {
                    let call = Call { name: "collect_devices", stale: Stale::Nothing };
                    self.around(call, async {
                        $crate::store::delegate::inner_devices(self.wrapped())?.collect_devices(now, failed_before, limit).await
                    })
                    .await
                }
            }
        };
    };
}

/// `impl SessionProtocol for $store`, a store made of a
/// [`Protocol`](super::Protocol) (its field `0`): every call passes through.
macro_rules! protocol_store {
    ($store:ty) => {
        impl $crate::store::delegate::Wrapper for $store {
            fn wrapped(&self) -> &dyn $crate::store::SessionProtocol {
                &self.0
            }

            async fn around<T>(
                &self, _call: $crate::store::delegate::Call<'_>,
                run: impl std::future::Future<Output = Result<T, $crate::store::Error>>,
            ) -> Result<T, $crate::store::Error> {
                run.await
            }
        }

        $crate::store::delegate::wrap_store!($store);
    };
}

pub(crate) use {protocol_store, wrap_store};

/// The device records of the store a wrapper wraps (its
/// [`extensions`](SessionProtocol::extensions) offer them only when there
/// are).
pub(crate) fn inner_devices(
    store: &dyn SessionProtocol,
) -> Result<&dyn crate::store::DeviceRecords, crate::store::Error> {
    store
        .extensions()
        .devices
        .ok_or(crate::store::Error::Unsupported(
            "trusted devices and failed sign-ins",
        ))
}
