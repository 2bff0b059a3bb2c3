//! [`SessionLayer`]: configuration and the tower `Layer`; the client settings
//! (binding, client IP) are in `client.rs`.

use crate::config::{DEFAULT_STORE_TIMEOUT, SessionConfig};
use crate::cookie::{SameSite, has_prefix, is_attribute_value, is_cookie_name};
use crate::service::SessionService;
use crate::store::{IntoSessionStore, SessionProtocol, Stack};
#[cfg(feature = "tower-sessions-import")]
mod adopt;
mod bearer;
mod client;
mod seen;
mod trust;
mod upgrade;

use std::sync::Arc;
use std::time::Duration;
use tower::Layer;

/// Timeouts longer than this (about 100 years) are cut to it, so that "never"
/// (`Duration::MAX`) cannot overflow a date.
const MAX_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `name`, checked to be a valid cookie name without a prefix.
fn cookie_name(name: String) -> String {
    assert!(
        is_cookie_name(&name),
        "axum-user-sessions: {name:?} is not a valid cookie name"
    );
    assert!(
        !has_prefix(&name),
        "axum-user-sessions: give the cookie name {name:?} without its prefix: the layer adds \
         `__Host-` (or `__Secure-`) itself, from the Secure, Path and Domain settings"
    );
    name
}

/// Adds server-side sessions to an axum router.
///
/// `SessionLayer::new(pool)` takes a `sqlx::PgPool` (or a `SqlitePool`, or a
/// [`MemoryStore`](crate::MemoryStore)) and gives production-safe defaults;
/// the `with_*` methods change them. Each one states its default.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use axum_user_sessions::{Session, SessionLayer};
/// use std::time::Duration;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = sqlx::postgres::PgPoolOptions::new()
///     .test_before_acquire(false) // one round-trip per request, not two
///     .connect("postgres://localhost/app")
///     .await?;
/// axum_user_sessions::migrate(&pool).await?;
///
/// let app: Router = Router::new()
///     .route("/", get(|s: Session| async move { format!("{:?}", s.user_id()) }))
///     .layer(
///         SessionLayer::new(pool)
///             .with_idle_timeout(Duration::from_secs(15 * 60))
///             .with_absolute_timeout(Duration::from_secs(8 * 60 * 60)),
///     );
/// # Ok(()) }
/// ```
///
/// # Panics
///
/// Contradictory settings (such as the `__Host-` prefix with a cookie
/// `Domain`) panic when the layer is applied, with a message naming the
/// conflict.
#[derive(Debug, Clone)]
#[must_use]
pub struct SessionLayer {
    stack: Stack,
    config: Arc<SessionConfig>,
}

impl SessionLayer {
    /// A layer on `store`: a `PgPool`, a `SqlitePool`, a store, or an
    /// `Arc<dyn SessionProtocol>`. Run [`migrate`](crate::migrate) first.
    pub fn new(store: impl IntoSessionStore) -> Self {
        Self {
            stack: Stack::new(store.into_session_store()).with_timeout(Some(DEFAULT_STORE_TIMEOUT)),
            config: Arc::new(SessionConfig::default()),
        }
    }

