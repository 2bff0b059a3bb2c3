//! The arguments of [`SessionStore`](super::SessionStore)'s calls, each with the rule
//! it stands for written once in Rust (`apply`, `covers`, `select`), for
//! stores that keep sessions as Rust values and as the spec of the others.

use super::StoredSession;
use crate::store::error::Error;
use crate::store::types::{DataPatch, SessionRecord, TokenHash};
use std::net::IpAddr;
use time::OffsetDateTime;
use uuid::Uuid;

/// The activity a load or a restore records, as Rust computed it from a
/// [`Touch`](crate::store::Touch): the store writes these values as they are.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Activity {
    /// The new [`last_seen_at`](SessionRecord::last_seen_at).
    pub last_seen_at: OffsetDateTime,
    /// The new [`expires_at`](SessionRecord::expires_at).
    pub expires_at: OffsetDateTime,
    /// A new [`last_ip`](SessionRecord::last_ip): written with the
    /// [`location`](SessionRecord::location) cleared. `None` leaves both.
    pub new_ip: Option<IpAddr>,
}

impl Activity {
    /// The activity that `record` shows (after a touch was applied to it),
    /// compared with `before`.
    pub(crate) fn between(before: &SessionRecord, after: &SessionRecord) -> Self {
        Self {
            last_seen_at: after.last_seen_at,
            expires_at: after.expires_at,
            new_ip: after.last_ip.filter(|_| after.last_ip != before.last_ip),
        }
    }

    /// Writes this activity into `record` (its version aside).
    pub fn apply(&self, record: &mut SessionRecord) {
        record.last_seen_at = self.last_seen_at;
        record.expires_at = self.expires_at;
        if let Some(ip) = self.new_ip {
            record.last_ip = Some(ip);
            record.location = None;
        }
    }
}

/// One write of a session's data and/or activity ([`SessionStore::write`](crate::store::SessionStore::write)).
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Write<'a> {
    /// A key-level data patch to apply.
    pub patch: Option<&'a DataPatch>,
    /// Write only if the row is at this [`version`](SessionRecord::version).
    pub expected_version: Option<u64>,
    /// Activity to record.
    pub activity: Option<Activity>,
}

impl<'a> Write<'a> {
    /// A write of `patch`, if the row is still at `expected_version`.
    pub fn patch(patch: &'a DataPatch, expected_version: Option<u64>) -> Self {
        Self {
            patch: Some(patch),
            expected_version,
            activity: None,
        }
    }

    /// A write of `activity`.
    pub fn activity(activity: Activity) -> Self {
        Self {
            patch: None,
            expected_version: None,
            activity: Some(activity),
        }
    }
}

/// What a [`SessionStore::write`](crate::store::SessionStore::write) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteOutcome {
    /// Written: the row is now at `version`.
    Written {
        /// The row's version after the write.
        version: u64,
    },
    /// The row is not at the expected version: nothing written.
    Conflict,
    /// The session is gone or revoked: nothing written.
    Gone,
}

/// What [`SessionStore::delete`](crate::store::SessionStore::delete) deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Deletion {
    /// One session, whatever its state.
    One(Uuid),
    /// Garbage collection: at most `limit` sessions for which
    /// [`SessionRecord::is_collectable`] holds at `now` with the retention
    /// horizon `revoked_before`, without waiting on rows another collector
    /// holds.
    Ended {
        /// The collector's time.
        now: OffsetDateTime,
        /// Revoked rows older than this go.
        revoked_before: OffsetDateTime,
        /// At most this many.
        limit: u32,
    },
}

impl Deletion {
    /// Whether this deletion covers `record` (its `limit` aside).
    pub fn covers(&self, record: &SessionRecord) -> bool {
        match *self {
            Self::One(id) => record.id == id,
            Self::Ended {
                now,
                revoked_before,
                ..
            } => record.is_collectable(now, revoked_before),
        }
    }

    /// How many rows it may delete.
    pub fn limit(&self) -> usize {
        match *self {
            Self::One(_) => 1,
            Self::Ended { limit, .. } => usize::try_from(limit).unwrap_or(usize::MAX),
        }
    }
}

/// What [`SessionStore::list`](crate::store::SessionStore::list) lists: a user's sessions, without their data
/// (each listed record's [`data`](SessionRecord::data) is empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListQuery<'a> {
    /// The user's sessions [live](SessionRecord::is_live) at `now`, most
    /// recently active first, then by id: those after `after` (a
    /// `(last_seen_at, id)` keyset, times to the microsecond), at most
    /// `limit`.
    Live {
        /// The user.
        user_id: &'a str,
        /// The time liveness is judged at.
        now: OffsetDateTime,
        /// The previous page's last row.
        after: Option<(OffsetDateTime, Uuid)>,
        /// At most this many.
        limit: u32,
    },
    /// The user's sessions not live at `now` that
    /// [ended](SessionRecord::ended_at) at or after `since`, the most
    /// recently ended first (then by id), at most `limit`.
    Ended {
        /// The user.
        user_id: &'a str,
        /// The oldest end listed.
        since: OffsetDateTime,
        /// The time liveness is judged at.
        now: OffsetDateTime,
        /// At most this many.
        limit: u32,
    },
}

