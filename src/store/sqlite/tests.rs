//! The SQLite file: its mode, its name for the caches, no file for an
//! in-memory database.

use super::*;
use std::os::unix::fs::PermissionsExt as _;

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
