//! What spans users, and so hash slots: revoking everyone, garbage
//! collection and statistics, each a `SCAN` of every master's session keys
//! (the store's prefix only), each session then handled on its own slot.
//!
//! Revoking everyone writes no session: it starts a new generation on
//! every slot ([`not_before`](super::not_before)), each master's slots in
//! pipelines that end with their `WAIT` (on the connection that wrote
//! them), and every session of an older generation live at its instant
//! counts as revoked from then on, for loads, lists, writes and garbage
//! collection alike. A
//! session signed in on a slot after its new generation started stays
//! signed in, as if it had signed in just after the call. Then, because
//! the call answers how many sessions it revoked, a read-only scan counts
//! the sessions that this call's generations ended (those live at its
//! instant): the revocation holds, and is acknowledged, before the count
//! starts.
//!
//! Each of these needs every hash slot to have a master that answers (a
//! scan that skipped one would answer wrong without saying so); a key
//! that holds no session of ours is skipped with a warning; and garbage
//! collection keeps its place between batches, so a pass reads each
//! session once.

use super::codec::nanos;
use super::conn::{Call, Node};
use super::errors::value;
use super::keys::slot_of_session;
use super::not_before::KEPT_GENERATIONS;
use super::scripts::{BUMP, DELETE_AT};
use super::slots::SLOTS;
use super::storage::RedisStorage;
use crate::store::error::Error;
use crate::store::revocation::Revocation;
use crate::store::storage::{Deletion, StoredSession};
use crate::store::types::SessionRecord;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// How many slots' generations one pipeline starts.
const BUMPS_PER_PIPELINE: usize = 1024;

/// Where a scan of every master is. Garbage collection keeps it between
/// its batches ([`RedisStorage::collecting`]): a batch goes on where the
/// last stopped, so collecting reads each key once per pass, however many
/// batches the pass takes.
#[derive(Debug)]
pub(super) struct Scanner {
    masters: Vec<Node>,
    at: usize,
    cursor: u64,
    pattern: String,
    /// Sessions the last batch read and did not reach, each with the
    /// generation of its slot it was judged at: the next starts with them
    /// (a copy is deleted only if its session and its slot are unchanged
    /// since, so an old copy deletes nothing that changed).
    left: Vec<(StoredSession, u64)>,
}

impl RedisStorage {
    /// Every master with its hash slots, when every slot has one that
    /// answers; unavailable otherwise (a failover under way): what spans
    /// every session would miss the sessions of a slot without a master,
    /// and its answer (a revocation of everyone, statistics, a count)
    /// would be wrong without saying so.
    async fn every_master(&self) -> Result<Vec<(Node, Vec<usize>)>, Error> {
        let masters = self.conn.masters_with_slots().await?;
        let covered: HashSet<usize> = masters
            .iter()
            .flat_map(|(_, s)| s.iter().copied())
            .collect();
        if covered.len() < SLOTS {
            return Err(Error::unavailable(std::io::Error::other(
                "a hash slot has no master that answers",
            )));
        }
        Ok(masters)
    }

    /// A scan of every master's session keys.
    async fn scanner(&self) -> Result<Scanner, Error> {
        Ok(Scanner {
            masters: self
                .every_master()
                .await?
                .into_iter()
                .map(|(n, _)| n)
                .collect(),
            at: 0,
            cursor: 0,
            pattern: self.keys.every_session(),
            left: Vec::new(),
        })
    }

    /// The next keys of `scan`, as ids, with the master that holds them:
    /// `None` when it is over.
    async fn next_ids(&self, scan: &mut Scanner) -> Result<Option<(Node, Vec<Uuid>)>, Error> {
        let Some(node) = scan.masters.get(scan.at) else {
            return Ok(None);
        };
        let node = node.clone();
        let (next, keys) = self.conn.scan(&node, scan.cursor, &scan.pattern).await?;
        if next == 0 {
            (scan.at, scan.cursor) = (scan.at + 1, 0);
        } else {
            scan.cursor = next;
        }
        let ids = keys.iter().filter_map(|k| self.keys.id_of(k)).collect();
        Ok(Some((node, ids)))
    }

