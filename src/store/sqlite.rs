//! The SQLite store: sessions in a file, for apps that run on one machine.

use super::{
    Counter, DataPatch, LoadedSession, Reissue, RememberCredential, RememberedSession, Revocation,
    SessionRecord, SessionStore, StoreStats, TokenState, Touch,
};
use crate::{Error, TokenHash};
use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{Row as _, SqlitePool};
use std::str::FromStr as _;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

const COLS: &str = "s.id, s.user_id, s.data, s.created_at, s.authenticated_at, s.last_seen_at, \
                    s.expires_at, s.absolute_expires_at, s.rotated_at, s.ip, s.user_agent, \
                    s.persistent, s.revoked_at, s.revoke_reason, s.revoked_by";

/// `SET` list of a revocation: `?3` reason, `?4` by, `?5` at.
const REVOKE_SET: &str = "revoked_at = ?5, revoke_reason = ?3, revoked_by = ?4, \
    remember_selector = NULL, remember_validator_hash = NULL, remember_prev_validator_hash = NULL";

/// A live row at time `t` (see `SessionRecord::is_live`).
fn live_at(t: &str) -> String {
    format!("revoked_at IS NULL AND absolute_expires_at > {t} AND (persistent OR expires_at > {t})")
}

/// A row garbage collection may delete.
fn collectable(now: &str, horizon: &str) -> String {
    format!(
        "((revoked_at IS NULL AND (absolute_expires_at <= {now} \
           OR (NOT persistent AND expires_at <= {now}))) OR revoked_at < {horizon})"
    )
}

/// A [`SessionStore`] on a SQLite pool.
///
/// For apps that run on one machine, and for the demo. Writes are serialised
/// by SQLite (`BEGIN IMMEDIATE`), so key-level patches from concurrent requests
/// never overwrite each other. Use [`SqliteStore::connect`] for a pool with the
/// recommended settings (WAL, foreign keys, a busy timeout).
///
/// Round-trips: each statement, or each transaction, counts as one.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    counter: Counter,
}

impl SqliteStore {
    /// A store on `pool`. Run [`migrate`](crate::migrate) once at startup.
    pub fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            counter: Counter::default(),
        }
    }

    /// Opens (creating if missing) a SQLite database with the recommended
    /// settings: WAL journal, foreign keys on, 5 s busy timeout.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), axum_user_sessions::Error> {
    /// use axum_user_sessions::{SessionLayer, SqliteStore};
    /// let store = SqliteStore::connect("sqlite://sessions.db").await?;
    /// axum_user_sessions::migrate(store.pool()).await?;
    /// let layer = SessionLayer::new(store);
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Ok(Self::new(connect_pool(url).await?))
    }

    /// The pool this store uses.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The embedded migrations, tracked in the table `_aus_migrations`.
    pub fn migrator() -> sqlx::migrate::Migrator {
        let mut m = sqlx::migrate!("migrations/sqlite");
        m.dangerous_set_table_name("_aus_migrations");
        m
    }

    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, Error> {
        self.counter.tick();
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// A pool with the settings the store expects.
pub(crate) async fn connect_pool(url: &str) -> Result<SqlitePool, Error> {
    let opts = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    Ok(SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(opts)
        .await?)
}

fn ts(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

fn from_ts(micros: i64) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|_| Error::Corrupt("timestamp out of range"))
}

fn opt_ts(micros: Option<i64>) -> Result<Option<OffsetDateTime>, Error> {
    micros.map(from_ts).transpose()
}

