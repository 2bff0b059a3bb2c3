//! [`RedisStorage`]'s storage operations. A data or activity write is one
//! script (`writes.rs`); every other change of a session is decided in
//! Rust on the copy read ([`StoredSession`]'s rules) and lands through one
//! script, a compare-and-set on the version read: a write that lost the
//! race reads again (a bounded number of times).

use super::codec::{self, nanos};
use super::conn::{Call, Conn, Wait};
use super::hash;
use super::keys::{Keys, check_placement};
use super::scan::Scanner;
use super::scripts::{INSERT, PUT, SWAP};
use crate::store::credentials::Credentials;
use crate::store::error::Error;
use crate::store::report::{MigrationReport, StoreStats};
use crate::store::revocation::{Revocation, RevokeScope};
use crate::store::storage::Extensions;
use crate::store::storage::{
    Deletion, DeviceWrite, ListQuery, Lookup, SessionStore, StoredSession, Write, WriteOutcome,
};
use crate::store::types::{SessionRecord, UpdateOutcome};
use async_trait::async_trait;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// How many times a compare-and-set that lost to another write reads again.
const RETRIES: usize = 32;

/// The Redis [`SessionStore`] under [`RedisStore`](super::RedisStore).
#[derive(Debug, Clone)]
pub struct RedisStorage {
    /// The connection every call that does not wait goes on.
    pub(super) conn: Conn,
    /// The connections of the calls that wait for replicas
    /// ([`link`](Self::link)); none when the store waits for none.
    pub(super) waiting: Arc<[Conn]>,
    pub(super) keys: Keys,
    /// How long a session's keys outlive its hard end (the ended list).
    pub(super) retention: Duration,
    /// The replicas a revocation, sign-in or rotation waits for (`None`:
    /// none).
    pub(super) wait: Option<Wait>,
    /// Where the last batch of garbage collection stopped: the next goes
    /// on from there ([`Scanner`]).
    pub(super) collecting: Arc<std::sync::Mutex<Option<Scanner>>>,
}

/// What a change waits for before it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Acks {
    /// Nothing.
    None,
    /// Its write, and an answer without a write waits behind a barrier.
    All,
}

/// What a change decided on a read copy does.
pub(super) enum Step<R> {
    /// Write the copy, then answer.
    Write(R),
    /// Write nothing, answer.
    Stop(R),
}

impl RedisStorage {
    /// The connection of a call that waits as `wait` says, whose first key
    /// is `key`. A `WAIT` holds its connection until the replicas answer
    /// (up to its timeout): Redis reads nothing more from that client
    /// meanwhile. So a call that waits goes on one of the
    /// [`WAITING_LINKS`](super::WAITING_LINKS) kept for such calls, picked
    /// by its key's hash tag (a user's and its sessions' waiting calls keep
    /// their order on one), or by the whole key when it has none (a
    /// selector's entry), and every other call on the shared one, never
    /// behind a `WAIT`.
    pub(super) fn link(&self, wait: Option<Wait>, key: Option<&str>) -> &Conn {
        if wait.is_none() || self.waiting.is_empty() {
            return &self.conn;
        }
        let tag = key.map(|k| {
            k.split_once('{')
                .and_then(|(_, rest)| rest.split_once('}'))
                .map_or(k, |(tag, _)| tag)
        });
        let spread = tag.map_or(0, |t| {
            t.bytes().fold(0usize, |h, b| {
                h.wrapping_mul(31).wrapping_add(usize::from(b))
            })
        });
        &self.waiting[spread % self.waiting.len()]
    }

    /// Runs `call` on its connection ([`link`](Self::link)), with `WAIT`
    /// when `wait` says so.
    pub(super) async fn run<T: redis::FromRedisValue>(
        &self, call: &Call<'_>, wait: Option<Wait>,
    ) -> Result<T, Error> {
        self.link(wait, call.first_key()).run(call, wait).await
    }

    /// When a session's key expires (Unix ms): its hard end (or now, if
    /// that passed) plus the retention of ended sessions.
    pub(super) fn expiry(&self, r: &SessionRecord) -> Result<i64, Error> {
        let end = r.absolute_expires_at.max(OffsetDateTime::now_utc()) + self.retention;
        Ok(nanos(end)? / 1_000_000)
    }

