//! "Your devices": ready-made routes that let every signed-in user list their
//! sessions and sign out the ones they do not recognise.
//!
//! Mount them under any prefix, inside the [`SessionLayer`](crate::SessionLayer):
//!
//! ```
//! use axum::Router;
//! use axum_user_sessions::{MemoryStore, SessionLayer};
//!
//! let app: Router = Router::new()
//!     .nest("/sessions", axum_user_sessions::routes())
//!     .layer(SessionLayer::new(MemoryStore::new()));
//! ```
//!
//! | method, path | does |
//! |---|---|
//! | `GET /` | the user's live sessions, most recently active first, the first 50 (then `next_cursor`, see below): JSON, or an HTML page when the client prefers `text/html` |
//! | `GET /?include=ended` | the same, with `"ended"`: the sessions that ended in the last 30 days ([`SessionRoutes::with_recently_signed_out`]), most recent first, each with `ended_at`, a `reason` code and `reason_text` in plain words; the HTML page always shows them, in a collapsed section |
//! | `GET /?limit=N&cursor=C` | one page (`limit` 1 to 200, 50 by default, keyset on `(last_seen_at, id)`); every JSON list has `next_cursor` (`null` on the last page); the HTML page shows 50 and links to the next |
//! | `DELETE /{id}` | revokes one of the user's sessions: `204` |
//! | `POST /{id}/revoke` | the same, for HTML forms: `303` back to the list |
//! | `PATCH /{id}` | names one of the user's live sessions: `{"name": "Work laptop"}` (trimmed, at most 64 characters, no control characters; `null` or `""` clears it): `200 {"id", "name"}`, `422 {"error":"invalid_name"}` |
//! | `POST /{id}/rename` | the same, for HTML forms (`name=…`): `303` back to the list |
//! | `POST /revoke-others` | revokes all the user's sessions but this one: `{"revoked": n}` (or `303` for forms) |
//! | `POST /revoke-all` | revokes all the user's sessions, this one included: `{"revoked": n}` (or `303` to `/`) |
//!
//! Rules:
//!
//! - Anonymous callers get `401 {"error":"unauthenticated"}`; an anonymous
//!   browser asking for the page gets a `401` page that links to the app's
//!   sign-in page ([`SessionRoutes::with_sign_in_url`], default `/login`).
//! - Another user's session id and an unknown id both answer `404`: nobody
//!   learns which ids exist. An ended session answers `404` too: it
//!   cannot be revoked (or renamed) again. Renaming is for one's own sessions only (also
//!   for admins), and needs no recent sign-in: it signs nobody out.
//! - State-changing requests must come from the same origin:
//!   `Sec-Fetch-Site: same-origin`, or, from clients that do not send it, an
//!   `Origin` equal to the request's own; anything else is
//!   `403 {"error":"cross_site_request"}`, whose message names both headers. This is on
//!   top of the `SameSite=Lax` cookie. No `GET` changes anything.
//! - With [`SessionRoutes::with_reauthentication`], revoking needs a recent
//!   sign-in (ASVS 3.3.4): older ones answer
//!   `401 {"error":"reauthentication_required"}` until the app has checked the
//!   password again and called [`Session::reauthenticate`].
//!   [`SessionRoutes::with_reauthentication_policy`] can also ask for a
//!   second factor ([`Reauth`](crate::Reauth), [`Session::login_with`]).
//! - Nobody sees or revokes another user's sessions unless
//!   [`SessionRoutes::with_authorization`] allows it (an admin: `GET /?user=ID`,
//!   and revoking by id).
//! - Responses never contain a token or a token hash.
//!
//! Inside: `handlers.rs` holds the handlers, which revoke through
//! [`SessionAdmin`](crate::SessionAdmin); `rename.rs` device names;
//! `guard.rs` the request rules
//! (same origin, signed in, recent sign-in, the authorization hook);
//! `reply.rs` refusals, content negotiation and redirects; `view.rs` the
//! page's view model, `strings.rs` its words, `html.rs` the built-in page.

/// The default `Content-Security-Policy` of an app's own page
/// ([`SessionRoutes::with_page`]); `page_csp!(frames)` without its script
/// rules ([`SessionRoutes::without_page_script_policy`]).
macro_rules! page_csp {
    (frames) => {
        "frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
    };
    () => {
        concat!("script-src 'self'; object-src 'none'; ", page_csp!(frames))
    };
}

mod guard;
mod handlers;
mod html;
mod list;
mod paging;
mod rename;
mod reply;
mod strength;
mod strings;
mod trust;
mod view;

pub use strings::PageStrings;
pub use view::{DeviceItem, DevicesPage, EndedItem, FailedItem};

use crate::session::Session;
use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// "Recently signed out" goes back 30 days by default.
const DEFAULT_ENDED_WINDOW: Duration = Duration::from_secs(30 * 86_400);

/// The most ended sessions listed.
const ENDED_LIMIT: u32 = 50;

