//! Collecting the change log: below a horizon of transactions a feed saw
//! end, never by the rows' age.
//!
//! Each round deletes the rows of transactions below a horizon and reads
//! the `xmin` of its own snapshot (one statement, `COLLECT_LOG`): every
//! transaction below it had ended then. A round uses as its horizon the
//! newest `xmin` read at least `HORIZON_AGE` before: the rows it deletes
//! were committed (or rolled back) that long ago, and every feed has polled
//! since (feeds poll at least every 2 s, and a feed that has not heartbeat
//! for 20 s starts over empty). A transaction that runs for an hour holds
//! every horizon below it: its rows stay until it ends and the feeds saw
//! them. Garbage collection leaves the log alone (it has no horizon of its
//! own); with no cache running nothing writes the log, and the rows of the
//! last minute after the last cache stopped wait for the next one.

use super::super::PgStorage as PgStore;
use super::{Change, POLL_TIMEOUT};
use sqlx::Row as _;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// How often a feed collects the log: batches of 10,000 rows, more while
/// they come full (for at most `ROUND_BUDGET`).
const COLLECT_EVERY: Duration = Duration::from_secs(15);

/// How long ago every transaction below a horizon must have ended: longer
/// than a feed may go without a poll and keep its cache (its heartbeat's
/// 20 s, a poll's 5 s timeout, the 2 s between idle polls).
const HORIZON_AGE: Duration = Duration::from_secs(30);

/// Collects the log every `COLLECT_EVERY` until the feed's receiver is
/// dropped. A failed round deletes nothing and keeps its samples.
pub(super) async fn collect(store: PgStore, tx: UnboundedSender<Change>) {
    // `xmin`s read by earlier rounds, oldest first.
    let mut samples: VecDeque<(Instant, String)> = VecDeque::new();
    let mut horizon = "0".to_owned();
    loop {
        tokio::select! {
            () = tokio::time::sleep(COLLECT_EVERY) => {}
            () = tx.closed() => return,
        }
        let now = Instant::now();
        while let Some((at, _)) = samples.front()
            && now.duration_since(*at) >= HORIZON_AGE
        {
            if let Some((_, xmin)) = samples.pop_front() {
                horizon = xmin;
            }
        }
        // A full batch: the log may grow faster than one batch a round
        // (a busy app logs every write); more batches at once, within
        // the round's budget.
        let mut sampled = false;
        while let Some(collected) = round(&store, &horizon, &mut samples, now, &mut sampled).await
            && collected >= BATCH
            && now.elapsed() < ROUND_BUDGET
            && !tx.is_closed()
        {}
    }
}

/// The most log rows one statement deletes (`COLLECT_LOG`'s `LIMIT`).
const BATCH: i64 = 10_000;

/// How long a round may go on deleting full batches.
const ROUND_BUDGET: Duration = Duration::from_secs(5);

/// One batch below `horizon`: how many rows it deleted, `None` when it
/// failed. The first of a round (`sampled` still false) keeps the `xmin`
/// it read, taken at `now`.
async fn round(
    store: &PgStore, horizon: &str, samples: &mut VecDeque<(Instant, String)>, now: Instant,
    sampled: &mut bool,
) -> Option<i64> {
    let query = sqlx::query(super::super::statements::COLLECT_LOG).bind(horizon.to_owned());
    let run = store.one(query, |q, c| Box::pin(q.fetch_one(c)));
    match tokio::time::timeout(POLL_TIMEOUT, run).await {
        Ok(Ok(row)) => {
            let read = row
                .try_get::<String, _>("horizon")
                .and_then(|xmin| Ok((xmin, row.try_get::<i64, _>("collected")?)));
            match read {
                Ok((xmin, collected)) => {
                    if !std::mem::replace(sampled, true) {
                        samples.push_back((now, xmin));
                    }
                    Some(collected)
                }
                Err(err) => {
                    tracing::debug!(error = %err, "session cache: unexpected collection row");
                    None
                }
            }
        }
        Ok(Err(err)) => {
            tracing::debug!(error = %err, "session cache: collecting the change log failed");
            None
        }
        Err(_) => {
            tracing::debug!("session cache: collecting the change log timed out");
            None
        }
    }
}
