//! How a request's load records activity: its [`Touch`], and whether the
//! touch waits until the checks after the load passed.

use super::Session;
use crate::store::Touch;
use time::OffsetDateTime;

impl Session {
    /// The request's touch: due once the touch interval passed since the
    /// last, or a tenth of it with a new IP.
    pub(super) fn touch(&self, now: OffsetDateTime) -> Touch {
        let cfg = self.config();
        let interval = cfg.effective_touch_interval();
        // A new IP is recorded by the next touch once a tenth of the touch
        // interval passed since the last one (6 s with the default 60 s):
        // an IP that flaps costs one write per that, not one per request.
        Touch::new(now, now + cfg.idle_timeout)
            .with_stale_before(now - interval)
            .with_ip(self.inner.client.ip(), now - interval / 10)
            .with_api_client(self.inner.bearer)
    }

    /// The touch of the load by token: none at all when a check after it
    /// may refuse the session (a refused request leaves no trace on it),
    /// the request's otherwise.
    pub(super) fn load_touch(&self, now: OffsetDateTime) -> Touch {
        if self.checks_before_touching() {
            // Never due: no row was last seen before the epoch, and no IP.
            Touch::new(now, now + self.config().idle_timeout)
                .with_stale_before(OffsetDateTime::UNIX_EPOCH)
        } else {
            self.touch(now)
        }
    }

    /// Whether a check after the load may refuse the session (a client
    /// binding; a cookie under 0.1's name, perhaps planted): then
    /// `accept_token` (`load.rs`) touches once the checks passed.
    pub(super) fn checks_before_touching(&self) -> bool {
        self.config().binding.may_refuse() || self.state().legacy.session
    }
}