    /// The most a store call may take: a slower one answers `503 Service
    /// Unavailable`, so that one slow or stuck query cannot hold a request
    /// forever. Default: 5 seconds.
    ///
    /// Also give the pool an `acquire_timeout` (an exhausted or unreachable
    /// pool then answers `503` too) and, for pools you build, a server-side
    /// `statement_timeout`, so that the database stops the work as well:
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sqlx::Error> {
    /// use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    /// use std::time::Duration;
    /// let opts: PgConnectOptions = "postgres://localhost/app".parse()?;
    /// let pool = PgPoolOptions::new()
    ///     .acquire_timeout(Duration::from_secs(3))
    ///     .test_before_acquire(false)
    ///     .connect_with(opts.options([("statement_timeout", "10s")]))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// A request adopting a tower-sessions session (`adopt_tower_sessions`)
    /// waits on the adoption no longer either: it goes on without it
    /// (anonymous, tower-sessions' cookie kept), and the adoption goes on
    /// for the browser's next request to join.
    pub fn with_store_timeout(mut self, limit: Duration) -> Self {
        let limit = limit.max(Duration::from_millis(1));
        self.stack = self.stack.with_timeout(Some(limit));
        self.config(|c| c.store_timeout = limit)
    }

    /// The store the layer uses, to share with admin code.
    pub fn store(&self) -> &Arc<dyn SessionProtocol> {
        self.stack.shared()
    }

    fn config(mut self, f: impl FnOnce(&mut SessionConfig)) -> Self {
        let c = Arc::make_mut(&mut self.config);
        f(c);
        c.name_cookies();
        self
    }

    /// Inactivity after which a session ends. Default: 30 minutes.
    ///
    /// Activity is recorded at most once per
    /// [touch interval](Self::with_touch_interval), so a session may end up to
    /// one touch interval before a full idle timeout of inactivity.
    pub fn with_idle_timeout(self, idle: Duration) -> Self {
        self.config(|c| c.idle_timeout = idle.min(MAX_TIMEOUT))
    }

    /// Time after creation at which a session ends, however active.
    /// Default: 12 hours.
    pub fn with_absolute_timeout(self, absolute: Duration) -> Self {
        self.config(|c| c.absolute_timeout = absolute.min(MAX_TIMEOUT))
    }

    /// How often a read-only request records activity (`last_seen_at`).
    /// Default: 60 seconds. Clamped to a quarter of the idle timeout so that
    /// an active user is never idle-expired between touches.
    ///
    /// Lower values mean more writes; higher values a coarser "last active".
    pub fn with_touch_interval(self, touch: Duration) -> Self {
        self.config(|c| c.touch_interval = touch)
    }

    /// How often the session token is replaced. Default: 15 minutes.
    ///
    /// Rotation never logs a user out: the new token is issued as *pending*
    /// and becomes current when the client first presents it; the old token
    /// keeps working for the [grace window](Self::with_rotation_grace) after
    /// that, and is treated as stolen afterwards (the session is revoked).
    pub fn with_rotation_interval(self, interval: Duration) -> Self {
        self.config(|c| c.rotation.interval = Some(interval.max(Duration::from_secs(1))))
    }

    /// Turns periodic token rotation off. [`Session::login`](crate::Session::login)
    /// and [`Session::rotate`](crate::Session::rotate) still issue new tokens.
    ///
    /// # Warning
    ///
    /// Without rotation a stolen token stays valid for the whole session.
    pub fn without_rotation(self) -> Self {
        self.config(|c| c.rotation.interval = None)
    }

    /// How long a token keeps working after a rotation replaced it, for
    /// requests already in flight. Default: 30 seconds; at least 1 second
    /// (shorter is raised to it), at most 5 minutes (longer panics when the
    /// layer is applied).
    pub fn with_rotation_grace(self, grace: Duration) -> Self {
        self.config(|c| c.rotation.grace = grace.max(Duration::from_secs(1)))
    }

    /// How long "remember me" keeps a device signed in, from sign-in; use
    /// does not extend it. Default: 30 days. The session row lives as long as
    /// its remember-me credential.
    pub fn with_remember_lifetime(self, lifetime: Duration) -> Self {
        self.config(|c| c.remember.lifetime = lifetime.min(MAX_TIMEOUT))
    }

    /// How long a replaced remember-me validator keeps working, so that
    /// several tabs restoring a session at once are not taken for theft.
    /// Default: 30 seconds; at least 1 second, at most 5 minutes.
    pub fn with_remember_grace(self, grace: Duration) -> Self {
        self.config(|c| c.remember.grace = grace.max(Duration::from_secs(1)))
    }

    /// The remember-me cookie's name, before the `__Host-` prefix. Default:
    /// `remember` (sent as `__Host-remember`).
    ///
    /// # Panics
    ///
    /// When `name` is not a valid cookie name, or carries a prefix
    /// (`__Host-`, `__Secure-`): the layer adds it.
    pub fn with_remember_cookie_name(self, name: impl Into<String>) -> Self {
        let name = cookie_name(name.into());
        self.config(|c| c.remember.cookie = name)
    }

    /// The cookie's name, before the `__Host-` prefix. Default: `session`
    /// (sent as `__Host-session`).
    ///
    /// # Panics
    ///
    /// When `name` is not a valid cookie name, or carries a prefix
    /// (`__Host-`, `__Secure-`): the layer adds it.
    pub fn with_cookie_name(self, name: impl Into<String>) -> Self {
        let name = cookie_name(name.into());
        self.config(|c| c.cookie.name = name)
    }

    /// The cookie's `Path`. Default: `/`.
    ///
    /// # Warning
    ///
    /// A path other than `/` rules the `__Host-` prefix out (it requires
    /// `Path=/`): the cookie is `__Secure-` prefixed instead, which a
    /// subdomain served over https can still set.
    ///
    /// # Panics
    ///
    /// When `path` does not start with `/` or holds `;` or control characters.
    pub fn with_cookie_path(self, path: impl Into<String>) -> Self {
        let path = path.into();
        assert!(
            path.starts_with('/') && is_attribute_value(&path),
            "axum-user-sessions: {path:?} is not a valid cookie path"
        );
        self.config(|c| c.cookie.path = path)
    }

    /// The cookie's `Domain`. Default: none (the cookie goes to this host
    /// only).
    ///
    /// # Warning
    ///
    /// A domain shares the session with every subdomain, and rules the
    /// `__Host-` prefix out (it forbids `Domain`): the cookie is `__Secure-`
    /// prefixed instead.
    ///
    /// # Panics
    ///
    /// When `domain` is empty or holds `;`, spaces or control characters.
    pub fn with_cookie_domain(self, domain: impl Into<String>) -> Self {
        let domain = domain.into();
        assert!(
            !domain.is_empty() && !domain.contains(' ') && is_attribute_value(&domain),
            "axum-user-sessions: {domain:?} is not a valid cookie domain"
        );
        self.config(|c| c.cookie.domain = Some(domain))
    }

    /// The cookie's `Secure` attribute. Default: `true`.
    ///
    /// Browsers keep `Secure` cookies from plain `http://` origins other than
    /// `localhost`; `with_secure(false)` is the opt-out for plain-http
    /// development, and drops the name prefix (both `__Host-` and
    /// `__Secure-` require `Secure`).
    ///
    /// # Warning
    ///
    /// Never in production: the session token would travel in clear text.
    pub fn with_secure(self, secure: bool) -> Self {
        self.config(|c| c.cookie.secure = secure)
    }

    /// The cookie's `SameSite` attribute. Default: [`SameSite::Lax`].
    /// `None` is not offered.
    pub fn with_same_site(self, same_site: SameSite) -> Self {
        self.config(|c| c.cookie.same_site = same_site)
    }

    /// Name prefixes that browsers enforce. Default: on, with the strongest
    /// prefix the other settings allow, worked out from all of them (the
    /// order of the setters does not matter):
    ///
    /// - `__Host-` (the default cookie is `__Host-session`): browsers refuse
    ///   it unless it is `Secure`, `Path=/` and has no `Domain`, so no
    ///   subdomain can plant or overwrite it;
    /// - `__Secure-` when a [domain](Self::with_cookie_domain) or a
    ///   [path](Self::with_cookie_path) rules `__Host-` out: only a secure
    ///   origin can set it;
    /// - none with [`with_secure(false)`](Self::with_secure).
    ///
    /// Version 0.1 sent no prefix where `__Host-` was not possible; such a
    /// cookie is still read (and replaced by the `__Secure-` one on the next
    /// response), so the upgrade signs nobody out.
    ///
    /// # Warning
    ///
    /// Off, any subdomain (or a plain-http page of this host) can set a
    /// cookie with our name.
    pub fn with_host_prefix(self, on: bool) -> Self {
        self.config(|c| c.cookie.prefixes = on)
    }
}

/// Events, privacy, operations.
impl SessionLayer {
    /// Sends [`SessionEvent`](crate::SessionEvent)s (login, logout,
    /// revocation, rotation, binding mismatch, token reuse, remember-me
    /// restore and theft, new device, expiry) to `hook`. Every event also goes
    /// to `tracing` (target `axum_user_sessions::events`), hook or not, with
    /// the session's public id and never a token. Default: `tracing` only.
    ///
    /// "New device" costs one query per sign-in, and is only computed when a
    /// hook is set.
    pub fn with_events(self, hook: impl crate::events::SessionEvents) -> Self {
        let sink = crate::events::EventSink::new(hook);
        self.config(|c| c.events = sink)
    }

