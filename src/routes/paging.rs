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

/// A cursor a client sent back.
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
        .map_err(|_| invalid())?;
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
        for bad in ["", "!!", "bm90IGEgY3Vyc29y", &URL_SAFE_NO_PAD.encode("1.x")] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
        assert!(checked_limit(0).is_err() && checked_limit(201).is_err());
        assert_eq!(checked_limit(200).ok(), Some(200));
    }
}
