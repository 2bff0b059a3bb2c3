//! Session settings, with secure defaults. Set through [`SessionLayer`](crate::SessionLayer)'s
//! `with_*` methods.

use crate::cookie::{CookieConfig, SameSite};
use std::time::Duration;

/// Session-token rotation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RotationConfig {
    /// `None`: no periodic rotation.
    pub(crate) interval: Option<Duration>,
    /// How long a superseded token keeps working.
    pub(crate) grace: Duration,
}

/// The longest grace window allowed for a superseded token.
pub(crate) const MAX_ROTATION_GRACE: Duration = Duration::from_secs(5 * 60);

impl RotationConfig {
    /// Whether a request with the current token should start a rotation.
    /// With a rotation already pending (its cookie may have been lost), a new
    /// pending token is issued once the grace window has passed.
    pub(crate) fn due(
        &self, rotated_at: time::OffsetDateTime, has_pending: bool, now: time::OffsetDateTime,
    ) -> bool {
        let Some(interval) = self.interval else {
            return false;
        };
        let wait = if has_pending {
            self.grace
                .max(Duration::from_secs(1))
                .min(interval.max(Duration::from_secs(1)))
        } else {
            interval
        };
        now - rotated_at >= wait
    }

    /// Whether a request with the current token under its 0.1 cookie name
    /// should start the rotation that moves it to today's name: at once,
    /// unless a rotation is pending (another request of the browser moved
    /// it, or began to), then once the grace window has passed, as
    /// [`due`](Self::due) waits.
    pub(crate) fn due_to_move(
        &self, rotated_at: time::OffsetDateTime, has_pending: bool, now: time::OffsetDateTime,
    ) -> bool {
        !has_pending || now - rotated_at >= self.grace.max(Duration::from_secs(1))
    }
}

/// Remember-me settings.
#[derive(Debug, Clone)]
pub(crate) struct RememberConfig {
    pub(crate) lifetime: Duration,
    pub(crate) grace: Duration,
    pub(crate) cookie: String,
}

/// Trusted-device settings.
#[derive(Debug, Clone)]
pub(crate) struct TrustConfig {
    /// How long a device stays trusted, from the grant (not extended by use).
    pub(crate) lifetime: Duration,
    /// How soon after a sign-in that passed a second factor trust may be
    /// granted.
    pub(crate) grant_window: Duration,
}

/// Everything the layer needs, shared by every request.
#[derive(Debug, Clone)]
pub(crate) struct SessionConfig {
    pub(crate) idle_timeout: Duration,
    pub(crate) absolute_timeout: Duration,
    pub(crate) touch_interval: Duration,
    pub(crate) rotation: RotationConfig,
    pub(crate) remember: RememberConfig,
    pub(crate) trust: TrustConfig,
    pub(crate) binding: crate::binding::Binding,
    pub(crate) mismatch_action: crate::binding::MismatchAction,
    pub(crate) proxies: crate::client::ProxyConfig,
    pub(crate) events: crate::events::EventSink,
    pub(crate) anonymize_ip: bool,
    /// The app's locator of last IPs, if any.
    pub(crate) locator: Option<crate::locate::Locating>,
    /// The tower-sessions import, if the app opted in.
    #[cfg(feature = "tower-sessions-import")]
    pub(crate) adopter: Option<std::sync::Arc<crate::adopt::Adopter>>,
    pub(crate) cookie: CookieConfig,
    /// The session cookie's full name (computed from `cookie`).
    pub(crate) cookie_name: String,
    /// The remember-me cookie's full name (computed from `cookie` and `remember`).
    pub(crate) remember_cookie_name: String,
    /// The trusted-device cookie's full name (`trust`, prefixed).
    pub(crate) trust_cookie_name: String,
    /// The names 0.1 sent, where they differ: read when today's are absent.
    pub(crate) legacy_cookie_names: Option<[String; 2]>,
    /// Turns of `Session::update`, shared by the layer's requests (a clone
    /// of the settings shares them too).
    pub(crate) key_queues: crate::key_queue::KeyQueues,
    /// Failed sign-ins waiting to be recorded, shared like `key_queues`.
    pub(crate) failed_queue: crate::session::failed::FailedQueue,
    /// The most bytes of data a session may hold, serialized as compact JSON.
    pub(crate) max_data_size: usize,
    /// The most live sessions a user may have; `None`: no limit.
    pub(crate) max_sessions_per_user: Option<u32>,
    /// Sessions may be carried by `Authorization: Bearer` (API clients).
    pub(crate) bearer_tokens: bool,
    /// The response header that carries an API client's new token.
    pub(crate) session_token_header: axum::http::HeaderName,
    /// New tokens name their session (`<id>.<secret>`); off: 0.1's form.
    pub(crate) session_ids_in_tokens: bool,
    /// The deadline of each store call (the layer's store stack has it),
    /// which also bounds a request's wait on a tower-sessions adoption.
    #[cfg_attr(not(feature = "tower-sessions-import"), allow(dead_code))]
    pub(crate) store_timeout: Duration,
}

