//! What a store keeps per user beside the sessions: the user's trusted
//! devices and failed sign-ins ([`UserDevices`]), through the extension
//! trait [`DeviceRecords`], which a store offers through
//! [`SessionStore::extensions`](super::SessionStore::extensions).
//!
//! The rules (who is trusted, what a replay is, which attempts are kept)
//! are computed in Rust on [`UserDevices`] (`records.rs`); a store persists
//! one document per user with a compare-and-set on its version, as it does
//! for a session's credentials.

use super::error::Error;
use async_trait::async_trait;
use time::OffsetDateTime;

mod records;

pub use records::{
    FAILED_SIGN_INS_KEPT, FailedSignIn, FailedSignIns, TRUSTED_DEVICES_KEPT, TrustCheck,
    TrustedDevice, UserDevices,
};

/// How many times [`update`] reads again when another writer came between
/// its read and its compare-and-set.
const UPDATE_ATTEMPTS: usize = 8;

/// The per-user records of "Your devices" that outlive sessions: trusted
/// devices and failed sign-ins, one [`UserDevices`] document per user,
/// written with a compare-and-set on its version. An extension of
/// [`SessionStore`](super::SessionStore), offered through
/// [`SessionStore::extensions`](super::SessionStore::extensions); every
/// built-in store implements it.
///
/// A store keeps, next to the document, the two instants the document
/// reports ([`UserDevices::trust_until`], [`UserDevices::last_failed_at`]),
/// so that [`collect_devices`](Self::collect_devices) compares instants
/// only.
#[async_trait]
pub trait DeviceRecords: Send + Sync {
    /// The user's document and its version (1 for the first write), or
    /// `None` when there is none.
    async fn load_devices(&self, user_id: &str) -> Result<Option<(u64, UserDevices)>, Error>;

    /// Compare-and-set of the user's document: stores `devices` with the
    /// version `expected + 1` if the stored version is `expected` (`None`:
    /// no document yet, inserted with version 1). `false`, and nothing
    /// written, otherwise.
    async fn swap_devices(
        &self, user_id: &str, expected: Option<u64>, devices: &UserDevices,
    ) -> Result<bool, Error>;

    /// Deletes at most `limit` documents whose trust ended at `now` (or that
    /// have none) and whose last failed sign-in is before `failed_before`
    /// (or that have none). How many it deleted.
    async fn collect_devices(
        &self, now: OffsetDateTime, failed_before: OffsetDateTime, limit: u32,
    ) -> Result<u64, Error>;
}

/// Reads the user's document, lets `change` edit it, and writes it back
/// with a compare-and-set, reading again when another writer came between
/// (at most 8 times). `change` answers what to return and
/// whether it changed anything (nothing is written otherwise).
///
/// # Errors
///
/// The store's; [`Error::Conflict`] when every attempt lost its
/// compare-and-set.
pub async fn update<T>(
    store: &dyn DeviceRecords, user_id: &str,
    mut change: impl FnMut(&mut UserDevices) -> (T, bool) + Send,
) -> Result<T, Error> {
    for _ in 0..UPDATE_ATTEMPTS {
        let (version, mut devices) = match store.load_devices(user_id).await? {
            Some((v, d)) => (Some(v), d),
            None => (None, UserDevices::default()),
        };
        let (answer, changed) = change(&mut devices);
        if !changed || store.swap_devices(user_id, version, &devices).await? {
            return Ok(answer);
        }
    }
    Err(Error::Conflict(
        "the user's device records kept changing".into(),
    ))
}
