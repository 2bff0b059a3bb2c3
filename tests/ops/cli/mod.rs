//! The `axum-user-sessions` command-line tool, run as a process against real
//! Postgres and SQLite databases: output, effects and exit codes.
#![cfg(feature = "cli")]

use axum_user_sessions::store::TokenHash;
use axum_user_sessions::store::{SessionProtocol, SessionRecord};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_axum-user-sessions");

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// What a run of the tool did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the tool with `DATABASE_URL` set to `url` (or unset), stdin closed.
async fn cli(url: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = url {
        cmd.env("DATABASE_URL", url);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("the tool did not finish within 60 s")
        .expect("run the tool");
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    }
}

/// Runs the tool and expects exit code 0.
async fn ok(url: &str, args: &[&str]) -> String {
    let run = cli(Some(url), args).await;
    assert_eq!(run.code, 0, "{args:?} failed: {run:?}");
    run.stdout
}

/// An error run: the expected exit code, and one human line on stderr with
/// no Rust Debug dump in it.
fn assert_error(run: &Run, code: i32, needle: &str) {
    assert_eq!(run.code, code, "wrong exit code: {run:?}");
    assert!(
        run.stderr.contains(needle),
        "stderr lacks {needle:?}: {run:?}"
    );
    assert!(run.stdout.is_empty(), "an error printed to stdout: {run:?}");
    for debug in [
        "Error {",
        "Configuration(",
        "Io(",
        "Database(",
        "PoolTimedOut",
    ] {
        assert!(!run.stderr.contains(debug), "Debug dump on stderr: {run:?}");
    }
}

fn now() -> OffsetDateTime {
    // Postgres keeps microseconds.
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap()
}

fn hash(n: u8) -> TokenHash {
    TokenHash::from_bytes([n; 32])
}

/// Creates a live session (or, with `ttl` negative, an expired one).
async fn session(
    store: &dyn SessionProtocol, n: u8, user: &str, ttl: time::Duration,
    tweak: impl FnOnce(&mut SessionRecord),
) -> SessionRecord {
    let at = now();
    let created = if ttl.is_negative() { at + ttl * 2 } else { at };
    let mut r = SessionRecord::new(Uuid::new_v4(), created);
    r.user_id = Some(user.to_owned());
    r.expires_at = at + ttl;
    r.absolute_expires_at = if ttl.is_negative() {
        r.expires_at
    } else {
        r.expires_at + time::Duration::hours(1)
    };
    tweak(&mut r);
    store.create(&r, &hash(n)).await.expect("create a session");
    r
}

fn stats_json(stdout: &str) -> (u64, u64, u64) {
    let v: Value = serde_json::from_str(stdout).expect("stats --json is JSON");
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("no {k} in {v}"));
    (n("active_sessions"), n("active_users"), n("collectable"))
}

fn ids(json: &str) -> BTreeSet<String> {
    let v: Value = serde_json::from_str(json).expect("list --json is JSON");
    v.as_array()
        .expect("a JSON array")
        .iter()
        .map(|d| d["id"].as_str().expect("an id").to_owned())
        .collect()
}

fn id_set(records: &[&SessionRecord]) -> BTreeSet<String> {
    records.iter().map(|r| r.id.to_string()).collect()
}

/// The URL of the database `#[sqlx::test]` made.
fn pg_url(pool: &sqlx::PgPool) -> String {
    let o = pool.connect_options();
    format!(
        "postgres://{}@{}:{}/{}",
        o.get_username(),
        o.get_host(),
        o.get_port(),
        o.get_database().expect("a test database name")
    )
}

/// Migrates through the tool, then opens the store through the library.
async fn migrated(url: &str) -> Arc<dyn SessionProtocol> {
    let migrator = if url.starts_with("postgres") {
        axum_user_sessions::PgStore::migrator()
    } else {
        axum_user_sessions::SqliteStore::migrator()
    };
    let out = ok(url, &["migrate"]).await;
    let expected = format!("Applied {} migrations:", migrator.iter().count());
    assert!(out.contains(&expected), "{out}");
    for m in migrator.iter() {
        let line = format!("{} {}", m.version, m.description);
        assert!(out.contains(&line), "migration {line} not listed: {out}");
    }
    let again = ok(url, &["migrate"]).await;
    assert!(again.contains("Nothing to do"), "{again}");
    axum_user_sessions::store::connect(url)
        .await
        .expect("open the store")
}

mod postgres;
mod redis;

