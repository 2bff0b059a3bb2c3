//! [`RedisOptions`]: how a [`RedisStore`](super::RedisStore) keeps
//! sessions. Each setter is derived from its field, with the field's docs.

use derive_setters::Setters;
use std::time::Duration;

/// The longest [`ended_retention`](RedisOptions::ended_retention) the store
/// keeps to: 100 years (so that no instant it computes overflows).
pub(super) const MAX_RETENTION: Duration = Duration::from_secs(100 * 365 * 86_400);

/// How a [`RedisStore`](super::RedisStore) keeps sessions: its key prefix,
/// how long ended sessions stay listed, and how many replicas a revocation
/// waits for.
///
/// ```
/// use axum_user_sessions::store::RedisOptions;
/// use std::time::Duration;
///
/// let options = RedisOptions::default()
///     .prefix("myapp-sessions")
///     .ended_retention(Duration::from_secs(7 * 86_400))
///     .min_replicas(1)
///     .wait_timeout(Duration::from_millis(500));
/// ```
#[derive(Debug, Clone, Setters)]
pub struct RedisOptions {
    /// The prefix of every key (default `aus`): ASCII letters, digits, `_`,
    /// `-`, `.` and `:`. Two stores with different prefixes on one server
    /// do not see each other.
    #[setters(into)]
    pub(super) prefix: String,
    /// How long a session's keys outlive its hard end, for the "recently
    /// signed out" list (default 30 days, the garbage collector's retention;
    /// at most 100 years: a longer one counts as that).
    #[setters(rename = "ended_retention")]
    pub(super) retention: Duration,
    /// How many replicas must have a revocation, sign-in or rotation before
    /// it is acknowledged (`WAIT`). Default, decided when the store
    /// connects: 1 when the node has a replica, or when any master of the
    /// Cluster has one (a master without one then answers those calls
    /// `503` until it gets a replica or this is set to 0); 0 otherwise (a
    /// node without replicas loses what it acknowledged if it fails).
    /// Above 0, the store opens 4 more connections (to each node of a
    /// Cluster) for those calls, so that their `WAIT` holds up no other.
    #[setters(strip_option)]
    pub(super) min_replicas: Option<u32>,
    /// How long a write waits for its replicas before failing as
    /// unavailable (default 1 s).
    pub(super) wait_timeout: Duration,
    /// How long the client waits for any reply (default 3 s); a write that
    /// waits for replicas may take [`wait_timeout`](Self::wait_timeout())
    /// longer.
    pub(super) response_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: "aus".into(),
            retention: Duration::from_secs(30 * 86_400),
            min_replicas: None,
            wait_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(3),
        }
    }
}

impl RedisOptions {
    /// The client's reply deadline: a `WAIT` answers within its own.
    pub(super) fn reply_timeout(&self) -> Duration {
        self.response_timeout + self.wait_timeout
    }
}
