//! The tower-sessions store that axum-login's handle talks to: it serves
//! the request's already-loaded [`Session`] (no extra round-trip) and
//! records what axum-login did with it, which [`AxumLoginService`](super::AxumLoginService)
//! then applies to the session.

use crate::error::Error;
use crate::session::Session;
use crate::store::{RevokeReason, RevokedBy};
use ::axum_login::tower_sessions::session::{Id, Record};
use ::axum_login::tower_sessions::{self as ts, session_store};
use ::axum_login::{AuthnBackend, UserId};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Once};
use time::OffsetDateTime;

/// axum-login's data, as 0.18 stores it.
#[derive(Deserialize)]
struct AuthData<Id> {
    user_id: Option<Id>,
    auth_hash: Option<Vec<u8>>,
}

/// The user id (as the `user_id` column has it) and the auth hash in
/// axum-login's data, if it names a user.
fn auth_data<B: AuthnBackend>(value: Option<&Value>) -> Option<(String, Option<Vec<u8>>)> {
    let data: AuthData<UserId<B>> = serde_json::from_value(value?.clone()).ok()?;
    Some((data.user_id?.to_string(), data.auth_hash))
}

/// The tower-sessions store behind the handle axum-login gets: it serves
/// the request's loaded session and records what is done to it. One per
/// request.
#[derive(Clone)]
pub(super) struct Bridge(Arc<BridgeInner>);

struct BridgeInner {
    session: Session,
    data_key: &'static str,
    /// The session's public id as a tower-sessions id; `None` without a
    /// session.
    id: Option<Id>,
    /// The data axum-login and the app see: the session's, as loaded.
    loaded: HashMap<String, Value>,
    seen: Mutex<Seen>,
}

/// What the handle did with the store.
#[derive(Default)]
struct Seen {
    /// `delete` of this session: a `flush` or a `cycle_id`.
    deleted: bool,
    /// The record was created anew under the session's own id: the handle
    /// dropped its id without cycling it, which only `flush` does (its
    /// `cycle_id` gives the record a new id).
    flushed: bool,
    /// The session was revoked before the handler (auth-hash mismatch).
    revoked: bool,
    /// The data at the end, from the `save` after the handler.
    saved: Option<HashMap<String, Value>>,
}

impl fmt::Debug for Bridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bridge")
            .field("session", &self.0.session)
            .finish_non_exhaustive()
    }
}

impl Bridge {
    pub(super) fn new<B: AuthnBackend>(session: Session, data_key: &'static str) -> Self {
        let id = session.id().map(|id| Id(id.as_u128() as i128));
        let mut loaded: HashMap<String, Value> = session.entries().into_iter().collect();
        // axum-login sees a user only when the session is signed in as them.
        let user = auth_data::<B>(loaded.get(data_key)).map(|(user, _)| user);
        if user.is_some() && user != session.user_id() {
            loaded.remove(data_key);
        }
        Self(Arc::new(BridgeInner {
            session,
            data_key,
            id,
            loaded,
            seen: Mutex::default(),
        }))
    }

    /// The session's public id as a tower-sessions id; `None` without a
    /// session.
    pub(super) fn id(&self) -> Option<Id> {
        self.0.id
    }

    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.0.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// axum-login has read the session; the handler is next. A `flush`
    /// before now was axum-login's auth-hash check failing: the password
    /// changed since this session signed in. Revoke it; the request goes on
    /// anonymous.
    pub(super) async fn before_handler(&self) -> Result<(), Error> {
        if !std::mem::take(&mut self.seen().deleted) {
            return Ok(());
        }
        let session = &self.0.session;
        if let Some(id) = session.id() {
            let (by, why) = (RevokedBy::System, RevokeReason::PasswordChange);
            session.admin().revoke(id, by, why).await?;
            session.mark_ended();
            self.seen().revoked = true;
        }
        Ok(())
    }

