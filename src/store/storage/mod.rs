//! The small store boundary: [`SessionStore`], what a database must do for the
//! session protocol, which [`Protocol`](super::Protocol) computes once, in
//! Rust, above it. Each call is one storage operation; the store never
//! computes a deadline, a token state or a validator step: it compares what
//! it is given and persists what it is told.

use super::credentials::Credentials;
use super::error::Error;
use super::report::{MigrationReport, StoreStats};
use super::revocation::{Revocation, RevokeScope};
use super::types::{DataPatch, SessionRecord, UpdateOutcome};
use async_trait::async_trait;
use serde_json::Value;
use std::fmt::Debug;
use time::OffsetDateTime;
use uuid::Uuid;

mod extensions;
mod ops;
mod shared;

pub use extensions::Extensions;

pub use ops::{Activity, Deletion, DeviceWrite, ListQuery, Lookup, Write, WriteOutcome};

/// Where sessions are kept: the storage operations the session protocol
/// needs, and nothing of the protocol itself. Wrap one in
/// [`Protocol`](super::Protocol) to get a [`SessionProtocol`](super::SessionProtocol):
/// the protocol (token states, two-phase rotation, remember-me validator
/// steps, the bounded token history, touches) is computed there, in Rust,
/// once for every store.
///
/// A store persists what it is given, and compares:
///
/// - every instant comes from the caller: a store never computes a
///   deadline, only compares instants it was given with instants it keeps
///   ([`SessionRecord::is_live`], [`SessionRecord::is_collectable`] and
///   [`SessionRecord::ended_at`] say how);
/// - a session's [`Credentials`] change only through
///   [`swap_credentials`](Self::swap_credentials), a compare-and-set on
///   their epoch; its data and activity only through
///   [`write`](Self::write);
/// - writes are update-only: none brings back a session that was deleted,
///   and none but [`delete`](Self::delete) touches a revoked one; a data
///   or activity [`write`](Self::write) lands only on a session that
///   [takes writes](SessionRecord::takes_writes) (not revoked, nor moved
///   away by a sign-in: its row's own instants say so);
/// - every change of a session row counts one more
///   [`version`](SessionRecord::version).
///
/// For a store that keeps sessions as Rust values, the arguments carry
/// their rule: [`StoredSession::apply_write`],
/// [`StoredSession::apply_swap`], [`StoredSession::apply_revocation`],
/// [`Deletion::covers`], [`ListQuery::select`], [`Lookup::matches`],
/// [`DeviceWrite::apply`]. The crate's tests run the conformance kit on a
/// store written that way outside the crate (`tests/store/outside_store.rs`).
#[async_trait]
pub trait SessionStore: Debug + Send + Sync + 'static {
    /// Creates or upgrades the store's tables. Idempotent.
    async fn migrate(&self) -> Result<MigrationReport, Error>;

    /// The session `key` finds ([`Lookup::matches`]: by id, remember-me
    /// selector or token), as kept, live or not, with its data and
    /// credentials. A store that cannot look tokens up answers `None` for
    /// [`Lookup::Token`] (a cookie of 0.1's form is then anonymous).
    async fn load(&self, key: &Lookup) -> Result<Option<StoredSession>, Error>;

    /// Inserts a new session. A session with the same id, or a token
    /// another session holds, is refused ([`Error::Corrupt`] or
    /// [`Error::Conflict`]) and nothing is written.
    async fn insert(&self, session: &StoredSession) -> Result<(), Error>;

    /// One write of a session's data and/or activity, counting one version
    /// (never the epoch: [`StoredSession::apply_write`]):
    /// [`WriteOutcome::Gone`] for a session that is missing or does not
    /// [take writes](SessionRecord::takes_writes), [`WriteOutcome::Conflict`] when
    /// it is not at [`Write::expected_version`], and otherwise
    /// [`WriteOutcome::Written`] with the new version.
    async fn write(&self, id: Uuid, write: &Write<'_>) -> Result<WriteOutcome, Error>;

    /// Compare-and-set of a session's credentials
    /// ([`StoredSession::apply_swap`]): if the session is there, not
    /// revoked, and its epoch is still `expected_epoch`, stores
    /// `credentials` and counts one more epoch and one more version (a
    /// change of credentials is a change of the session); with `record`,
    /// also writes
    /// the record's fields that credentials change (all but its id, data,
    /// name, place label, creation, revocation and version: the user, the
    /// sign-in, the client, the activity, the deadlines, `persistent`,
    /// `api_client`; a new `last_ip` clears the place label). `false`, and
    /// nothing written, otherwise.
    async fn swap_credentials(
        &self, id: Uuid, expected_epoch: u64, credentials: &Credentials,
        record: Option<&SessionRecord>,
    ) -> Result<bool, Error>;

    /// Revokes the sessions `scope` covers that `how`
    /// [reaches](Revocation::reaches) ([`StoredSession::apply_revocation`]): records who, why and when,
    /// drops their data and remember-me credential (tokens stay, so that a
    /// replayed one is recognised), and counts one version and one epoch.
    /// How many it revoked.
    async fn revoke(&self, scope: &RevokeScope<'_>, how: &Revocation) -> Result<u64, Error>;

    /// Deletes sessions with their credentials, as `what` says
    /// ([`Deletion::covers`]). How many it deleted.
    async fn delete(&self, what: &Deletion) -> Result<u64, Error>;

    /// A user's sessions, without their data ([`ListQuery::select`]).
    async fn list(&self, query: &ListQuery<'_>) -> Result<Vec<SessionRecord>, Error>;

    /// Live sessions and users at `now`, and the sessions
    /// [collectable](SessionRecord::is_collectable) at `now` with
    /// `revoked_before`. The default body answers [`Error::Unsupported`].
    async fn stats(
        &self, now: OffsetDateTime, revoked_before: OffsetDateTime,
    ) -> Result<StoreStats, Error> {
        let _ = (now, revoked_before);
        Err(Error::Unsupported("statistics"))
    }

    /// Writes a device's name or place, counting one version (never the
    /// epoch: [`DeviceWrite::apply`]): `false`
    /// when its condition does not hold, and nothing is written. The
    /// default body answers [`Error::Unsupported`] (a store without device
    /// names and places: the rename route answers `501`, no place is
    /// shown).
    async fn set_device(&self, id: Uuid, write: &DeviceWrite<'_>) -> Result<bool, Error> {
        let _ = id;
        Err(write.unsupported())
    }

    /// Compare-and-set of one key of a live session's data: if the key
    /// holds `expected` (`None`: absent), sets it to `new` (`None`: removes
    /// it), counting one version; JSON values compare as values, `null` is
    /// a value. [`UpdateOutcome::Conflict`] says what the key holds when it
    /// holds something else; [`UpdateOutcome::Gone`] when the session is
    /// missing or does not [take writes](SessionRecord::takes_writes).
    /// Nothing is written but on `Updated`.
    ///
    /// The default body reads the session and writes at the version read
    /// (two round-trips), reading again at most twice when another write
    /// came between; a store that can compare in its write does it in one
    /// (Postgres: one `UPDATE` with the comparison in its `WHERE`).
    async fn update_value(
        &self, id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>,
    ) -> Result<UpdateOutcome, Error> {
        let patch = DataPatch::of_key(key, new);
        for _ in 0..3 {
            let Some(s) = self.load(&Lookup::Id(id)).await? else {
                return Ok(UpdateOutcome::Gone);
            };
            if !s.record.takes_writes() {
                return Ok(UpdateOutcome::Gone);
            }
            let mut data = s.record.data;
            if let Err(conflict) = UpdateOutcome::apply(&mut data, key, expected, new) {
                return Ok(conflict);
            }
            let write = Write::patch(&patch, Some(s.record.version));
            match self.write(id, &write).await? {
                WriteOutcome::Written { version } => return Ok(UpdateOutcome::Updated { version }),
                WriteOutcome::Gone => return Ok(UpdateOutcome::Gone),
                WriteOutcome::Conflict => {}
            }
        }
        // The row kept changing (other keys, or touches) under the
        // compare-and-set: nothing written, and the key held `expected` at
        // the last read, so a retry may succeed.
        Ok(UpdateOutcome::Conflict {
            current: expected.cloned(),
        })
    }

    /// What the store offers beyond these calls ([`Extensions`]): the
    /// change feed a cache over it needs, or the name of its in-process
    /// database; trusted devices and failed sign-ins
    /// ([`DeviceRecords`](super::DeviceRecords)); whether it finds a
    /// session by a token alone. None by default: a store that finds
    /// tokens, over which no cache may sit, without device records.
    fn extensions(&self) -> Extensions<'_> {
        Extensions::new()
    }
}

/// A session as a [`SessionStore`] keeps it: its row (data included), its
/// [`Credentials`], and their epoch, the compare-and-set of
/// [`SessionStore::swap_credentials`]. The epoch counts one more at each swap
/// and each revocation, and at nothing else: a touch, a data write or a
/// device's name or place never makes a rotation retry. So a swap keeps
/// the later of its own and the stored `last_seen_at` and `expires_at` (a
/// touch may have come between its read and its write), and never writes a
/// place label.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredSession {
    /// The session row, with its data.
    pub record: SessionRecord,
    /// Its tokens and remember-me credential.
    pub credentials: Credentials,
    /// How many times the credentials were swapped or the session revoked
    /// (0 for a new session).
    pub epoch: u64,
}

