//! The Postgres store: the primary store, correct across many app instances.
//! Its statements are in `statements.rs`, its change feed in `feed.rs`, its
//! multi-statement transactions run through `tx.rs` (which a dropped caller
//! cannot cut), and `pooler.rs` sends single statements (in a transaction of
//! their own behind PgBouncer).

use crate::store::error::Error;
use crate::store::feed::{ChangeFeed, FeedOptions};
use crate::store::migrate;
use crate::store::remember::{Reissue, RememberCredential, RememberedSession};
use crate::store::report::{MigrationReport, StoreStats};
use crate::store::restore::Restore;
use crate::store::revocation::{Revocation, RevokeScope};
use crate::store::session_store::{CacheSupport, IntoSessionStore, SessionStore};
use crate::store::sql::{self, Columns as _, Dialect};
use crate::store::types::{
    DataPatch, LoadedSession, SessionRecord, TokenHash, Touch, UpdateOutcome,
};
use serde_json::{Map, Value};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Row as _};
use statements as q;
use time::OffsetDateTime;
use uuid::Uuid;

mod feed;
mod pooler;
mod statements;
mod tx;

/// A [`SessionStore`] on a Postgres pool.
///
/// Usually created for you by `SessionLayer::new(pool)`. Create it yourself to
/// share it with admin code, or to count its round-trips ([`CountingStore`](super::CountingStore)).
///
/// # Pool settings
///
/// sqlx pings every connection it hands out unless told not to
/// (`test_before_acquire`), which doubles the cost of a one-query request.
/// For the session layer's one round-trip per request, build the pool with:
///
/// ```no_run
/// # async fn f() -> Result<(), sqlx::Error> {
/// use sqlx::postgres::PgPoolOptions;
/// use std::time::Duration;
///
/// let pool = PgPoolOptions::new()
///     .max_connections(20)
///     .acquire_timeout(Duration::from_secs(3)) // an outage answers 503 after this
///     .test_before_acquire(false)
///     .connect("postgres://localhost/app")
///     .await?;
/// # Ok(()) }
/// ```
///
/// Behind PgBouncer in transaction mode, use
/// [`behind_pgbouncer`](Self::behind_pgbouncer).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Set by [`behind_pgbouncer`](Self::behind_pgbouncer).
    behind_pgbouncer: bool,
}

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

impl PgStore {
    /// A store on `pool`. Run [`migrate`](crate::store::migrate()) once at
    /// startup.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            behind_pgbouncer: false,
        }
    }

    /// The pool this store uses.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The embedded migrations, tracked in `axum_user_sessions._sqlx_migrations`.
    pub fn migrator() -> sqlx::migrate::Migrator {
        migrate::postgres()
    }
}

impl Dialect for PgRow {
    fn time(&self, col: &str) -> Result<OffsetDateTime, Error> {
        Ok(self.try_get(col)?)
    }

    fn opt_time(&self, col: &str) -> Result<Option<OffsetDateTime>, Error> {
        Ok(self.try_get(col)?)
    }

    fn data(&self, col: &str) -> Result<Map<String, Value>, Error> {
        Ok(self.try_get::<Json<_>, _>(col)?.0)
    }

    fn code(&self, col: &str) -> Result<i64, Error> {
        Ok(self.try_get::<i16, _>(col)?.into())
    }
}

impl IntoSessionStore for sqlx::PgPool {
    fn into_session_store(self) -> std::sync::Arc<dyn SessionStore> {
        std::sync::Arc::new(PgStore::new(self))
    }
}

