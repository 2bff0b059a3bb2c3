//! [`RedisStorage`]'s storage operations. Each change of a session is
//! decided in Rust on the copy read ([`StoredSession`]'s rules) and lands
//! through one script, a compare-and-set on the version read: a write that
//! lost the race reads again (a bounded number of times).

use super::codec::{self, nanos};
use super::conn::{Call, Conn, Wait};
use super::keys::{Keys, check_placement};
use super::scripts::{INSERT, LIST, SWAP, SWAP_MANY};
use crate::store::credentials::Credentials;
use crate::store::error::Error;
use crate::store::report::{MigrationReport, StoreStats};
use crate::store::revocation::{Revocation, RevokeScope};
use crate::store::session_store::CacheSupport;
use crate::store::storage::Extensions;
use crate::store::storage::{
    Deletion, DeviceWrite, ListQuery, Lookup, SessionStore, StoredSession, Write, WriteOutcome,
};
use crate::store::types::{DataPatch, SessionRecord, UpdateOutcome};
use async_trait::async_trait;
use serde_json::Value;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// How many times a compare-and-set that lost to another write reads again.
const RETRIES: usize = 32;

/// The Redis [`SessionStore`] under [`RedisStore`](super::RedisStore).
#[derive(Debug, Clone)]
pub(crate) struct RedisStorage {
    pub(super) conn: Conn,
    pub(super) keys: Keys,
    /// How long a session's keys outlive its hard end (the ended list).
    pub(super) retention: Duration,
    /// The replicas a revocation, sign-in or rotation waits for (`None`:
    /// none).
    pub(super) wait: Option<Wait>,
}

/// What a change decided on a read copy does.
pub(super) enum Step<R> {
    /// Write the copy, then answer.
    Write(R),
    /// Write nothing, answer.
    Stop(R),
}

