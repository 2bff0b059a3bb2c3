//! `axum-user-sessions`: the command-line tool for a session store.
//!
//! Runs the embedded migrations, lists a user's sessions, revokes sessions
//! (one, a user's, or everyone's), collects garbage and shows counts, on the
//! Postgres or SQLite database named by `DATABASE_URL` (or `--database-url`).
//!
//! ```text
//! cargo run --features cli --bin axum-user-sessions -- list --user 42
//! ```
//!
//! It never prints a token, a token hash or the database password.

use axum_user_sessions::store::{SessionRecord, SessionStore};
use axum_user_sessions::{Error, GcOptions, RevokeReason, RevokedBy, SessionAdmin, device_name};
use clap::{ArgGroup, Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::collections::BTreeSet;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

/// Success.
const EXIT_OK: u8 = 0;
/// Not found (no such live session), or a confirmation that was declined.
const EXIT_NOT_FOUND: u8 = 1;
/// Usage error: bad arguments, a missing, unsupported or malformed database
/// URL, `revoke --all` without a confirmation.
const EXIT_USAGE: u8 = 2;
/// The database could not be reached or connected to.
const EXIT_UNREACHABLE: u8 = 3;
/// Any other database error (e.g. the tables are missing: run `migrate`).
const EXIT_DATABASE: u8 = 4;

const LONG_ABOUT: &str = "\
Operates the session store of axum-user-sessions: runs its migrations, lists \
and revokes sessions, deletes expired ones and shows counts.

The database is named by DATABASE_URL (or --database-url): postgres://… or \
postgresql://… for Postgres, sqlite:… for SQLite. Tokens, token hashes and the \
database password are never printed.

Exit codes:
  0  success
  1  not found (e.g. `revoke --session` with an unknown, expired or already
     revoked session), or the confirmation of `revoke --all` was declined
  2  usage error: bad arguments, a missing, unsupported or malformed database
     URL, or `revoke --all` with no terminal to confirm on and no --yes
  3  the database could not be reached or connected to
  4  any other database error (e.g. the session tables do not exist yet: run
     `axum-user-sessions migrate`)";

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "axum-user-sessions",
    version,
    about = "Operate an axum-user-sessions store: migrate, list, revoke, gc, stats.",
    long_about = LONG_ABOUT
)]
struct Cli {
    /// The database: postgres://… or sqlite:…
    #[arg(
        long,
        env = "DATABASE_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    database_url: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates or upgrades the session tables (embedded, idempotent).
    Migrate,
    /// Lists a user's live sessions, most recently active first.
    List(ListArgs),
    /// Revokes sessions: one, every session of a user, or everyone's.
    Revoke(RevokeArgs),
    /// Deletes expired sessions, and revoked ones past their retention.
    Gc(GcArgs),
    /// Shows live sessions, live users and rows waiting for `gc`.
    Stats(StatsArgs),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// The user whose sessions to list.
    #[arg(long, value_name = "ID")]
    user: String,
    /// Prints a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("target")
        .required(true)
        .args(["session", "user", "all"])
))]
struct RevokeArgs {
    /// Revokes one session, by its public id.
    #[arg(long, value_name = "UUID")]
    session: Option<Uuid>,
    /// Revokes every live session of this user.
    #[arg(long, value_name = "ID")]
    user: Option<String>,
    /// With --user: keeps this session (e.g. the admin's own).
    #[arg(long, value_name = "UUID", requires = "user")]
    keep: Option<Uuid>,
    /// Revokes every live session of every user (asks for confirmation).
    #[arg(long)]
    all: bool,
    /// Confirms --all without asking.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Why, recorded with the revocation.
    #[arg(long, value_name = "TEXT", default_value = "admin")]
    reason: String,
    /// Who, recorded with the revocation.
    #[arg(long, value_name = "TEXT", default_value = "cli")]
    by: String,
}

#[derive(Debug, Args)]
struct GcArgs {
    /// Rows deleted per statement (one short transaction each).
    #[arg(long, value_name = "N", default_value_t = 1_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    batch_size: u32,
    /// Days revoked sessions are kept for audit before they are deleted.
    #[arg(long, value_name = "D", default_value_t = 30)]
    retention_days: u32,
}