sql::impl_sql_store!(
    PgStore,
    query = Query,
    row = PgRow,
    time = std::convert::identity,
    {
        async fn migrate(&self) -> Result<MigrationReport, Error> {
            migrate::run(&migrate::postgres(), &self.pool).await
        }

        async fn load(
            &self, session: Option<Uuid>, token: &TokenHash, touch: &Touch,
        ) -> Result<Option<LoadedSession>, Error> {
            let query = sqlx::query(q::LOAD)
                .bind(token.as_bytes().as_slice())
                .bind(touch.now)
                .bind(touch.stale_before)
                .bind(touch.idle_expires_at)
                .bind(touch.ip.map(|ip| ip.to_string()))
                .bind(touch.ip_stale_before)
                .bind(touch.api_client)
                .bind(session);
            let Some(row) = self.row(query).await? else {
                return Ok(None);
            };
            Ok(Some(LoadedSession {
                record: sql::record(&row)?,
                token: sql::token_state(&row)?,
                has_pending: row.flag("has_pending")?,
            }))
        }

        async fn create(&self, r: &SessionRecord, token: &TokenHash) -> Result<(), Error> {
            let query = sqlx::query(q::CREATE)
                .bind(r.id)
                .bind(&r.user_id)
                .bind(Json(&r.data))
                .bind(r.created_at)
                .bind(r.authenticated_at)
                .bind(r.last_seen_at)
                .bind(r.expires_at)
                .bind(r.absolute_expires_at)
                .bind(r.rotated_at)
                .bind(r.ip.map(|ip| ip.to_string()))
                .bind(&r.user_agent)
                .bind(r.persistent)
                .bind(token.as_bytes().as_slice())
                .bind(&r.sign_in_method)
                .bind(r.second_factor)
                .bind(r.api_client);
            self.execute(query).await?;
            Ok(())
        }

        async fn patch_data(&self, id: Uuid, patch: &DataPatch) -> Result<Option<u64>, Error> {
            let query = sqlx::query(q::PATCH_DATA)
                .bind(id)
                .bind(Json(&patch.set))
                .bind(&patch.remove);
            self.row(query)
                .await?
                .map(|r| r.unsigned("version"))
                .transpose()
        }

        async fn reissue(
            &self, id: Uuid, token: &TokenHash, reissue: &Reissue,
        ) -> Result<bool, Error> {
            // A transaction, not one statement: the session row is locked first,
            // so the retiring UPDATE sees every token committed before it (a
            // pending token from a concurrent rotation included).
            let (token, reissue) = (*token, reissue.clone());
            let persistent = self.persistent();
            tx::run(&self.pool, move |tx| {
                Box::pin(async move {
                    let client = reissue.client.as_ref();
                    let sign_in = reissue.sign_in.as_ref();
                    let locked = sqlx::query(q::REISSUE)
                        .persistent(persistent)
                        .bind(id)
                        .bind(&reissue.user_id)
                        .bind(reissue.authenticated_at)
                        .bind(reissue.now)
                        .bind(client.is_some())
                        .bind(client.and_then(|c| c.ip).map(|ip| ip.to_string()))
                        .bind(client.and_then(|c| c.user_agent.clone()))
                        .bind(reissue.tokens_expire_at)
                        .bind(sign_in.is_some())
                        .bind(sign_in.and_then(|s| s.method.clone()))
                        .bind(sign_in.is_some_and(|s| s.second_factor))
                        .execute(&mut *tx)
                        .await?;
                    if locked.rows_affected() != 1 {
                        return Ok(false);
                    }
                    sqlx::query(q::REISSUE_TOKENS)
                        .persistent(persistent)
                        .bind(id)
                        .bind(token.as_bytes().as_slice())
                        .bind(reissue.now)
                        .bind(sql::REPLACED_KEPT)
                        .execute(&mut *tx)
                        .await?;
                    Ok(true)
                })
            })
            .await
        }

        async fn delete(&self, id: Uuid) -> Result<bool, Error> {
            Ok(self.execute(sqlx::query(q::DELETE).bind(id)).await? == 1)
        }

        async fn begin_rotation(
            &self, id: Uuid, expected_rotated_at: OffsetDateTime, pending: &TokenHash,
            now: OffsetDateTime,
        ) -> Result<bool, Error> {
            let query = sqlx::query(q::BEGIN_ROTATION)
                .bind(id)
                .bind(expected_rotated_at)
                .bind(now)
                .bind(pending.as_bytes().as_slice());
            Ok(self.execute(query).await? == 1)
        }

        async fn promote(
            &self, id: Uuid, token: &TokenHash, now: OffsetDateTime,
        ) -> Result<(), Error> {
            // Lock the session row first, as `reissue` does: concurrent promotions
            // and sign-ins serialise instead of deadlocking on token rows.
            let (token, persistent) = (*token, self.persistent());
            tx::run(&self.pool, move |tx| {
                Box::pin(async move {
                    sqlx::query(q::LOCK)
                        .persistent(persistent)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    sqlx::query(q::PROMOTE)
                        .persistent(persistent)
                        .bind(id)
                        .bind(token.as_bytes().as_slice())
                        .bind(now)
                        .bind(sql::REPLACED_KEPT)
                        .execute(&mut *tx)
                        .await?;
                    Ok(())
                })
            })
            .await
        }

        async fn restore_remembered(&self, id: Uuid, r: &Restore) -> Result<bool, Error> {
            let (kind, presented, next, stale_before) = r.step_parts();
            let query = sqlx::query(q::RESTORE_REMEMBERED)
                .bind(id)
                .bind(r.token.as_bytes().as_slice())
                .bind(r.touch.now)
                .bind(r.touch.idle_expires_at)
                .bind(r.tokens_expire_at)
                .bind(kind)
                .bind(presented.map(|h| h.as_bytes().to_vec()))
                .bind(next.map(|h| h.as_bytes().to_vec()))
                .bind(stale_before)
                .bind(r.retire_before)
                .bind(sql::REPLACED_KEPT)
                .bind(r.touch.ip.map(|ip| ip.to_string()));
            Ok(self.execute(query).await? == 1)
        }

        async fn gc_batch(
            &self, now: OffsetDateTime, revoked_before: OffsetDateTime, limit: u32,
        ) -> Result<u64, Error> {
            let query = sqlx::query(q::GC_BATCH)
                .bind(now)
                .bind(revoked_before)
                .bind(i64::from(limit));
            self.execute(query).await
        }

        async fn update_value(
            &self, id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>,
        ) -> Result<UpdateOutcome, Error> {
            let query = sqlx::query(q::UPDATE_VALUE)
                .bind(id)
                .bind(key)
                .bind(expected.map(Json))
                .bind(new.map(Json));
            let Some(row) = self.row(query).await? else {
                return Ok(UpdateOutcome::Gone);
            };
            if let Some(version) = row.try_get::<Option<i64>, _>("version")? {
                let version =
                    u64::try_from(version).map_err(|_| Error::Corrupt("negative version"))?;
                return Ok(UpdateOutcome::Updated { version });
            }
            let current: Option<Json<Value>> = row.try_get("current")?;
            Ok(UpdateOutcome::Conflict {
                current: current.map(|j| j.0),
            })
        }

        fn cache_support(&self) -> Option<&dyn CacheSupport> {
            Some(self)
        }
    }
);

impl CacheSupport for PgStore {
    fn subscribe(&self, options: &FeedOptions) -> Option<ChangeFeed> {
        Some(feed::subscribe(self.clone(), options))
    }
}
