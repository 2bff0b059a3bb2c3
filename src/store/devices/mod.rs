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
    /// The user's document and the version it was written with, or `None`
    /// when there is none.
    async fn load_devices(&self, user_id: &str) -> Result<Option<(u64, UserDevices)>, Error>;

    /// Compare-and-set of the user's document: stores `devices` with
    /// `version` if the stored version is `expected` (`None`: no document
    /// yet, inserted). `false`, and nothing written, otherwise. The version
    /// comes from the caller ([`update`]: one more than `expected`, and a
    /// random one for a new document, so that a writer that read a
    /// document since collected never matches the next one).
    async fn swap_devices(
        &self, user_id: &str, expected: Option<u64>, version: u64, devices: &UserDevices,
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
/// The store's; [`Error::Unavailable`] when every attempt lost its
/// compare-and-set (other writers kept changing the document).
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
        let next = version.map_or_else(first_version, |v| v + 1);
        if !changed || store.swap_devices(user_id, version, next, &devices).await? {
            return Ok(answer);
        }
    }
    // Other writers won every time: busy, not broken (`503`).
    Err(Error::unavailable(
        "the user's device records kept changing",
    ))
}

/// The version of a new document: random (below 2^52, which every store
/// and a Lua number keep exactly), so that it is not the version of a
/// document collected meanwhile that a slow writer still holds (versions
/// counted from 1 again would be, and its compare-and-set would overwrite
/// the new document).
fn first_version() -> u64 {
    rand::random::<u64>() >> 12 | 1
}

#[cfg(test)]
mod tests;
