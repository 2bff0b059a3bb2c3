//! Where tower-sessions kept its sessions: the tables `tower-sessions-sqlx-store`
//! creates, and the MessagePack records in them.
//!
//! Postgres: `"tower_sessions"."session" (id text primary key, data bytea,
//! expiry_date timestamptz)`; SQLite: `tower_sessions (id text primary key,
//! data blob, expiry_date integer)`. `data` is `rmp_serde::to_vec` of
//! `tower_sessions_core::session::Record { id, data, expiry_date }`.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use std::collections::HashMap;
use time::OffsetDateTime;

/// A tower-sessions session, as its store kept it: what the app's mapping
/// (given to [`TowerSessionsImport`](super::TowerSessionsImport)) decides on.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TowerRecord {
    /// The session id, as the `id` cookie carried it.
    pub id: String,
    /// The session's data: every key tower-sessions (and axum-login on top
    /// of it) stored.
    pub data: HashMap<String, Value>,
    /// When tower-sessions would have ended the session.
    pub expiry_date: OffsetDateTime,
}

impl TowerRecord {
    /// The value stored under `key`, if any.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }
}

/// `tower_sessions_core::session::Record`'s fields, in their order (rmp-serde
/// writes a struct as an array). The id is the cookie's, so its encoding
/// (an `i128`) is skipped.
#[derive(Deserialize)]
struct StoredRecord {
    #[allow(dead_code)]
    id: IgnoredAny,
    data: HashMap<String, Value>,
    expiry_date: OffsetDateTime,
}

/// The record in `bytes`, with the id the cookie gave; `None` when they are
/// not a tower-sessions record.
pub(super) fn decode(id: &str, bytes: &[u8]) -> Option<TowerRecord> {
    match rmp_serde::from_slice::<StoredRecord>(bytes) {
        Ok(r) => Some(TowerRecord {
            id: id.to_owned(),
            data: r.data,
            expiry_date: r.expiry_date,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "a tower-sessions record that does not decode was not adopted");
            None
        }
    }
}

/// Whether `value` can be a tower-sessions id: an `i128` in URL-safe base64
/// without padding (22 characters). Anything else costs no query.
pub(super) fn is_tower_id(value: &str) -> bool {
    value.len() == 22
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `name` is a plain SQL identifier, safe to quote into a statement.
pub(super) fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= 63
}

/// The database tower-sessions used, and its table.
#[derive(Debug, Clone)]
pub(super) enum Source {
    #[cfg(feature = "postgres")]
    Postgres {
        pool: sqlx::PgPool,
        /// `"schema"."table"`, quoted.
        table: String,
    },
    #[cfg(feature = "sqlite")]
    Sqlite {
        pool: sqlx::SqlitePool,
        /// `"table"`, quoted.
        table: String,
    },
}

/// Runs `$run` with the pool and the table of `$source`, and `$p`, the
/// placeholders of its database (`$1` … on Postgres, `?1` … on SQLite):
/// the statements are the same on both but for those.
macro_rules! on_source {
    ($source:expr, |$pool:ident, $table:ident, $p:ident| $run:expr) => {
        match $source {
            #[cfg(feature = "postgres")]
            Source::Postgres {
                pool: $pool,
                table: $table,
            } => {
                let $p = ["$1", "$2", "$3"];
                $run
            }
            #[cfg(feature = "sqlite")]
            Source::Sqlite {
                pool: $pool,
                table: $table,
            } => {
                let $p = ["?1", "?2", "?3"];
                $run
            }
        }
    };
}

impl Source {
    /// Takes the row of `id` (`DELETE … RETURNING`): one statement, so two
    /// requests presenting the same id cannot both get it, and a replay
    /// finds no row. `Ok(None)`: no such row.
    pub(super) async fn take(&self, id: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        on_source!(self, |pool, table, p| {
            let sql = format!("DELETE FROM {table} WHERE id = {} RETURNING data", p[0]);
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(pool)
                .await
        })
    }

    /// Puts a taken row back as it was (when our session could not be
    /// written), for the next request to adopt; a row written meanwhile
    /// under the same id wins. `expiry` is bound as tower-sessions binds
    /// it (the same sqlx encoding of `OffsetDateTime`).
    pub(super) async fn put_back(
        &self, id: &str, data: &[u8], expiry: OffsetDateTime,
    ) -> Result<(), sqlx::Error> {
        on_source!(self, |pool, table, p| {
            let [id_p, data_p, expiry_p] = p;
            let sql = format!(
                "INSERT INTO {table} (id, data, expiry_date) VALUES ({id_p}, {data_p}, {expiry_p}) \
                 ON CONFLICT (id) DO NOTHING"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(data)
                .bind(expiry)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_sessions::session::{Id, Record};

    #[test]
    fn decodes_what_tower_sessions_writes() {
        let record = Record {
            id: Id(-42),
            data: HashMap::from([("user_id".to_owned(), serde_json::json!(7))]),
            expiry_date: OffsetDateTime::from_unix_timestamp(2_000_000_000).unwrap(),
        };
        let id = record.id.to_string();
        assert!(is_tower_id(&id), "{id}");
        let bytes = rmp_serde::to_vec(&record).unwrap();
        let decoded = decode(&id, &bytes).unwrap();
        assert_eq!(decoded.get("user_id"), Some(&serde_json::json!(7)));
        assert_eq!(decoded.expiry_date, record.expiry_date);
        assert_eq!(decoded.id, id);
        assert_eq!(decode(&id, b"\x93garbage"), None);
    }

    #[test]
    fn ids_and_identifiers() {
        assert!(!is_tower_id("short"));
        assert!(!is_tower_id("AAAAAAAAAAAAAAAAAAAAA="));
        assert!(is_identifier("tower_sessions"));
        assert!(!is_identifier("a;drop"));
        assert!(!is_identifier("1abc"));
        assert!(!is_identifier(""));
    }
}
