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
//! | `GET /` | the user's live sessions, most recently active first: JSON, or an HTML page when the client prefers `text/html` |
//! | `DELETE /{id}` | revokes one of the user's sessions: `204` |
//! | `POST /{id}/revoke` | the same, for HTML forms: `303` back to the list |
//! | `POST /revoke-others` | revokes all the user's sessions but this one: `{"revoked": n}` (or `303` for forms) |
//! | `POST /revoke-all` | revokes all the user's sessions, this one included: `{"revoked": n}` (or `303` to `/`) |
//!
//! Rules:
//!
//! - Anonymous callers get `401 {"error":"unauthenticated"}`.
//! - Another user's session id and an unknown id both answer `404`: nobody
//!   learns which ids exist.
//! - State-changing requests must come from the same origin:
//!   `Sec-Fetch-Site: same-origin`, or, from clients that do not send it, an
//!   `Origin` equal to the request's own; anything else is `403`. This is on
//!   top of the `SameSite=Lax` cookie. No `GET` changes anything.
//! - With [`SessionRoutes::with_reauthentication`], revoking needs a recent
//!   sign-in (ASVS 3.3.4): older ones answer
//!   `401 {"error":"reauthentication_required"}` until the app has checked the
//!   password again and called [`Session::reauthenticate`].
//! - Nobody sees or revokes another user's sessions unless
//!   [`SessionRoutes::with_authorization`] allows it (an admin: `GET /?user=ID`,
//!   and revoking by id).
//! - Responses never contain a token or a token hash.

use crate::events::SessionEventKind;
use crate::store::{Revocation, RevokeReason, RevokedBy};
use crate::{Error, Session, SessionStore, device_name};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use maud::{DOCTYPE, Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

type Authorize = dyn Fn(&Session, &str) -> bool + Send + Sync;

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
}

impl fmt::Debug for SessionRoutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRoutes")
            .field("reauth", &self.reauth)
            .field("authorize", &self.authorize.as_ref().map(|_| "Fn"))
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
        mut self,
        allow: impl Fn(&Session, &str) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.authorize = Some(Arc::new(allow));
        self
    }

    /// The router, to `nest` under a prefix of your choice.
    pub fn into_router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        Router::new()
            .route("/", get(list))
            .route("/revoke-others", post(revoke_others))
            .route("/revoke-all", post(revoke_all))
            .route("/{id}", delete(revoke_one))
            .route("/{id}/revoke", post(revoke_one_form))
            .with_state(Arc::new(self))
    }

    fn allows(&self, actor: &Session, target: &str) -> bool {
        self.authorize.as_ref().is_some_and(|f| f(actor, target))
    }
}

type Cfg = State<Arc<SessionRoutes>>;

/// One session as the list shows it.
#[derive(Debug, Clone, Serialize)]
struct Device {
    id: Uuid,
    current: bool,
    device: String,
    ip: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    persistent: bool,
}

/// Why a route refused.
enum Refusal {
    Unauthenticated,
    CrossSite,
    NotFound,
    Forbidden,
    Reauthenticate,
    Store(Error),
}

struct Reply {
    html: bool,
    refusal: Refusal,
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let (status, code, text) = match self.refusal {
            Refusal::Store(e) => return e.into_response(),
            Refusal::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "You are not signed in.",
            ),
            Refusal::CrossSite => (
                StatusCode::FORBIDDEN,
                "cross_site_request",
                "This request did not come from this site.",
            ),
            Refusal::NotFound => (StatusCode::NOT_FOUND, "not_found", "No such session."),
            Refusal::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "You may not see these sessions.",
            ),
            Refusal::Reauthenticate => (
                StatusCode::UNAUTHORIZED,
                "reauthentication_required",
                "For your security, enter your password again before signing out devices.",
            ),
        };
        if self.html {
            let page = layout(
                "Your devices",
                html! { p role="alert" { (text) } p { a href="/" { "Back" } } },
            );
            (status, page).into_response()
        } else {
            (status, Json(json!({ "error": code, "message": text }))).into_response()
        }
    }
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        Self::Store(e)
    }
}

