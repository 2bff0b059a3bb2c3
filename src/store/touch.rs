//! How a load records activity: [`Touch`], the request's time, IP and
//! channel, and when it is due.

use super::types::{SessionRecord, TokenState};
use std::net::IpAddr;
use time::OffsetDateTime;

/// How [`SessionProtocol::load`](super::SessionProtocol::load) refreshes `last_seen_at`.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Touch {
    /// The request's time.
    pub now: OffsetDateTime,
    /// Touch only when `last_seen_at <= stale_before` (the touch interval).
    pub stale_before: OffsetDateTime,
    /// The new idle deadline, `now + idle timeout`; capped by the store at
    /// `absolute_expires_at` and `tokens_expire_at`.
    pub idle_expires_at: OffsetDateTime,
    /// The request's client IP (anonymised when configured), which the
    /// touch records as [`last_ip`](SessionRecord::last_ip). `None` leaves
    /// it as it is.
    pub ip: Option<IpAddr>,
    /// A session last used from another IP than [`ip`](Self::ip) is also
    /// touched when `last_seen_at <= ip_stale_before` (a shorter interval
    /// than [`stale_before`](Self::stale_before)'s): the new IP rides with
    /// that touch, and a client whose IP flaps between two addresses costs
    /// at most one write per this interval, never one per request.
    pub ip_stale_before: OffsetDateTime,
    /// The channel the token came on: `Some(true)` an API client's
    /// (`Authorization: Bearer`), `Some(false)` a browser's (a cookie). A
    /// session of the other kind ([`api_client`](SessionRecord::api_client))
    /// is not touched: the request will be refused, and a refused request
    /// must leave no trace on the session. `None` touches either.
    pub api_client: Option<bool>,
}

impl Touch {
    /// A touch at `now` that is always due, pushing the idle deadline to
    /// `idle_expires_at`.
    pub fn new(now: OffsetDateTime, idle_expires_at: OffsetDateTime) -> Self {
        Self {
            now,
            stale_before: now,
            idle_expires_at,
            ip: None,
            ip_stale_before: now,
            api_client: None,
        }
    }

    /// The same touch, due only when the row was last seen at or before
    /// `stale_before` (the touch interval).
    pub fn with_stale_before(mut self, stale_before: OffsetDateTime) -> Self {
        self.stale_before = stale_before;
        self
    }

    /// The same touch, recording `ip` as where the session was last used
    /// from; an IP change makes it due after `ip_stale_before`.
    pub fn with_ip(mut self, ip: Option<IpAddr>, ip_stale_before: OffsetDateTime) -> Self {
        self.ip = ip;
        self.ip_stale_before = ip_stale_before;
        self
    }

    /// The same touch, due only for a session of the channel the token
    /// came on: an API client's (`api_client`) or a browser's.
    pub fn with_api_client(mut self, api_client: bool) -> Self {
        self.api_client = Some(api_client);
        self
    }

    /// Whether `record` was last used from another IP than this touch's.
    pub(crate) fn ip_changed(&self, record: &SessionRecord) -> bool {
        self.ip.is_some() && record.last_ip != self.ip
    }

    /// Whether a load by a `token` of `record` refreshes its activity: the
    /// token is current, the row may be used on the token's channel, and it
    /// was last seen before the touch interval (for stores that decide in
    /// Rust).
    pub(crate) fn is_due(&self, record: &SessionRecord, token: TokenState) -> bool {
        token == TokenState::Current
            && record.token_active(self.now)
            && self.api_client.is_none_or(|api| api == record.api_client)
            && (record.last_seen_at <= self.stale_before
                || (self.ip_changed(record) && record.last_seen_at <= self.ip_stale_before))
    }

    /// Records the activity in `record`: `last_seen_at` becomes now, and the
    /// idle deadline moves, capped at the absolute end; a new IP becomes
    /// `last_ip`, and its location is to be found again.
    pub(crate) fn apply(&self, record: &mut SessionRecord) {
        record.last_seen_at = self.now;
        record.expires_at = self.idle_expires_at.min(record.tokens_end());
        if self.ip_changed(record) {
            record.last_ip = self.ip;
            record.location = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use uuid::Uuid;

    #[test]
    fn a_new_ip_makes_the_touch_due_at_most_once_per_its_interval() {
        let now = OffsetDateTime::now_utc();
        let (home, cafe) = ("198.51.100.1".parse().ok(), "203.0.113.9".parse().ok());
        let mut r = SessionRecord::new(Uuid::nil(), now - Duration::seconds(3));
        (r.expires_at, r.absolute_expires_at) =
            (now + Duration::hours(1), now + Duration::hours(1));
        r.last_ip = home;
        let touch = |ip| {
            Touch::new(now, now + Duration::hours(1))
                .with_stale_before(now - Duration::seconds(60))
                .with_ip(ip, now - Duration::seconds(6))
        };
        let current = TokenState::Current;
        assert!(
            !touch(home).is_due(&r, current),
            "same IP, within the interval"
        );
        assert!(
            !touch(None).is_due(&r, current),
            "unknown IP changes nothing"
        );
        assert!(!touch(cafe).is_due(&r, current), "seen 3 s ago: not yet");
        r.last_seen_at = now - Duration::seconds(7);
        r.location = Some("Lisbon".into());
        assert!(touch(cafe).is_due(&r, current));
        touch(cafe).apply(&mut r);
        assert_eq!((r.last_ip, r.location.as_deref()), (cafe, None));
        // Flapping back at once: the next write waits for the interval.
        assert!(!touch(home).is_due(&r, current));
        assert!(!touch(home).is_due(&r, TokenState::Pending));
    }

    #[test]
    fn a_token_on_the_other_channel_is_not_due() {
        let now = OffsetDateTime::now_utc();
        let mut r = SessionRecord::new(Uuid::nil(), now - Duration::minutes(5));
        (r.expires_at, r.absolute_expires_at) =
            (now + Duration::hours(1), now + Duration::hours(1));
        let touch = Touch::new(now, now + Duration::hours(1));
        let current = TokenState::Current;
        assert!(touch.is_due(&r, current), "no channel: either");
        assert!(touch.with_api_client(false).is_due(&r, current));
        assert!(
            !touch.with_api_client(true).is_due(&r, current),
            "a browser's as bearer"
        );
        r.api_client = true;
        assert!(touch.with_api_client(true).is_due(&r, current));
        assert!(
            !touch.with_api_client(false).is_due(&r, current),
            "an API client's as cookie"
        );
    }
}