impl StoredSession {
    /// A stored session.
    pub fn new(record: SessionRecord, credentials: Credentials, epoch: u64) -> Self {
        Self {
            record,
            credentials,
            epoch,
        }
    }

    /// [`SessionStore::write`] on this copy: the rule, for stores that keep
    /// sessions as Rust values.
    pub fn apply_write(&mut self, write: &Write<'_>) -> WriteOutcome {
        let r = &mut self.record;
        if !r.takes_writes() {
            return WriteOutcome::Gone;
        }
        if write.expected_version.is_some_and(|v| v != r.version) {
            return WriteOutcome::Conflict;
        }
        if let Some(patch) = write.patch {
            patch.apply(&mut r.data);
        }
        if let Some(a) = &write.activity {
            a.apply(r);
        }
        r.version += 1;
        WriteOutcome::Written { version: r.version }
    }

    /// [`SessionStore::swap_credentials`] on this copy.
    pub fn apply_swap(
        &mut self, expected_epoch: u64, credentials: &Credentials, record: Option<&SessionRecord>,
    ) -> bool {
        if self.epoch != expected_epoch || self.record.revoked_at.is_some() {
            return false;
        }
        self.credentials = credentials.clone();
        self.epoch += 1;
        if let Some(new) = record {
            let r = &mut self.record;
            r.user_id.clone_from(&new.user_id);
            r.authenticated_at = new.authenticated_at;
            r.rotated_at = new.rotated_at;
            r.ip = new.ip;
            r.user_agent.clone_from(&new.user_agent);
            if r.last_ip != new.last_ip {
                // A label is for one IP: the swap clears it with the IP it
                // changes, and never writes one (the locator does).
                r.last_ip = new.last_ip;
                r.location = None;
            }
            r.tokens_expire_at = new.tokens_expire_at;
            r.absolute_expires_at = new.absolute_expires_at;
            // Computed at the swap's request: a touch that came between
            // (which counts no epoch) keeps its later instants.
            r.expires_at = r.expires_at.max(new.expires_at);
            r.last_seen_at = r.last_seen_at.max(new.last_seen_at);
            r.persistent = new.persistent;
            r.sign_in_method.clone_from(&new.sign_in_method);
            r.second_factor = new.second_factor;
            r.api_client = new.api_client;
        }
        self.record.version += 1;
        true
    }

