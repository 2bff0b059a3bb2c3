//! What spans users, and so hash slots: revoking everyone, garbage
//! collection and statistics, each a `SCAN` of every master's session keys
//! (the store's prefix only), each session then handled on its own slot.
//!
//! Revoking everyone revokes each session with its own compare-and-set,
//! then sends `WAIT` to every master. A session signed in while the scan
//! runs may stay signed in, as if it had signed in just after the call;
//! every session live when the call began is revoked (`SCAN` returns every
//! key present for its whole run).

use super::conn::{Call, Node};
use super::scripts::DELETE_AT;
use super::storage::RedisStorage;
use crate::store::error::Error;
use crate::store::revocation::{Revocation, RevokeScope};
use crate::store::storage::Deletion;
use crate::store::types::SessionRecord;
use uuid::Uuid;

/// Where a scan of every master is.
struct Scanner {
    masters: Vec<Node>,
    at: usize,
    cursor: u64,
    pattern: String,
}

impl RedisStorage {
    /// A scan of every master's session keys.
    async fn scanner(&self) -> Result<Scanner, Error> {
        Ok(Scanner {
            masters: self.conn.masters().await?,
            at: 0,
            cursor: 0,
            pattern: self.keys.every_session(),
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

    /// [`RevokeScope::Everyone`]: every master's sessions, each with its
    /// own compare-and-set, then a `WAIT` on each master.
    pub(super) async fn revoke_everyone(&self, how: &Revocation) -> Result<u64, Error> {
        let (mut count, mut scan) = (0, self.scanner().await?);
        while let Some((_, ids)) = self.next_ids(&mut scan).await? {
            for id in ids {
                count += self.revoke_one(id, &RevokeScope::Everyone, how).await?;
            }
        }
        if let Some(wait) = self.wait {
            for node in &scan.masters {
                self.conn.wait_on(node, wait).await?;
            }
        }
        Ok(count)
    }

    /// Garbage collection: the sessions `what` covers, at most its limit,
    /// each deleted only if unchanged since it was read.
    pub(super) async fn delete_ended(&self, what: &Deletion) -> Result<u64, Error> {
        let (mut count, limit) = (0u64, what.limit() as u64);
        let mut scan = self.scanner().await?;
        while let Some((node, ids)) = self.next_ids(&mut scan).await? {
            for s in self.get_many(&node, &ids).await? {
                if count >= limit {
                    return Ok(count);
                }
                if what.covers(&s.record) {
                    let call = Call::new(&DELETE_AT)
                        .key(self.keys.session(s.record.id))
                        .arg(s.record.version);
                    count += self.conn.run::<u64>(&call, None).await?;
                }
            }
        }
        Ok(count)
    }

    /// Every session's record, for statistics.
    pub(super) async fn every_record(&self) -> Result<Vec<SessionRecord>, Error> {
        let (mut records, mut scan) = (Vec::new(), self.scanner().await?);
        while let Some((node, ids)) = self.next_ids(&mut scan).await? {
            let found = self.get_many(&node, &ids).await?;
            records.extend(found.into_iter().map(|s| s.record));
        }
        Ok(records)
    }
}
