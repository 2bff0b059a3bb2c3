//! The Postgres change feed: caches learn what changed by polling the tables,
//! one statement every `poll_interval` on the store's pool (sent as the
//! store sends its own, `pooler.rs`).
//!
//! # What a write leaves behind
//!
//! While some cache's feed is registered on the database (below), triggers
//! (migrations `change_log`, `quiet_log`) log every update of a session row
//! (with its new `version`, which they count up whether or not they log),
//! every statement that changes token rows, and every deletion, into the
//! insert-only table `session_changes`, marked with the id of the
//! transaction that wrote them (`xid`, `pg_current_xact_id()`). Nothing else
//! happens in the writing transaction: no notification, no lock beyond its
//! own rows, and no mark in the session row itself, so a write that changes
//! no indexed column stays a HOT update (one heap tuple and one small log
//! row, not a new entry in every index of `sessions`); nothing serialises
//! commits. A new session logs nothing: no copy of it can predate it. With
//! no cache registered, a write logs nothing at all: it reads one sequence
//! and pays nothing more for coherence.
//!
//! # Registration: the heartbeat
//!
//! A feed registers by setting the sequence `feed_heartbeat` to the
//! database's clock (`HEARTBEAT`, milliseconds), first of all and then every
//! `HEARTBEAT_EVERY` (5 s); the triggers log while the value is less than 60 s
//! older than their transaction's start (`now()`, so a long transaction errs
//! towards logging). A sequence is read outside MVCC: every transaction
//! sees a `setval` as soon as it returns, one that began before it (even
//! `REPEATABLE READ`) included. A heartbeat that fails, or a last successful
//! one sent (on the app's clock) more than `HEARTBEAT_FOR` (20 s) ago, is a
//! feed failure: [`Change::Flush`], and the feed registers again. So a cache
//! serves at most 20 s + its lag (at most 20 s) after the heartbeat it
//! relies on, while writers log for 60 s after it.
//!
//! Going live: a writer that read the heartbeat just before the feed's
//! first `setval` logged nothing, and may still be running; a copy read
//! before it commits would be stale, and no poll would say so. Such a
//! writer already had a transaction id when its trigger ran (a `BEFORE
//! UPDATE` row trigger runs once the row is locked, which assigns one; the
//! statement triggers run after the rows changed), so it started before
//! the heartbeat returned: it is either over, or in progress at the feed's
//! next poll, whose snapshot is taken after the `setval` returned (it is
//! the next statement), and then in that snapshot's `xip`. The feed keeps
//! those ids (`Registration::waiting`) and sends no [`Change::CaughtUp`]
//! until every one of them is absent from a later poll's `xip` (below that
//! poll's `xmax`, so over). The cache serves only within `max_lag` of a
//! `CaughtUp`, and starts empty (or flushed): every copy it fills is read
//! after those writers ended. Every writer that started after the
//! heartbeat logs, and the polls below report it. A transaction in
//! progress anywhere in the cluster at registration (the snapshot does not
//! say which wrote sessions) delays going live until it ends: the cache is
//! bypassed meanwhile, which is slower but never stale.
//!
//! # Why no change is ever skipped
//!
//! Transaction ids are handed out in order, but transactions commit in any
//! order: a change marked 100 may become visible after one marked 105. So the
//! feed does not ask "what is marked above the last mark I saw", but "what did
//! my last read not see". Each poll is one statement, so one snapshot, and it
//! returns that snapshot too (`pg_current_snapshot()`): `xmax` (every id at or
//! above it had not started) and `xip` (the ids still in progress). Postgres
//! shows a transaction's rows to a snapshot exactly when its id is below
//! `xmax`, not in `xip`, and it committed. So the changes that the previous
//! snapshot did not see, and that this one may, are those marked with an id
//! at or above the previous `xmax` or in the previous `xip`: the next poll
//! asks for exactly those (two scans of one index). A transaction that was in
//! progress at one poll, however long it runs and whatever committed after
//! it, is in that poll's `xip` and is reported by the first poll that sees it
//! committed; one that started later is at or above `xmax`. A change is
//! reported once, and a long transaction elsewhere in the cluster costs
//! nothing (it is one id in `xip`, not a horizon held back).
//!
//! A row changed again is reported with its newest version only, which is
//! what caches compare with theirs. Log rows are kept for five minutes
//! (every running feed removes older ones, `COLLECT_LOG`, and so does
//! garbage collection, `GC_BATCH`), far longer than two
//! successful polls can be apart: a poll that does not answer within
//! `POLL_TIMEOUT` has failed, and the feed starts over.
//!
//! # Failures
//!
//! A poll that fails (or takes longer than `POLL_TIMEOUT`) sends
//! [`Change::Flush`]: the cache forgets everything and serves nothing from
//! memory until a later poll succeeds. The feed then starts again from a fresh
//! snapshot (the cache holds nothing older). It needs no dedicated
//! connection, no `LISTEN` and no session state, so it works behind PgBouncer
//! in transaction mode and on Postgres-compatible databases that have no
//! `LISTEN/NOTIFY` (but do have `pg_current_snapshot`).

