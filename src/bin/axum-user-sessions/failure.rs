//! How the tool fails: exit codes, one-line error messages, and the
//! database password kept out of them.

use axum_user_sessions::Error;
use axum_user_sessions::store::Error as StoreError;
use std::io::Write as _;
use std::process::ExitCode;

/// Success.
pub(crate) const EXIT_OK: u8 = 0;
/// Not found (no such live session), or a confirmation that was declined.
pub(crate) const EXIT_NOT_FOUND: u8 = 1;
/// Usage error: bad arguments, a missing, unsupported or malformed database
/// URL, `revoke --all` without a confirmation.
pub(crate) const EXIT_USAGE: u8 = 2;
/// The database could not be reached or connected to, or rolled the
/// command back (a deadlock): worth running again.
pub(crate) const EXIT_UNREACHABLE: u8 = 3;
/// Any other database error (e.g. the tables are missing: run `migrate`).
pub(crate) const EXIT_DATABASE: u8 = 4;

/// Why the tool stopped: an exit code and a one-line message for stderr.
#[derive(Debug)]
pub(crate) struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Prints `error: …` (without the URL's password) and returns its exit code.
pub(crate) fn fail(failure: &Failure, url: &str) -> ExitCode {
    let message = redact(&failure.message, url);
    let _ = writeln!(std::io::stderr(), "error: {message}");
    ExitCode::from(failure.code)
}

/// Errors opening the store: URL problems are usage errors (2), anything
/// else means the database could not be reached or connected to (3).
pub(crate) fn connect_failure(err: Error, url: &str) -> Failure {
    let shown = redacted_url(url);
    match err.store_error() {
        Some(StoreError::UnsupportedUrl) => Failure::new(
            EXIT_USAGE,
            format!(
                "unsupported database URL {}: expected postgres://…, sqlite:… or redis://…",
                quote_scheme(url)
            ),
        ),
        // A URL the Redis client cannot read.
        Some(StoreError::Misconfigured { .. }) => Failure::new(
            EXIT_USAGE,
            format!("invalid database URL {shown}: {}", chain(&err)),
        ),
        Some(e) => match driver_error(e) {
            Some(sqlx::Error::Configuration(e)) => Failure::new(
                EXIT_USAGE,
                format!("invalid database URL {shown}: {}", one_line(&e.to_string())),
            ),
            Some(e) => Failure::new(
                EXIT_UNREACHABLE,
                format!("cannot connect to the database {shown}: {}", sqlx_detail(e)),
            ),
            None => Failure::new(
                EXIT_UNREACHABLE,
                format!("cannot connect to the database {shown}: {}", chain(&err)),
            ),
        },
        None => Failure::new(
            EXIT_UNREACHABLE,
            format!("cannot connect to the database {shown}: {}", chain(&err)),
        ),
    }
}

/// Errors from a command once connected.
pub(crate) fn store_failure(err: Error, url: &str) -> Failure {
    let detail = |e: &StoreError| driver_error(e).map_or_else(|| chain(e), sqlx_detail);
    match err.store_error() {
        Some(e) if e.is_rolled_back() => Failure::new(
            EXIT_UNREACHABLE,
            format!(
                "the database {} rolled the command's transaction back to let another \
                 go on ({}): run it again",
                redacted_url(url),
                detail(e)
            ),
        ),
        Some(e) if e.is_unavailable() => Failure::new(
            EXIT_UNREACHABLE,
            format!(
                "the database {} is unreachable: {}",
                redacted_url(url),
                detail(e)
            ),
        ),
        Some(StoreError::MissingSchema(_)) => Failure::new(
            EXIT_DATABASE,
            "the session tables do not exist: run `axum-user-sessions migrate` first",
        ),
        Some(e) => Failure::new(EXIT_DATABASE, format!("database error: {}", detail(e))),
        None => Failure::new(EXIT_DATABASE, chain(&err)),
    }
}

/// The sqlx error a store error carries as its source, if any.
fn driver_error(err: &StoreError) -> Option<&sqlx::Error> {
    std::error::Error::source(err)?.downcast_ref::<sqlx::Error>()
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