    /// The `SWAP` of `s` over the copy at `expected`, judged at its slot's
    /// generation `judged` (a revocation may land on a session of an older
    /// generation while the slot is still there).
    fn swap_call(
        &self, expected: u64, judged: u64, s: &StoredSession,
    ) -> Result<Call<'static>, Error> {
        let r = &s.record;
        let mut call = Call::new(&SWAP)
            .key(self.keys.session(r.id))
            .key(self.keys.not_before_of(r.id));
        if let Some(user) = &r.user_id {
            call = call.key(self.keys.user(user));
        }
        let revocation = r.revoked_at.map(|_| judged.to_string());
        call = call
            .arg(expected)
            .arg(revocation.unwrap_or_default())
            .arg(self.expiry(r)?)
            .arg(r.id);
        Ok(call.pairs(hash::encode(s)?))
    }

    /// Reads session `id`, decides with `f`, and writes the copy if `f`
    /// says so, at the version read, waiting for replicas as `acks` says.
    /// `None`: the session is not there, or takes no write: it is of an
    /// older generation than its slot's (there when everyone was revoked:
    /// that ended it, or it had ended before), so deciding again on a new
    /// copy would only be refused again. A revocation still lands on it
    /// (it brings nothing back), while the slot is at the generation the
    /// copy was judged at.
    ///
    /// With [`Acks::All`], an answer that writes nothing (the copy read
    /// already says it, or the session takes no write) rests on a state
    /// this connection may not have written: another call's write, or this
    /// call's own first try, which the client sent again after its
    /// connection dropped (the second try then finds its own write and
    /// loses the compare-and-set). A `WAIT` alone would count what this
    /// connection wrote, maybe nothing: the answer waits
    /// behind a write of its own on the session's slot
    /// ([`barrier`](Self::barrier)), so the replicas it counts have
    /// everything the master had when the copy was read.
    pub(super) async fn update<R>(
        &self, id: Uuid, acks: Acks, mut f: impl FnMut(&mut StoredSession) -> Step<R>,
    ) -> Result<Option<R>, Error> {
        let wait = self.wait.filter(|_| acks != Acks::None);
        for _ in 0..RETRIES {
            let Some((mut s, judged)) = self.get_judged(id).await? else {
                return Ok(None);
            };
            let read = s.record.version;
            let answer = match f(&mut s) {
                Step::Stop(answer) => Some(answer),
                Step::Write(answer) => {
                    check_placement(id, s.record.user_id.as_deref())?;
                    let call = self.swap_call(read, judged, &s)?;
                    match self.run::<i64>(&call, wait).await? {
                        1 => return Ok(Some(answer)),
                        // Gone, or of an older generation.
                        -1 => None,
                        _ => continue,
                    }
                }
            };
            if acks == Acks::All {
                self.barrier(self.keys.barrier(id)).await?;
            }
            return Ok(answer);
        }
        Err(Error::unavailable(std::io::Error::other(
            "a session kept changing under its compare-and-set",
        )))
    }

    /// A write of its own on `key`'s slot (a [`Keys::barrier`]), then
    /// `WAIT` on the same connection (one pipeline): below the minimum of
    /// replicas in time, unavailable. Nothing when the store waits for none.
    pub(super) async fn barrier(&self, key: String) -> Result<(), Error> {
        if self.wait.is_none() {
            return Ok(());
        }
        // A key of the session's slot that no read looks at, for 10 s.
        let call = Call::new(&PUT).key(key).arg("1").arg(10_000);
        self.run::<i64>(&call, self.wait).await.map(drop)
    }

    /// Points the remember-me selector of `credentials` at session `id`,
    /// until the credential ends. The entry lives on its own slot (another
    /// master, on a Cluster): it waits for replicas there, as the sign-in
    /// or the new credential it serves did on the session's, so that a
    /// failover does not leave a credential nobody can find.
    async fn index_selector(&self, id: Uuid, credentials: &Credentials) -> Result<(), Error> {
        let Some(m) = &credentials.remember else {
            return Ok(());
        };
        let left = m.expires_at - OffsetDateTime::now_utc();
        let ms = i64::try_from(left.whole_milliseconds().max(1)).unwrap_or(i64::MAX);
        let key = self.keys.selector(&codec::selector_text(&m.selector));
        let call = Call::new(&PUT).key(key).arg(id.to_string()).arg(ms);
        self.run::<i64>(&call, self.wait).await.map(drop)
    }
}

#[async_trait]
impl SessionStore for RedisStorage {
    async fn migrate(&self) -> Result<MigrationReport, Error> {
        // Nothing to create: check that the server answers, runs the
        // scripts, and cannot evict what a revocation rests on.
        let _: String = self.conn.query(&redis::cmd("PING")).await?;
        self.check_server().await?;
        Ok(MigrationReport::default())
    }

    async fn load(&self, key: &Lookup) -> Result<Option<StoredSession>, Error> {
        let id = match key {
            Lookup::Id(id) => *id,
            Lookup::Selector(selector) => {
                let mut cmd = redis::cmd("GET");
                cmd.arg(self.keys.selector(&codec::selector_text(selector)));
                let id: Option<String> = self.conn.query(&cmd).await?;
                match id.and_then(|id| id.parse().ok()) {
                    Some(id) => id,
                    None => return Ok(None),
                }
            }
            // Keyed by id only: cookies name their session.
            Lookup::Token(_) => return Ok(None),
        };
        // The selector's entry is a hint: the session is the truth.
        Ok(self.get(id).await?.filter(|s| key.matches(s)))
    }

