//! The [`Session`] handle that handlers extract.

use crate::binding::{BindingCheck, MismatchAction};
use crate::config::SessionConfig;
use crate::events::{SessionEvent, SessionEventKind};
use crate::store::{
    DataPatch, Reissue, ReissueClient, RememberCredential, Revocation, RevokeReason, SessionRecord,
    SessionStore, TokenState, Touch,
};
use crate::token::{RememberToken, Token};
use crate::{ClientInfo, Error};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use time::OffsetDateTime;
use tokio::sync::OnceCell;
use tower_cookies::cookie::{self, Cookie};
use uuid::Uuid;

/// What "the same browser" means for new-device detection: the parsed device
/// name when the `routes` feature (and its User-Agent parser) is on, the raw
/// User-Agent otherwise.
fn device_label(user_agent: Option<&str>) -> String {
    #[cfg(feature = "routes")]
    {
        crate::device_name(user_agent)
    }
    #[cfg(not(feature = "routes"))]
    {
        user_agent.unwrap_or("").to_owned()
    }
}

/// The current time, truncated to microseconds (what every store keeps), so
/// that a value written and read back compares equal.
pub(crate) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// What the request's cookie header said about our cookie.
#[derive(Debug, Clone)]
pub(crate) enum CookieToken<T = Token> {
    /// No such cookie.
    Absent,
    /// A cookie that cannot be a token (wrong length, alphabet, duplicates
    /// with different values, not UTF-8...). Costs no query.
    Malformed,
    /// A well-formed token; the store decides whether it is known.
    Valid(T),
}