#[derive(Debug, Args)]
struct StatsArgs {
    /// Days revoked sessions are kept (counts which rows `gc` would delete).
    #[arg(long, value_name = "D", default_value_t = 30)]
    retention_days: u32,
    /// Prints a JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Why the tool stopped: an exit code and a one-line message for stderr.
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(url) = cli.database_url.clone().filter(|u| !u.trim().is_empty()) else {
        return fail(
            &Failure::new(
                EXIT_USAGE,
                "no database URL: set DATABASE_URL or pass --database-url \
                 (postgres://… or sqlite:…)",
            ),
            "",
        );
    };
    let url = url.trim().to_owned();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            return fail(
                &Failure::new(EXIT_DATABASE, format!("cannot start the runtime: {err}")),
                &url,
            );
        }
    };
    match runtime.block_on(run(cli.command, &url)) {
        Ok(output) => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(output.as_bytes())
                .and_then(|()| stdout.flush())
            {
                // A closed pipe (`| head`) is the reader's choice, not an error.
                Ok(()) => ExitCode::from(EXIT_OK),
                Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(EXIT_OK),
                Err(err) => fail(
                    &Failure::new(EXIT_DATABASE, format!("cannot write the output: {err}")),
                    &url,
                ),
            }
        }
        Err(failure) => fail(&failure, &url),
    }
}

/// Prints `error: …` (without the URL's password) and returns its exit code.
fn fail(failure: &Failure, url: &str) -> ExitCode {
    let message = redact(&failure.message, url);
    let _ = writeln!(std::io::stderr(), "error: {message}");
    ExitCode::from(failure.code)
}

/// Runs a command and returns what to print on stdout.
async fn run(command: Command, url: &str) -> Result<String, Failure> {
    // Refuse before connecting: there is nothing to ask on.
    if let Command::Revoke(args) = &command
        && args.all
        && !args.yes
        && !std::io::stdin().is_terminal()
    {
        return Err(Failure::new(
            EXIT_USAGE,
            "refusing to revoke every session without confirmation: stdin is not \
             a terminal; pass --yes to confirm",
        ));
    }
    let store = axum_user_sessions::store::connect(url)
        .await
        .map_err(|err| connect_failure(err.into(), url))?;
    let admin = SessionAdmin::new(store.clone());
    let result = match command {
        Command::Migrate => migrate(store.as_ref(), url).await,
        Command::List(args) => list(&admin, &args).await,
        Command::Revoke(args) => revoke(&admin, &args).await,
        Command::Gc(args) => collect(&admin, &args).await,
        Command::Stats(args) => stats(&admin, &args).await,
    };
    result.map_err(|err| match err {
        Cmd::Failure(f) => f,
        Cmd::Store(err) => store_failure(err, url),
    })
}

/// A command's error: a store error, classified by [`store_failure`], or a
/// failure of its own.
enum Cmd {
    Store(Error),
    Failure(Failure),
}

impl From<Error> for Cmd {
    fn from(err: Error) -> Self {
        Self::Store(err)
    }
}

impl From<Failure> for Cmd {
    fn from(f: Failure) -> Self {
        Self::Failure(f)
    }
}

// ---------------------------------------------------------------- migrate

async fn migrate(store: &dyn SessionStore, url: &str) -> Result<String, Cmd> {
    let migrator = if is_postgres(url) {
        axum_user_sessions::PgStore::migrator()
    } else {
        axum_user_sessions::SqliteStore::migrator()
    };
    let before = applied_migrations(url).await?;
    store.migrate().await.map_err(Error::from)?;
    let after = applied_migrations(url).await?;
    let mut out = String::new();
    let new: Vec<_> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .filter(|m| after.contains(&m.version) && !before.contains(&m.version))
        .collect();
    let latest = after.iter().next_back().copied().unwrap_or_default();
    if new.is_empty() {
        out.push_str(&format!(
            "Nothing to do: the session tables are up to date (version {latest}, {} migrations applied).\n",
            after.len()
        ));
    } else {
        out.push_str(&format!(
            "Applied {} migration{}:\n",
            new.len(),
            plural(new.len() as u64)
        ));
        for m in new {
            out.push_str(&format!("  {} {}\n", m.version, m.description));
        }
        out.push_str(&format!(
            "The session tables are up to date (version {latest}).\n"
        ));
    }
    Ok(out)
}