use super::PgStorage as PgStore;
use crate::store::error::Error;
use crate::store::feed::{Change, ChangeFeed, FeedOptions};
use sqlx::Row as _;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use uuid::Uuid;

/// The change feed's poll: what changed in transactions that the previous
/// poll's snapshot did not see (an id at or above its `xmax` `$1`, or one of
/// its in-progress ids `$2`, `{…}`), as `kind` (0 a session row, with its
/// newest `version`; 1 a token row; 2 a deletion) and the session `id`, one
/// row per session and kind; and, last, this statement's own snapshot
/// (`kind` 3, `snapshot`: `xmin:xmax:xip,…`).
const FEED: &str = "
    SELECT kind, session_id AS id, max(version) AS version, NULL::text AS snapshot
      FROM axum_user_sessions.session_changes
     WHERE xid >= $1::text::xid8 OR xid = ANY ($2::text::xid8[])
     GROUP BY kind, session_id
    UNION ALL
    SELECT 3::int2, NULL, NULL, pg_current_snapshot()::text";

/// A poll that takes longer than this has failed.
const POLL_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest wait between two polls that failed.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How often a feed collects the old log: 2,000 rows a second at most, per
/// instance with a cache.
const COLLECT_EVERY: Duration = Duration::from_secs(5);

/// Starts polling through `store` and returns the feed. The tasks stop when
/// the feed's receiver is dropped.
pub(super) fn subscribe(store: PgStore, options: &FeedOptions) -> ChangeFeed {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(collect(store.clone(), tx.clone()));
    tokio::spawn(run(store, tx, options.poll_interval));
    ChangeFeed::new(rx)
}

/// Collects the old change log every `COLLECT_EVERY` until the feed's
/// receiver is dropped. A failure only leaves rows for the next round (or
/// garbage collection): the feed never reads rows that old.
async fn collect(store: PgStore, tx: UnboundedSender<Change>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(COLLECT_EVERY) => {}
            () = tx.closed() => return,
        }
        let query = sqlx::query(super::statements::COLLECT_LOG);
        let run = store.one(query, |q, c| Box::pin(q.execute(c)));
        match tokio::time::timeout(POLL_TIMEOUT, run).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "session cache: collecting the change log failed");
            }
            Err(_) => tracing::debug!("session cache: collecting the change log timed out"),
        }
    }
}

/// What a poll's snapshot did not see, as the next poll binds it: `xmax`,
/// and the ids in progress as an array literal.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Unseen {
    xmax: String,
    xip: String,
    /// The ids in progress, one by one.
    running: Vec<String>,
}

impl Unseen {
    /// Before the first poll: nothing to report (the cache starts empty).
    fn nothing() -> Self {
        Self {
            xmax: u64::MAX.to_string(),
            xip: "{}".into(),
            running: Vec::new(),
        }
    }