/// The session of the current request.
///
/// Extract it in a handler (it implements axum's `FromRequestParts`). The
/// session is loaded from the store the first time it is extracted in a
/// request; a request that carries no cookie costs no database work, and one
/// that never extracts the session costs none at all.
///
/// Values are typed through serde and changes are written after the handler,
/// key by key, in one statement: two concurrent requests that change
/// different keys both keep their change. Sign-in state changes
/// ([`login`](Self::login), [`logout`](Self::logout)) are written at once.
///
/// ```
/// use axum_user_sessions::Session;
///
/// async fn counter(session: Session) -> Result<String, axum_user_sessions::Error> {
///     let n: u64 = session.get("counter")?.unwrap_or(0) + 1;
///     session.insert("counter", n)?;
///     Ok(format!("{n} visits"))
/// }
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn SessionStore>,
    config: Arc<SessionConfig>,
    cookie: CookieToken,
    remember: CookieToken<RememberToken>,
    client: ClientInfo,
    loaded: OnceCell<()>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The live row this request works on, if any.
    record: Option<SessionRecord>,
    /// Changed keys: `Some` set, `None` removed.
    changes: BTreeMap<String, Option<Value>>,
    /// A token to send in the response's cookie.
    new_token: Option<Token>,
    /// The request's cookie named no live session, or the session ended: the
    /// response expires the cookie (unless a new one is set).
    clear_cookie: bool,
    /// `rotated_at` seen at load when a rotation is due.
    rotation_due: Option<OffsetDateTime>,
    /// The session exists but this client may not use it: keep the cookie
    /// (it is the rightful client's when it comes back).
    binding_rejected: bool,
    /// A remember-me credential to send, with its end.
    new_remember: Option<(RememberToken, OffsetDateTime)>,
    /// Expire the remember-me cookie.
    clear_remember: bool,
    /// The session was re-opened from its remember-me credential.
    restored: bool,
    /// The request's token was retired by a sign-in: keep the cookie alone.
    retired_token: bool,
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
        store: Arc<dyn SessionStore>,
        config: Arc<SessionConfig>,
        cookie: CookieToken,
        remember: CookieToken<RememberToken>,
        client: ClientInfo,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                config,
                cookie,
                remember,
                client,
                loaded: OnceCell::new(),
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The lock is never held across an await or user code; recover from
        // poisoning rather than turning one panic into many.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The store, for the ready-made routes.
    #[cfg_attr(not(feature = "routes"), allow(dead_code))]
    pub(crate) fn shared_store(&self) -> &Arc<dyn SessionStore> {
        &self.inner.store
    }

    /// The session was revoked by the request itself (revoke-all, or its own
    /// id): continue as anonymous and expire the cookie.
    #[cfg_attr(not(feature = "routes"), allow(dead_code))]
    pub(crate) fn mark_ended(&self) {
        let mut st = self.state();
        st.record = None;
        st.changes.clear();
        st.new_token = None;
        st.rotation_due = None;
        st.clear_cookie = true;
        st.new_remember = None;
        st.clear_remember = true;
    }

    fn store(&self) -> &dyn SessionStore {
        self.inner.store.as_ref()
    }

    fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    /// Loads the session from the store, once per request.
    pub(crate) async fn ensure_loaded(&self) -> Result<(), Error> {
        self.inner
            .loaded
            .get_or_try_init(|| self.load())
            .await
            .map(|_| ())
    }

    async fn load(&self) -> Result<(), Error> {
        let now = now();
        let mut live = match &self.inner.cookie {
            CookieToken::Absent => None,
            CookieToken::Malformed => {
                self.state().clear_cookie = true;
                None
            }
            CookieToken::Valid(token) => {
                let live = match self.load_by_token(token, now).await? {
                    Some(record) => self.check_binding(record, now).await?,
                    None => None,
                };
                let mut st = self.state();
                st.clear_cookie = live.is_none() && !st.retired_token;
                live
            }
        };
        if live.is_none() && !self.state().binding_rejected {
            match &self.inner.remember {
                CookieToken::Absent => {}
                CookieToken::Malformed => self.state().clear_remember = true,
                CookieToken::Valid(remember) => live = self.restore(remember, now).await?,
            }
        }
        let mut st = self.state();
        if st.binding_rejected {
            st.clear_cookie = false;
        }
        st.record = live;
        Ok(())
    }

    fn touch(&self, now: OffsetDateTime) -> Touch {
        let cfg = self.config();
        Touch {
            now,
            stale_before: now - cfg.effective_touch_interval(),
            idle_expires_at: now + cfg.idle_timeout,
        }
    }

    /// The live session a session token names, handling rotation states.
    async fn load_by_token(
        &self,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>, Error> {
        let cfg = self.config();
        let hash = token.hash();
        let found = self.store().load(&hash, &self.touch(now)).await?;
        Ok(match found {
            None => {
                tracing::debug!("session cookie names no session");
                None
            }
            Some(l) if !l.record.token_active(now) => {
                tracing::debug!(session.id = %l.record.id, "session expired or revoked");
                if l.record.revoked_at.is_none() {
                    self.emit(SessionEventKind::Expired, &l.record);
                }
                None
            }
            Some(l) => match l.token {
                TokenState::Current => {
                    self.state().rotation_due = cfg
                        .rotation
                        .due(l.record.rotated_at, l.has_pending, now)
                        .then_some(l.record.rotated_at);
                    Some(l.record)
                }
                TokenState::Pending => {
                    self.store().promote(l.record.id, &hash, now).await?;
                    tracing::debug!(session.id = %l.record.id, "rotated session token promoted");
                    Some(l.record)
                }
                TokenState::Retired { at } => {
                    // A request that left before a sign-in (or re-auth) on
                    // this browser: anonymous, and its response must not
                    // expire the cookie the sign-in just set.
                    if now - at > cfg.rotation.grace {
                        tracing::warn!(
                            session.id = %l.record.id,
                            "retired session token presented (a token from before a sign-in)"
                        );
                    }
                    self.state().retired_token = true;
                    None
                }
                TokenState::Superseded { at } if now - at <= cfg.rotation.grace => Some(l.record),
                TokenState::Superseded { .. } => {
                    let how = Revocation::system(RevokeReason::TokenReuse, now);
                    self.store().revoke(l.record.id, None, &how).await?;
                    // A superseded token replayed after the grace window.
                    self.emit(SessionEventKind::TokenReuse, &l.record);
                    self.state().clear_remember = true;
                    None
                }
            },
        })
    }

    /// Re-opens the session of a remember-me credential with a new session
    /// token, rotating the validator. A wrong validator for a known selector,
    /// outside the grace window, is theft: the session is revoked.
    async fn restore(
        &self,
        remember: &RememberToken,
        now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>, Error> {
        let cfg = self.config();
        let Some(mut found) = self.store().find_remember(&remember.selector).await? else {
            self.state().clear_remember = true;
            return Ok(None);
        };
        if !found.record.is_live(now) || found.expires_at <= now {
            self.state().clear_remember = true;
            return Ok(None);
        }
        // The binding is checked before anything is rotated: a refused client
        // leaves the credential as it was for its rightful holder.
        if self
            .check_binding(found.record.clone(), now)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let id = found.record.id;
        let presented = remember.validator_hash();
        let touch = self.touch(now);
        let token = Token::generate()?;
        if presented.ct_eq(&found.validator) {
            let next = remember.rotated()?;
            let rotate = Some((&presented, &next.validator_hash()));
            if self
                .store()
                .restore(id, &token.hash(), rotate, &touch)
                .await?
            {
                self.emit(SessionEventKind::RememberRestored, &found.record);
                let mut st = self.state();
                st.new_remember = Some((next, found.expires_at));
                return Ok(Some(self.restored(&mut st, found.record, token, &touch)));
            }
            // Another request rotated the validator first: it is now the
            // previous one, inside the grace window.
            match self.store().find_remember(&remember.selector).await? {
                Some(again) => found = again,
                None => return Ok(None),
            }
        }
        let recent = now - found.rotated_at <= cfg.remember.grace;
        if recent && found.previous.is_some_and(|p| p.ct_eq(&presented)) {
            if self
                .store()
                .restore(id, &token.hash(), None, &touch)
                .await?
            {
                let mut st = self.state();
                return Ok(Some(self.restored(&mut st, found.record, token, &touch)));
            }
            return Ok(None);
        }
        let how = Revocation::system(RevokeReason::RememberTokenReuse, now);
        self.store().revoke(id, None, &how).await?;
        // A stale validator outside the grace window: theft.
        self.emit(SessionEventKind::RememberTheft, &found.record);
        let mut st = self.state();
        st.clear_remember = true;
        st.clear_cookie = true;
        Ok(None)
    }

    fn restored(
        &self,
        st: &mut State,
        mut record: SessionRecord,
        token: Token,
        touch: &Touch,
    ) -> SessionRecord {
        record.last_seen_at = touch.now;
        record.expires_at = touch.idle_expires_at.min(record.absolute_expires_at);
        st.new_token = Some(token);
        st.clear_cookie = false;
        st.restored = true;
        record
    }

    /// Sends an event about `record`, with this request's client.
    fn emit(&self, kind: SessionEventKind, record: &SessionRecord) {
        self.emit_event(kind, Some(record.id), record.user_id.clone());
    }

    pub(crate) fn emit_event(
        &self,
        kind: SessionEventKind,
        id: Option<Uuid>,
        user: Option<String>,
    ) {
        let mut event = SessionEvent::new(kind, id, user, now());
        event.ip = self.inner.client.ip();
        event.user_agent = self.inner.client.user_agent().map(str::to_owned);
        self.config().events.emit(event);
    }

    /// After a sign-in: "new device" when none of the user's other sessions
    /// on record has this browser and this network. One query, only when the
    /// app registered an event hook.
    async fn detect_new_device(&self, id: Uuid, user: &str) -> Result<(), Error> {
        if !self.config().events.has_hook() {
            return Ok(());
        }
        let client = &self.inner.client;
        let device = device_label(client.user_agent());
        let others = self.store().list_user(user, now()).await?;
        let same_network = |ip: Option<std::net::IpAddr>| match (ip, client.ip()) {
            (Some(a), Some(b)) => crate::anonymize_ip(a) == crate::anonymize_ip(b),
            (a, b) => a == b,
        };
        let seen = others.iter().any(|r| {
            r.id != id && device_label(r.user_agent.as_deref()) == device && same_network(r.ip)
        });
        if !seen {
            self.emit_event(
                SessionEventKind::NewDevice { device },
                Some(id),
                Some(user.to_owned()),
            );
        }
        Ok(())
    }

    /// Applies the client binding; `None` when the session may not be used.
    async fn check_binding(
        &self,
        record: SessionRecord,
        now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>, Error> {
        match self.config().binding.check(&record, &self.inner.client) {
            BindingCheck::Accept => Ok(Some(record)),
            BindingCheck::Log(what) => {
                let kind = SessionEventKind::BindingMismatch {
                    check: what,
                    enforced: false,
                };
                self.emit(kind, &record);
                Ok(Some(record))
            }
            BindingCheck::Reject(what) => {
                let revoke = self.config().mismatch_action == MismatchAction::Revoke;
                let kind = SessionEventKind::BindingMismatch {
                    check: what,
                    enforced: true,
                };
                self.emit(kind, &record);
                if revoke {
                    let how = Revocation::system(RevokeReason::BindingMismatch, now);
                    self.store().revoke(record.id, None, &how).await?;
                }
                self.state().binding_rejected = !revoke;
                Ok(None)
            }
        }
    }

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
    /// password before sensitive actions.
    pub fn authenticated_at(&self) -> Option<OffsetDateTime> {
        self.state()
            .record
            .as_ref()
            .and_then(|r| r.authenticated_at)
    }

    /// Whether this request re-opened the session from its remember-me
    /// credential. Such a session is not "fresh": its
    /// [`authenticated_at`](Self::authenticated_at) is that of the original
    /// sign-in.
    pub fn is_restored(&self) -> bool {
        self.state().restored
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
        let st = self.state();
        match st.changes.get(key) {
            Some(change) => change.clone(),
            None => st.record.as_ref().and_then(|r| r.data.get(key).cloned()),
        }
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

    /// Sets a value. Written after the handler; a request without a session
    /// gets one (and its cookie) then.
    pub fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), Error> {
        let value = serde_json::to_value(value)?;
        if self.get_value(key).as_ref() == Some(&value) {
            return Ok(());
        }
        self.state().changes.insert(key.to_owned(), Some(value));
        Ok(())
    }

    /// Removes a key. Returns whether it was there.
    pub fn remove(&self, key: &str) -> bool {
        let present = self.get_value(key).is_some();
        if present {
            self.state().changes.insert(key.to_owned(), None);
        }
        present
    }

    /// Signs `user_id` in: records the user and `authenticated_at`, and issues
    /// a new token at once, with no grace for the old one (no session
    /// fixation). Accepts any id that displays as text: integers, strings,
    /// UUIDs.
    ///
    /// The session's data is kept when the session was anonymous or already
    /// belonged to this user. A session of another user is ended and a fresh
    /// one started, so that one user never inherits another's data.
    pub async fn login(&self, user_id: impl fmt::Display) -> Result<(), Error> {
        self.login_remember(user_id, false).await
    }

    /// [`login`](Self::login), and with `remember` on, "keep me signed in":
    /// a second, persistent cookie (`selector.validator`, only the validator's
    /// SHA-256 is stored) that re-opens this same session after the browser
    /// restarts or the session idles out, for the
    /// [remember-me lifetime](crate::SessionLayer::with_remember_lifetime)
    /// (30 days by default, not extended by use). Each use replaces the
    /// validator; a replaced validator presented after a short grace window
    /// is taken for theft and revokes the session.
    ///
    /// With `remember` off, a remember-me credential the session had is
    /// dropped.
    pub async fn login_remember(
        &self,
        user_id: impl fmt::Display,
        remember: bool,
    ) -> Result<(), Error> {
        self.login_inner(user_id.to_string()).await?;
        self.set_remember(remember).await
    }

    async fn set_remember(&self, remember: bool) -> Result<(), Error> {
        let cfg = self.config();
        let now = now();
        let Some((id, persistent)) = self.state().record.as_ref().map(|r| (r.id, r.persistent))
        else {
            return Ok(());
        };
        if remember {
            let token = RememberToken::generate()?;
            let credential = RememberCredential {
                selector: token.selector,
                validator: token.validator_hash(),
                expires_at: now + cfg.remember.lifetime,
            };
            let cleared = now + cfg.absolute_timeout;
            if self
                .store()
                .set_remember(id, Some(&credential), cleared, now)
                .await?
            {
                let mut st = self.state();
                if let Some(r) = st.record.as_mut() {
                    r.persistent = true;
                    r.absolute_expires_at = credential.expires_at;
                }
                st.new_remember = Some((token, credential.expires_at));
                st.clear_remember = false;
            }
        } else if persistent || !matches!(self.inner.remember, CookieToken::Absent) {
            let cleared = now + cfg.absolute_timeout;
            self.store().set_remember(id, None, cleared, now).await?;
            let mut st = self.state();
            if let Some(r) = st.record.as_mut() {
                r.persistent = false;
                r.absolute_expires_at = r.absolute_expires_at.min(cleared);
            }
            st.new_remember = None;
            st.clear_remember = true;
        }
        Ok(())
    }

    async fn login_inner(&self, user_id: String) -> Result<(), Error> {
        self.sign_in(&user_id).await?;
        if let Some(id) = self.id() {
            self.emit_event(SessionEventKind::Login, Some(id), Some(user_id.clone()));
            self.detect_new_device(id, &user_id).await?;
        }
        Ok(())
    }

    async fn sign_in(&self, user_id: &str) -> Result<(), Error> {
        self.ensure_loaded().await?;
        let user_id = user_id.to_owned();
        let now = now();
        let (existing, same_user) = {
            let st = self.state();
            match &st.record {
                Some(r) => (
                    Some(r.id),
                    r.user_id.is_none() || r.user_id.as_deref() == Some(&user_id),
                ),
                None => (None, true),
            }
        };
        if let Some(id) = existing {
            if same_user {
                let reissue = Reissue {
                    user_id: Some(user_id.clone()),
                    authenticated_at: Some(now),
                    now,
                    // A sign-in records where it happened: binding and the
                    // device list compare against this, not the anonymous visit.
                    client: Some(ReissueClient {
                        ip: self.inner.client.ip(),
                        user_agent: self.inner.client.user_agent().map(str::to_owned),
                    }),
                };
                if self.reissue(id, &reissue).await? {
                    return Ok(());
                }
            } else {
                self.store().delete(id).await?;
                let mut st = self.state();
                st.record = None;
                st.changes.clear();
            }
        }
        let mut record = self.new_record(now);
        record.user_id = Some(user_id);
        record.authenticated_at = Some(now);
        self.create(record).await
    }

    /// Proves the user again (after a password prompt): refreshes
    /// `authenticated_at` and issues a new token with no grace for the old one.
    /// Does nothing for a request without a session.
    pub async fn reauthenticate(&self) -> Result<(), Error> {
        self.ensure_loaded().await?;
        let Some((id, user_id)) = self
            .state()
            .record
            .as_ref()
            .map(|r| (r.id, r.user_id.clone()))
        else {
            return Ok(());
        };
        let now = now();
        self.reissue(
            id,
            &Reissue {
                user_id,
                authenticated_at: Some(now),
                now,
                client: None,
            },
        )
        .await
        .map(|_| ())
    }

    /// Issues a new token now, with no grace for the old one. Call it after a
    /// privilege change (e.g. the user became an admin). Does nothing for a
    /// request without a session.
    pub async fn rotate(&self) -> Result<(), Error> {
        self.ensure_loaded().await?;
        let Some((id, user_id)) = self
            .state()
            .record
            .as_ref()
            .map(|r| (r.id, r.user_id.clone()))
        else {
            return Ok(());
        };
        self.reissue(
            id,
            &Reissue {
                user_id,
                authenticated_at: None,
                now: now(),
                client: None,
            },
        )
        .await
        .map(|_| ())
    }

    /// Signs out: deletes the session from the store at once and expires the
    /// cookie. The request continues as anonymous.
    pub async fn logout(&self) -> Result<(), Error> {
        self.ensure_loaded().await?;
        let id = self.state().record.as_ref().map(|r| r.id);
        if let Some(id) = id {
            self.store().delete(id).await?;
            let user = self.user_id();
            self.emit_event(SessionEventKind::Logout, Some(id), user);
        }
        let mut st = self.state();
        st.record = None;
        st.changes.clear();
        st.new_token = None;
        st.rotation_due = None;
        st.clear_cookie = !matches!(self.inner.cookie, CookieToken::Absent) || id.is_some();
        st.new_remember = None;
        st.clear_remember = true;
        Ok(())
    }

    async fn reissue(&self, id: Uuid, reissue: &Reissue) -> Result<bool, Error> {
        let token = Token::generate()?;
        if !self.store().reissue(id, &token.hash(), reissue).await? {
            return Ok(false);
        }
        let mut st = self.state();
        if let Some(r) = st.record.as_mut() {
            r.user_id.clone_from(&reissue.user_id);
            if reissue.authenticated_at.is_some() {
                r.authenticated_at = reissue.authenticated_at;
            }
            r.rotated_at = reissue.now;
            if let Some(c) = &reissue.client {
                r.ip = c.ip;
                r.user_agent.clone_from(&c.user_agent);
            }
        }
        st.new_token = Some(token);
        st.rotation_due = None;
        Ok(true)
    }

    fn new_record(&self, now: OffsetDateTime) -> SessionRecord {
        let cfg = self.config();
        let mut r = SessionRecord::new(Uuid::new_v4(), now);
        r.absolute_expires_at = now + cfg.absolute_timeout;
        r.expires_at = (now + cfg.idle_timeout).min(r.absolute_expires_at);
        r.ip = self.inner.client.ip;
        r.user_agent.clone_from(&self.inner.client.user_agent);
        r
    }

    /// Inserts `record` with the pending changes folded into its data.
    async fn create(&self, mut record: SessionRecord) -> Result<(), Error> {
        let token = Token::generate()?;
        let changes = std::mem::take(&mut self.state().changes);
        for (k, v) in &changes {
            if let Some(v) = v {
                record.data.insert(k.clone(), v.clone());
            }
        }
        if let Err(e) = self.store().create(&record, &token.hash()).await {
            self.state().changes = changes;
            return Err(e.into());
        }
        tracing::debug!(session.id = %record.id, "session created");
        let mut st = self.state();
        st.record = Some(record);
        st.new_token = Some(token);
        st.clear_cookie = false;
        st.rotation_due = None;
        Ok(())
    }

    /// Writes what the handler changed and sets the cookie on the response.
    pub(crate) async fn commit(&self, res: &mut Response) {
        if self.inner.loaded.get().is_none() {
            return; // never extracted: nothing read, nothing changed
        }
        if let Err(err) = self.write(res.status()).await {
            *res = err.into_response();
        }
        self.set_cookie(res);
    }

    async fn write(&self, status: StatusCode) -> Result<(), Error> {
        let (record_id, changes) = {
            let mut st = self.state();
            let changes = if status.is_server_error() {
                BTreeMap::new()
            } else {
                std::mem::take(&mut st.changes)
            };
            (st.record.as_ref().map(|r| r.id), changes)
        };
        if !changes.is_empty() {
            match record_id {
                Some(id) => {
                    let mut patch = DataPatch::default();
                    for (k, v) in changes {
                        match v {
                            Some(v) => {
                                patch.set.insert(k, v);
                            }
                            None => patch.remove.push(k),
                        }
                    }
                    if !self.store().patch_data(id, &patch).await? {
                        // Logged out or revoked while this request ran: the
                        // write must not resurrect it, and must not be
                        // reported as done.
                        tracing::debug!(session.id = %id, "session ended during the request; write dropped");
                        let mut st = self.state();
                        st.record = None;
                        st.new_token = None;
                        st.clear_cookie = true;
                        st.new_remember = None;
                        st.clear_remember = true;
                        return Err(Error::SessionEnded);
                    }
                }
                None => {
                    if changes.values().any(Option::is_some) {
                        self.state().changes = changes;
                        self.create(self.new_record(now())).await?;
                    }
                }
            }
        }
        if !status.is_server_error() {
            // Rotation is best effort: a failure leaves the current token in
            // place, and must not turn the handler's answer into an error.
            if let Err(err) = self.rotate_if_due().await {
                tracing::warn!(error = %err, "session token rotation failed; will retry later");
            }
        }
        Ok(())
    }

    async fn rotate_if_due(&self) -> Result<(), Error> {
        let (id, expected) = {
            let st = self.state();
            match (&st.record, st.rotation_due, &st.new_token) {
                (Some(r), Some(expected), None) => (r.id, expected),
                _ => return Ok(()),
            }
        };
        let pending = Token::generate()?;
        let now = now();
        if self
            .store()
            .begin_rotation(id, expected, &pending.hash(), now)
            .await?
        {
            let user = self.user_id();
            self.emit_event(SessionEventKind::Rotated, Some(id), user);
            self.state().new_token = Some(pending);
        }
        Ok(())
    }

    fn set_cookie(&self, res: &mut Response) {
        let st = self.state();
        let cfg = self.config();
        let session = match (&st.new_token, st.clear_cookie) {
            (Some(token), _) => Some((token.encode(), None)),
            (None, true) => Some((String::new(), Some(0))),
            (None, false) => None,
        };
        let remember = match (&st.new_remember, st.clear_remember) {
            (Some((token, expires)), _) => {
                let secs = (*expires - OffsetDateTime::now_utc())
                    .whole_seconds()
                    .max(0);
                Some((token.encode(), Some(secs)))
            }
            (None, true) if !matches!(self.inner.remember, CookieToken::Absent) => {
                Some((String::new(), Some(0)))
            }
            _ => None,
        };
        drop(st);
        let mut any = false;
        for (name, cookie) in [
            (&cfg.cookie_name, session),
            (&cfg.remember_cookie_name, remember),
        ] {
            let Some((value, max_age)) = cookie else {
                continue;
            };
            match HeaderValue::from_str(&self.cookie_header(name, value, max_age)) {
                Ok(v) => {
                    res.headers_mut().append(header::SET_COOKIE, v);
                    any = true;
                }
                Err(_) => tracing::error!("session cookie could not be encoded as a header"),
            }
        }
        if any {
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }

    /// A `Set-Cookie` value. `max_age`: `None` for a browser-session cookie,
    /// `Some(0)` to expire it.
    fn cookie_header(&self, name: &str, value: String, max_age: Option<i64>) -> String {
        let cfg = &self.config().cookie;
        let mut cookie = Cookie::build((name.to_owned(), value))
            .http_only(true)
            .secure(cfg.secure)
            .path(cfg.path.clone())
            .same_site(match cfg.same_site {
                crate::SameSite::Lax => cookie::SameSite::Lax,
                crate::SameSite::Strict => cookie::SameSite::Strict,
            });
        if let Some(domain) = &cfg.domain {
            cookie = cookie.domain(domain.clone());
        }
        match max_age {
            Some(0) => {
                cookie = cookie
                    .max_age(cookie::time::Duration::ZERO)
                    .expires(cookie::time::OffsetDateTime::UNIX_EPOCH);
            }
            Some(secs) => cookie = cookie.max_age(cookie::time::Duration::seconds(secs)),
            None => {}
        }
        cookie.build().encoded().to_string()
    }
}
