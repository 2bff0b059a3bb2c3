//! The [`Session`] handle that handlers extract.
//!
//! - this file: the handle, its accessors and the data API;
//! - `load`: the lazy load (tokens, remember-me, binding); `touches`: the activity it records;
//! - `auth`: sign-in, sign-out, re-authentication and explicit rotation;
//! - `commit`: after the handler, the write and the periodic rotation, which
//!   answer with a `CookieUpdate` (`crate::cookie`) for the service to render
//!   (a restore's cookies in a timely one only: `restored`);
//! - `update`: one key's atomic read-modify-write; `key`: typed keys ([`SessionKey`]);
//! - `limits`: what a write may hold (the data limit, no U+0000); `trust`: trusted
//!   devices and their cookie; `failed`: failed sign-ins; `routes`: what the routes call.
//!
//! Nothing in this module reads or writes HTTP.

#[cfg(feature = "tower-sessions-import")]
mod adopt;
mod api;
mod arrival;
mod auth;
mod binding;
mod commit;
pub(crate) mod failed;
mod key;
mod legacy;
mod limits;
mod load;
mod reissue;
mod restored;
mod routes;
mod strength;
#[cfg(test)]
mod tests;
mod touches;
mod trust;
mod update;

pub(crate) use commit::Commit;
pub use key::SessionKey;
pub use strength::Reauth;

use crate::client::ClientInfo;
use crate::config::SessionConfig;
use crate::cookie::CookieToken;
use crate::error::Error;
use crate::events::{SessionEvent, SessionEventKind};
use crate::store::{SessionProtocol, SessionRecord};
use crate::token::{RememberToken, SessionToken};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use time::OffsetDateTime;
use tokio::sync::OnceCell;
use uuid::Uuid;

/// The current time, truncated to microseconds (what every store keeps), so
/// that a value written and read back compares equal.
pub(crate) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// The session of the current request.
///
/// Extract it in a handler (it implements axum's `FromRequestParts`). The
/// session is loaded from the store the first time it is extracted in a
/// request; a request that carries no cookie costs no database work, and one
/// that never extracts the session costs none at all.
///
/// Values are typed through serde.
///
/// ```
/// use axum_user_sessions::Session;
///
/// async fn settings(session: Session) -> Result<String, axum_user_sessions::Error> {
///     session.insert("theme", "dark")?; // written after the handler
///     let n = session // written now, atomically
///         .update("visits", |n: Option<u64>| n.unwrap_or(0) + 1)
///         .await?;
///     Ok(format!("{n} visits"))
/// }
/// ```
///
/// # Concurrent requests
///
/// [`get`](Self::get), [`entries`](Self::entries), [`insert`](Self::insert)
/// and [`remove`](Self::remove) work on this request's copy of the data,
/// read when the session was loaded. The keys that `insert` and `remove`
/// change are written after the handler, as one key-level patch: those keys
/// only, in one statement. Hence:
///
/// - two concurrent requests that change **different keys** both keep their
///   change;
/// - two that change **the same key**: the last write wins, whatever the
///   request read. A `get`, then an `insert` of the value plus one, loses
///   the increments of the requests that ran at the same time.
///
/// [`update`](Self::update) is the read-modify-write of one key that loses
/// nothing: it reads and writes the key at once, with a compare-and-set in
/// the store, and retries with the fresh value when another request (in
/// this app instance or another) changed the key in between. Sign-in state
/// changes ([`login`](Self::login), [`logout`](Self::logout)) are written at
/// once too.
///
/// No write brings back a session that was logged out or revoked while the
/// request ran: it fails with [`Error::SessionEnded`] instead.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn SessionProtocol>,
    config: Arc<SessionConfig>,
    cookie: CookieToken,
    remember: CookieToken<RememberToken>,
    client: ClientInfo,
    /// The request carried its session in `Authorization: Bearer`.
    bearer: bool,
    /// When the request reached the layer: a token's grace counts to it.
    arrived: OffsetDateTime,
    loaded: OnceCell<()>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The live row this request works on, if any; shared with the cache's
    /// copy until this request changes it (`Arc::make_mut`).
    record: Option<Arc<SessionRecord>>,
    /// Changed keys: `Some` set, `None` removed.
    changes: BTreeMap<String, Option<Value>>,
    /// A token to send in the response's cookie.
    new_token: Option<SessionToken>,
    /// The request's cookie named no live session, or the session ended: the
    /// response expires the cookie (unless a new one is set).
    clear_cookie: bool,
    /// `rotated_at` seen at load when a rotation is due.
    rotation_due: Option<OffsetDateTime>,
    /// What came under 0.1's cookie names.
    legacy: legacy::Legacy,
    /// The session exists but this client may not use it: keep the cookie
    /// (it is the rightful client's when it comes back).
    binding_rejected: bool,
    /// A remember-me credential to send, with its end.
    new_remember: Option<(RememberToken, OffsetDateTime)>,
    /// Expire the remember-me cookie.
    clear_remember: bool,
    /// Expiries of cookies found dead at load: a prompt response's only.
    cleared_at_load: bool,
    /// The session was re-opened from its remember-me credential: when, with what.
    restored: Option<restored::Restored>,
    /// The request's token was retired (a sign-in, a restore): keep the
    /// cookie alone (a newer one may be on its way to the browser).
    retired_token: bool,
    /// Create no session for this request's writes (its cookie would
    /// replace another request's): its token was retired within the grace
    /// window, or another request ended its session while it ran.
    no_new_session: bool,
    /// ... within the grace window, and no restore since: a request that left
    /// before a sign-in, whose remember-me cookie (as old as it) restores nothing.
    late_retired: bool,
    /// An API client's session: new tokens go in the token header, and no
    /// cookie is set, expired or read from then on (a bearer request, or
    /// [`Session::login_api_client`]).
    api: bool,
    trust: trust::TrustState, // the trusted-device cookie, as read and to send
}

