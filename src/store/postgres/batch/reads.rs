//! Loads in batches: [`LoadCall`], sent alone with its `LOAD_BY_*`
//! statement or together with `LOAD_BY_KEYS` (by id, token or remember-me
//! selector at once). A session asked for twice in one batch is read once.

use super::{Batcher, Call};
use crate::store::error::Error;
use crate::store::postgres::{PgStorage, rows::stored, statements as q};
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

    async fn send_one(self, storage: &PgStorage) -> Result<Option<StoredSession>, Error> {
        storage.read_session(PgStorage::load_query(&self.0)).await
    }

    /// One statement for every key at once; each call answered with the
    /// session its key matches (a session asked for twice is read once).
    async fn send_many(
        calls: &[Self], storage: &PgStorage,
    ) -> Result<Vec<Option<StoredSession>>, Error> {
        let (mut ids, mut tokens, mut selectors) = (Vec::new(), Vec::new(), Vec::new());
        for call in calls {
            match call.0 {
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
        let found = storage
            .rows(query)
            .await?
            .iter()
            .map(stored)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(calls
            .iter()
            .map(|call| found.iter().find(|s| call.0.matches(s)).cloned())
            .collect())
    }
}
