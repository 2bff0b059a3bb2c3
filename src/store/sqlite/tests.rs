//! The SQLite file: its mode, its name for the caches, no file for an
//! in-memory database; garbage collection's statement.

use super::*;
use crate::store::SessionRecord;
use std::os::unix::fs::PermissionsExt as _;
use time::OffsetDateTime;
use uuid::Uuid;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_new_database_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.db");
    let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    crate::store::migrate(&store).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    let wal = dir.path().join("sessions.db-wal");
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600, "SQLite gives the WAL the file's mode");
    }
}

#[tokio::test]
async fn an_existing_file_keeps_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert_eq!(mode(&path), 0o640);
}

/// Two pools on one file, spelled two ways, are one database to this
/// process's caches: a revocation through either reaches both. The name
/// was the spelling, and a cache over one missed the other's revocations.
#[tokio::test]
async fn one_file_spelled_two_ways_is_one_database() {
    let dir = tempfile::tempdir().unwrap();
    let plain = format!("sqlite://{}/one.db", dir.path().display());
    let dotted = format!("sqlite:{}/./sub/../one.db", dir.path().display());
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let a = SqliteStore::connect(&plain).await.unwrap();
    let b = SqliteStore::connect(&dotted).await.unwrap();
    assert_eq!(a.storage().database, b.storage().database);
    let memory = SqliteStore::connect("sqlite::memory:").await.unwrap();
    assert_ne!(memory.storage().database, a.storage().database);
}

/// `sqlite::memory:` opens no file: sqlx names the database
/// `file:sqlx-in-memory-<n>`, and a file of that name was created in the
/// working directory.
#[tokio::test]
async fn an_in_memory_database_creates_no_file() {
    use std::str::FromStr as _;
    let opts = SqliteConnectOptions::from_str("sqlite::memory:").unwrap();
    let name = opts.get_filename().to_owned();
    create_private(&name).unwrap();
    let stray = std::path::Path::new(&name).exists();
    if stray {
        std::fs::remove_file(&name).unwrap();
    }
    assert!(!stray, "created {}", name.display());
}

/// A migrated store on a file of its own.
async fn migrated() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/gc.db", dir.path().display());
    let store = SqliteStore::connect(&url).await.unwrap();
    crate::store::migrate(&store).await.unwrap();
    (dir, store)
}

/// Garbage collection finds its rows through indexes: its `OR` used none,
/// and every batch scanned the table under the write lock.
#[tokio::test]
async fn garbage_collection_reads_no_row_through_a_scan() {
    let (_dir, store) = migrated().await;
    use sqlx::Row as _;
    let sql = format!("EXPLAIN QUERY PLAN {}", statements::COLLECTABLE);
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(0_i64)
        .bind(0_i64)
        .bind(10_i64)
        .fetch_all(store.pool())
        .await
        .unwrap();
    let plan: Vec<String> = rows.iter().map(|r| r.get("detail")).collect();
    let plan = plan.join("\n");
    assert!(!plan.contains("SCAN"), "{plan}");
    for index in [
        "aus_sessions_revoked_at_idx",
        "aus_sessions_live_absolute_end_idx",
        "aus_sessions_live_idle_end_idx",
    ] {
        assert!(plan.contains(index), "{index} in {plan}");
    }
}

/// The three ranges collect exactly what `SessionRecord::is_collectable`
/// says, on every edge: each end at, just before and just after now, both
/// kinds of session, revoked before, at and after the horizon or not.
#[tokio::test]
async fn garbage_collection_collects_what_the_rule_says() {
    use super::encoding::ts;
    use std::collections::HashSet;
    let (_dir, store) = migrated().await;
    let now = OffsetDateTime::now_utc();
    let horizon = now - time::Duration::days(7);
    let us = time::Duration::microseconds(1);
    let ends = [now - us, now, now + us];
    let revoked = [
        None,
        Some(horizon - us),
        Some(horizon),
        Some(horizon + us),
        Some(now),
    ];
    let mut expected = HashSet::new();
    for (idle, absolute) in ends.iter().flat_map(|i| ends.iter().map(move |a| (*i, *a))) {
        for persistent in [false, true] {
            for revoked_at in revoked {
                let mut r = SessionRecord::new(Uuid::new_v4(), now - time::Duration::hours(1));
                (r.expires_at, r.absolute_expires_at) = (idle, absolute);
                (r.persistent, r.revoked_at) = (persistent, revoked_at);
                if r.is_collectable(now, horizon) {
                    expected.insert(r.id);
                }
                sqlx::query(
                    "INSERT INTO aus_sessions (id, created_at, last_seen_at, expires_at, \
                     absolute_expires_at, rotated_at, persistent, revoked_at) \
                     VALUES (?1, ?2, ?2, ?3, ?4, ?2, ?5, ?6)",
                )
                .bind(r.id)
                .bind(ts(r.created_at))
                .bind(ts(idle))
                .bind(ts(absolute))
                .bind(persistent)
                .bind(revoked_at.map(ts))
                .execute(store.pool())
                .await
                .unwrap();
            }
        }
    }
    let collect = |limit: i64| {
        sqlx::query_scalar::<_, Uuid>(statements::COLLECTABLE)
            .bind(ts(now))
            .bind(ts(horizon))
            .bind(limit)
            .fetch_all(store.pool())
    };
    let all = collect(1000).await.unwrap();
    assert_eq!(all.len(), expected.len(), "each row once");
    assert_eq!(all.into_iter().collect::<HashSet<_>>(), expected);
    let batch = collect(7).await.unwrap();
    assert_eq!(batch.len(), 7);
    assert!(batch.iter().all(|id| expected.contains(id)));
}