impl State {
    /// The session is over for this request (logout, revocation, or ended
    /// by another request): continue as anonymous, send no new token, and
    /// expire the remember-me cookie; the session cookie too if
    /// `clear_cookie`.
    fn end(&mut self, clear_cookie: bool) {
        self.record = None;
        self.changes.clear();
        self.new_token = None;
        self.rotation_due = None;
        self.clear_cookie = clear_cookie;
        self.new_remember = None;
        self.clear_remember = true;
        self.cleared_at_load = false; // asked for now: sent however late
    }

    /// This request's write found its session ended by another request (a
    /// logout, a revocation, a sign-in that moved it): go on anonymous, but
    /// set no cookie, so that the other request's (a new sign-in's) stand.
    fn ended_elsewhere(&mut self) {
        self.end(false);
        self.clear_remember = false;
        self.no_new_session = true;
    }

    /// `key`'s value as this request sees it: its pending change, else the
    /// loaded data's.
    fn value(&self, key: &str) -> Option<&Value> {
        match self.changes.get(key) {
            Some(change) => change.as_ref(),
            None => self.record.as_ref().and_then(|r| r.data.get(key)),
        }
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state();
        f.debug_struct("Session")
            .field("id", &st.record.as_ref().map(|r| r.id))
            .field(
                "user_id",
                &st.record.as_ref().and_then(|r| r.user_id.clone()),
            )
            .field("changed_keys", &st.changes.keys().collect::<Vec<_>>())
            .field("token", &"REDACTED")
            .finish()
    }
}

impl Session {
    pub(crate) fn new(
        store: Arc<dyn SessionProtocol>, config: Arc<SessionConfig>, cookie: CookieToken,
        remember: CookieToken<RememberToken>, client: ClientInfo,
    ) -> Self {
        Self::new_for(store, config, (cookie, remember), client, false)
    }