    /// From a snapshot's text form, `xmin:xmax:xip,xip,…`.
    fn after(snapshot: &str) -> Result<Self, Error> {
        let mut parts = snapshot.split(':');
        let (Some(_), Some(xmax), Some(xip), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::Corrupt("unexpected snapshot"));
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(xmax) || !(xip.is_empty() || xip.split(',').all(digits)) {
            return Err(Error::Corrupt("unexpected snapshot"));
        }
        Ok(Self {
            xmax: xmax.to_owned(),
            xip: format!("{{{xip}}}"),
            running: xip
                .split(',')
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
}

/// One poll: the changes `unseen` describes, and what this poll did not see.
async fn poll(store: &PgStore, unseen: &Unseen) -> Result<(Vec<Change>, Unseen), Error> {
    let query = sqlx::query(FEED).bind(&unseen.xmax).bind(&unseen.xip);
    let rows = store.one(query, |q, c| Box::pin(q.fetch_all(c))).await?;
    let mut changes = Vec::with_capacity(rows.len());
    let mut next = None;
    for row in &rows {
        let kind: i16 = row.try_get("kind")?;
        if kind == 3 {
            next = Some(Unseen::after(row.try_get("snapshot")?)?);
            continue;
        }
        let id: Uuid = row.try_get("id")?;
        let version = match kind {
            0 => Some(u64::try_from(row.try_get::<i64, _>("version")?).unwrap_or(0)),
            _ => None,
        };
        changes.push(Change::Session { id, version });
    }
    let next = next.ok_or(Error::Corrupt("no snapshot"))?;
    Ok((changes, next))
}

/// How often a feed renews its heartbeat (`HEARTBEAT`): the triggers log
/// for 60 seconds after each.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// A feed whose last successful heartbeat was sent longer ago than this has
/// failed: its cache stops serving, forgets everything, and the feed
/// registers again. With the cache's lag capped at 20 s
/// (`cache::config::LAG_CEILING`), a cache serves at most 40 s after the
/// heartbeat it relies on was sent, well within the 60 s the triggers log
/// for.
const HEARTBEAT_FOR: Duration = Duration::from_secs(20);

/// The feed's registration on the database: its heartbeat, and the
/// transactions that may have skipped logging before it.
#[derive(Debug)]
struct Registration {
    /// When the last successful heartbeat was sent (the app's clock).
    sent: Instant,
    /// The transactions in progress at the first poll after the first
    /// heartbeat (`None` before that poll) that are still in progress: the
    /// feed catches up once none is left.
    waiting: Option<Vec<String>>,
}

/// Sends the heartbeat (within `POLL_TIMEOUT`).
async fn heartbeat(store: &PgStore) -> Result<(), Error> {
    let query = sqlx::query(super::statements::HEARTBEAT);
    let run = store.one(query, |q, c| Box::pin(q.execute(c)));
    match tokio::time::timeout(POLL_TIMEOUT, run).await {
        Ok(done) => done.map(drop),
        Err(_) => Err(Error::Timeout(POLL_TIMEOUT)),
    }
}

/// One round: the heartbeat when it is due (first of all, before the first
/// poll), then a poll. Returns the changes, what the poll did not see, and
/// whether the feed is caught up (registered, and no transaction that may
/// have skipped logging is still running).
async fn round(
    store: &PgStore, unseen: &Unseen, registered: &mut Option<Registration>, at: Instant,
) -> Result<(Vec<Change>, Unseen, bool), Error> {
    if let Some(r) = registered
        && at.duration_since(r.sent) >= HEARTBEAT_FOR
    {
        return Err(Error::Timeout(HEARTBEAT_FOR));
    }
    let due = registered
        .as_ref()
        .is_none_or(|r| at.duration_since(r.sent) >= HEARTBEAT_EVERY);
    if due {
        heartbeat(store).await?;
    }
    let polled = tokio::time::timeout(POLL_TIMEOUT, poll(store, unseen)).await;
    let (changes, next) = polled.map_err(|_| Error::Timeout(POLL_TIMEOUT))??;
    let r = registered.get_or_insert(Registration {
        sent: at,
        waiting: None,
    });
    if due {
        r.sent = at;
    }
    let waiting = r.waiting.get_or_insert_with(|| next.running.clone());
    waiting.retain(|xid| next.running.contains(xid));
    let caught_up = waiting.is_empty() && r.sent.elapsed() < HEARTBEAT_FOR;
    Ok((changes, next, caught_up))
}

/// Polls until the receiving cache is gone.
async fn run(store: PgStore, tx: UnboundedSender<Change>, every: Duration) {
    let every = every.min(HEARTBEAT_EVERY);
    let mut unseen = Unseen::nothing();
    let mut registered = None;
    let mut backoff = every;
    let mut failing = false;
    loop {
        let at = Instant::now();
        match round(&store, &unseen, &mut registered, at).await {
            Ok((changes, next, caught_up)) => {
                for change in changes {
                    if tx.send(change).is_err() {
                        return;
                    }
                }
                if caught_up && tx.send(Change::CaughtUp { at }).is_err() {
                    return;
                }
                unseen = next;
                backoff = every;
                if failing {
                    failing = false;
                    tracing::info!("session cache: change feed is back");
                }
            }
            Err(err) => {
                if tx.send(Change::Flush).is_err() {
                    return;
                }
                if !failing {
                    failing = true;
                    tracing::warn!(
                        error = %err,
                        "session cache: change feed failed; cache bypassed until it is back"
                    );
                }
                // Start again from a fresh snapshot and a new registration:
                // the cache forgot all.
                unseen = Unseen::nothing();
                registered = None;
                backoff = (backoff * 2).clamp(Duration::from_millis(50), MAX_BACKOFF);
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = tx.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Unseen;

    #[test]
    fn snapshots_are_read_as_what_the_next_poll_asks_for() {
        let u = Unseen::after("100:105:100,102").unwrap();
        assert_eq!((u.xmax.as_str(), u.xip.as_str()), ("105", "{100,102}"));
        assert_eq!(u.running, ["100", "102"]);
        let u = Unseen::after("105:105:").unwrap();
        assert_eq!((u.xmax.as_str(), u.xip.as_str()), ("105", "{}"));
        assert!(u.running.is_empty());
        for bad in ["", "1:2", "1:2:3:4", "1:x:", "1:2:3,,4", "1:2:3;drop"] {
            assert!(Unseen::after(bad).is_err(), "{bad}");
        }
    }
}