impl From<crate::store::Error> for Refusal {
    fn from(e: crate::store::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Whether the client prefers HTML to JSON.
fn wants_html(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match (accept.find("text/html"), accept.find("application/json")) {
        (Some(h), Some(j)) => h < j,
        (Some(_), None) => true,
        _ => false,
    }
}

/// Form posts want a redirect; API calls want JSON.
fn is_form(headers: &HeaderMap) -> bool {
    wants_html(headers)
        || headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
}

/// The same-origin rule for state-changing requests.
fn same_origin(headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(authority) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false; // "null" and other schemes
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    host.is_some_and(|h| h.eq_ignore_ascii_case(authority))
}

/// The signed-in user, or a refusal.
fn actor(session: &Session) -> Result<String, Refusal> {
    session.user_id().ok_or(Refusal::Unauthenticated)
}

/// Checks the rules every state-changing route shares.
fn guard(
    cfg: &SessionRoutes,
    session: &Session,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> Result<String, Refusal> {
    if !same_origin(headers, uri) {
        return Err(Refusal::CrossSite);
    }
    let user = actor(session)?;
    if let Some(max_age) = cfg.reauth {
        let fresh = session
            .authenticated_at()
            .is_some_and(|at| OffsetDateTime::now_utc() - at <= max_age);
        if !fresh {
            return Err(Refusal::Reauthenticate);
        }
    }
    Ok(user)
}

/// The list's path, from the path of a request under it.
fn base_path(path: &str, suffix: &str) -> String {
    let base = path
        .strip_suffix(suffix)
        .unwrap_or(path)
        .trim_end_matches('/');
    if base.is_empty() {
        "/".into()
    } else {
        base.into()
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    user: Option<String>,
}

async fn list(
    State(cfg): Cfg,
    session: Session,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Response, Reply> {
    let html = wants_html(&headers);
    let reply = |refusal| Reply { html, refusal };
    let me = actor(&session).map_err(reply)?;
    let target = q.user.unwrap_or_else(|| me.clone());
    if target != me && !cfg.allows(&session, &target) {
        return Err(reply(Refusal::Forbidden));
    }
    let now = OffsetDateTime::now_utc();
    let records = session
        .shared_store()
        .list_user(&target, now)
        .await
        .map_err(|e| reply(e.into()))?;
    let current = session.id();
    let devices: Vec<Device> = records
        .into_iter()
        .map(|r| Device {
            current: Some(r.id) == current,
            device: device_name(r.user_agent.as_deref()),
            ip: r.ip.map(|ip| ip.to_string()),
            id: r.id,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            // A remembered device stays signed in until its credential ends.
            expires_at: if r.persistent {
                r.absolute_expires_at
            } else {
                r.expires_at
            },
            persistent: r.persistent,
        })
        .collect();
    let mut res = if html {
        let base = base_path(uri.path(), "");
        page(&base, &target, target != me, &devices, now).into_response()
    } else {
        Json(json!({ "user_id": target, "sessions": devices })).into_response()
    };
    // IPs and session ids: never in a shared cache.
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store, private"),
    );
    Ok(res)
}

/// Revokes `id` if `session`'s user may; `NotFound` otherwise.
async fn revoke_by_id(
    cfg: &SessionRoutes,
    session: &Session,
    user: &str,
    id: &str,
) -> Result<(), Refusal> {
    let id: Uuid = id.parse().map_err(|_| Refusal::NotFound)?;
    let store: &Arc<dyn SessionStore> = session.shared_store();
    let now = OffsetDateTime::now_utc();
    let (mut reason, mut owner_of) = ("user", user.to_owned());
    if !store
        .revoke(
            id,
            Some(user),
            &Revocation::new(RevokeReason::User, RevokedBy::user(user), now),
        )
        .await?
    {
        // Not the user's own: an admin's, if the hook allows it.
        if cfg.authorize.is_none() {
            return Err(Refusal::NotFound);
        }
        let owner = store
            .get(id)
            .await?
            .filter(|r| r.is_live(now))
            .and_then(|r| r.user_id)
            .ok_or(Refusal::NotFound)?;
        if owner == user || !cfg.allows(session, &owner) {
            return Err(Refusal::NotFound);
        }
        if !store
            .revoke(
                id,
                Some(&owner),
                &Revocation::new(RevokeReason::Admin, RevokedBy::user(user), now),
            )
            .await?
        {
            return Err(Refusal::NotFound);
        }
        (reason, owner_of) = ("admin", owner);
    }
    session.emit_event(
        SessionEventKind::Revoked {
            reason: reason.into(),
            by: user.into(),
            count: 1,
        },
        Some(id),
        Some(owner_of),
    );
    if session.id() == Some(id) {
        session.mark_ended();
    }
    Ok(())
}

async fn revoke_one(
    State(cfg): Cfg,
    session: Session,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Reply> {
    let html = wants_html(&headers);
    let user = guard(&cfg, &session, &headers, &uri).map_err(|refusal| Reply { html, refusal })?;
    revoke_by_id(&cfg, &session, &user, &id)
        .await
        .map_err(|refusal| Reply { html, refusal })?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_one_form(
    State(cfg): Cfg,
    session: Session,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Redirect, Reply> {
    let html = is_form(&headers);
    let user = guard(&cfg, &session, &headers, &uri).map_err(|refusal| Reply { html, refusal })?;
    revoke_by_id(&cfg, &session, &user, &id)
        .await
        .map_err(|refusal| Reply { html, refusal })?;
    Ok(Redirect::to(&base_path(
        uri.path(),
        &format!("/{id}/revoke"),
    )))
}

async fn revoke_others(
    State(cfg): Cfg,
    session: Session,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, Reply> {
    revoke_mine(&cfg, &session, &uri, &headers, false).await
}

async fn revoke_all(
    State(cfg): Cfg,
    session: Session,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, Reply> {
    revoke_mine(&cfg, &session, &uri, &headers, true).await
}

/// Revokes every session of the signed-in user, this one only if
/// `this_one_too`, in one statement.
async fn revoke_mine(
    cfg: &SessionRoutes,
    session: &Session,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    this_one_too: bool,
) -> Result<Response, Reply> {
    let form = is_form(headers);
    let reply = |refusal| Reply {
        html: form,
        refusal,
    };
    let user = guard(cfg, session, headers, uri).map_err(reply)?;
    let keep = if this_one_too { None } else { session.id() };
    let how = Revocation::new(
        RevokeReason::User,
        RevokedBy::user(&user),
        OffsetDateTime::now_utc(),
    );
    let n = session
        .shared_store()
        .revoke_user_sessions(&user, keep, &how)
        .await
        .map_err(|e| reply(e.into()))?;
    if n > 0 {
        let kind = SessionEventKind::Revoked {
            reason: "user".into(),
            by: user.clone(),
            count: n,
        };
        session.emit_event(kind, None, Some(user));
    }
    if this_one_too {
        session.mark_ended();
    }
    if !form {
        return Ok(Json(json!({ "revoked": n })).into_response());
    }
    let to = if this_one_too {
        "/".to_owned()
    } else {
        base_path(uri.path(), "/revoke-others")
    };
    Ok(Redirect::to(&to).into_response())
}

/// "5 minutes ago".
fn ago(then: OffsetDateTime, now: OffsetDateTime) -> String {
    let secs = (now - then).whole_seconds().max(0);
    let (n, unit) = match secs {
        0..60 => return "just now".into(),
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

fn date(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.format(&f).unwrap_or_default()
}

fn layout(title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) }
                    style { (maud::PreEscaped(STYLE)) }
                }
                body { main { (body) } }
            }
        }
        .into_string(),
    )
}

fn page(
    base: &str,
    user: &str,
    other_user: bool,
    devices: &[Device],
    now: OffsetDateTime,
) -> Html<String> {
    let others = devices.iter().filter(|d| !d.current).count();
    let body = html! {
        h1 { "Your devices" }
        @if other_user {
            p class="note" { "Sessions of " strong { (user) } }
        } @else {
            p class="note" { "Where you are signed in. Sign out any device you do not recognise." }
        }
        ul class="devices" aria-label="Signed-in devices" {
            @for d in devices {
                li class="device" {
                    div class="info" {
                        h2 {
                            (d.device)
                            @if d.current { " " span class="badge" { "This device" } }
                            @if d.persistent { " " span class="badge muted" { "Remembered" } }
                        }
                        p class="meta" {
                            @if let Some(ip) = &d.ip { span { "IP " (ip) } " · " }
                            span title=(date(d.last_seen_at)) {
                                @if d.current { "Active now" } @else { "Last active " (ago(d.last_seen_at, now)) }
                            }
                            " · "
                            span { "Signed in " (date(d.created_at)) }
                        }
                    }
                    @if !d.current {
                        form method="post" action={ (base.trim_end_matches('/')) "/" (d.id) "/revoke" } {
                            button type="submit" aria-label={ "Sign out " (d.device) } { "Sign out" }
                        }
                    }
                }
            }
        }
        @if devices.is_empty() { p { "No active sessions." } }
        @if others > 0 && !other_user {
            form method="post" action={ (base.trim_end_matches('/')) "/revoke-others" } class="all" {
                button type="submit" class="danger" { "Sign out everywhere else" }
            }
        }
    };
    layout("Your devices", body)
}

const STYLE: &str = "
:root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--card:#f6f8fa;--accent:#0969da;--danger:#cf222e}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--bg:#0d1117;--card:#151b23;--accent:#4493f8;--danger:#f85149}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif}
main{max-width:42rem;margin:3rem auto;padding:0 1rem}h1{font-size:1.6rem;margin:0 0 .25rem}
.note{color:var(--muted);margin:0 0 1.5rem}.devices{list-style:none;padding:0;margin:0}
.device{display:flex;align-items:center;justify-content:space-between;gap:1rem;padding:1rem 1.25rem;margin:0 0 .75rem;background:var(--card);border:1px solid var(--line);border-radius:12px}
.device h2{font-size:1.05rem;margin:0}.meta{color:var(--muted);font-size:.9rem;margin:.25rem 0 0}
.badge{display:inline-block;font-size:.75rem;font-weight:600;padding:.1rem .5rem;border-radius:999px;background:var(--accent);color:#fff;vertical-align:middle}
.badge.muted{background:var(--line);color:var(--fg)}
button{font:inherit;white-space:nowrap;padding:.4rem .9rem;border-radius:8px;border:1px solid var(--line);background:var(--bg);color:var(--fg);cursor:pointer}
button:hover,button:focus-visible{border-color:var(--accent);outline:none}
.danger{color:#fff;background:var(--danger);border-color:var(--danger)}.all{margin-top:1.5rem}
";

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn relative_times() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(ago(now, now), "just now");
        assert_eq!(ago(now - Duration::from_secs(300), now), "5 minutes ago");
        assert_eq!(ago(now - Duration::from_secs(3600), now), "1 hour ago");
        assert_eq!(
            ago(now - Duration::from_secs(3 * 86_400), now),
            "3 days ago"
        );
    }

    #[test]
    fn base_paths() {
        assert_eq!(
            base_path("/sessions/abc/revoke", "/abc/revoke"),
            "/sessions"
        );
        assert_eq!(base_path("/sessions/", ""), "/sessions");
        assert_eq!(base_path("/revoke-others", "/revoke-others"), "/");
    }

    #[test]
    fn origin_rules() {
        let uri: axum::http::Uri = "/x".parse().unwrap();
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, HeaderValue::from_static(v));
            }
            m
        };
        assert!(same_origin(&h(&[("sec-fetch-site", "same-origin")]), &uri));
        assert!(!same_origin(&h(&[("sec-fetch-site", "same-site")]), &uri));
        assert!(!same_origin(&h(&[("sec-fetch-site", "cross-site")]), &uri));
        assert!(!same_origin(
            &h(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://a"),
                ("host", "a")
            ]),
            &uri
        ));
        assert!(same_origin(
            &h(&[
                ("origin", "https://a.example:8443"),
                ("host", "a.example:8443")
            ]),
            &uri
        ));
        assert!(!same_origin(
            &h(&[("origin", "https://evil.example"), ("host", "a.example")]),
            &uri
        ));
        assert!(!same_origin(&h(&[("origin", "null"), ("host", "a")]), &uri));
        assert!(
            !same_origin(&h(&[("host", "a")]), &uri),
            "no evidence: refused"
        );
    }

    #[test]
    fn negotiation() {
        let h = |v: &'static str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT, HeaderValue::from_static(v));
            m
        };
        assert!(wants_html(&h("text/html,application/xhtml+xml,*/*;q=0.8")));
        assert!(!wants_html(&h("application/json")));
        assert!(!wants_html(&h("*/*")));
        assert!(!wants_html(&HeaderMap::new()));
    }
}