    /// A request's session; `bearer`: its token came in `Authorization`
    /// (`tokens.0`), not a cookie.
    pub(crate) fn new_for(
        store: Arc<dyn SessionProtocol>, config: Arc<SessionConfig>,
        tokens: (CookieToken, CookieToken<RememberToken>), client: ClientInfo, bearer: bool,
    ) -> Self {
        let (cookie, remember) = tokens;
        Self {
            inner: Arc::new(Inner {
                store,
                config,
                cookie,
                remember,
                client,
                bearer,
                arrived: now(),
                loaded: OnceCell::new(),
                state: Mutex::new(State {
                    api: bearer,
                    ..State::default()
                }),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The lock is never held across an await or user code; recover from
        // poisoning rather than turning one panic into many.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn store(&self) -> &dyn SessionProtocol {
        self.inner.store.as_ref()
    }

    fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    /// Sends an event about `record`, with this request's client.
    fn emit(&self, kind: SessionEventKind, record: &SessionRecord) {
        self.emit_for(kind, Some(record.id), record.user_id.clone());
    }

    /// Sends an event, with this request's client.
    fn emit_for(&self, kind: SessionEventKind, id: Option<Uuid>, user: Option<String>) {
        let mut event = SessionEvent::new(kind, id, user, now());
        event.ip = self.inner.client.ip();
        event.user_agent = self.inner.client.user_agent().map(str::to_owned);
        self.config().events.emit(event);
    }
}

// Accessors.
impl Session {
    /// The public id of the session (never the token), or `None` when the
    /// request has no session yet.
    pub fn id(&self) -> Option<Uuid> {
        self.state().record.as_ref().map(|r| r.id)
    }

    /// The signed-in user, as the string given to [`login`](Self::login).
    pub fn user_id(&self) -> Option<String> {
        self.state().record.as_ref().and_then(|r| r.user_id.clone())
    }

    /// Whether a user is signed in.
    pub fn is_authenticated(&self) -> bool {
        self.state()
            .record
            .as_ref()
            .is_some_and(|r| r.user_id.is_some())
    }

    /// When the user last proved who they are ([`login`](Self::login) or
    /// [`reauthenticate`](Self::reauthenticate)). Use it to demand a fresh
    /// password before sensitive actions. `None` after a remember-me
    /// restore (it proves nothing), until the user signs in or re-authenticates.
    pub fn authenticated_at(&self) -> Option<OffsetDateTime> {
        self.state()
            .record
            .as_ref()
            .and_then(|r| r.authenticated_at)
    }

    /// Whether this request re-opened the session from its remember-me
    /// credential: not "fresh" (see [`authenticated_at`](Self::authenticated_at)).
    pub fn is_restored(&self) -> bool {
        self.state().restored.is_some()
    }

    /// Whether the user proved who they are within `max_age` (the "enter your
    /// password again before changing your e-mail" check). `false` for an
    /// anonymous session.
    pub fn is_fresh(&self, max_age: std::time::Duration) -> bool {
        self.authenticated_at()
            .is_some_and(|at| OffsetDateTime::now_utc() - at <= max_age)
    }

    /// Whether the session is remembered ("keep me signed in").
    pub fn is_persistent(&self) -> bool {
        self.state().record.as_ref().is_some_and(|r| r.persistent)
    }

    /// When the session was created.
    pub fn created_at(&self) -> Option<OffsetDateTime> {
        self.state().record.as_ref().map(|r| r.created_at)
    }
}

// The data API: changes are kept here and written after the handler, by
// `commit` (`update`, written at once, is in `update.rs`).
impl Session {
    /// A value, deserialized. `Ok(None)` when the key is absent; an error when
    /// it holds something that is not a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        self.get_value(key)
            .map(serde_json::from_value)
            .transpose()
            .map_err(Error::from)
    }

    /// A value as JSON.
    pub fn get_value(&self, key: &str) -> Option<Value> {
        self.state().value(key).cloned()
    }

    /// Every key and value of the session.
    pub fn entries(&self) -> Map<String, Value> {
        let st = self.state();
        let mut data = st
            .record
            .as_ref()
            .map(|r| r.data.clone())
            .unwrap_or_default();
        for (k, v) in &st.changes {
            match v {
                Some(v) => data.insert(k.clone(), v.clone()),
                None => data.remove(k),
            };
        }
        data
    }

    /// Sets a value. Written after the handler (the last write of a key
    /// wins; see [`update`](Self::update) for a read-modify-write); a request
    /// without a session gets one (and its cookie) then.
    ///
    /// Fails at once, recording nothing, with [`Error::DataTooLarge`] when
    /// the session's data would grow past the layer's
    /// [limit](crate::SessionLayer::with_max_data_size), and with
    /// [`Error::NulCharacter`] when the key or the value holds U+0000.
    pub fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), Error> {
        let value = serde_json::to_value(value)?;
        if self.state().value(key) == Some(&value) {
            return Ok(());
        }
        self.check_write(key, Some(&value))?;
        self.state().changes.insert(key.to_owned(), Some(value));
        Ok(())
    }

    /// Removes a key, after the handler. Returns whether it was there (on a session nobody loaded: unknown, `false`).
    pub fn remove(&self, key: &str) -> bool {
        let present = self.state().value(key).is_some();
        if present || self.inner.loaded.get().is_none() {
            self.state().changes.insert(key.to_owned(), None);
        }
        present
    }
}
