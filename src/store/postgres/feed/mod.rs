//! The Postgres change feed: caches learn what changed by polling the tables,
//! one statement per poll on the store's pool (sent as the store sends its
//! own, `pooler.rs`). A feed polls every `poll_interval` while its cache
//! asks ([`ChangeFeed::demand`]: it serves requests and its view is getting
//! old) and for `BUSY_FOR` (1 s) after, and otherwise every `IDLE_POLL`
//! (2 s): an idle
//! instance sends a poll every 2 s, a heartbeat every 5 s and a collection
//! of the log every 15 s, about 0.8 statements a second.
//!
//! # What a write leaves behind
//!
//! While some cache's feed is registered on the database (below), triggers
//! (migrations `change_log`, `quiet_log`) log every update of a session row
//! (with its new `version`, which the crate's data write counts itself and
//! the trigger counts for every other update, logging or not; with no cache
//! registered, the crate's data write runs no trigger at all: migration
//! `quiet_writes`),
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
//! A feed registers by moving the sequence `feed_heartbeat` forward to the
//! database's clock (`HEARTBEAT`, the function `feed_beat()`, which runs as
//! the owner and never moves it back; milliseconds), first of all and then every
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
//! Every poll also reads the heartbeat and the database's clock, and the
//! feed fails (below) when the value is lower than the one it last beat, or
//! more than 40 s behind the clock: someone set it back (only the owner
//! may: migration `forward_heartbeat` takes UPDATE on the sequence from
//! every other role), or the clock jumped forward, and a write may have
//! skipped the log. Only a poll inside that gap would see it: the next beat,
//! this feed's or another instance's, moves the heartbeat on. So the beat
//! that finds the heartbeat more than 40 s behind the clock also counts one
//! more in the sequence `feed_gaps` (migration `feed_gaps`), which every
//! poll reads: a feed fails when the count differs from the one it read
//! when it registered, whoever beat and whenever it polled. In a running
//! fleet the count never moves; after a jump, a cache serves at most a beat
//! (5 s) and a poll later. Not seen: a clock that jumps forward by a minute
//! and back again between two beats (5 s), if a write skipped the log in
//! between.
//!
//! Going live: a writer that read the heartbeat just before the feed's
//! first beat logged nothing, and may still be running; a copy read before
//! it commits would be stale, and no poll would say so. Such a writer
//! already had a transaction id when its trigger ran (a `BEFORE UPDATE` row
//! trigger runs once the row is locked, which assigns one; the statement
//! triggers run after the rows changed) and holds a `ROW EXCLUSIVE` lock on
//! `sessions` or `tokens` until it ends (taken when its statement started).
//! So it is either over when the beat returns, or among the transactions
//! `SESSION_WRITERS` names (read after the beat: in progress, holding such
//! a lock). The feed keeps those ids (`Registration::waiting`) and sends no
//! [`Change::CaughtUp`] until every one of them is absent from a later
//! poll's `xip` (below that poll's `xmax`, so over). The cache serves only
//! within `max_lag` of a `CaughtUp`, and starts empty (or flushed): every
//! copy it fills is read after those writers ended. Every writer that
//! started after the heartbeat logs, and the polls below report it. A
//! transaction that writes other tables, however long, does not delay a
//! starting cache.
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
//! what caches compare with theirs. Every running feed collects the log
//! (`collect.rs`): only rows of transactions that had all ended at least
//! `HORIZON_AGE` (30 s) before, which every feed has polled since (a feed
//! that has not heartbeat for 20 s starts over); never by the rows' age, so
//! a transaction that runs for an hour keeps its rows until feeds saw them.
//!
//! # Failures
//!
//! A poll also reads when the server started, and its snapshot's `xmax`:
//! a server that started at another time than the one the feed registered
//! on (a failover, a restart), or an `xmax` below the last poll's (a
//! promoted replica that lost the last transactions, a restored backup,
//! which hand out again ids and versions the feed took as seen), fails the
//! feed as below, even when no poll failed (the pool had already replaced
//! its connections).
//!
//! A poll that fails (or takes longer than `POLL_TIMEOUT`) sends
//! [`Change::Flush`]: the cache forgets everything and serves nothing from
//! memory until a later poll succeeds. The feed then starts again from a fresh
//! snapshot (the cache holds nothing older). It needs no dedicated
//! connection, no `LISTEN` and no session state, so it works behind PgBouncer
//! in transaction mode and on Postgres-compatible databases that have no
//! `LISTEN/NOTIFY` (but do have `pg_current_snapshot`).