type Authorize = dyn Fn(&Session, &str) -> bool + Send + Sync;

type RenderPage = dyn Fn(&DevicesPage) -> Response + Send + Sync;

/// The "Your devices" routes with their defaults. See the
/// [module docs](self); [`SessionRoutes`] configures them.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    SessionRoutes::new().into_router()
}

/// Configures the "Your devices" routes. See the [module docs](self).
///
/// ```
/// use axum::Router;
/// use axum_user_sessions::{MemoryStore, SessionLayer, SessionRoutes};
/// use std::time::Duration;
///
/// let devices = SessionRoutes::new()
///     // revoking needs a password entered in the last 10 minutes
///     .with_reauthentication(Duration::from_secs(600))
///     // admins (a flag the app keeps in the session) may manage anyone's sessions
///     .with_authorization(|actor, _target_user| {
///         actor.get::<bool>("is_admin").ok().flatten().unwrap_or(false)
///     });
/// let app: Router = Router::new()
///     .nest("/sessions", devices.into_router())
///     .layer(SessionLayer::new(MemoryStore::new()));
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct SessionRoutes {
    reauth: Option<Duration>,
    authorize: Option<Arc<Authorize>>,
    public_origins: Vec<String>,
    ended_for: Option<Duration>,
    reauth_policy: Option<crate::session::Reauth>,
    page: Option<Arc<RenderPage>>,
    page_scripts_unrestricted: bool,
    strings: Arc<PageStrings>,
    sign_in_url: Option<String>,
}

impl fmt::Debug for SessionRoutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRoutes")
            .field("reauth", &self.reauth)
            .field("authorize", &self.authorize.as_ref().map(|_| "Fn"))
            .field("public_origins", &self.public_origins)
            .field("ended_for", &self.ended_for)
            .field("reauth_policy", &self.reauth_policy)
            .field("page", &self.page.as_ref().map(|_| "Fn"))
            .field("page_scripts_unrestricted", &self.page_scripts_unrestricted)
            .field("strings", &self.strings)
            .field("sign_in_url", &self.sign_in_url)
            .finish()
    }
}

impl SessionRoutes {
    /// Defaults: no recent-authentication rule, nobody manages another
    /// user's sessions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Revoking requires that the user signed in (or
    /// [re-authenticated](Session::reauthenticate)) within `max_age`.
    /// Default: off.
    pub fn with_reauthentication(mut self, max_age: Duration) -> Self {
        self.reauth = Some(max_age);
        self
    }

    /// Lets `allow(actor, target_user_id)` grant the signed-in `actor` the
    /// right to list and revoke `target_user_id`'s sessions. Default: nobody
    /// may (privacy by default). Called only when the target is another user.
    pub fn with_authorization(
        mut self, allow: impl Fn(&Session, &str) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.authorize = Some(Arc::new(allow));
        self
    }

    /// An origin the app is served from (`https://app.example.com`, scheme,
    /// host and port if not the default, no path), for clients that send no
    /// `Sec-Fetch-Site`: their `Origin` must then be one of these. Call it
    /// once per origin. Default: none, and such a request's `Origin` must
    /// match its own `Host` with `https` (with `Secure` cookies; `http` on
    /// loopback hosts, or when cookies are not `Secure`). Set it behind a
    /// proxy that rewrites `Host`.
    ///
    /// # Panics
    ///
    /// When `origin` is not of the form `scheme://host[:port]`.
    pub fn with_public_origin(mut self, origin: impl Into<String>) -> Self {
        let origin = origin.into();
        let valid = origin.split_once("://").is_some_and(|(scheme, rest)| {
            matches!(scheme, "http" | "https")
                && !rest.is_empty()
                && !rest.contains(['/', '?', '#', ' ', '@'])
        });
        assert!(
            valid,
            "axum-user-sessions: {origin:?} is not an origin (scheme://host[:port], no path)"
        );
        self.public_origins.push(origin);
        self
    }

    /// How far back "Recently signed out" goes (`GET /?include=ended`, and
    /// the page's collapsed section). Default: 30 days, the retention of
    /// revoked sessions ([`GcOptions`](crate::GcOptions)); sessions garbage
    /// collection already deleted are not listed, so a longer window needs
    /// a longer retention. `Duration::ZERO` turns the list off.
    pub fn with_recently_signed_out(mut self, window: Duration) -> Self {
        self.ended_for = Some(window);
        self
    }

    /// The window of "Recently signed out".
    pub(super) fn ended_window(&self) -> Duration {
        self.ended_for.unwrap_or(DEFAULT_ENDED_WINDOW)
    }

