//! The command line: clap's view of the arguments.

use clap::{ArgGroup, Args, Parser, Subcommand};
use uuid::Uuid;

const LONG_ABOUT: &str = "\
Operates the session store of axum-user-sessions: runs its migrations, lists \
and revokes sessions, deletes expired ones and shows counts.

The database is named by DATABASE_URL (or --database-url): postgres://… or \
postgresql://… for Postgres, sqlite:… for SQLite, redis://host:port for a \
Redis node and redis://host:port,redis://host:port,… (some of its nodes) for a \
Redis Cluster. Tokens, token hashes and the database password are never \
printed.

Exit codes:
  0  success
  1  not found (e.g. `revoke --session` with an unknown, expired or already
     revoked session), or the confirmation of `revoke --all` was declined
  2  usage error: bad arguments, a missing, unsupported or malformed database
     URL, or `revoke --all` with no terminal to confirm on and no --yes
  3  the database could not be reached or connected to, or rolled the
     command's transaction back to let another go on (a deadlock): run it
     again
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
pub(crate) struct Cli {
    /// The database: postgres://…, sqlite:… or redis://…
    #[arg(
        long,
        env = "DATABASE_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) database_url: Option<String>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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
pub(crate) struct ListArgs {
    /// The user whose sessions to list.
    #[arg(long, value_name = "ID")]
    pub(crate) user: String,
    /// Prints a JSON array instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("target")
        .required(true)
        .args(["session", "user", "all"])
))]
pub(crate) struct RevokeArgs {
    /// Revokes one session, by its public id.
    #[arg(long, value_name = "UUID")]
    pub(crate) session: Option<Uuid>,
    /// Revokes every live session of this user.
    #[arg(long, value_name = "ID")]
    pub(crate) user: Option<String>,
    /// With --user: keeps this session (e.g. the admin's own).
    #[arg(long, value_name = "UUID", requires = "user")]
    pub(crate) keep: Option<Uuid>,
    /// Revokes every live session of every user (asks for confirmation).
    #[arg(long)]
    pub(crate) all: bool,
    /// Confirms --all without asking.
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// Why, recorded with the revocation.
    #[arg(long, value_name = "TEXT", default_value = "admin")]
    pub(crate) reason: String,
    /// Who, recorded with the revocation.
    #[arg(long, value_name = "TEXT", default_value = "cli")]
    pub(crate) by: String,
}

#[derive(Debug, Args)]
pub(crate) struct GcArgs {
    /// Rows deleted per statement (one short transaction each).
    #[arg(long, value_name = "N", default_value_t = 1_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) batch_size: u32,
    /// Days revoked sessions are kept for audit before they are deleted.
    #[arg(long, value_name = "D", default_value_t = 30)]
    pub(crate) retention_days: u32,
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// Days revoked sessions are kept (counts which rows `gc` would delete).
    #[arg(long, value_name = "D", default_value_t = 30)]
    pub(crate) retention_days: u32,
    /// Prints a JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}