mod collect;
mod poll;

use super::PgStorage as PgStore;
use crate::store::error::Error;
use crate::store::feed::{Change, ChangeFeed, FeedOptions};
use poll::{Unseen, poll};
use sqlx::Row as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedSender;

/// A poll that takes longer than this has failed.
const POLL_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest wait between two polls that failed.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How often a feed polls when its cache does not ask (an idle instance).
const IDLE_POLL: Duration = Duration::from_secs(2);

/// How long a feed keeps polling every `poll_interval` after its cache last
/// asked: an instance that serves a request a second or more stays warm.
const BUSY_FOR: Duration = Duration::from_secs(1);

/// When a busy feed starts its next poll, the last one having started at
/// `at` and taken `took`: `every` after it, less twice `took` (at most a
/// quarter of `every`). The cache serves a view until it is `max_lag` old,
/// counted from the start of the poll that made it, and `max_lag` is
/// `poll_interval` by default: a poll started `every` after the last would
/// land `took` after the view expired, and every read of that moment would
/// wait for it (measured: about 1% of a busy instance's reads, 1.7 ms each,
/// all of its connections at once). Started this much earlier, it usually
/// lands in time, for a few more polls (`took` is a few ms against 40).
fn next_poll(at: Instant, every: Duration, took: Duration) -> Instant {
    at + every - took.saturating_mul(2).min(every / 4)
}

/// Starts polling through `store` and returns the feed. The tasks stop when
/// the feed's receiver is dropped.
pub(super) fn subscribe(store: PgStore, options: &FeedOptions) -> ChangeFeed {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(collect::collect(store.clone(), tx.clone()));
    let demand = Arc::new(Notify::new());
    tokio::spawn(run(store, tx, options.poll_interval, demand.clone()));
    ChangeFeed::new(rx).with_demand(demand)
}

/// How often a feed renews its heartbeat (`HEARTBEAT`): the triggers log
/// for 60 seconds after each.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// A feed whose last successful heartbeat was sent longer ago than this (by
/// the app's clock, or by the database's: the first stops while the host is
/// suspended) has failed: its cache stops serving, forgets everything, and the feed
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
    /// The value it left in `feed_heartbeat`.
    beat: i64,
    /// The database's clock (milliseconds) read by the poll of that round:
    /// what tells a suspend of the host, which `sent` does not count.
    beat_clock: i64,
    /// When the server it registered on started (`Beat::started`).
    server: i64,
    /// The count of the log's gaps when it registered (`Beat::gaps`).
    gaps: i64,
    /// The files of the feed's tables when it registered (`Beat::files`).
    files: String,
    /// The transactions writing the session tables when the feed
    /// registered (`SESSION_WRITERS`, read after the first heartbeat) that
    /// were still in progress at the last poll: the feed catches up once
    /// none is left.
    waiting: Vec<String>,
}

/// Sends the heartbeat (within `POLL_TIMEOUT`): the value it left.
async fn heartbeat(store: &PgStore) -> Result<i64, Error> {
    let query = sqlx::query(super::statements::HEARTBEAT);
    let run = store.one(query, |q, c| Box::pin(q.fetch_one(c)));
    match tokio::time::timeout(POLL_TIMEOUT, run).await {
        Ok(row) => Ok(row?.try_get(0)?),
        Err(_) => Err(Error::Timeout(POLL_TIMEOUT)),
    }
}

