//! The Postgres store: the primary store, correct across many app instances.

use super::{
    Counter, DataPatch, LoadedSession, Reissue, RememberCredential, RememberedSession, Revocation,
    SessionRecord, SessionStore, StoreStats, TokenState, Touch,
};
use crate::{Error, TokenHash};
use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgPool, Row as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// The schema that holds the crate's tables and its own migrations table, so
/// that it never mixes with the application's `_sqlx_migrations`.
pub(crate) const SCHEMA: &str = "axum_user_sessions";

macro_rules! session_cols {
    ($p:literal) => {
        concat!(
            $p,
            ".id, ",
            $p,
            ".user_id, ",
            $p,
            ".data, ",
            $p,
            ".created_at, ",
            $p,
            ".authenticated_at, ",
            $p,
            ".absolute_expires_at, ",
            $p,
            ".rotated_at, host(",
            $p,
            ".ip) AS ip, ",
            $p,
            ".user_agent, ",
            $p,
            ".persistent, ",
            $p,
            ".revoked_at, ",
            $p,
            ".revoke_reason, ",
            $p,
            ".revoked_by"
        )
    };
}

/// `SET` list of a revocation: `$3` reason, `$4` by, `$5` at. The remember-me
/// credential dies with the session.
macro_rules! revoke_set {
    () => {
        "revoked_at = $5, revoke_reason = $3, revoked_by = $4, remember_selector = NULL, \
         remember_validator_hash = NULL, remember_prev_validator_hash = NULL"
    };
}

/// A live row at time `$t` (see `SessionRecord::is_live`).
macro_rules! live_at {
    ($t:literal) => {
        concat!(
            "revoked_at IS NULL AND absolute_expires_at > ",
            $t,
            " AND (persistent OR expires_at > ",
            $t,
            ")"
        )
    };
}

/// A row garbage collection may delete: expired at `$now`, or revoked before
/// `$horizon`.
macro_rules! collectable {
    ($now:literal, $horizon:literal) => {
        concat!(
            "((revoked_at IS NULL AND (absolute_expires_at <= ",
            $now,
            " OR (NOT persistent AND expires_at <= ",
            $now,
            "))) OR revoked_at < ",
            $horizon,
            ")"
        )
    };
}

/// A [`SessionStore`] on a Postgres pool.
///
/// Usually created for you by `SessionLayer::new(pool)`. Create it yourself to
/// share it with admin code or to read its round-trip counter.
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
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    counter: Counter,
}

impl PgStore {
    /// A store on `pool`. Run [`migrate`](crate::migrate) once at startup.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            counter: Counter::default(),
        }
    }

    /// The pool this store uses.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The embedded migrations, tracked in `axum_user_sessions._sqlx_migrations`.
    pub fn migrator() -> sqlx::migrate::Migrator {
        let mut m = sqlx::migrate!("migrations/postgres");
        m.dangerous_set_table_name(format!("{SCHEMA}._sqlx_migrations"));
        m.create_schema(SCHEMA);
        m
    }
}

fn parse_ip(ip: Option<String>) -> Option<std::net::IpAddr> {
    ip.and_then(|s| s.parse().ok())
}

/// The channel the change triggers notify on.
pub(crate) const CHANNEL: &str = "axum_user_sessions";

/// Listens for session changes until the receiving cache is gone. While the
/// connection is down `live` is false (the cache is bypassed); every
/// (re)connection starts with a flush, since changes may have been missed.
async fn listen(
    pool: PgPool,
    tx: tokio::sync::mpsc::UnboundedSender<crate::cache::Change>,
    live: Arc<AtomicBool>,
) {
    use crate::cache::Change;
    let mut backoff = Duration::from_millis(100);
    loop {
        let connected = async {
            let mut l = sqlx::postgres::PgListener::connect_with(&pool).await?;
            l.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        }
        .await;
        let mut listener = match connected {
            Ok(l) => l,
            Err(err) => {
                tracing::warn!(error = %err, "session cache: cannot listen for changes; cache bypassed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                if tx.is_closed() {
                    return;
                }
                continue;
            }
        };
        if tx.send(Change::Flush).is_err() {
            return;
        }
        live.store(true, Ordering::Release);
        backoff = Duration::from_millis(100);
        tracing::debug!("session cache: listening for changes");
        loop {
            tokio::select! {
                msg = listener.try_recv() => match msg {
                    Ok(Some(n)) => {
                        if let Ok(id) = n.payload().parse::<Uuid>()
                            && tx.send(Change::Session(id)).is_err()
                        {
                            return;
                        }
                    }
                    // Connection lost (None) or failed: stop serving from
                    // memory at once, and reconnect.
                    Ok(None) | Err(_) => break,
                },
                () = tx.closed() => return,
            }
        }
        live.store(false, Ordering::Release);
        let _ = tx.send(Change::Flush);
        tracing::warn!(
            "session cache: change listener lost its connection; cache bypassed until it is back"
        );
    }
}

