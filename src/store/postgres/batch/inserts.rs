//! New sessions in batches: [`InsertCall`], sent alone with `INSERT` or
//! together with `INSERT_BATCH` (one commit for all).

use super::{Batcher, Call};
use crate::store::error::Error;
use crate::store::postgres::{PgStorage, rows::bind_new_session, statements as q};
use crate::store::sql::{self, RememberColumns, TokenColumns};
use crate::store::storage::StoredSession;
use sqlx::types::Json;
use uuid::Uuid;

/// A new session to insert, with its token rows.
#[derive(Debug)]
pub(in crate::store::postgres) struct InsertCall(pub(in crate::store::postgres) StoredSession);

impl Call for InsertCall {
    type Answer = ();
    // Every new session has an id of its own.
    const ONE_PER_SESSION: bool = false;

    fn session(&self) -> Option<Uuid> {
        Some(self.0.record.id)
    }

    fn queue(storage: &PgStorage) -> &Batcher<Self> {
        &storage.batches.inserts
    }

    async fn send_one(self, storage: &PgStorage) -> Result<(), Error> {
        storage.execute(bind_new_session(&self.0)).await?;
        Ok(())
    }

    /// One statement for every session of `calls`; it inserts all or none
    /// (a batch that fails is sent again call by call).
    async fn send_many(calls: &[Self], storage: &PgStorage) -> Result<Vec<()>, Error> {
        let records = || calls.iter().map(|c| &c.0.record);
        let remember = calls
            .iter()
            .map(|c| RememberColumns::of(c.0.credentials.remember.as_ref()))
            .collect::<Vec<_>>();
        let r = || remember.iter();
        let mut tokens = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for call in calls {
            let t = TokenColumns::of(&call.0.credentials);
            tokens
                .0
                .extend(std::iter::repeat_n(call.0.record.id, t.hashes.len()));
            tokens.1.extend(t.hashes);
            tokens.2.extend(t.states);
            tokens.3.extend(t.issued);
            tokens.4.extend(t.replaced);
        }
        let query = sqlx::query(q::INSERT_BATCH)
            .bind(records().map(|r| r.id).collect::<Vec<_>>())
            .bind(records().map(|r| r.user_id.clone()).collect::<Vec<_>>())
            .bind(r().map(|r| r.selector.clone()).collect::<Vec<_>>())
            .bind(r().map(|r| r.validator.clone()).collect::<Vec<_>>())
            .bind(r().map(|r| r.previous.clone()).collect::<Vec<_>>())
            .bind(r().map(|r| r.rotated_at).collect::<Vec<_>>())
            .bind(r().map(|r| r.expires_at).collect::<Vec<_>>())
            .bind(r().map(|r| r.pending.clone()).collect::<Vec<_>>())
            .bind(r().map(|r| r.pending_at).collect::<Vec<_>>())
            .bind(r().map(|r| r.prior.clone()).collect::<Vec<_>>())
            .bind(r().map(|r| r.prior_rotated_at).collect::<Vec<_>>())
            .bind(records().map(|r| Json(r.data.clone())).collect::<Vec<_>>())
            .bind(records().map(|r| r.created_at).collect::<Vec<_>>())
            .bind(records().map(|r| r.authenticated_at).collect::<Vec<_>>())
            .bind(records().map(|r| r.last_seen_at).collect::<Vec<_>>())
            .bind(records().map(|r| r.expires_at).collect::<Vec<_>>())
            .bind(records().map(|r| r.absolute_expires_at).collect::<Vec<_>>())
            .bind(records().map(|r| r.tokens_expire_at).collect::<Vec<_>>())
            .bind(records().map(|r| r.rotated_at).collect::<Vec<_>>())
            .bind(records().map(|r| sql::ip_text(r.ip)).collect::<Vec<_>>())
            .bind(records().map(|r| r.user_agent.clone()).collect::<Vec<_>>())
            .bind(records().map(|r| r.persistent).collect::<Vec<_>>())
            .bind(
                records()
                    .map(|r| sql::ip_text(r.last_ip))
                    .collect::<Vec<_>>(),
            )
            .bind(records().map(|r| r.location.clone()).collect::<Vec<_>>())
            .bind(
                records()
                    .map(|r| r.sign_in_method.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(records().map(|r| r.second_factor).collect::<Vec<_>>())
            .bind(records().map(|r| r.api_client).collect::<Vec<_>>())
            .bind(records().map(|r| r.name.clone()).collect::<Vec<_>>())
            .bind(tokens.0)
            .bind(tokens.1)
            .bind(tokens.2)
            .bind(tokens.3)
            .bind(tokens.4);
        storage.execute(query).await?;
        Ok(vec![(); calls.len()])
    }
}
