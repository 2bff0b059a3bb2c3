//! After the handler: the data written (or the session created), the
//! periodic rotation started when due, and the cookie changes that result,
//! as a value for the service to render. Nothing here knows HTTP.

use super::{Session, now};
use crate::cookie::{CookieChange, CookieUpdate};
use crate::error::Error;
use crate::events::SessionEventKind;
use crate::store::{DataPatch, SessionRecord};
use crate::token::SessionToken;
use std::collections::BTreeMap;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

/// How soon after its request arrived a response may still expire cookies
/// that named nothing live: about a round trip, less than any grace window.
pub(super) const PROMPT: time::Duration = time::Duration::seconds(1);

/// The end of a request, for the service.
#[derive(Debug, Default)]
pub(crate) struct Commit {
    /// The request's writes failed: the response becomes this error's.
    pub(crate) error: Option<Error>,
    /// The cookies to set or expire (on the error response, if any).
    pub(crate) cookies: CookieUpdate,
    /// `Some` for an API client's session, which sets no cookie (`cookies`
    /// is empty): its new token, if any, for the token header.
    pub(crate) api_token: Option<Option<String>>,
}

impl Session {
    /// Writes what the handler changed and says what the cookies become.
    /// `handler_failed` (a 5xx answer): the data changes are dropped and no
    /// rotation starts. A session never loaded commits nothing, unless the
    /// handler changed its data anyway (it reached the session through the
    /// request's extensions, `Extension<Session>`, not the extractor): it
    /// is loaded then, and the changes written as the extractor's would be.
    pub(crate) async fn commit(&self, handler_failed: bool) -> Commit {
        if self.inner.loaded.get().is_none() {
            if handler_failed || self.state().changes.is_empty() {
                return Commit::default(); // nothing read, nothing changed
            }
            // Its changes were checked against no data: checked again.
            if let Err(e) = self
                .ensure_loaded()
                .await
                .and_then(|()| self.check_pending())
            {
                self.state().changes.clear();
                return Commit {
                    error: Some(e),
                    ..Commit::default()
                };
            }
        }
        let error = self.write(handler_failed).await.err();
        let st = self.state();
        if st.api {
            return Commit {
                error,
                cookies: CookieUpdate::default(),
                api_token: Some(st.new_token.as_ref().map(SessionToken::encode)),
            };
        }
        drop(st);
        Commit {
            error,
            cookies: self.cookie_update(),
            api_token: None,
        }
    }

