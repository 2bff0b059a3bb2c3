//! Reading sessions: one by id, a user's, a batch found by a scan; each as
//! its slot's revocations of everyone leave it
//! ([`not_before`](super::not_before)), the slot's key read in the same
//! round trip.

use super::conn::{Call, Node};
use super::errors::value;
use super::hash;
use super::keys::slot_of_session;
use super::not_before::NotBefore;
use super::scripts::{LIST, MEMBERS};
use super::storage::RedisStorage;
use crate::store::error::Error;
use crate::store::storage::StoredSession;
use std::collections::{BTreeSet, HashMap};
use uuid::Uuid;

/// Sessions read in one pipeline, each with its generation, and the
/// "not before" of their slots.
type Many = (Vec<(StoredSession, u64)>, HashMap<usize, NotBefore>);

impl RedisStorage {
    /// Session `id` as kept, by its key, as its slot's revocations of
    /// everyone leave it: its hash and its slot's "not before" key, in one
    /// round trip.
    pub(super) async fn get(&self, id: Uuid) -> Result<Option<StoredSession>, Error> {
        Ok(self.get_judged(id).await?.map(|(s, _)| s))
    }

    /// [`get`](Self::get), with the generation of the session's slot the
    /// copy was judged at.
    pub(super) async fn get_judged(&self, id: Uuid) -> Result<Option<(StoredSession, u64)>, Error> {
        let key = self.keys.session(id);
        let mut pipe = redis::pipe();
        pipe.cmd("HGETALL").arg(&key);
        pipe.cmd("HGETALL").arg(self.keys.not_before_of(id));
        let mut replies = self.conn.pipe_by_key(&key, pipe).await?.into_iter();
        let mut next = || -> Result<Vec<Vec<u8>>, Error> {
            value(replies.next().unwrap_or(redis::Value::Nil))
        };
        let (session, not_before) = (next()?, next()?);
        let Some((mut s, generation)) = checked(hash::decode(&session)?, id)? else {
            return Ok(None);
        };
        let slot = NotBefore::decode(&not_before)?;
        slot.apply(&mut s, generation)?;
        Ok(Some((s, slot.generation())))
    }

    /// Sessions `ids` as kept on `node` (those still there), without their
    /// data, each with its generation, and the "not before" of their
    /// slots, in one pipeline.
    ///
    /// A key that holds no session of ours (written by something else, or
    /// damaged) is skipped with a warning, by its id: one bad key must not
    /// stop every scan (collection, statistics, a revocation's count)
    /// until it expires.
    pub(super) async fn get_many(&self, node: &Node, ids: &[Uuid]) -> Result<Many, Error> {
        match self.fetch_many(node, ids).await {
            Err(Error::Corrupt(_)) => {}
            answer => return answer,
        }
        // Which one: each on its own.
        let mut out: Many = Default::default();
        for id in ids {
            match self.fetch_many(node, &[*id]).await {
                Ok((found, not_before)) => {
                    out.0.extend(found);
                    out.1.extend(not_before);
                }
                Err(Error::Corrupt(what)) => {
                    tracing::warn!(session = %id, "a session that cannot be read is skipped: {what}");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// [`get_many`](Self::get_many), failing on the first key that is not
    /// ours.
    async fn fetch_many(&self, node: &Node, ids: &[Uuid]) -> Result<Many, Error> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("HMGET")
                .arg(self.keys.session(*id))
                .arg(&hash::RECORD_FIELDS[..]);
        }
        let slots: BTreeSet<usize> = ids.iter().map(|id| slot_of_session(*id)).collect();
        for slot in &slots {
            pipe.cmd("HGETALL").arg(self.keys.not_before(*slot));
        }
        let mut rows = self.conn.pipe_on(node, pipe).await?.into_iter();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let fields = value(rows.next().unwrap_or(redis::Value::Nil))?;
            out.extend(checked(hash::decode_without_data(fields)?, *id)?);
        }
        let mut not_before = HashMap::new();
        for slot in slots {
            let flat: Vec<Vec<u8>> = value(rows.next().unwrap_or(redis::Value::Nil))?;
            not_before.insert(slot, NotBefore::decode(&flat)?);
        }
        Ok((out, not_before))
    }

    /// Every session of `user`, with the index's dead members dropped. Two
    /// round-trips: the index's members, then their hashes, every key
    /// declared, so that a Cluster refuses the read whole while the user's
    /// slot moves.
    pub(super) async fn of_user(&self, user: &str) -> Result<Vec<StoredSession>, Error> {
        let members = Call::new(&MEMBERS).key(self.keys.user(user));
        let ids: Vec<String> = self.conn.run(&members, None).await?;
        let prefix = self.keys.user_sessions(user);
        let mut call = Call::new(&LIST)
            .key(self.keys.user(user))
            .key(self.keys.not_before_of_user(user));
        for id in &ids {
            call = call.key(format!("{prefix}{id}"));
        }
        for id in &ids {
            call = call.arg(id);
        }
        let hashes: Vec<Vec<Vec<u8>>> = self.conn.run(&call, None).await?;
        let Some((not_before, hashes)) = hashes.split_first() else {
            return Err(Error::Corrupt("a Redis reply of an unexpected type"));
        };
        let not_before = NotBefore::decode(not_before)?;
        let mut out = Vec::with_capacity(hashes.len());
        for flat in hashes {
            if let Some((mut s, generation)) = hash::decode(flat)? {
                not_before.apply(&mut s, generation)?;
                out.push(s);
            }
        }
        Ok(out)
    }
}

/// `found` (with its generation), checked to be session `id`.
fn checked(
    found: Option<(StoredSession, u64)>, id: Uuid,
) -> Result<Option<(StoredSession, u64)>, Error> {
    match found {
        Some((s, _)) if s.record.id != id => {
            Err(Error::Corrupt("a session key holds another session"))
        }
        found => Ok(found),
    }
}