impl RedisStorage {
    /// Session `id` as kept, by its key.
    pub(super) async fn get(&self, id: Uuid) -> Result<Option<StoredSession>, Error> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.keys.session(id)).arg("v").arg("e").arg("b");
        decode_fields(self.conn.query(&cmd).await?, id)
    }

    /// Sessions `ids` as kept on `node` (those still there), in one
    /// pipeline.
    pub(super) async fn get_many(
        &self, node: &super::conn::Node, ids: &[Uuid],
    ) -> Result<Vec<StoredSession>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("HMGET")
                .arg(self.keys.session(*id))
                .arg("v")
                .arg("e")
                .arg("b");
        }
        let rows = self.conn.pipe_on(node, pipe).await?;
        let mut out = Vec::with_capacity(rows.len());
        for (row, id) in rows.into_iter().zip(ids) {
            out.extend(decode_fields(super::conn::value(row)?, *id)?);
        }
        Ok(out)
    }

    /// When a session's key expires (Unix ms): its hard end (or now, if
    /// that passed) plus the retention of ended sessions.
    pub(super) fn expiry(&self, r: &SessionRecord) -> Result<i64, Error> {
        let end = r.absolute_expires_at.max(OffsetDateTime::now_utc()) + self.retention;
        Ok(nanos(end)? / 1_000_000)
    }

    /// The `SWAP` of `s` over the copy at `expected`.
    fn swap_call(&self, expected: u64, s: &StoredSession) -> Result<Call<'static>, Error> {
        let r = &s.record;
        let mut call = Call::new(&SWAP).key(self.keys.session(r.id));
        if let Some(user) = &r.user_id {
            call = call.key(self.keys.user(user));
        }
        Ok(call
            .arg(expected)
            .arg(r.version)
            .arg(s.epoch)
            .arg(codec::encode(s)?)
            .arg(self.expiry(r)?)
            .arg(r.id))
    }

    /// Reads session `id`, decides with `f`, and writes the copy if `f`
    /// says so, at the version read, waiting for replicas when `wait`.
    /// `None`: the session is not there.
    pub(super) async fn update<R>(
        &self, id: Uuid, wait: bool, mut f: impl FnMut(&mut StoredSession) -> Step<R>,
    ) -> Result<Option<R>, Error> {
        for _ in 0..RETRIES {
            let Some(mut s) = self.get(id).await? else {
                return Ok(None);
            };
            let read = s.record.version;
            let answer = match f(&mut s) {
                Step::Stop(answer) => return Ok(Some(answer)),
                Step::Write(answer) => answer,
            };
            check_placement(id, s.record.user_id.as_deref())?;
            let call = self.swap_call(read, &s)?;
            match self
                .conn
                .run::<i64>(&call, self.wait.filter(|_| wait))
                .await?
            {
                1 => return Ok(Some(answer)),
                -1 => return Ok(None),
                _ => {}
            }
        }
        Err(Error::unavailable(std::io::Error::other(
            "a session kept changing under its compare-and-set",
        )))
    }

    /// Every session of `user`, with the index's dead members dropped.
    async fn of_user(&self, user: &str) -> Result<Vec<StoredSession>, Error> {
        let call = Call::new(&LIST)
            .key(self.keys.user(user))
            .arg(self.keys.user_sessions(user));
        let flat: Vec<Vec<u8>> = self.conn.run(&call, None).await?;
        flat.chunks(4)
            .map(|c| match c {
                [_, v, e, b] => codec::decode(b, number(v)?, number(e)?),
                _ => Err(Error::Corrupt("a Redis reply of an unexpected type")),
            })
            .collect()
    }

    /// Points the remember-me selector of `credentials` at session `id`,
    /// until the credential ends.
    async fn index_selector(&self, id: Uuid, credentials: &Credentials) -> Result<(), Error> {
        let Some(m) = &credentials.remember else {
            return Ok(());
        };
        let left = m.expires_at - OffsetDateTime::now_utc();
        let ms = left.whole_milliseconds().max(1);
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.keys.selector(&codec::selector_text(&m.selector)))
            .arg(id.to_string())
            .arg("PX")
            .arg(i64::try_from(ms).unwrap_or(i64::MAX));
        let _: () = self.conn.query(&cmd).await?;
        Ok(())
    }

    /// Revokes the sessions of one user that `scope` covers: one script
    /// for all of them, then one by one those that changed in between.
    async fn revoke_user(
        &self, user: &str, scope: &RevokeScope<'_>, how: &Revocation,
    ) -> Result<u64, Error> {
        let mut changed = Vec::new();
        let mut call = Call::new(&SWAP_MANY);
        for mut s in self.of_user(user).await? {
            let read = s.record.version;
            if s.apply_revocation(scope, how) {
                call = call
                    .key(self.keys.session(s.record.id))
                    .arg(read)
                    .arg(s.record.version)
                    .arg(s.epoch)
                    .arg(codec::encode(&s)?)
                    .arg(self.expiry(&s.record)?);
                changed.push(s.record.id);
            }
        }
        if changed.is_empty() {
            return Ok(0);
        }
        let answers: Vec<i64> = self.conn.run(&call, self.wait).await?;
        let mut count = 0;
        for (id, answer) in changed.into_iter().zip(answers) {
            count += match answer {
                1 => 1,
                -1 => 0,
                _ => self.revoke_one(id, scope, how).await?,
            };
        }
        Ok(count)
    }

    pub(super) async fn revoke_one(
        &self, id: Uuid, scope: &RevokeScope<'_>, how: &Revocation,
    ) -> Result<u64, Error> {
        let revoked = self
            .update(id, true, |s| match s.apply_revocation(scope, how) {
                true => Step::Write(1),
                false => Step::Stop(0),
            })
            .await?;
        Ok(revoked.unwrap_or(0))
    }
}

/// A session's `v`, `e` and `b`, as `HMGET` answers them.
fn decode_fields(fields: Vec<Option<Vec<u8>>>, id: Uuid) -> Result<Option<StoredSession>, Error> {
    let [v, e, b] = <[Option<Vec<u8>>; 3]>::try_from(fields)
        .map_err(|_| Error::Corrupt("a Redis reply of an unexpected type"))?;
    let (Some(v), Some(e), Some(b)) = (v, e, b) else {
        return Ok(None);
    };
    let s = codec::decode(&b, number(&v)?, number(&e)?)?;
    if s.record.id != id {
        return Err(Error::Corrupt("a session key holds another session"));
    }
    Ok(Some(s))
}