impl ListQuery<'_> {
    /// The answer to this query from `rows`, for stores that keep sessions
    /// as Rust values: filtered, ordered, bounded and without data.
    pub fn select<'r>(
        &self, rows: impl IntoIterator<Item = &'r SessionRecord>,
    ) -> Vec<SessionRecord> {
        use std::cmp::Reverse;
        let micros = |t: OffsetDateTime| t.unix_timestamp_nanos() / 1000;
        let owned = |r: &SessionRecord, user: &str| r.user_id.as_deref() == Some(user);
        let (mut list, limit): (Vec<&SessionRecord>, u32) = match *self {
            Self::Live {
                user_id,
                now,
                after,
                limit,
            } => {
                let key = |r: &SessionRecord| (Reverse(micros(r.last_seen_at)), r.id);
                let after = after.map(|(t, id)| (Reverse(micros(t)), id));
                let mut list: Vec<_> = rows
                    .into_iter()
                    .filter(|r| owned(r, user_id) && r.is_live(now))
                    .filter(|r| after.is_none_or(|a| key(r) > a))
                    .collect();
                list.sort_by_key(|r| key(r));
                (list, limit)
            }
            Self::Ended {
                user_id,
                since,
                now,
                limit,
            } => {
                let mut list: Vec<_> = rows
                    .into_iter()
                    .filter(|r| owned(r, user_id) && !r.is_live(now) && r.ended_at() >= since)
                    .collect();
                list.sort_by_key(|r| (Reverse(r.ended_at()), r.id));
                (list, limit)
            }
        };
        list.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        list.into_iter().map(SessionRecord::without_data).collect()
    }
}

/// How [`SessionStore::load`](crate::store::SessionStore::load) finds a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lookup {
    /// By its id: the key of every hot lookup (a cookie names its session).
    Id(Uuid),
    /// By its remember-me selector ([`RememberState::selector`](crate::store::RememberState::selector)).
    Selector([u8; 16]),
    /// By one of its session tokens, whatever its state: for a cookie that
    /// does not name its session. A store that cannot look tokens up
    /// answers `None` (such a cookie is then anonymous).
    Token(TokenHash),
}

impl Lookup {
    /// Whether `session` is the one this lookup finds.
    pub fn matches(&self, session: &StoredSession) -> bool {
        match self {
            Self::Id(id) => session.record.id == *id,
            Self::Selector(s) => session
                .credentials
                .remember
                .is_some_and(|r| r.selector == *s),
            Self::Token(h) => session.credentials.holds(h),
        }
    }
}

/// A write of a device's name or place ([`SessionStore::set_device`](crate::store::SessionStore::set_device)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceWrite<'a> {
    /// Sets (`Some`) or clears the session's name, if it is live at `now`
    /// and `user_id` owns it.
    Name {
        /// The owner it must have.
        user_id: &'a str,
        /// The new name.
        name: Option<&'a str>,
        /// The time liveness is judged at.
        now: OffsetDateTime,
    },
    /// Sets the session's place label, if its
    /// [`last_ip`](SessionRecord::last_ip) is still `ip` and it is not
    /// revoked.
    Location {
        /// The IP the label is for.
        ip: IpAddr,
        /// The label.
        location: &'a str,
    },
}

impl DeviceWrite<'_> {
    /// The answer of a store without device names or places (what the
    /// default bodies of `set_device` say).
    pub(crate) fn unsupported(&self) -> Error {
        Error::Unsupported(match self {
            Self::Name { .. } => "device names",
            Self::Location { .. } => "device places",
        })
    }

    /// [`SessionStore::set_device`](crate::store::SessionStore::set_device) on
    /// `session`: `true` when written (and the version counted).
    pub fn apply(&self, session: &mut StoredSession) -> bool {
        let record = &mut session.record;
        match *self {
            Self::Name { user_id, name, now } => {
                if !record.is_live(now) || record.user_id.as_deref() != Some(user_id) {
                    return false;
                }
                record.name = name.map(str::to_owned);
            }
            Self::Location { ip, location } => {
                if record.revoked_at.is_some() || record.last_ip != Some(ip) {
                    return false;
                }
                record.location = Some(location.to_owned());
            }
        }
        record.version += 1;
        true
    }
}