/// The versions of the embedded migrations already applied, read on a
/// connection of its own (the store does not expose its pool).
async fn applied_migrations(url: &str) -> Result<BTreeSet<i64>, Error> {
    use sqlx::Connection as _;
    let versions: Vec<i64> = if is_postgres(url) {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        let exists: bool = sqlx::query_scalar(
            "SELECT to_regclass('axum_user_sessions._sqlx_migrations') IS NOT NULL",
        )
        .fetch_one(&mut conn)
        .await?;
        let versions = if exists {
            sqlx::query_scalar(
                "SELECT version FROM axum_user_sessions._sqlx_migrations WHERE success",
            )
            .fetch_all(&mut conn)
            .await?
        } else {
            Vec::new()
        };
        conn.close().await?;
        versions
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await?;
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master \
              WHERE type = 'table' AND name = '_aus_migrations')",
        )
        .fetch_one(&mut conn)
        .await?;
        let versions = if exists {
            sqlx::query_scalar("SELECT version FROM _aus_migrations WHERE success")
                .fetch_all(&mut conn)
                .await?
        } else {
            Vec::new()
        };
        conn.close().await?;
        versions
    };
    Ok(versions.into_iter().collect())
}

// ---------------------------------------------------------------- list

/// A session as `list --json` prints it: no token, no hash, no data.
#[derive(Debug, Serialize)]
struct Device {
    id: Uuid,
    device: String,
    ip: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    persistent: bool,
}

impl From<&SessionRecord> for Device {
    fn from(r: &SessionRecord) -> Self {
        Self {
            id: r.id,
            device: device_name(r.user_agent.as_deref()),
            ip: r.ip.map(|ip| ip.to_string()),
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            // A remembered device stays signed in until its credential ends.
            expires_at: if r.persistent {
                r.absolute_expires_at
            } else {
                r.expires_at
            },
            persistent: r.persistent,
        }
    }
}