/// The transactions writing the session tables now (after the first
/// heartbeat returned): a writer that skipped the log is one of them, or
/// over.
async fn session_writers(store: &PgStore) -> Result<Vec<String>, Error> {
    let query = sqlx::query(super::statements::SESSION_WRITERS);
    let run = store.one(query, |q, c| Box::pin(q.fetch_one(c)));
    match tokio::time::timeout(POLL_TIMEOUT, run).await {
        Ok(row) => Ok(row?.try_get(0)?),
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
    let beat = match due {
        true => Some(heartbeat(store).await?),
        false => None,
    };
    let polled = tokio::time::timeout(POLL_TIMEOUT, poll(store, unseen)).await;
    let (changes, next, read) = polled.map_err(|_| Error::Timeout(POLL_TIMEOUT))??;
    let r = match registered {
        Some(r) => r,
        None => registered.insert(Registration {
            sent: at,
            beat: i64::MIN,
            beat_clock: read.clock(),
            server: read.started,
            gaps: read.gaps,
            files: read.files.clone(),
            waiting: session_writers(store).await?,
        }),
    };
    // Against the clock of the last beat before this round's.
    read.lapsed(r.beat_clock, HEARTBEAT_FOR)?;
    if let Some(beat) = beat {
        r.sent = at;
        r.beat = beat;
        r.beat_clock = read.clock();
    }
    read.check(r.beat)?;
    if read.gaps != r.gaps {
        // A beat found the log quiet since this feed registered (a clock
        // that jumped, a heartbeat set back), and moved the heartbeat on:
        // a write may have skipped the log, which no check of this poll's
        // heartbeat would show.
        return Err(Error::Corrupt("the change log had a gap"));
    }
    if read.files != r.files {
        // The log was truncated (with or without the sessions), a backup
        // restored, or a table rewritten: rows the log lost would never
        // be reported.
        return Err(Error::Corrupt(
            "the session tables or the change log were truncated, restored or rewritten",
        ));
    }
    if read.started != r.server || unseen.went_back(&next) {
        // Another server answers (a failover, a restored backup), or this
        // one restarted: what the last polls took as seen may be lost or
        // handed out again, and versions with it.
        return Err(Error::Corrupt(
            "the database failed over, restarted or went back in time",
        ));
    }
    r.waiting.retain(|xid| next.running.contains(xid));
    let caught_up = r.waiting.is_empty() && r.sent.elapsed() < HEARTBEAT_FOR;
    Ok((changes, next, caught_up))
}

/// Polls until the receiving cache is gone: when the cache asks (`demand`),
/// at most once `every`, and every `IDLE_POLL` otherwise.
async fn run(store: PgStore, tx: UnboundedSender<Change>, every: Duration, demand: Arc<Notify>) {
    let every = every.min(HEARTBEAT_EVERY);
    let mut unseen = Unseen::nothing();
    let mut registered = None;
    let mut backoff = every;
    let mut failing = false;
    let mut asked: Option<Instant> = None;
    loop {
        let at = Instant::now();
        let result = round(&store, &unseen, &mut registered, at).await;
        let next_at = next_poll(at, every, at.elapsed());
        match result {
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
        if failing {
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = tx.closed() => return,
            }
            continue;
        }
        // A cache that asked within `BUSY_FOR` keeps its feed polling every
        // `every`; an idle one every `IDLE_POLL`, or when it asks again.
        let busy = asked.is_some_and(|t| t.elapsed() < BUSY_FOR);
        let wake = if busy { next_at } else { at + IDLE_POLL };
        tokio::select! {
            () = tokio::time::sleep_until(wake.into()) => {}
            () = demand.notified() => asked = Some(Instant::now()),
            () = tx.closed() => return,
        }
        // Asked at once: the next poll still waits for its time.
        tokio::time::sleep_until(next_at.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::next_poll;
    use std::time::{Duration, Instant};

    #[test]
    fn a_busy_feed_starts_early_enough_for_its_poll_to_land_before_the_view_expires() {
        let (at, every) = (Instant::now(), Duration::from_millis(40));
        let ms = Duration::from_millis;
        assert_eq!(next_poll(at, every, ms(0)), at + every);
        assert_eq!(next_poll(at, every, ms(2)), at + ms(36));
        // A slow poll moves the next one at most a quarter earlier.
        assert_eq!(next_poll(at, every, ms(30)), at + ms(30));
        // A poll as slow as the last lands before the view (valid for
        // `every` from the last start, the default `max_lag`) expires.
        for took in [ms(1), ms(3), ms(5)] {
            assert!(next_poll(at, every, took) + took < at + every);
        }
    }
}
