//! `axum-user-sessions`: the command-line tool for a session store.
//!
//! Runs the embedded migrations, lists a user's sessions, revokes sessions
//! (one, a user's, or everyone's), collects garbage and shows counts, on the
//! Postgres or SQLite database or the Redis node or Cluster named by
//! `DATABASE_URL` (or `--database-url`).
//!
//! ```text
//! cargo run --features cli --bin axum-user-sessions -- list --user 42
//! ```
//!
//! It never prints a token, a token hash or the database password.
//!
//! Inside: `args.rs` (the command line), `commands.rs` (what each command
//! does), `output.rs` (tables, times, JSON), `failure.rs` (exit codes and
//! error messages).

mod args;
mod commands;
mod failure;
mod output;

use args::Cli;
use clap::Parser as _;
use failure::{EXIT_DATABASE, EXIT_OK, EXIT_USAGE, Failure, fail};
use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(url) = cli.database_url.clone().filter(|u| !u.trim().is_empty()) else {
        return fail(
            &Failure::new(
                EXIT_USAGE,
                "no database URL: set DATABASE_URL or pass --database-url \
                 (postgres://…, sqlite:… or redis://…)",
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
    match runtime.block_on(commands::run(cli.command, &url)) {
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