/// Retires every token of a session (state 3): dead, but still recognised.
async fn retire_tokens(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    id: Uuid,
    at: OffsetDateTime,
) -> Result<(), Error> {
    sqlx::query(
        "UPDATE aus_tokens SET state = 3, superseded_at = ?2 WHERE session_id = ?1 AND state <> 3",
    )
    .bind(id)
    .bind(ts(at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn hash_col(bytes: Vec<u8>) -> Result<TokenHash, Error> {
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(TokenHash::from_bytes)
        .map_err(|_| Error::Corrupt("hash is not 32 bytes"))
}

fn record(row: &SqliteRow) -> Result<SessionRecord, Error> {
    let data: String = row.try_get("data")?;
    let ip: Option<String> = row.try_get("ip")?;
    Ok(SessionRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        data: serde_json::from_str(&data)?,
        created_at: from_ts(row.try_get("created_at")?)?,
        authenticated_at: opt_ts(row.try_get("authenticated_at")?)?,
        last_seen_at: from_ts(row.try_get("last_seen_at")?)?,
        expires_at: from_ts(row.try_get("expires_at")?)?,
        absolute_expires_at: from_ts(row.try_get("absolute_expires_at")?)?,
        rotated_at: from_ts(row.try_get("rotated_at")?)?,
        ip: ip.and_then(|s| s.parse().ok()),
        user_agent: row.try_get("user_agent")?,
        persistent: row.try_get("persistent")?,
        revoked_at: opt_ts(row.try_get("revoked_at")?)?,
        revoke_reason: row.try_get("revoke_reason")?,
        revoked_by: row.try_get("revoked_by")?,
    })
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn migrate(&self) -> Result<(), Error> {
        Self::migrator().run(&self.pool).await?;
        Ok(())
    }

    async fn load(&self, token: &TokenHash, touch: &Touch) -> Result<Option<LoadedSession>, Error> {
        self.counter.tick();
        let sql = format!(
            "SELECT {COLS}, t.state, t.superseded_at,
                    EXISTS (SELECT 1 FROM aus_tokens p WHERE p.session_id = s.id AND p.state = 1)
                        AS has_pending
               FROM aus_tokens t JOIN aus_sessions s ON s.id = t.session_id
              WHERE t.token_hash = ?1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token.as_bytes().as_slice())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut rec = record(&row)?;
        let state: i64 = row.try_get("state")?;
        let token_state = TokenState::from_code(state, opt_ts(row.try_get("superseded_at")?)?)?;
        if token_state == TokenState::Current
            && rec.token_active(touch.now)
            && rec.last_seen_at <= touch.stale_before
        {
            // A reader does not take SQLite's write lock unless the touch is due.
            self.counter.tick();
            let expires = touch.idle_expires_at.min(rec.absolute_expires_at);
            sqlx::query(
                "UPDATE aus_sessions SET last_seen_at = ?2, expires_at = ?3
                  WHERE id = ?1 AND revoked_at IS NULL AND last_seen_at < ?2",
            )
            .bind(rec.id)
            .bind(ts(touch.now))
            .bind(ts(expires))
            .execute(&self.pool)
            .await?;
            rec.last_seen_at = touch.now;
            rec.expires_at = expires;
        }
        Ok(Some(LoadedSession {
            record: rec,
            token: token_state,
            has_pending: row.try_get("has_pending")?,
        }))
    }

    async fn create(&self, r: &SessionRecord, token: &TokenHash) -> Result<(), Error> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO aus_sessions
                (id, user_id, data, created_at, authenticated_at, last_seen_at, expires_at,
                 absolute_expires_at, rotated_at, ip, user_agent, persistent)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .bind(r.id)
        .bind(&r.user_id)
        .bind(serde_json::to_string(&r.data)?)
        .bind(ts(r.created_at))
        .bind(r.authenticated_at.map(ts))
        .bind(ts(r.last_seen_at))
        .bind(ts(r.expires_at))
        .bind(ts(r.absolute_expires_at))
        .bind(ts(r.rotated_at))
        .bind(r.ip.map(|ip| ip.to_string()))
        .bind(&r.user_agent)
        .bind(r.persistent)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO aus_tokens (token_hash, session_id, state, created_at)
             VALUES (?1, ?2, 0, ?3)",
        )
        .bind(token.as_bytes().as_slice())
        .bind(r.id)
        .bind(ts(r.rotated_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn patch_data(&self, id: Uuid, patch: &DataPatch) -> Result<bool, Error> {
        let mut tx = self.write_tx().await?;
        let data: Option<String> = sqlx::query_scalar(
            "SELECT data FROM aus_sessions WHERE id = ?1 AND revoked_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(data) = data else { return Ok(false) };
        let mut data: Map<String, Value> = serde_json::from_str(&data)?;
        patch.apply(&mut data);
        sqlx::query("UPDATE aus_sessions SET data = ?2 WHERE id = ?1")
            .bind(id)
            .bind(serde_json::to_string(&data)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn reissue(&self, id: Uuid, token: &TokenHash, reissue: &Reissue) -> Result<bool, Error> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE aus_sessions
                SET user_id = ?2, authenticated_at = COALESCE(?3, authenticated_at), rotated_at = ?4,
                    ip = CASE WHEN ?5 THEN ?6 ELSE ip END,
                    user_agent = CASE WHEN ?5 THEN ?7 ELSE user_agent END
              WHERE id = ?1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(&reissue.user_id)
        .bind(reissue.authenticated_at.map(ts))
        .bind(ts(reissue.now))
        .bind(reissue.client.is_some())
        .bind(reissue.client.as_ref().and_then(|c| c.ip).map(|ip| ip.to_string()))
        .bind(reissue.client.as_ref().and_then(|c| c.user_agent.clone()))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        retire_tokens(&mut tx, id, reissue.now).await?;
        sqlx::query(
            "INSERT INTO aus_tokens (token_hash, session_id, state, created_at)
             VALUES (?1, ?2, 0, ?3)",
        )
        .bind(token.as_bytes().as_slice())
        .bind(id)
        .bind(ts(reissue.now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete(&self, id: Uuid) -> Result<bool, Error> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM aus_tokens WHERE session_id = ?1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM aus_sessions WHERE id = ?1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn begin_rotation(
        &self,
        id: Uuid,
        expected_rotated_at: OffsetDateTime,
        pending: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE aus_sessions SET rotated_at = ?3
              WHERE id = ?1 AND rotated_at = ?2 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(ts(expected_rotated_at))
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        // Keep only the newest older pending token.
        sqlx::query(
            "DELETE FROM aus_tokens WHERE session_id = ?1 AND state = 1
                AND token_hash <> (SELECT token_hash FROM aus_tokens
                                    WHERE session_id = ?1 AND state = 1
                                    ORDER BY created_at DESC LIMIT 1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO aus_tokens (token_hash, session_id, state, created_at)
             VALUES (?1, ?2, 1, ?3)",
        )
        .bind(pending.as_bytes().as_slice())
        .bind(id)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn promote(&self, id: Uuid, token: &TokenHash, now: OffsetDateTime) -> Result<(), Error> {
        let mut tx = self.write_tx().await?;
        let issued: Option<i64> = sqlx::query_scalar(
            "SELECT created_at FROM aus_tokens
              WHERE token_hash = ?1 AND session_id = ?2 AND state = 1",
        )
        .bind(token.as_bytes().as_slice())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(issued) = issued else {
            return Ok(());
        };
        sqlx::query(
            "UPDATE aus_tokens
                SET state = CASE WHEN token_hash = ?2 THEN 0 ELSE 2 END,
                    superseded_at = CASE WHEN token_hash = ?2 THEN NULL ELSE ?3 END
              WHERE session_id = ?1
                AND (token_hash = ?2 OR state = 0 OR (state = 1 AND created_at <= ?4))",
        )
        .bind(id)
        .bind(token.as_bytes().as_slice())
        .bind(ts(now))
        .bind(issued)
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
                "UPDATE aus_sessions
                    SET persistent = 1, absolute_expires_at = ?4,
                        expires_at = min(expires_at, ?4),
                        remember_selector = ?2, remember_validator_hash = ?3,
                        remember_prev_validator_hash = NULL, remember_rotated_at = ?5,
                        remember_expires_at = ?4
                  WHERE id = ?1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(c.selector.as_slice())
            .bind(c.validator.as_bytes().as_slice())
            .bind(ts(c.expires_at))
            .bind(ts(now)),
            None => sqlx::query(
                "UPDATE aus_sessions
                    SET persistent = 0,
                        absolute_expires_at = min(absolute_expires_at, ?2),
                        expires_at = min(expires_at, ?2),
                        remember_selector = NULL, remember_validator_hash = NULL,
                        remember_prev_validator_hash = NULL, remember_rotated_at = NULL,
                        remember_expires_at = NULL
                  WHERE id = ?1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(ts(absolute_if_cleared)),
        }
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn find_remember(&self, selector: &[u8; 16]) -> Result<Option<RememberedSession>, Error> {
        self.counter.tick();
        let sql = format!(
            "SELECT {COLS}, s.remember_validator_hash, s.remember_prev_validator_hash,
                    s.remember_rotated_at, s.remember_expires_at
               FROM aus_sessions s WHERE s.remember_selector = ?1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
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
            rotated_at: from_ts(row.try_get("remember_rotated_at")?)?,
            expires_at: from_ts(row.try_get("remember_expires_at")?)?,
        }))
    }

    async fn restore(
        &self,
        id: Uuid,
        token: &TokenHash,
        rotate: Option<(&TokenHash, &TokenHash)>,
        touch: &Touch,
    ) -> Result<bool, Error> {
        let mut tx = self.write_tx().await?;
        let done = match rotate {
            Some((presented, next)) => sqlx::query(
                "UPDATE aus_sessions
                    SET last_seen_at = ?2, expires_at = min(?3, absolute_expires_at),
                        remember_prev_validator_hash = remember_validator_hash,
                        remember_validator_hash = ?5, remember_rotated_at = ?2, rotated_at = ?2
                  WHERE id = ?1 AND revoked_at IS NULL AND remember_validator_hash = ?4",
            )
            .bind(id)
            .bind(ts(touch.now))
            .bind(ts(touch.idle_expires_at))
            .bind(presented.as_bytes().as_slice())
            .bind(next.as_bytes().as_slice()),
            None => sqlx::query(
                "UPDATE aus_sessions
                    SET last_seen_at = ?2, expires_at = min(?3, absolute_expires_at)
                  WHERE id = ?1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(ts(touch.now))
            .bind(ts(touch.idle_expires_at)),
        }
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if rotate.is_some() {
            retire_tokens(&mut tx, id, touch.now).await?;
        }
        sqlx::query(
            "INSERT INTO aus_tokens (token_hash, session_id, state, created_at)
             VALUES (?1, ?2, 0, ?3)",
        )
        .bind(token.as_bytes().as_slice())
        .bind(id)
        .bind(ts(touch.now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn get(&self, id: Uuid) -> Result<Option<SessionRecord>, Error> {
        self.counter.tick();
        let sql = format!("SELECT {COLS} FROM aus_sessions s WHERE s.id = ?1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
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
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE aus_sessions SET {REVOKE_SET}
              WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2) AND {}",
            live_at("?5")
        )))
        .bind(id)
        .bind(user_id)
        .bind(how.reason.as_str())
        .bind(how.by.as_str())
        .bind(ts(how.at))
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
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE aus_sessions SET {REVOKE_SET}
              WHERE user_id = ?1 AND (?2 IS NULL OR id <> ?2) AND {}",
            live_at("?5")
        )))
        .bind(user_id)
        .bind(keep)
        .bind(how.reason.as_str())
        .bind(how.by.as_str())
        .bind(ts(how.at))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn revoke_every_session(&self, how: &Revocation) -> Result<u64, Error> {
        self.counter.tick();
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE aus_sessions SET {REVOKE_SET} WHERE ?1 IS NULL AND ?2 IS NULL AND {}",
            live_at("?5")
        )))
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(how.reason.as_str())
        .bind(how.by.as_str())
        .bind(ts(how.at))
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
        let live = live_at("?1");
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT (SELECT count(*) FROM aus_sessions WHERE {live}) AS sessions,
                    (SELECT count(DISTINCT user_id) FROM aus_sessions WHERE {live}) AS users,
                    (SELECT count(*) FROM aus_sessions WHERE {}) AS collectable",
            collectable("?1", "?2")
        )))
        .bind(ts(now))
        .bind(ts(revoked_before))
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
        // SQLite has one writer at a time: a batch is one short transaction.
        let mut tx = self.write_tx().await?;
        let ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM aus_sessions WHERE {} LIMIT ?3",
            collectable("?1", "?2")
        )))
        .bind(ts(now))
        .bind(ts(revoked_before))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        for id in &ids {
            sqlx::query("DELETE FROM aus_tokens WHERE session_id = ?1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM aus_sessions WHERE id = ?1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    async fn list_user(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionRecord>, Error> {
        self.counter.tick();
        let sql = format!(
            "SELECT {COLS} FROM aus_sessions s
              WHERE s.user_id = ?1 AND s.revoked_at IS NULL
                AND s.absolute_expires_at > ?2 AND (s.persistent OR s.expires_at > ?2)
              ORDER BY s.last_seen_at DESC, s.id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(ts(now))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(record).collect()
    }

    fn round_trips(&self) -> u64 {
        self.counter.get()
    }
}