#[tokio::test]
async fn sqlite_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/x.db", dir.path().display());

    // Before migrating: a clear hint, not a driver dump.
    let run = cli(Some(&url), &["list", "--user", "alice"]).await;
    assert_error(&run, 4, "migrate");

    let store = migrated(&url).await;
    let s = store.as_ref();
    let hour = time::Duration::hours(1);
    let a1 = session(s, 1, "alice", hour, |r| r.user_agent = Some(FIREFOX.into())).await;
    let a2 = session(s, 2, "alice", hour, |_| {}).await;
    let _expired = session(s, 3, "bob", -hour, |_| {}).await;

    let table = ok(&url, &["list", "--user", "alice"]).await;
    assert!(table.contains(&a1.id.to_string()), "{table}");
    assert!(table.contains(&a2.id.to_string()), "{table}");
    assert!(table.contains("Firefox on Linux"), "{table}");
    let json = ok(&url, &["list", "--user", "alice", "--json"]).await;
    assert_eq!(ids(&json), id_set(&[&a1, &a2]), "{json}");

    let stats = ok(&url, &["stats", "--json"]).await;
    assert_eq!(stats_json(&stats), (2, 1, 1), "{stats}");

    let id = a1.id.to_string();
    let out = ok(&url, &["revoke", "--session", &id]).await;
    assert!(out.contains("Revoked 1 session"), "{out}");
    let run = cli(Some(&url), &["revoke", "--session", &id]).await;
    assert_error(&run, 1, "already revoked");

    let out = ok(&url, &["gc"]).await;
    assert!(out.contains("Deleted 1 row "), "{out}");
    let stats = ok(&url, &["stats", "--json"]).await;
    assert_eq!(stats_json(&stats), (1, 1, 0), "{stats}");
}

#[tokio::test]
async fn a_retention_of_four_billion_days_keeps_every_revoked_row() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/x.db", dir.path().display());
    let store = migrated(&url).await;
    let a = session(store.as_ref(), 1, "alice", time::Duration::hours(1), |_| {}).await;
    ok(&url, &["revoke", "--session", &a.id.to_string()]).await;
    let days = ["--retention-days", "4000000000"];
    let stats = ok(&url, &["stats", "--json", days[0], days[1]]).await;
    assert_eq!(stats_json(&stats), (0, 0, 0), "{stats}");
    let out = ok(&url, &["gc", days[0], days[1]]).await;
    assert!(out.contains("Deleted 0 rows"), "{out}");
    let stats = ok(&url, &["stats", "--json"]).await;
    assert_eq!(stats_json(&stats), (0, 0, 0), "{stats}");
}

#[tokio::test]
async fn unsupported_url_is_a_usage_error() {
    let run = cli(Some("mysql://root:hunter2@localhost/app"), &["stats"]).await;
    assert_error(&run, 2, "unsupported database URL");
    assert!(run.stderr.contains("postgres://"), "{run:?}");
    assert!(!run.stderr.contains("hunter2"), "password printed: {run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
}

#[tokio::test]
async fn malformed_url_is_a_usage_error() {
    let run = cli(
        Some("postgres://u:hunter2@localhost:notaport/db"),
        &["stats"],
    )
    .await;
    assert_error(&run, 2, "invalid database URL");
    assert!(!run.stderr.contains("hunter2"), "password printed: {run:?}");
}

#[tokio::test]
async fn unreachable_database_exits_3() {
    let url = "postgres://postgres:hunter2@127.0.0.1:1/x";
    let run = cli(Some(url), &["stats"]).await;
    assert_error(&run, 3, "cannot connect to the database");
    assert!(run.stderr.contains("127.0.0.1:1"), "{run:?}");
    assert!(!run.stderr.contains("hunter2"), "password printed: {run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
}

#[tokio::test]
async fn missing_database_url_is_a_usage_error() {
    let run = cli(None, &["stats"]).await;
    assert_error(&run, 2, "DATABASE_URL");
    // --database-url works instead.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/y.db", dir.path().display());
    let run = cli(None, &["--database-url", &url, "migrate"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let run = cli(None, &["stats", "--database-url", &url, "--json"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(stats_json(&run.stdout), (0, 0, 0));
}

#[tokio::test]
async fn invalid_uuid_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/z.db", dir.path().display());
    let run = cli(Some(&url), &["revoke", "--session", "not-a-uuid"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--session"), "{run:?}");
    assert!(
        !dir.path().join("z.db").exists(),
        "a usage error touched the database"
    );
}

#[tokio::test]
async fn help_documents_exit_codes_and_hides_the_url() {
    let run = cli(Some("postgres://u:hunter2@db/app"), &["--help"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    for needle in [
        "Exit codes",
        "not found",
        "could not be reached",
        "usage error",
        "DATABASE_URL",
    ] {
        assert!(
            run.stdout.contains(needle),
            "--help lacks {needle:?}: {}",
            run.stdout
        );
    }
    assert!(!run.stdout.contains("hunter2"), "--help printed the URL");
}
