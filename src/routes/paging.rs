//! Pages of the list: `?limit=&cursor=`. The cursor is opaque to clients:
//! the `(last_seen_at, id)` of a page's last session (a keyset), so a page
//! never repeats a session of an earlier page, and needs no server state.

use super::reply::Refusal;
use crate::store::SessionRecord;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;
use uuid::Uuid;

/// The most sessions on one page.
pub(super) const MAX_LIMIT: u32 = 200;

/// How many sessions the HTML page shows at once.
pub(super) const PAGE_SIZE: u32 = 50;

/// Where a page starts: after this `(last_seen_at, id)`.
pub(super) type After = (OffsetDateTime, Uuid);

/// The cursor that continues after `last`.
pub(super) fn cursor_after(last: &SessionRecord) -> String {
    let micros = last.last_seen_at.unix_timestamp_nanos() / 1000;
    URL_SAFE_NO_PAD.encode(format!("{micros}.{}", last.id.simple()))
}

/// The earliest time a cursor may hold: the Unix epoch. No session was last
/// seen before it, and every store can hold it (Postgres refuses times
/// before 4713 BC, which `time` can represent down to the year -9999).
const EARLIEST: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

/// A cursor a client sent back. Its time must lie between [`EARLIEST`] and
/// the year 9999, the range every store can compare against, so an edited
/// cursor is refused alike on every store rather than failing in one.
pub(super) fn parse_cursor(cursor: &str) -> Result<After, Refusal> {
    let invalid = || {
        Refusal::Invalid(
            "invalid_cursor",
            "This cursor is not one the list gave; start again without it.",
        )
    };
    let text = URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid)?;
    let (micros, id) = text.split_once('.').ok_or_else(invalid)?;
    let micros: i128 = micros.parse().map_err(|_| invalid())?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(micros.saturating_mul(1000))
        .ok()
        .filter(|at| *at >= EARLIEST)
        .ok_or_else(invalid)?;
    let id = Uuid::try_parse(id).map_err(|_| invalid())?;
    Ok((at, id))
}

/// A requested page size, checked: 1 to [`MAX_LIMIT`].
pub(super) fn checked_limit(limit: u32) -> Result<u32, Refusal> {
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(Refusal::Invalid(
            "invalid_limit",
            "limit must be between 1 and 200.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_to_the_microsecond() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_764_000_000_123_456_789).unwrap();
        let r = SessionRecord::new(Uuid::new_v4(), at);
        let (t, id) = parse_cursor(&cursor_after(&r)).ok().unwrap();
        assert_eq!(id, r.id);
        assert_eq!(t.unix_timestamp_nanos(), 1_764_000_000_123_456_000);
        let id = Uuid::nil().simple();
        for bad in [
            "",
            "!!",
            "bm90IGEgY3Vyc29y",
            &URL_SAFE_NO_PAD.encode("1.x"),
            &URL_SAFE_NO_PAD.encode(format!("-377705116800000000.{id}")),
            &URL_SAFE_NO_PAD.encode(format!("-1.{id}")),
            &URL_SAFE_NO_PAD.encode(format!("253402300800000000.{id}")),
        ] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
        assert!(parse_cursor(&URL_SAFE_NO_PAD.encode(format!("0.{id}"))).is_ok());
        assert!(checked_limit(0).is_err() && checked_limit(201).is_err());
        assert_eq!(checked_limit(200).ok(), Some(200));
    }
}