/// The default deadline of a store call.
pub(crate) const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// The trusted-device cookie's name, before its prefix.
pub(crate) const TRUST_COOKIE: &str = "trust";

/// The default of [`SessionConfig::max_data_size`]: 64 KiB.
pub(crate) const DEFAULT_MAX_DATA_SIZE: usize = 64 * 1024;

impl Default for SessionConfig {
    fn default() -> Self {
        let cookie = CookieConfig {
            name: "session".into(),
            path: "/".into(),
            domain: None,
            secure: true,
            same_site: SameSite::Lax,
            prefixes: true,
        };
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 60 * 60),
            touch_interval: Duration::from_secs(60),
            rotation: RotationConfig {
                interval: Some(Duration::from_secs(15 * 60)),
                grace: Duration::from_secs(30),
            },
            remember: RememberConfig {
                lifetime: Duration::from_secs(30 * 24 * 60 * 60),
                grace: Duration::from_secs(30),
                cookie: "remember".into(),
            },
            remember_cookie_name: cookie.prefixed("remember"),
            trust: TrustConfig {
                lifetime: Duration::from_secs(30 * 24 * 60 * 60),
                grant_window: Duration::from_secs(5 * 60),
            },
            trust_cookie_name: cookie.prefixed(TRUST_COOKIE),
            binding: crate::binding::Binding::Default(crate::binding::DefaultBinding::default()),
            mismatch_action: crate::binding::MismatchAction::default(),
            proxies: crate::client::ProxyConfig::default(),
            events: crate::events::EventSink::default(),
            anonymize_ip: false,
            locator: None,
            #[cfg(feature = "tower-sessions-import")]
            adopter: None,
            cookie_name: cookie.prefixed("session"),
            legacy_cookie_names: None,
            cookie,
            key_queues: crate::key_queue::KeyQueues::default(),
            failed_queue: crate::session::failed::FailedQueue::default(),
            max_data_size: DEFAULT_MAX_DATA_SIZE,
            max_sessions_per_user: None,
            store_timeout: DEFAULT_STORE_TIMEOUT,
            bearer_tokens: false,
            session_token_header: axum::http::HeaderName::from_static(
                crate::bearer::DEFAULT_TOKEN_HEADER,
            ),
            session_ids_in_tokens: false,
        }
    }
}

impl SessionConfig {
    /// Works the cookies' names out from the final settings.
    pub(crate) fn name_cookies(&mut self) {
        let c = &self.cookie;
        self.cookie_name = c.prefixed(&c.name);
        self.remember_cookie_name = c.prefixed(&self.remember.cookie);
        self.trust_cookie_name = c.prefixed(TRUST_COOKIE);
        self.legacy_cookie_names = c
            .legacy_name(&c.name)
            .zip(c.legacy_name(&self.remember.cookie))
            .map(|(a, b)| [a, b]);
    }

    /// The touch interval actually used: at most a quarter of the idle
    /// timeout, so that a user active between touches is never idle-expired.
    pub(crate) fn effective_touch_interval(&self) -> Duration {
        self.touch_interval.min(self.idle_timeout / 4)
    }

    /// Checks for contradictory settings. Panics with a message naming the
    /// conflict: these are programming errors, found at startup.
    pub(crate) fn check(&self) {
        assert!(
            !self.idle_timeout.is_zero(),
            "axum-user-sessions: the idle timeout must be greater than zero"
        );
        assert!(
            !self.absolute_timeout.is_zero(),
            "axum-user-sessions: the absolute timeout must be greater than zero"
        );
        assert!(
            self.rotation.grace <= MAX_ROTATION_GRACE,
            "axum-user-sessions: the rotation grace window is capped at {MAX_ROTATION_GRACE:?}: \
             a superseded token that works longer is a stolen token that works longer"
        );
        assert!(
            self.remember.grace <= MAX_ROTATION_GRACE,
            "axum-user-sessions: the remember-me grace window is capped at {MAX_ROTATION_GRACE:?}"
        );
        assert!(
            ![self.remember.cookie.as_str(), &self.cookie.name].contains(&TRUST_COOKIE),
            "axum-user-sessions: the cookie name `{TRUST_COOKIE}` is the trusted-device cookie's"
        );
        assert!(
            self.remember.cookie != self.cookie.name,
            "axum-user-sessions: the remember-me cookie needs a name of its own"
        );
    }
}