    /// Renders the "Your devices" page with the app's own templates and
    /// layout: `render` gets the page's [view model](DevicesPage), already
    /// formatted, and answers the page (`Html<String>`, or any
    /// [`IntoResponse`]). Default: the built-in page.
    ///
    /// The forms keep working as long as they post where the view says
    /// (see [`DevicesPage`] for their fields); the routes enforce the
    /// same-origin rule and the recent sign-in rule, not the template. The
    /// page is answered with `Cache-Control: no-store`, `X-Frame-Options:
    /// DENY` and a `Content-Security-Policy` of
    #[doc = concat!("`", page_csp!(), "`")]
    /// (unless `render` sets its own): the app's stylesheets load from
    /// anywhere, its scripts only from its own origin, never inline, so a
    /// name the template forgot to escape cannot run a script. An app whose
    /// page needs inline or third-party scripts says so:
    /// [`without_page_script_policy`](Self::without_page_script_policy).
    /// Escaping is the template's job. Refusals (`401`, `403`, …) still
    /// answer the built-in refusal page.
    ///
    /// ```
    /// use axum::response::Html;
    /// use axum_user_sessions::SessionRoutes;
    ///
    /// let routes = SessionRoutes::new().with_page(|page| {
    ///     let items: String = page
    ///         .devices
    ///         .iter()
    ///         .map(|d| format!("<li>{}</li>", d.id)) // ids need no escaping
    ///         .collect();
    ///     Html(format!("<ul>{items}</ul><script src=/app.js></script>"))
    /// });
    /// ```
    pub fn with_page<R: IntoResponse>(
        mut self, render: impl Fn(&DevicesPage) -> R + Send + Sync + 'static,
    ) -> Self {
        self.page = Some(Arc::new(move |page| render(page).into_response()));
        self
    }

    /// Leaves scripts and plugins to the app's [own page](Self::with_page):
    /// its default `Content-Security-Policy` drops `script-src 'self';
    /// object-src 'none'` and keeps the framing, form and base rules. For a
    /// page that needs inline or third-party scripts; better, `render` sets
    /// a policy of its own (with a nonce), which replaces the default.
    pub fn without_page_script_policy(mut self) -> Self {
        self.page_scripts_unrestricted = true;
        self
    }

    /// The words of the built-in page (another language): see
    /// [`PageStrings`]. They also make the formatted fields of the
    /// [view model](DevicesPage) a [custom page](Self::with_page) gets.
    /// Default: English.
    ///
    /// ```
    /// use axum_user_sessions::SessionRoutes;
    /// use axum_user_sessions::routes::PageStrings;
    ///
    /// let mut strings = PageStrings::default();
    /// strings.title = "Vos appareils".into();
    /// let routes = SessionRoutes::new().with_strings(strings);
    /// ```
    pub fn with_strings(mut self, strings: PageStrings) -> Self {
        self.strings = Arc::new(strings);
        self
    }

    /// Where the page sends a visitor who is not signed in: an anonymous
    /// `GET /` that prefers HTML answers `401` with a page that says to sign
    /// in and links here (JSON clients keep getting
    /// `401 {"error":"unauthenticated"}`). Default: `/login`.
    ///
    /// ```
    /// use axum_user_sessions::SessionRoutes;
    ///
    /// let routes = SessionRoutes::new().with_sign_in_url("/account/sign-in?next=/sessions");
    /// ```
    pub fn with_sign_in_url(mut self, url: impl Into<String>) -> Self {
        self.sign_in_url = Some(url.into());
        self
    }

    /// The sign-in page's address.
    pub(super) fn sign_in_url(&self) -> &str {
        self.sign_in_url.as_deref().unwrap_or("/login")
    }

    /// The page for an anonymous visitor: `401`, saying to sign in.
    pub(super) fn sign_in_page(&self) -> Response {
        let page = html::sign_in(&self.strings, self.sign_in_url());
        (axum::http::StatusCode::UNAUTHORIZED, page).into_response()
    }

    /// The page for `view`: the app's, or the built-in one.
    fn render(&self, view: &DevicesPage) -> Response {
        let Some(render) = &self.page else {
            return html::page(view).into_response();
        };
        let mut res = render(view);
        let h = res.headers_mut();
        if !h.contains_key(axum::http::header::CONTENT_SECURITY_POLICY) {
            let policy = if self.page_scripts_unrestricted {
                page_csp!(frames)
            } else {
                page_csp!()
            };
            h.insert(
                axum::http::header::CONTENT_SECURITY_POLICY,
                axum::http::HeaderValue::from_static(policy),
            );
        }
        res
    }

    /// The router, to `nest` under a prefix of your choice.
    pub fn into_router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        Router::new()
            .route("/", get(list::list))
            .route("/revoke-others", post(handlers::revoke_others))
            .route("/revoke-all", post(handlers::revoke_all_mine))
            .route(
                "/{id}",
                delete(handlers::revoke_one).patch(rename::rename_json),
            )
            .route("/{id}/revoke", post(handlers::revoke_one))
            .route("/{id}/rename", post(rename::rename_form))
            .route("/{id}/forget", post(trust::forget_one))
            .route("/forget-all", post(trust::forget_all))
            .layer(axum::middleware::map_response(reply::security_headers))
            .with_state(Arc::new(self))
    }
}