fn hash_col(bytes: Vec<u8>) -> Result<TokenHash, Error> {
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(TokenHash::from_bytes)
        .map_err(|_| Error::Corrupt("hash is not 32 bytes"))
}

fn record(row: &PgRow) -> Result<SessionRecord, Error> {
    let data: Json<Map<String, Value>> = row.try_get("data")?;
    Ok(SessionRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        data: data.0,
        created_at: row.try_get("created_at")?,
        authenticated_at: row.try_get("authenticated_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        expires_at: row.try_get("expires_at")?,
        absolute_expires_at: row.try_get("absolute_expires_at")?,
        rotated_at: row.try_get("rotated_at")?,
        ip: parse_ip(row.try_get("ip")?),
        user_agent: row.try_get("user_agent")?,
        persistent: row.try_get("persistent")?,
        revoked_at: row.try_get("revoked_at")?,
        revoke_reason: row.try_get("revoke_reason")?,
        revoked_by: row.try_get("revoked_by")?,
    })
}

#[async_trait]
impl SessionStore for PgStore {
    async fn migrate(&self) -> Result<(), Error> {
        Self::migrator().run(&self.pool).await?;
        Ok(())
    }

    async fn load(&self, token: &TokenHash, touch: &Touch) -> Result<Option<LoadedSession>, Error> {
        self.counter.tick();
        let row = sqlx::query(concat!(
            "WITH tok AS (
                SELECT session_id, state, superseded_at
                  FROM axum_user_sessions.tokens WHERE token_hash = $1
            ), touched AS (
                UPDATE axum_user_sessions.sessions s
                   SET last_seen_at = $2, expires_at = LEAST($4, s.absolute_expires_at)
                  FROM tok
                 WHERE s.id = tok.session_id AND tok.state = 0 AND s.revoked_at IS NULL
                   AND s.expires_at > $2 AND s.last_seen_at <= $3
                RETURNING s.id, s.last_seen_at, s.expires_at
            )
            SELECT ",
            session_cols!("s"),
            ",
                   COALESCE(t.last_seen_at, s.last_seen_at) AS last_seen_at,
                   COALESCE(t.expires_at, s.expires_at) AS expires_at,
                   tok.state, tok.superseded_at,
                   EXISTS (SELECT 1 FROM axum_user_sessions.tokens p
                            WHERE p.session_id = s.id AND p.state = 1) AS has_pending
              FROM tok
              JOIN axum_user_sessions.sessions s ON s.id = tok.session_id
              LEFT JOIN touched t ON t.id = s.id"
        ))
        .bind(token.as_bytes().as_slice())
        .bind(touch.now)
        .bind(touch.stale_before)
        .bind(touch.idle_expires_at)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let state: i16 = row.try_get("state")?;
        Ok(Some(LoadedSession {
            record: record(&row)?,
            token: TokenState::from_code(state.into(), row.try_get("superseded_at")?)?,
            has_pending: row.try_get("has_pending")?,
        }))
    }

    async fn create(&self, r: &SessionRecord, token: &TokenHash) -> Result<(), Error> {
        self.counter.tick();
        sqlx::query(
            "WITH s AS (
                INSERT INTO axum_user_sessions.sessions
                    (id, user_id, data, created_at, authenticated_at, last_seen_at, expires_at,
                     absolute_expires_at, rotated_at, ip, user_agent, persistent)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::inet, $11, $12)
                RETURNING id
            )
            INSERT INTO axum_user_sessions.tokens (token_hash, session_id, state, created_at)
            SELECT $13, id, 0, $9 FROM s",
        )
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn patch_data(&self, id: Uuid, patch: &DataPatch) -> Result<bool, Error> {
        self.counter.tick();
        let done = sqlx::query(
            "UPDATE axum_user_sessions.sessions
                SET data = (data || $2::jsonb) - $3::text[]
              WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(Json(&patch.set))
        .bind(&patch.remove)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn reissue(&self, id: Uuid, token: &TokenHash, reissue: &Reissue) -> Result<bool, Error> {
        // A transaction, not one statement: the session row is locked first,
        // so the retiring UPDATE sees every token committed before it (a
        // pending token from a concurrent rotation included).
        self.counter.tick();
        let mut tx = self.pool.begin().await?;
        let locked = sqlx::query(
            "UPDATE axum_user_sessions.sessions
                SET user_id = $2, authenticated_at = COALESCE($3, authenticated_at),
                    rotated_at = $4,
                    ip = CASE WHEN $5 THEN $6::inet ELSE ip END,
                    user_agent = CASE WHEN $5 THEN $7 ELSE user_agent END
              WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(&reissue.user_id)
        .bind(reissue.authenticated_at)
        .bind(reissue.now)
        .bind(reissue.client.is_some())
        .bind(
            reissue
                .client
                .as_ref()
                .and_then(|c| c.ip)
                .map(|ip| ip.to_string()),
        )
        .bind(reissue.client.as_ref().and_then(|c| c.user_agent.clone()))
        .execute(&mut *tx)
        .await?;
        if locked.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "WITH old AS (
                UPDATE axum_user_sessions.tokens SET state = 3, superseded_at = $3
                 WHERE session_id = $1 AND state <> 3
            )
            INSERT INTO axum_user_sessions.tokens (token_hash, session_id, state, created_at)
            VALUES ($2, $1, 0, $3)",
        )
        .bind(id)
        .bind(token.as_bytes().as_slice())
        .bind(reissue.now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete(&self, id: Uuid) -> Result<bool, Error> {
        self.counter.tick();
        let done = sqlx::query("DELETE FROM axum_user_sessions.sessions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn begin_rotation(
        &self,
        id: Uuid,
        expected_rotated_at: OffsetDateTime,
        pending: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        self.counter.tick();
        let done = sqlx::query(
            "WITH s AS (
                UPDATE axum_user_sessions.sessions SET rotated_at = $3
                 WHERE id = $1 AND rotated_at = $2 AND revoked_at IS NULL
                RETURNING id
            ), older AS (
                -- keep only the newest older pending token
                DELETE FROM axum_user_sessions.tokens
                 WHERE session_id IN (SELECT id FROM s) AND state = 1
                   AND token_hash <> (SELECT token_hash FROM axum_user_sessions.tokens
                                       WHERE session_id = $1 AND state = 1
                                       ORDER BY created_at DESC LIMIT 1)
            )
            INSERT INTO axum_user_sessions.tokens (token_hash, session_id, state, created_at)
            SELECT $4, id, 1, $3 FROM s",
        )
        .bind(id)
        .bind(expected_rotated_at)
        .bind(now)
        .bind(pending.as_bytes().as_slice())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn promote(&self, id: Uuid, token: &TokenHash, now: OffsetDateTime) -> Result<(), Error> {
        // Lock the session row first, as `reissue` does: concurrent promotions
        // and sign-ins serialise instead of deadlocking on token rows.
        self.counter.tick();
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT 1 FROM axum_user_sessions.sessions WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        sqlx::query(
            "WITH p AS (
                SELECT created_at FROM axum_user_sessions.tokens
                 WHERE token_hash = $2 AND session_id = $1 AND state = 1
            )
            UPDATE axum_user_sessions.tokens
               SET state = CASE WHEN token_hash = $2 THEN 0 ELSE 2 END,
                   superseded_at = CASE WHEN token_hash = $2 THEN NULL ELSE $3 END
             WHERE session_id = $1 AND EXISTS (SELECT 1 FROM p)
               AND (token_hash = $2 OR state = 0
                    OR (state = 1 AND created_at <= (SELECT created_at FROM p)))",
        )
        .bind(id)
        .bind(token.as_bytes().as_slice())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_remember(
        &self,
        id: Uuid,
        credential: Option<&RememberCredential>,
        absolute_if_cleared: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        self.counter.tick();
        let done = match credential {
            Some(c) => sqlx::query(
                "UPDATE axum_user_sessions.sessions
                    SET persistent = true, absolute_expires_at = $4,
                        expires_at = LEAST(expires_at, $4),
                        remember_selector = $2, remember_validator_hash = $3,
                        remember_prev_validator_hash = NULL, remember_rotated_at = $5,
                        remember_expires_at = $4
                  WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(c.selector.as_slice())
            .bind(c.validator.as_bytes().as_slice())
            .bind(c.expires_at)
            .bind(now),
            None => sqlx::query(
                "UPDATE axum_user_sessions.sessions
                    SET persistent = false,
                        absolute_expires_at = LEAST(absolute_expires_at, $2),
                        expires_at = LEAST(expires_at, $2),
                        remember_selector = NULL, remember_validator_hash = NULL,
                        remember_prev_validator_hash = NULL, remember_rotated_at = NULL,
                        remember_expires_at = NULL
                  WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(absolute_if_cleared),
        }
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn find_remember(&self, selector: &[u8; 16]) -> Result<Option<RememberedSession>, Error> {
        self.counter.tick();
        let row = sqlx::query(concat!(
            "SELECT ",
            session_cols!("s"),
            ", s.last_seen_at, s.expires_at, s.remember_validator_hash,
               s.remember_prev_validator_hash, s.remember_rotated_at, s.remember_expires_at
               FROM axum_user_sessions.sessions s WHERE s.remember_selector = $1"
        ))
        .bind(selector.as_slice())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(RememberedSession {
            record: record(&row)?,
            validator: hash_col(row.try_get("remember_validator_hash")?)?,
            previous: row
                .try_get::<Option<Vec<u8>>, _>("remember_prev_validator_hash")?
                .map(hash_col)
                .transpose()?,
            rotated_at: row.try_get("remember_rotated_at")?,
            expires_at: row.try_get("remember_expires_at")?,
        }))
    }

    async fn restore(
        &self,
        id: Uuid,
        token: &TokenHash,
        rotate: Option<(&TokenHash, &TokenHash)>,
        touch: &Touch,
    ) -> Result<bool, Error> {
        self.counter.tick();
        let (presented, next) = match rotate {
            Some((p, n)) => (Some(p.as_bytes().as_slice()), Some(n.as_bytes().as_slice())),
            None => (None, None),
        };
        let done = sqlx::query(
            "WITH s AS (
                UPDATE axum_user_sessions.sessions
                   SET last_seen_at = $3, expires_at = LEAST($4, absolute_expires_at),
                       remember_prev_validator_hash = CASE WHEN $5::bytea IS NULL
                           THEN remember_prev_validator_hash ELSE remember_validator_hash END,
                       remember_validator_hash = COALESCE($6, remember_validator_hash),
                       remember_rotated_at = CASE WHEN $5::bytea IS NULL
                           THEN remember_rotated_at ELSE $3 END,
                       rotated_at = CASE WHEN $5::bytea IS NULL THEN rotated_at ELSE $3 END
                 WHERE id = $1 AND revoked_at IS NULL
                   AND ($5::bytea IS NULL OR remember_validator_hash = $5)
                RETURNING id
            ), old AS (
                UPDATE axum_user_sessions.tokens SET state = 3, superseded_at = $3
                 WHERE $5::bytea IS NOT NULL AND state <> 3 AND session_id IN (SELECT id FROM s)
            )
            INSERT INTO axum_user_sessions.tokens (token_hash, session_id, state, created_at)
            SELECT $2, id, 0, $3 FROM s",
        )
        .bind(id)
        .bind(token.as_bytes().as_slice())
        .bind(touch.now)
        .bind(touch.idle_expires_at)
        .bind(presented)
        .bind(next)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn get(&self, id: Uuid) -> Result<Option<SessionRecord>, Error> {
        self.counter.tick();
        let row = sqlx::query(concat!(
            "SELECT ",
            session_cols!("s"),
            ", s.last_seen_at, s.expires_at FROM axum_user_sessions.sessions s WHERE s.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(record).transpose()
    }

    async fn revoke(
        &self,
        id: Uuid,
        user_id: Option<&str>,
        how: &Revocation,
    ) -> Result<bool, Error> {
        self.counter.tick();
        let done = sqlx::query(concat!(
            "UPDATE axum_user_sessions.sessions SET ",
            revoke_set!(),
            " WHERE id = $1 AND ($2::text IS NULL OR user_id = $2) AND ",
            live_at!("$5")
        ))
        .bind(id)
        .bind(user_id)
        .bind(how.reason.as_str())
        .bind(how.by.as_str())
        .bind(how.at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: Option<Uuid>,
        how: &Revocation,
    ) -> Result<u64, Error> {
        self.counter.tick();
        let done = sqlx::query(concat!(
            "UPDATE axum_user_sessions.sessions SET ",
            revoke_set!(),
            " WHERE user_id = $1 AND ($2::uuid IS NULL OR id <> $2) AND ",
            live_at!("$5")
        ))
        .bind(user_id)
        .bind(keep)
        .bind(how.reason.as_str())
        .bind(how.by.as_str())
        .bind(how.at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn revoke_every_session(&self, how: &Revocation) -> Result<u64, Error> {
        self.counter.tick();
        let done = sqlx::query(concat!(
            "UPDATE axum_user_sessions.sessions SET ",
            revoke_set!(),
            " WHERE $1::int IS NULL AND $2::int IS NULL AND ",
            live_at!("$5")
        ))
        .bind(None::<i32>)
        .bind(None::<i32>)
        .bind(how.reason.as_str())
        .bind(how.by.as_str())
        .bind(how.at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn stats(
        &self,
        now: OffsetDateTime,
        revoked_before: OffsetDateTime,
    ) -> Result<StoreStats, Error> {
        self.counter.tick();
        let row = sqlx::query(concat!(
            "SELECT count(*) FILTER (WHERE ",
            live_at!("$1"),
            ") AS sessions,
                    count(DISTINCT user_id) FILTER (WHERE ",
            live_at!("$1"),
            ") AS users,
                    count(*) FILTER (WHERE ",
            collectable!("$1", "$2"),
            ") AS collectable
               FROM axum_user_sessions.sessions"
        ))
        .bind(now)
        .bind(revoked_before)
        .fetch_one(&self.pool)
        .await?;
        let n = |col: &str| -> Result<u64, Error> {
            Ok(u64::try_from(row.try_get::<i64, _>(col)?).unwrap_or(0))
        };
        Ok(StoreStats {
            active_sessions: n("sessions")?,
            active_users: n("users")?,
            collectable: n("collectable")?,
        })
    }

    async fn gc_batch(
        &self,
        now: OffsetDateTime,
        revoked_before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, Error> {
        self.counter.tick();
        let done = sqlx::query(concat!(
            "WITH doomed AS (
                SELECT id FROM axum_user_sessions.sessions
                 WHERE ",
            collectable!("$1", "$2"),
            " LIMIT $3 FOR UPDATE SKIP LOCKED
            )
            DELETE FROM axum_user_sessions.sessions s USING doomed WHERE s.id = doomed.id"
        ))
        .bind(now)
        .bind(revoked_before)
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn list_user(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionRecord>, Error> {
        self.counter.tick();
        let rows = sqlx::query(concat!(
            "SELECT ",
            session_cols!("s"),
            ", s.last_seen_at, s.expires_at
               FROM axum_user_sessions.sessions s
              WHERE s.user_id = $1 AND s.revoked_at IS NULL
                AND s.absolute_expires_at > $2 AND (s.persistent OR s.expires_at > $2)
              ORDER BY s.last_seen_at DESC, s.id"
        ))
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record).collect()
    }

    fn subscribe(&self) -> Option<crate::cache::ChangeFeed> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let live = Arc::new(AtomicBool::new(false));
        tokio::spawn(listen(self.pool.clone(), tx, live.clone()));
        Some(crate::cache::ChangeFeed { changes: rx, live })
    }

    fn round_trips(&self) -> u64 {
        self.counter.get()
    }
}