    async fn write(&self, handler_failed: bool) -> Result<(), Error> {
        let (record_id, changes) = {
            let mut st = self.state();
            let changes = if handler_failed {
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
                    if self.store().patch_data(id, &patch).await?.is_none() {
                        // Logged out, revoked or moved by a sign-in while
                        // this request ran: the write must not resurrect
                        // it, and must not be reported as done.
                        tracing::debug!(session.id = %id, "session ended during the request; write dropped");
                        self.state().ended_elsewhere();
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
        if !handler_failed {
            // Rotation is best effort: a failure leaves the current token in
            // place, and must not turn the handler's answer into an error.
            if let Err(err) = self.rotate_if_due().await {
                tracing::warn!(error = %err, "session token rotation failed; will retry later");
            }
        }
        Ok(())
    }

    /// After the request: the layer's locator looks the session's last IP
    /// up, if it has no place yet ([`Locating::after`](crate::locate::Locating)).
    pub(crate) fn locate_later(&self, locator: &crate::locate::Locating) {
        if let Some(record) = self.state().record.as_ref() {
            locator.after(&self.inner.store, record);
        }
    }

    async fn rotate_if_due(&self) -> Result<(), Error> {
        let (id, expected) = {
            let st = self.state();
            match (&st.record, st.rotation_due, &st.new_token) {
                (Some(r), Some(expected), None) => (r.id, expected),
                _ => return Ok(()),
            }
        };
        let pending = self.issue_token(id)?;
        let now = now();
        if self
            .store()
            .begin_rotation(id, expected, &pending.hash(), now)
            .await?
        {
            let user = self.user_id();
            self.emit_for(SessionEventKind::Rotated, Some(id), user);
            self.state().new_token = Some(pending);
        }
        Ok(())
    }

    /// The cookie changes this request's session calls for.
    fn cookie_update(&self) -> CookieUpdate {
        let st = self.state();
        // The clock, read only when a rule below needs it (not on every
        // request): cookies cleared at load, or a restore.
        let now = (st.cleared_at_load || st.restored.is_some()).then(now);
        // Cookies that named nothing live at load are expired by a prompt
        // response only: a slower one may land after the cookie a sign-in
        // in another tab set meanwhile, and would expire that. The next
        // prompt request expires them.
        let late = st.cleared_at_load && now.is_some_and(|n| n - self.inner.arrived > PROMPT);
        // A restore's cookies, by a timely response only (`restored.rs`).
        let grace = self.config().remember.grace;
        let withheld = (st.restored).filter(|r| now.is_some_and(|n| r.withholds(n, grace)));
        let new_token =
            (st.new_token.as_ref()).filter(|t| !withheld.is_some_and(|r| r.issued_token(t)));
        let new_remember = (st.new_remember.as_ref())
            .filter(|(t, _)| !withheld.is_some_and(|r| r.issued_validator(t)));
        let session = match (new_token, st.clear_cookie && !late) {
            (Some(token), _) => Some(CookieChange::Set {
                value: token.encode(),
                max_age: None,
            }),
            (None, true) => Some(CookieChange::Expire),
            (None, false) => None,
        };
        let remember = match (new_remember, st.clear_remember && !late) {
            (Some((token, expires)), _) => Some(CookieChange::Set {
                value: token.encode(),
                max_age: Some(
                    (*expires - OffsetDateTime::now_utc())
                        .whole_seconds()
                        .max(0),
                ),
            }),
            (None, true) if self.inner.remember.is_present() => Some(CookieChange::Expire),
            _ => None,
        };
        let trust = st.trust.cookie_change();
        CookieUpdate {
            session,
            remember,
            trust,
        }
    }

    /// A new token for session `id`, naming it when the layer is set to
    /// ([`with_session_ids_in_tokens`](crate::SessionLayer::with_session_ids_in_tokens)).
    pub(super) fn issue_token(&self, id: Uuid) -> Result<SessionToken, Error> {
        let named = (self.config().session_ids_in_tokens
            || !self.store().extensions().finds_tokens)
            .then_some(id);
        SessionToken::generate(named)
    }

    /// A new anonymous row for this client, starting `now`.
    pub(super) fn new_record(&self, now: OffsetDateTime) -> SessionRecord {
        let cfg = self.config();
        let mut r = SessionRecord::new(crate::store::placement::session_id(None), now);
        r.absolute_expires_at = now + cfg.absolute_timeout;
        r.expires_at = (now + cfg.idle_timeout).min(r.absolute_expires_at);
        r.ip = self.inner.client.ip;
        r.last_ip = self.inner.client.ip;
        r.user_agent.clone_from(&self.inner.client.user_agent);
        r.api_client = self.state().api;
        r
    }

    /// Inserts `record` with the pending changes folded into its data.
    ///
    /// A request whose token a sign-in retired within the grace window (it
    /// left before the sign-in's response came back), or whose session
    /// another request ended while it ran, creates no anonymous session:
    /// its cookie would replace the other request's. Its write fails with
    /// [`Error::SessionEnded`], and no cookie is set.
    pub(super) async fn create(&self, mut record: SessionRecord) -> Result<(), Error> {
        if record.user_id.is_none() && self.state().no_new_session {
            tracing::debug!("write with a retired session token dropped");
            return Err(Error::SessionEnded);
        }
        let token = self.issue_token(record.id)?;
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
        st.record = Some(Arc::new(record));
        st.new_token = Some(token);
        st.clear_cookie = false;
        st.rotation_due = None;
        Ok(())
    }
}
