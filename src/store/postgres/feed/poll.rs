//! One poll of the change feed: the statement, what its snapshot did not
//! see ([`Unseen`]), and the heartbeat it read ([`Beat`]).

use super::super::PgStorage as PgStore;
use crate::store::error::Error;
use crate::store::feed::Change;
use sqlx::Row as _;
use std::time::Duration;
use uuid::Uuid;

/// The change feed's poll: what changed in transactions that the previous
/// poll's snapshot did not see (an id at or above its `xmax` `$1`, or one of
/// its in-progress ids `$2`, `{…}`), as `kind` (0 a session row, with its
/// newest `version`; 1 a token row; 2 a deletion; 4 a `TRUNCATE`, every
/// session) and the session `id`, one
/// row per session and kind; and, last, this statement's own snapshot
/// (`kind` 3, `snapshot`: `xmin:xmax:xip,…`) with the heartbeat (`version`),
/// the database's clock (`clock`, milliseconds), when the server started
/// (`started`, microseconds: another value is another server, or the same
/// restarted), the count of the log's gaps (`gaps`, `feed_gaps`: its
/// `last_value` and whether it was called, for a sequence restarted by
/// its owner hands out its start without moving `last_value`) and the
/// files of the feed's tables and sequences (`files`: a `TRUNCATE`, a
/// restore, a rewrite or a restart of a sequence gives it a new one).
const FEED: &str = "
    SELECT kind, session_id AS id, max(version) AS version, NULL::text AS snapshot,
           NULL::int8 AS clock, NULL::int8 AS started, NULL::int8 AS gaps, NULL::text AS files
      FROM axum_user_sessions.session_changes
     WHERE xid >= $1::text::xid8 OR xid = ANY ($2::text::xid8[])
     GROUP BY kind, session_id
    UNION ALL
    SELECT 3::int2, NULL, (SELECT last_value FROM axum_user_sessions.feed_heartbeat),
           pg_current_snapshot()::text, (extract(epoch FROM clock_timestamp()) * 1000)::int8,
           (extract(epoch FROM pg_postmaster_start_time()) * 1000000)::int8,
           (SELECT last_value % 4611686018427387904 * 2 + is_called::int
              FROM axum_user_sessions.feed_gaps),
           concat_ws(':', pg_relation_filenode('axum_user_sessions.sessions'),
                     pg_relation_filenode('axum_user_sessions.tokens'),
                     pg_relation_filenode('axum_user_sessions.session_changes'),
                     pg_relation_filenode('axum_user_sessions.feed_gaps'),
                     pg_relation_filenode('axum_user_sessions.feed_heartbeat'))";

/// What a poll's snapshot did not see, as the next poll binds it: `xmax`,
/// and the ids in progress as an array literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unseen {
    pub(super) xmax: String,
    pub(super) xip: String,
    /// The ids in progress, one by one.
    pub(super) running: Vec<String>,
}

impl Unseen {
    /// Before the first poll: nothing to report (the cache starts empty).
    pub(super) fn nothing() -> Self {
        Self {
            xmax: u64::MAX.to_string(),
            xip: "{}".into(),
            running: Vec::new(),
        }
    }

    /// Whether `next`, what a later poll did not see, goes back before
    /// this: its `xmax` is lower. Transaction ids only grow on one server
    /// (they are 64 bits, with no wraparound), so the database is not the
    /// one this was read from: a replica promoted after losing the last
    /// transactions, or a restored backup, which hands out again ids this
    /// feed took as seen.
    pub(super) fn went_back(&self, next: &Unseen) -> bool {
        let id = |x: &str| x.parse::<u64>().unwrap_or(u64::MAX);
        id(&next.xmax) < id(&self.xmax) && self.xmax != u64::MAX.to_string()
    }