    /// [`RevokeScope::Everyone`]: a new generation on every slot, then
    /// the count of the sessions it revoked.
    pub(super) async fn revoke_everyone(&self, how: &Revocation) -> Result<u64, Error> {
        let text = serde_json::to_string(&(nanos(how.at)?, how.reason.as_str(), how.by.as_str()))?;
        let masters = self.every_master().await?;
        let mut started = HashMap::new();
        for (node, slots) in masters {
            for chunk in slots.chunks(BUMPS_PER_PIPELINE) {
                let mut pipe = redis::pipe();
                pipe.cmd("SCRIPT").arg("LOAD").arg(BUMP.source);
                for slot in chunk {
                    pipe.cmd("EVALSHA")
                        .arg(BUMP.script.get_hash())
                        .arg(1)
                        .arg(self.keys.not_before(*slot))
                        .arg(&text)
                        .arg(KEPT_GENERATIONS);
                }
                if let Some(w) = self.wait {
                    pipe.add_command(w.cmd());
                }
                let link = self.link(self.wait, None);
                let mut replies = link.pipe_on(&node, pipe).await?.into_iter();
                let _: String = value(replies.next().unwrap_or(redis::Value::Nil))?;
                for slot in chunk {
                    let generation: u64 = value(replies.next().unwrap_or(redis::Value::Nil))?;
                    started.insert(*slot, generation);
                }
                if let Some(w) = self.wait {
                    w.check(replies.next().unwrap_or(redis::Value::Nil))?;
                }
            }
        }
        let (mut count, mut scan) = (0, self.scanner().await?);
        while let Some((node, ids)) = self.next_ids(&mut scan).await? {
            let (found, not_before) = self.get_many(&node, &ids).await?;
            for (s, generation) in found {
                let slot = slot_of_session(s.record.id);
                if let (Some(nb), Some(ours)) = (not_before.get(&slot), started.get(&slot))
                    && nb.revoked_by(&s, generation, *ours)
                {
                    count += 1;
                }
            }
        }
        Ok(count)
    }

    /// Sessions `ids` of `node`, as their slots' revocations of everyone
    /// leave them, each with the generation of its slot it was judged at
    /// (its slot's key is read with it: absent, it is at 0).
    async fn read_many(
        &self, node: &Node, ids: &[Uuid],
    ) -> Result<Vec<(StoredSession, u64)>, Error> {
        let (found, not_before) = self.get_many(node, ids).await?;
        let mut out = Vec::with_capacity(found.len());
        for (mut s, generation) in found {
            let slot = not_before.get(&slot_of_session(s.record.id));
            let slot = slot.map_or(Ok(0), |nb| {
                nb.apply(&mut s, generation).map(|()| nb.generation())
            })?;
            out.push((s, slot));
        }
        Ok(out)
    }

    /// Garbage collection: the sessions `what` covers, at most its limit,
    /// each deleted only if unchanged since it was read. A batch that
    /// reaches its limit keeps its place ([`Scanner`]) for the next; one
    /// that reaches the end of the scan answers short, and the next starts
    /// a new pass.
    pub(super) async fn delete_ended(&self, what: &Deletion) -> Result<u64, Error> {
        let (mut count, limit) = (0u64, what.limit() as u64);
        let kept = self.collecting.lock().ok().and_then(|mut k| k.take());
        let mut scan = match kept {
            Some(scan) => scan,
            None => self.scanner().await?,
        };
        let mut found = std::mem::take(&mut scan.left);
        loop {
            let mut copies = found.into_iter();
            while let Some((s, judged)) = copies.next() {
                if count >= limit {
                    scan.left = std::iter::once((s, judged)).chain(copies).collect();
                    if let Ok(mut kept) = self.collecting.lock() {
                        *kept = Some(scan);
                    }
                    return Ok(count);
                }
                if what.covers(&s.record) {
                    let id = s.record.id;
                    let call = Call::new(&DELETE_AT)
                        .key(self.keys.session(id))
                        .key(self.keys.not_before_of(id))
                        .arg(s.record.version)
                        .arg(judged);
                    count += self.conn.run::<u64>(&call, None).await?;
                }
            }
            let Some((node, ids)) = self.next_ids(&mut scan).await? else {
                return Ok(count);
            };
            found = self.read_many(&node, &ids).await?;
        }
    }

    /// Every session's record, for statistics.
    pub(super) async fn every_record(&self) -> Result<Vec<SessionRecord>, Error> {
        let (mut records, mut scan) = (Vec::new(), self.scanner().await?);
        while let Some((node, ids)) = self.next_ids(&mut scan).await? {
            let found = self.read_many(&node, &ids).await?;
            records.extend(found.into_iter().map(|(s, _)| s.record));
        }
        Ok(records)
    }
}
