//! Loads in batches: [`LoadCall`], sent alone with its `LOAD_BY_*`
//! statement or together with `LOAD_BY_KEYS` (by id, token or remember-me
//! selector at once). A session asked for twice in one batch is read once.

use super::{Batcher, Call, Queued, outage};
use crate::store::postgres::{PgStorage, statements as q, storage::stored};
use crate::store::storage::{Lookup, StoredSession};
use uuid::Uuid;

/// A load of the session a [`Lookup`] finds.
#[derive(Debug)]
pub(in crate::store::postgres) struct LoadCall(pub(in crate::store::postgres) Lookup);

impl Call for LoadCall {
    type Answer = Option<StoredSession>;
    const ONE_PER_SESSION: bool = false;

    fn session(&self) -> Option<Uuid> {
        match self.0 {
            Lookup::Id(id) => Some(id),
            _ => None,
        }
    }

    fn queue(storage: &PgStorage) -> &Batcher<Self> {
        &storage.batches.reads
    }

    async fn send(storage: &PgStorage, batch: Vec<Queued<Self>>) {
        if batch.len() > 1 {
            match storage.load_many(&batch).await {
                Ok(found) => {
                    for Queued { call, reply } in batch {
                        let session = found.iter().find(|s| call.0.matches(s)).cloned();
                        let _ = reply.send(Ok(session));
                    }
                    return;
                }
                Err(e) if e.is_unavailable() => {
                    for queued in batch {
                        let _ = queued.reply.send(Err(outage(&e)));
                    }
                    return;
                }
                // A row that does not read, or any other failure: each
                // load alone, so that one never fails the others.
                Err(_) => {}
            }
        }
        for Queued { call, reply } in batch {
            let _ = reply.send(storage.load_one(&call.0).await);
        }
    }
}

impl PgStorage {
    async fn load_one(&self, key: &Lookup) -> Result<Option<StoredSession>, crate::store::Error> {
        let query = match key {
            Lookup::Id(id) => sqlx::query(q::LOAD_BY_ID).bind(*id),
            Lookup::Token(h) => sqlx::query(q::LOAD_BY_TOKEN).bind(h.as_bytes().to_vec()),
            Lookup::Selector(s) => sqlx::query(q::LOAD_BY_SELECTOR).bind(s.to_vec()),
        };
        self.read_session(query).await
    }

    /// The sessions the calls of `batch` find, in one statement.
    async fn load_many(
        &self, batch: &[Queued<LoadCall>],
    ) -> Result<Vec<StoredSession>, crate::store::Error> {
        let (mut ids, mut tokens, mut selectors) = (Vec::new(), Vec::new(), Vec::new());
        for queued in batch {
            match queued.call.0 {
                Lookup::Id(id) => ids.push(id),
                Lookup::Token(h) => tokens.push(h.as_bytes().to_vec()),
                Lookup::Selector(s) => selectors.push(s.to_vec()),
            }
        }
        ids.sort_unstable();
        ids.dedup();
        let query = sqlx::query(q::LOAD_BY_KEYS)
            .bind(ids)
            .bind(tokens)
            .bind(selectors);
        self.rows(query).await?.iter().map(stored).collect()
    }
}