    /// Keeps recently loaded sessions in memory: reading an unchanged session
    /// costs no database round-trip. Off by default. With Postgres, changes
    /// from any instance reach every instance's cache through a polled
    /// change feed (no `LISTEN`, so it works behind PgBouncer too); see [`CachedStore`](crate::store::CachedStore) for the guarantees, and for why
    /// SQLite and memory stores are single-process only with it.
    #[cfg(feature = "cache")]
    pub fn with_cache(mut self, config: crate::store::CacheConfig) -> Self {
        self.stack = self.stack.with_cache(config);
        self
    }

    /// Admin calls (list, revoke, stats, garbage collection) on this layer's
    /// store, sending events to this layer's hook.
    pub fn admin(&self) -> crate::admin::SessionAdmin {
        crate::admin::SessionAdmin::with_sink(
            self.stack.shared().clone(),
            self.config.events.clone(),
        )
    }
}

/// Limits.
impl SessionLayer {
    /// The most bytes of data a session may hold, counted as its whole data
    /// (every key and value) serialized as compact JSON. Default: 64 KiB.
    ///
    /// A write that would make the data larger fails at once with
    /// [`Error::DataTooLarge`](crate::Error::DataTooLarge) (`413 Payload Too
    /// Large`, with the limit in a JSON body): [`insert`](crate::Session::insert)
    /// and [`update`](crate::Session::update) record and store nothing, and
    /// the session keeps its previous data. A write that does not make the
    /// data larger always works, so a session over the limit (after the
    /// limit was lowered) can still shrink.
    ///
    /// The check counts the data this request loaded with its own changes,
    /// before anything reaches the store, so it costs no query. Requests
    /// running at the same time on one session each check their own view:
    /// writing different keys at once, together they can end above the
    /// limit, by at most what each added; every later write that would grow
    /// the data then fails, until it shrinks.
    pub fn with_max_data_size(self, bytes: usize) -> Self {
        self.config(|c| c.max_data_size = bytes)
    }

    /// The most live sessions a user may have. Off by default.
    ///
    /// A sign-in ([`login`](crate::Session::login)) that leaves the user with
    /// more than `n` live sessions revokes the least recently active ones
    /// (not the one signing in), with the reason
    /// [`RevokeReason::SessionLimit`](crate::RevokeReason::SessionLimit), by
    /// [`RevokedBy::System`](crate::RevokedBy::System), each with a
    /// [`Revoked`](crate::SessionEventKind::Revoked) event. `n` is at least 1
    /// (0 is raised to it). This costs one query per sign-in, which reads
    /// the `n + 64` most recently active sessions, plus one per session
    /// revoked: a sign-in revokes at most 64 (those just past the limit),
    /// so a user far over a newly set limit comes under it over a few
    /// sign-ins.
    pub fn with_max_sessions_per_user(self, n: u32) -> Self {
        self.config(|c| c.max_sessions_per_user = Some(n.max(1)))
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.config.check();
        SessionService::new(inner, self.stack.build(), self.config.clone())
    }
}

#[cfg(test)]
mod tests;