    async fn insert(&self, session: &StoredSession) -> Result<(), Error> {
        let r = &session.record;
        check_placement(r.id, r.user_id.as_deref())?;
        self.index_selector(r.id, &session.credentials).await?;
        let mut call = Call::new(&INSERT)
            .key(self.keys.session(r.id))
            .key(self.keys.not_before_of(r.id));
        if let Some(user) = &r.user_id {
            call = call.key(self.keys.user(user));
        }
        let call = call
            .arg(self.expiry(r)?)
            .arg(r.id)
            .pairs(hash::encode(session)?);
        // A sign-in waits for replicas; a new anonymous visitor does not.
        let wait = self.wait.filter(|_| r.user_id.is_some());
        let inserted = match self.run::<i64>(&call, wait).await {
            Ok(inserted) => inserted,
            Err(e) => {
                // The script may have run, and only the wait for replicas
                // (or the answer) failed: the session that no cookie will
                // name goes (best effort), rather than count against the
                // user's session limit while it lives; only if it is this
                // call's (its fresh token hashes say so).
                let ours = self.get(r.id).await.ok().flatten();
                if ours.is_some_and(|s| s.credentials == session.credentials) {
                    let _ = self.delete(&Deletion::One(r.id)).await;
                }
                return Err(e);
            }
        };
        match inserted {
            1 => Ok(()),
            // This call's own first try, which the Cluster client sent
            // again: the session is the one it inserted (its fresh token
            // hashes say so), and the answer waits for replicas as the
            // insert did.
            _ if self
                .get(r.id)
                .await?
                .is_some_and(|s| s.credentials == session.credentials) =>
            {
                match wait {
                    Some(_) => self.barrier(self.keys.barrier(r.id)).await,
                    None => Ok(()),
                }
            }
            _ => Err(Error::Conflict("the session id exists".into())),
        }
    }

    async fn write(&self, id: Uuid, write: &Write<'_>) -> Result<WriteOutcome, Error> {
        self.write_data(id, write).await
    }

    async fn swap_credentials(
        &self, id: Uuid, expected_epoch: u64, credentials: &Credentials,
        record: Option<&SessionRecord>,
    ) -> Result<bool, Error> {
        if let Some(r) = record {
            check_placement(id, r.user_id.as_deref())?;
        }
        // The selector as first read: a try sent again reads its own.
        let mut old_selector = None;
        let swapped = self
            .update(id, Acks::All, |s| {
                old_selector.get_or_insert(s.credentials.remember.map(|m| m.selector));
                match s.apply_swap(expected_epoch, credentials, record) {
                    true => Step::Write(true),
                    // This call's own first try, which the Cluster client
                    // sent again after its connection dropped or its reply
                    // timed out: written, not a lost compare-and-set.
                    false if s.holds_swap(expected_epoch, credentials) => Step::Stop(true),
                    false => Step::Stop(false),
                }
            })
            .await?
            .unwrap_or(false);
        let old_selector = old_selector.flatten();
        let new_selector = credentials.remember.map(|m| m.selector);
        if swapped && new_selector.is_some() && new_selector != old_selector {
            self.index_selector(id, credentials).await?;
        }
        Ok(swapped)
    }

    async fn revoke(&self, scope: &RevokeScope<'_>, how: &Revocation) -> Result<u64, Error> {
        match *scope {
            RevokeScope::Session { id, .. } => self.revoke_one(id, scope, how).await,
            RevokeScope::User { user_id, .. } => self.revoke_user(user_id, scope, how).await,
            _ => self.revoke_everyone(how).await,
        }
    }

    async fn delete(&self, what: &Deletion) -> Result<u64, Error> {
        if let Deletion::One(id) = *what {
            // Waits for replicas, as a revocation does: a failover must
            // not bring back the session a sign-in of another user ended.
            let call = Call::new(&PUT).key(self.keys.session(id));
            let deleted: i64 = self.run(&call, self.wait).await?;
            return Ok(u64::try_from(deleted).unwrap_or(0));
        }
        self.delete_ended(what).await
    }

    async fn list(&self, query: &ListQuery<'_>) -> Result<Vec<SessionRecord>, Error> {
        let (ListQuery::Live { user_id, .. } | ListQuery::Ended { user_id, .. }) = *query;
        let sessions = self.of_user(user_id).await?;
        Ok(query.select(sessions.iter().map(|s| &s.record)))
    }

    async fn stats(
        &self, now: OffsetDateTime, revoked_before: OffsetDateTime,
    ) -> Result<StoreStats, Error> {
        let records = self.every_record().await?;
        Ok(StoreStats::of(&records, now, revoked_before))
    }

    async fn set_device(&self, id: Uuid, write: &DeviceWrite<'_>) -> Result<bool, Error> {
        let written = self
            .update(id, Acks::None, |s| match write.apply(s) {
                true => Step::Write(true),
                false => Step::Stop(false),
            })
            .await?;
        Ok(written.unwrap_or(false))
    }

    /// One script, the compare in it: one round trip (the default body
    /// takes two).
    async fn update_value(
        &self, id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>,
    ) -> Result<UpdateOutcome, Error> {
        self.update_key(id, key, expected, new).await
    }

    fn extensions(&self) -> Extensions<'_> {
        // No change feed: no cache may sit over it.
        Extensions::new().keyed_by_id().with_devices(self)
    }
}