    /// From a snapshot's text form, `xmin:xmax:xip,xip,…`.
    pub(super) fn after(snapshot: &str) -> Result<Self, Error> {
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

/// What a poll read of the heartbeat: its value and the database's clock
/// (milliseconds since the epoch), when the server started, and how many
/// beats found the log quiet.
#[derive(Debug, Clone)]
pub(super) struct Beat {
    value: i64,
    clock: i64,
    /// When the server started (microseconds since the epoch).
    pub(super) started: i64,
    /// How many beats found the heartbeat more than 40 s behind the clock
    /// (`feed_gaps`, read as `last_value` (modulo 2^62) `* 2 + is_called`: the first
    /// `nextval` after its owner restarted it moves only `is_called`):
    /// each follows a time in which writers may have skipped the log. A
    /// feed that sees it change has failed, whoever beat and whenever it
    /// polled.
    pub(super) gaps: i64,
    /// The files of the session tables, the change log and the feed's two
    /// sequences (`pg_relation_filenode`). A `TRUNCATE` of the log (an
    /// operator clearing it, with or without the sessions), a restored
    /// backup or a table rewritten gives a table a new file, and
    /// `ALTER SEQUENCE … RESTART` a sequence (a heartbeat restarted at the
    /// clock is not called: writers skip the log while its value looks
    /// fresh): a feed that sees them change has failed, for rows the log
    /// lost would never be reported.
    /// (A `VACUUM FULL` costs a flush, nothing more.)
    pub(super) files: String,
}

impl Beat {
    /// Whether writers are logging, with room to spare, and nobody set the
    /// heartbeat back below `ours`, the value this feed last beat (less a
    /// second: two feeds beating at once may each move it to its own
    /// reading of the clock). Otherwise the feed has failed: a write may
    /// have skipped the log, and no poll would say so.
    pub(super) fn check(&self, ours: i64) -> Result<(), Error> {
        if self.value < ours - 1_000 {
            return Err(Error::Corrupt("the change feed's heartbeat was set back"));
        }
        // The triggers log while the heartbeat is less than 60 s older than
        // their transaction's start: a heartbeat 40 s behind the clock
        // (beats come every 5 s) means the clock jumped, or it was set back.
        if self.value < self.clock - 40_000 {
            return Err(Error::Corrupt(
                "the change feed's heartbeat is behind the clock",
            ));
        }
        Ok(())
    }

    /// The database's clock at this poll (milliseconds since the epoch).
    pub(super) fn clock(&self) -> i64 {
        self.clock
    }

    /// Whether the database's clock moved less than `limit` since
    /// `beat_clock`, its reading when this feed last beat. The app's
    /// monotonic clock stops while its host is suspended, so a feed woken
    /// from a suspend thinks it beat a moment ago, while the other
    /// instances' collectors deleted log rows it never read: by the
    /// database's clock it has not beaten for that long, and it fails (to
    /// start over, as a feed whose beats stopped does).
    pub(super) fn lapsed(&self, beat_clock: i64, limit: Duration) -> Result<(), Error> {
        let millis = i64::try_from(limit.as_millis()).unwrap_or(i64::MAX);
        match self.clock.saturating_sub(beat_clock) >= millis {
            true => Err(Error::Timeout(limit)),
            false => Ok(()),
        }
    }
}

/// One poll: the changes `unseen` describes, what this poll did not see,
/// and the heartbeat it read.
pub(super) async fn poll(
    store: &PgStore, unseen: &Unseen,
) -> Result<(Vec<Change>, Unseen, Beat), Error> {
    let query = sqlx::query(FEED).bind(&unseen.xmax).bind(&unseen.xip);
    let rows = store.one(query, |q, c| Box::pin(q.fetch_all(c))).await?;
    let mut changes = Vec::with_capacity(rows.len());
    let mut next = None;
    for row in &rows {
        let kind: i16 = row.try_get("kind")?;
        if kind == 3 {
            let beat = Beat {
                value: row.try_get("version")?,
                clock: row.try_get("clock")?,
                started: row.try_get("started")?,
                gaps: row.try_get("gaps")?,
                files: row.try_get("files")?,
            };
            next = Some((Unseen::after(row.try_get("snapshot")?)?, beat));
            continue;
        }
        if kind == 4 {
            // A TRUNCATE: every session changed.
            changes.push(Change::Flush);
            continue;
        }
        let id: Uuid = row.try_get("id")?;
        let version = match kind {
            0 => Some(u64::try_from(row.try_get::<i64, _>("version")?).unwrap_or(0)),
            _ => None,
        };
        changes.push(Change::Session { id, version });
    }
    let (next, beat) = next.ok_or(Error::Corrupt("no snapshot"))?;
    Ok((changes, next, beat))
}

#[cfg(test)]
mod tests {
    use super::{Beat, Unseen};

    #[test]
    fn a_heartbeat_set_back_or_behind_the_clock_fails_the_feed() {
        let now = 1_000_000;
        let beat = |value| Beat {
            value,
            clock: now,
            started: 0,
            gaps: 1,
            files: String::new(),
        };
        assert!(beat(now).check(now).is_ok());
        // Another feed beat at once, a few milliseconds behind: not a set-back.
        assert!(beat(now - 5).check(now).is_ok());
        assert!(beat(0).check(now).is_err(), "set back");
        assert!(beat(now - 2_000).check(now).is_err(), "set back");
        // A clock 45 s ahead of the last beat (it jumped), even one of ours.
        assert!(
            beat(now - 45_000).check(now - 45_000).is_err(),
            "clock jump"
        );
        assert!(beat(now - 30_000).check(now - 30_000).is_ok());
    }

    #[test]
    fn a_feed_whose_last_beat_is_old_by_the_databases_clock_fails() {
        let limit = std::time::Duration::from_secs(20);
        let at = |clock| Beat {
            value: clock,
            clock,
            started: 0,
            gaps: 1,
            files: String::new(),
        };
        let beat = 1_000_000;
        assert!(at(beat + 5_000).lapsed(beat, limit).is_ok());
        assert!(at(beat + 19_999).lapsed(beat, limit).is_ok());
        // Woken from a suspend of a minute: the app's clock saw none of it.
        assert!(at(beat + 60_000).lapsed(beat, limit).is_err());
        assert!(at(beat + 20_000).lapsed(beat, limit).is_err());
    }

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

    #[test]
    fn a_snapshot_behind_the_last_is_another_database() {
        let last = Unseen::after("100:105:").unwrap();
        assert!(!last.went_back(&Unseen::after("105:105:").unwrap()));
        assert!(!last.went_back(&Unseen::after("104:110:104").unwrap()));
        // A promoted replica that lost the ids from 103 on.
        assert!(last.went_back(&Unseen::after("103:103:").unwrap()));
        // Before the first poll nothing was seen.
        assert!(!Unseen::nothing().went_back(&Unseen::after("1:2:").unwrap()));
    }
}