    /// Whether this copy already holds what
    /// [`apply_swap`](Self::apply_swap)`(expected_epoch, credentials, …)`
    /// writes: that very call landed (the fresh token hashes in
    /// `credentials` name it), one epoch on. For a store whose client may
    /// send a call again after its connection dropped or its reply timed
    /// out: the second try finds its own write, and must answer as the
    /// first would have, not as a lost compare-and-set.
    /// A revoked session holds no swap: a revocation also moves the epoch
    /// on, and may leave credentials equal to a swap's that adds no token
    /// (one that drops the remember-me credential).
    pub fn holds_swap(&self, expected_epoch: u64, credentials: &Credentials) -> bool {
        self.record.revoked_at.is_none()
            && self.epoch == expected_epoch + 1
            && self.credentials == *credentials
    }

    /// [`SessionStore::revoke`] on this copy, if `scope` covers it and `how`
    /// [reaches](Revocation::reaches) it: `true` when it revoked it.
    pub fn apply_revocation(&mut self, scope: &RevokeScope<'_>, how: &Revocation) -> bool {
        let r = &mut self.record;
        if !how.reaches(r) || !scope.covers(r) {
            return false;
        }
        r.revoked_at = Some(how.at);
        r.revoke_reason = Some(how.reason.as_str().to_owned());
        r.revoked_by = Some(how.by.as_str().to_owned());
        r.data.clear();
        r.version += 1;
        self.credentials.remember = None;
        self.epoch += 1;
        true
    }
}
