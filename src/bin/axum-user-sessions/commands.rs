//! The commands: migrate, list, revoke, gc, stats. Each returns what to
//! print on stdout, or why it failed.

use crate::args::{Command, GcArgs, ListArgs, RevokeArgs, StatsArgs};
use crate::failure::{EXIT_NOT_FOUND, EXIT_USAGE, Failure, connect_failure, store_failure};
use crate::output::{self, human_time, plural};
use axum_user_sessions::store::SessionProtocol;
use axum_user_sessions::{DeviceView, Error, GcOptions, RevokeReason, RevokedBy, SessionAdmin};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::time::Duration;

/// Runs a command and returns what to print on stdout.
pub(crate) async fn run(command: Command, url: &str) -> Result<String, Failure> {
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
        Command::Migrate => migrate(store.as_ref()).await,
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

async fn migrate(store: &dyn SessionProtocol) -> Result<String, Cmd> {
    let report = axum_user_sessions::migrate(store)
        .await
        .map_err(Error::from)?;
    let latest = report.latest_version.unwrap_or_default();
    let mut out = String::new();
    if report.newly_applied.is_empty() {
        out.push_str(&format!(
            "Nothing to do: the session tables are up to date (version {latest}, {} migrations applied).\n",
            report.total_applied
        ));
    } else {
        let n = report.newly_applied.len();
        out.push_str(&format!("Applied {n} migration{}:\n", plural(n as u64)));
        for m in &report.newly_applied {
            out.push_str(&format!("  {} {}\n", m.version, m.description));
        }
        out.push_str(&format!(
            "The session tables are up to date (version {latest}).\n"
        ));
    }
    Ok(out)
}

// ---------------------------------------------------------------- list

async fn list(admin: &SessionAdmin, args: &ListArgs) -> Result<String, Cmd> {
    let records = admin.list_user(&args.user).await?;
    let devices: Vec<DeviceView> = records.iter().map(|r| DeviceView::new(r, None)).collect();
    Ok(if args.json {
        output::devices_json(&devices)?
    } else {
        output::devices_table(&args.user, &devices)
    })
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
    let report = admin
        .gc_with_progress(&options, |deleted| {
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
        return Ok(output::json(&serde_json::json!({
            "active_sessions": s.active_sessions,
            "active_users": s.active_users,
            "collectable": s.collectable,
        }))?);
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