fn number(text: &[u8]) -> Result<u64, Error> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or(Error::Corrupt("a session's version is not a number"))
}

#[async_trait]
impl SessionStore for RedisStorage {
    async fn migrate(&self) -> Result<MigrationReport, Error> {
        // Nothing to create: check that the server answers.
        let _: String = self.conn.query(&redis::cmd("PING")).await?;
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
        let mut call = Call::new(&INSERT).key(self.keys.session(r.id));
        if let Some(user) = &r.user_id {
            call = call.key(self.keys.user(user));
        }
        let call = call
            .arg(r.version)
            .arg(session.epoch)
            .arg(codec::encode(session)?)
            .arg(self.expiry(r)?)
            .arg(r.id);
        // A sign-in waits for replicas; a new anonymous visitor does not.
        let wait = self.wait.filter(|_| r.user_id.is_some());
        match self.conn.run::<i64>(&call, wait).await? {
            1 => Ok(()),
            _ => Err(Error::Conflict("the session id exists".into())),
        }
    }

    async fn write(&self, id: Uuid, write: &Write<'_>) -> Result<WriteOutcome, Error> {
        let outcome = self
            .update(id, false, |s| match s.apply_write(write) {
                w @ WriteOutcome::Written { .. } => Step::Write(w),
                other => Step::Stop(other),
            })
            .await?;
        Ok(outcome.unwrap_or(WriteOutcome::Gone))
    }

    async fn swap_credentials(
        &self, id: Uuid, expected_epoch: u64, credentials: &Credentials,
        record: Option<&SessionRecord>,
    ) -> Result<bool, Error> {
        if let Some(r) = record {
            check_placement(id, r.user_id.as_deref())?;
        }
        let mut old_selector = None;
        let swapped = self
            .update(id, true, |s| {
                old_selector = s.credentials.remember.map(|m| m.selector);
                match s.apply_swap(expected_epoch, credentials, record) {
                    true => Step::Write(true),
                    false => Step::Stop(false),
                }
            })
            .await?
            .unwrap_or(false);
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
            let mut cmd = redis::cmd("DEL");
            cmd.arg(self.keys.session(id));
            return self.conn.query(&cmd).await;
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
            .update(id, false, |s| match write.apply(s) {
                true => Step::Write(true),
                false => Step::Stop(false),
            })
            .await?;
        Ok(written.unwrap_or(false))
    }

    /// The compare on the copy read and the write at its version: two
    /// round-trips (the default body takes three).
    async fn update_value(
        &self, id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>,
    ) -> Result<UpdateOutcome, Error> {
        let patch = DataPatch::of_key(key, new);
        let outcome = self
            .update(id, false, |s| {
                if s.record.revoked_at.is_some() {
                    return Step::Stop(UpdateOutcome::Gone);
                }
                let mut data = s.record.data.clone();
                if let Err(conflict) = UpdateOutcome::apply(&mut data, key, expected, new) {
                    return Step::Stop(conflict);
                }
                match s.apply_write(&Write::patch(&patch, None)) {
                    WriteOutcome::Written { version } => {
                        Step::Write(UpdateOutcome::Updated { version })
                    }
                    _ => Step::Stop(UpdateOutcome::Gone),
                }
            })
            .await?;
        Ok(outcome.unwrap_or(UpdateOutcome::Gone))
    }

    fn finds_tokens(&self) -> bool {
        false
    }

    fn extensions(&self) -> Extensions<'_> {
        Extensions::new().with_cache(self).with_devices(self)
    }
}

impl CacheSupport for RedisStorage {
    fn refuses_cache(&self) -> Option<&'static str> {
        Some("the in-process cache over Redis (no change feed would tell it of revocations)")
    }
}