async fn list(admin: &SessionAdmin, args: &ListArgs) -> Result<String, Cmd> {
    let records = admin.list_user(&args.user).await?;
    let devices: Vec<Device> = records.iter().map(Device::from).collect();
    if args.json {
        let mut json = serde_json::to_string_pretty(&devices).map_err(Error::from)?;
        json.push('\n');
        return Ok(json);
    }
    if devices.is_empty() {
        return Ok(format!("No live sessions for user {}.\n", args.user));
    }
    let header = [
        "ID",
        "DEVICE",
        "IP",
        "CREATED",
        "LAST SEEN",
        "EXPIRES",
        "REMEMBERED",
    ]
    .map(str::to_owned);
    let rows: Vec<[String; 7]> = devices
        .iter()
        .map(|d| {
            [
                d.id.to_string(),
                d.device.clone(),
                d.ip.clone().unwrap_or_else(|| "-".into()),
                human_time(d.created_at),
                human_time(d.last_seen_at),
                human_time(d.expires_at),
                if d.persistent { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    let mut out = table(&header, &rows);
    out.push_str(&format!(
        "{} live session{} for user {} (times in UTC).\n",
        rows.len(),
        plural(rows.len() as u64),
        args.user
    ));
    Ok(out)
}

/// Left-aligned columns two spaces apart.
fn table<const N: usize>(header: &[String; N], rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in std::iter::once(header).chain(rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if i + 1 < N {
                line.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `2026-11-23 10:42` (UTC).
fn human_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

// ---------------------------------------------------------------- revoke

async fn revoke(admin: &SessionAdmin, args: &RevokeArgs) -> Result<String, Cmd> {
    if let Some(id) = args.session {
        if admin
            .revoke(
                id,
                RevokedBy::operator(&args.by),
                RevokeReason::other(&args.reason),
            )
            .await?
        {
            return Ok(format!("Revoked 1 session ({id}).\n"));
        }
        let why = match admin.session(id).await? {
            None => format!("no session with id {id}"),
            Some(r) => match r.revoked_at {
                Some(at) => format!(
                    "session {id} was already revoked at {} UTC by {} (reason: {})",
                    human_time(at),
                    r.revoked_by.as_deref().unwrap_or("unknown"),
                    r.revoke_reason.as_deref().unwrap_or("unknown"),
                ),
                None => format!("session {id} has already expired"),
            },
        };
        return Err(Failure::new(EXIT_NOT_FOUND, format!("{why}; nothing revoked")).into());
    }
    if let Some(user) = &args.user {
        let n = admin
            .revoke_user_sessions(
                user,
                args.keep,
                RevokedBy::operator(&args.by),
                RevokeReason::other(&args.reason),
            )
            .await?;
        let kept = match args.keep {
            Some(keep) => format!(", kept {keep}"),
            None => String::new(),
        };
        return Ok(format!(
            "Revoked {n} session{} of user {user}{kept}.\n",
            plural(n)
        ));
    }
    // --all (clap requires exactly one of the three).
    if !args.yes {
        let stats = admin.stats(&GcOptions::default()).await?;
        confirm(&format!(
            "This revokes every live session ({} session{}, {} signed-in user{}): \
             everyone is signed out.\nType \"yes\" to continue: ",
            stats.active_sessions,
            plural(stats.active_sessions),
            stats.active_users,
            plural(stats.active_users),
        ))?;
    }
    let n = admin
        .revoke_every_session(
            RevokedBy::operator(&args.by),
            RevokeReason::other(&args.reason),
        )
        .await?;
    Ok(format!("Revoked {n} session{} of every user.\n", plural(n)))
}

/// Asks on stderr and reads the answer from stdin (a terminal).
fn confirm(question: &str) -> Result<(), Failure> {
    let mut stderr = std::io::stderr();
    let _ = stderr.write_all(question.as_bytes());
    let _ = stderr.flush();
    let mut answer = String::new();
    let read = std::io::stdin().lock().read_line(&mut answer);
    match read {
        Ok(_) if answer.trim() == "yes" => Ok(()),
        _ => Err(Failure::new(
            EXIT_NOT_FOUND,
            "not confirmed (type \"yes\" to confirm); nothing revoked",
        )),
    }
}

// ---------------------------------------------------------------- gc

fn gc_options(batch_size: u32, retention_days: u32) -> GcOptions {
    GcOptions::default()
        .with_batch_size(batch_size)
        .with_revoked_retention(Duration::from_secs(u64::from(retention_days) * 86_400))
}

async fn collect(admin: &SessionAdmin, args: &GcArgs) -> Result<String, Cmd> {
    let options = gc_options(args.batch_size, args.retention_days);
    let draw = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    // The total is an estimate: the app may expire more rows meanwhile.
    let pending = admin.stats(&options).await?.collectable;
    let bar = ProgressBar::with_draw_target(Some(pending), draw);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} deleting expired and old revoked sessions: {pos}/{len} rows {wide_bar} {elapsed}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    let report = axum_user_sessions::gc(admin.store().as_ref(), &options, |deleted| {
        if bar.length().is_some_and(|len| deleted > len) {
            bar.set_length(deleted);
        }
        bar.set_position(deleted);
    })
    .await;
    bar.finish_and_clear();
    let report = report?;
    Ok(format!(
        "Deleted {} row{} in {} batch{} (expired sessions, and sessions revoked more than {} day{} ago).\n",
        report.deleted,
        plural(report.deleted),
        report.batches,
        if report.batches == 1 { "" } else { "es" },
        args.retention_days,
        plural(u64::from(args.retention_days)),
    ))
}

// ---------------------------------------------------------------- stats

async fn stats(admin: &SessionAdmin, args: &StatsArgs) -> Result<String, Cmd> {
    let options = gc_options(1_000, args.retention_days);
    let s = admin.stats(&options).await?;
    if args.json {
        let mut json = serde_json::to_string_pretty(&serde_json::json!({
            "active_sessions": s.active_sessions,
            "active_users": s.active_users,
            "collectable": s.collectable,
        }))
        .map_err(Error::from)?;
        json.push('\n');
        return Ok(json);
    }
    Ok(format!(
        "Active sessions:  {}\nActive users:     {}\nWaiting for gc:   {} (expired, or revoked more than {} day{} ago)\n",
        s.active_sessions,
        s.active_users,
        s.collectable,
        args.retention_days,
        plural(u64::from(args.retention_days)),
    ))
}

// ---------------------------------------------------------------- errors

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Errors opening the store: URL problems are usage errors (2), anything
/// else means the database could not be reached or connected to (3).
fn connect_failure(err: Error, url: &str) -> Failure {
    let shown = redacted_url(url);
    match err {
        Error::UnsupportedUrl => Failure::new(
            EXIT_USAGE,
            format!(
                "unsupported database URL {}: expected postgres://… or sqlite:…",
                quote_scheme(url)
            ),
        ),
        Error::Database(sqlx::Error::Configuration(e)) => Failure::new(
            EXIT_USAGE,
            format!("invalid database URL {shown}: {}", one_line(&e.to_string())),
        ),
        Error::Unavailable(e) | Error::Database(e) => Failure::new(
            EXIT_UNREACHABLE,
            format!(
                "cannot connect to the database {shown}: {}",
                sqlx_detail(&e)
            ),
        ),
        other => Failure::new(
            EXIT_UNREACHABLE,
            format!("cannot connect to the database {shown}: {}", chain(&other)),
        ),
    }
}

/// Errors from a command once connected.
fn store_failure(err: Error, url: &str) -> Failure {
    match err {
        Error::Unavailable(e) => Failure::new(
            EXIT_UNREACHABLE,
            format!(
                "the database {} is unreachable: {}",
                redacted_url(url),
                sqlx_detail(&e)
            ),
        ),
        Error::Database(e) if missing_table(&e) => Failure::new(
            EXIT_DATABASE,
            "the session tables do not exist: run `axum-user-sessions migrate` first",
        ),
        Error::Database(e) => Failure::new(
            EXIT_DATABASE,
            format!("database error: {}", sqlx_detail(&e)),
        ),
        other => Failure::new(EXIT_DATABASE, chain(&other)),
    }
}

/// Postgres `undefined_table` / `invalid_schema_name`, SQLite "no such table".
fn missing_table(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("42P01" | "3F000"))
                || db.message().contains("no such table")
        }
        _ => false,
    }
}

/// A short, human account of a sqlx error.
fn sqlx_detail(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::PoolTimedOut => {
            "timed out waiting for a connection (is the server running and reachable?)".into()
        }
        sqlx::Error::Io(e) => one_line(&e.to_string()),
        sqlx::Error::Database(db) => one_line(db.message()),
        other => one_line(&chain(other)),
    }
}

/// An error and its sources, `: `-separated, on one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    one_line(&text)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `"mysql://…"`: the scheme only, which is all an unsupported URL needs.
fn quote_scheme(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, _)) => format!("\"{scheme}://…\""),
        None => match url.split_once(':') {
            Some((scheme, _)) if !scheme.is_empty() && scheme.len() < 20 => {
                format!("\"{scheme}:…\"")
            }
            _ => "(no scheme)".into(),
        },
    }
}

/// The password of a URL, from its user info or a `password=` parameter.
fn passwords(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && let Some((_, password)) = userinfo.split_once(':')
        {
            found.push(password.to_owned());
        }
    }
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split('&') {
            if let Some(("password", value)) = pair.split_once('=') {
                found.push(value.to_owned());
            }
        }
    }
    let decoded: Vec<String> = found.iter().map(|p| percent_decode(p)).collect();
    found.extend(decoded);
    found.retain(|p| !p.is_empty());
    found.sort();
    found.dedup();
    // Longest first, so that no shorter form leaves part of a longer one.
    found.sort_by_key(|p| std::cmp::Reverse(p.len()));
    found
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes every form of the URL's password from a message.
fn redact(message: &str, url: &str) -> String {
    let mut text = message.to_owned();
    for p in passwords(url) {
        text = text.replace(&p, "****");
    }
    text
}

/// The URL with its password masked, for messages.
fn redacted_url(url: &str) -> String {
    redact(url, url)
}