    /// After the handler: what the handle now holds becomes sign-in,
    /// sign-out, rotation and data changes on the session.
    /// `failed`: the handler answered `5xx`.
    pub(super) async fn finish<B: AuthnBackend>(
        &self, handle: &ts::Session, failed: bool,
    ) -> Result<(), Error> {
        let deleted_only = self.seen().deleted && handle.id().is_some();
        warn_ignored(handle, deleted_only);
        if !handle.is_modified() {
            return Ok(());
        }
        // A session revoked before the handler is gone: the handler started
        // from nothing (and may sign in again).
        let revoked = self.seen().revoked;
        let nothing = HashMap::new();
        let before = if revoked { &nothing } else { &self.0.loaded };
        // `flush` and `cycle_id` drop the handle's id; `save` sets it again.
        let ended = !revoked && self.0.id.is_some() && handle.id().is_none();
        // As tower-sessions' middleware would: the whole record to the store.
        let _ = handle.save().await; // our `save` cannot fail
        let Some(after) = self.seen().saved.take() else {
            return Ok(());
        };
        let (session, key) = (&self.0.session, self.0.data_key);
        let auth_after = auth_data::<B>(after.get(key));
        // A sign-out: the session was flushed, or its axum-login user is
        // gone from it with its id. Whatever the handler wrote after it
        // belongs to a new session, as with tower-sessions (whose `save`
        // after a `flush` creates one): the old one ends here, and `after`
        // is carried into a new, anonymous one (unless the handler failed).
        let flushed = std::mem::take(&mut self.seen().flushed);
        let user_gone = auth_data::<B>(before.get(key)).is_some() && auth_after.is_none();
        let signed_out = ended && (flushed || user_gone);
        let before = if signed_out {
            session.logout().await?;
            &nothing
        } else {
            before
        };
        match auth_after {
            Some((user, hash)) if before.get(key) != after.get(key) => {
                if failed {
                    return Ok(()); // a failed request signs nobody in
                }
                match auth_data::<B>(before.get(key)) {
                    // The signed-in user again, with a new auth hash: their
                    // password changed on this device.
                    Some((before_user, before_hash)) if before_user == user => {
                        session.reauthenticate().await?;
                        if before_hash.is_some() && before_hash != hash {
                            let (by, why) = (RevokedBy::user(&user), RevokeReason::PasswordChange);
                            session
                                .admin()
                                .revoke_user_sessions(&user, session.id(), by, why)
                                .await?;
                        }
                    }
                    _ if session.user_id().as_deref() != Some(user.as_str()) => {
                        session.login(&user).await?;
                    }
                    // The app signed the session in itself.
                    _ => {}
                }
            }
            _ if signed_out => {}
            _ if ended && after.is_empty() => return session.logout().await,
            _ if ended && !failed => session.rotate().await?,
            _ => {}
        }
        if !failed {
            for (k, v) in &after {
                if before.get(k) != Some(v) {
                    session.insert(k, v)?;
                }
            }
            for k in before.keys().filter(|k| !after.contains_key(*k)) {
                session.remove(k);
            }
        }
        Ok(())
    }
}

/// The tower-sessions handle's calls this crate does not act on, each
/// warned about once per process with what to use instead: `set_expiry`
/// (the app's handle was made without an expiry, so any is the app's), and
/// `delete` without `flush` (`deleted_only`: the handle kept its id).
fn warn_ignored(handle: &ts::Session, deleted_only: bool) {
    static SET_EXPIRY: Once = Once::new();
    static DELETE: Once = Once::new();
    if handle.expiry().is_some() {
        SET_EXPIRY.call_once(|| {
            tracing::warn!(
                call = "tower_sessions::Session::set_expiry",
                "axum-user-sessions ignores `set_expiry` on axum-login's session handle: \
                 expiry is the layer's (`SessionLayer::with_idle_timeout`, `with_absolute_timeout`); \
                 for \"remember me\" call `Session::login_remember` after `AuthSession::login` \
                 (lifetime: `SessionLayer::with_remember_lifetime`). Logged once."
            );
        });
    }
    if deleted_only {
        DELETE.call_once(|| {
            tracing::warn!(
                call = "tower_sessions::Session::delete",
                "axum-user-sessions ignores `delete` on axum-login's session handle: \
                 to sign out use `AuthSession::logout` (or `flush`), or `Session::logout`. Logged once."
            );
        });
    }
}

#[async_trait::async_trait]
impl ts::SessionStore for Bridge {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let mut seen = self.seen();
        seen.saved = Some(record.data.clone());
        seen.flushed = self.0.id == Some(record.id);
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.seen().saved = Some(record.data.clone());
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        Ok((self.0.id == Some(*id)).then(|| Record {
            id: *id,
            data: self.0.loaded.clone(),
            // Unused: tower-sessions takes the expiry from the handle's own
            // settings when it saves; ours is the layer's.
            expiry_date: OffsetDateTime::now_utc(),
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        if self.0.id == Some(*id) {
            self.seen().deleted = true;
        }
        Ok(())
    }
}
