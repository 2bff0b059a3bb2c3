//! [`SessionLayer`]: configuration and the tower `Layer`.

use crate::SameSite;
use crate::config::{SessionConfig, is_cookie_name};
use crate::service::SessionService;
use crate::store::{IntoSessionStore, SessionStore};
use std::sync::Arc;
use std::time::Duration;
use tower::Layer;

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
    store: Arc<dyn SessionStore>,
    config: Arc<SessionConfig>,
}

impl SessionLayer {
    /// A layer on `store`: a `PgPool`, a `SqlitePool`, a store, or an
    /// `Arc<dyn SessionStore>`. Run [`migrate`](crate::migrate) first.
    pub fn new(store: impl IntoSessionStore) -> Self {
        Self {
            store: store.into_session_store(),
            config: Arc::new(SessionConfig::default()),
        }
    }

    /// The store the layer uses, to share with admin code.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    fn config(mut self, f: impl FnOnce(&mut SessionConfig)) -> Self {
        let c = Arc::make_mut(&mut self.config);
        f(c);
        c.cookie_name = c.cookie.full_name();
        self
    }

    /// Inactivity after which a session ends. Default: 30 minutes.
    ///
    /// Activity is recorded at most once per
    /// [touch interval](Self::with_touch_interval), so a session may end up to
    /// one touch interval before a full idle timeout of inactivity.
    pub fn with_idle_timeout(self, idle: Duration) -> Self {
        self.config(|c| c.idle_timeout = idle)
    }

    /// Time after creation at which a session ends, however active.
    /// Default: 12 hours.
    pub fn with_absolute_timeout(self, absolute: Duration) -> Self {
        self.config(|c| c.absolute_timeout = absolute)
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
    /// requests already in flight. Default: 30 seconds; at most 5 minutes
    /// (longer panics when the layer is applied).
    pub fn with_rotation_grace(self, grace: Duration) -> Self {
        self.config(|c| c.rotation.grace = grace)
    }

    /// The cookie's name, before the `__Host-` prefix. Default: `session`
    /// (sent as `__Host-session`).
    ///
    /// # Panics
    ///
    /// When `name` is not a valid cookie name.
    pub fn with_cookie_name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        assert!(
            is_cookie_name(&name),
            "axum-user-sessions: {name:?} is not a valid cookie name"
        );
        self.config(|c| c.cookie.name = name)
    }

    /// The cookie's `Path`. Default: `/`.
    ///
    /// # Warning
    ///
    /// A path other than `/` turns the `__Host-` prefix off (it requires
    /// `Path=/`), so subdomains may set a cookie with our name.
    pub fn with_cookie_path(self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.config(|c| {
            if path != "/" {
                c.cookie.host_prefix = false;
            }
            c.cookie.path = path;
        })
    }

    /// The cookie's `Domain`. Default: none (the cookie goes to this host
    /// only).
    ///
    /// # Warning
    ///
    /// A domain shares the session with every subdomain, and turns the
    /// `__Host-` prefix off (it forbids `Domain`).
    pub fn with_cookie_domain(self, domain: impl Into<String>) -> Self {
        let domain = domain.into();
        self.config(|c| {
            c.cookie.host_prefix = false;
            c.cookie.domain = Some(domain);
        })
    }

    /// The cookie's `Secure` attribute. Default: `true`.
    ///
    /// Browsers keep `Secure` cookies from plain `http://` origins other than
    /// `localhost`; `with_secure(false)` is the opt-out for plain-http
    /// development and turns the `__Host-` prefix off (it requires `Secure`).
    ///
    /// # Warning
    ///
    /// Never in production: the session token would travel in clear text.
    pub fn with_secure(self, secure: bool) -> Self {
        self.config(|c| {
            c.cookie.secure = secure;
            if !secure {
                c.cookie.host_prefix = false;
            }
        })
    }

    /// The cookie's `SameSite` attribute. Default: [`SameSite::Lax`].
    /// `None` is not offered.
    pub fn with_same_site(self, same_site: SameSite) -> Self {
        self.config(|c| c.cookie.same_site = same_site)
    }

    /// The `__Host-` name prefix, which makes browsers refuse the cookie
    /// unless it is `Secure`, `Path=/` and has no `Domain`, so that no
    /// subdomain can plant or overwrite it. Default: on.
    ///
    /// Turning it on together with a domain, a path other than `/` or
    /// `with_secure(false)` panics when the layer is applied.
    pub fn with_host_prefix(self, on: bool) -> Self {
        self.config(|c| c.cookie.host_prefix = on)
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.config.check();
        SessionService::new(inner, self.store.clone(), self.config.clone())
    }
}
