//! When a request presented its credentials: the instant their grace
//! windows are judged at.

use super::Session;
use time::OffsetDateTime;

/// The longest a request may wait between its arrival and its load and
/// still have its credentials judged as of its arrival.
const HELD_AT_MOST: time::Duration = time::Duration::seconds(30);

impl Session {
    /// When the request presented its credentials, for their grace
    /// windows: its arrival, so that one held before it read its session (a
    /// slow middleware) is judged as the request it was. Past
    /// [`HELD_AT_MOST`], `now`: a request held longer (perhaps on purpose,
    /// with a stolen token) is granted nothing by its grace, but is not
    /// taken for a replay either.
    pub(super) fn presented_at(&self, now: OffsetDateTime) -> OffsetDateTime {
        if now - self.inner.arrived <= HELD_AT_MOST {
            self.inner.arrived
        } else {
            now
        }
    }
}
