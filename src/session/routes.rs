//! What the ready-made routes (`crate::routes`) and the session limit call
//! on a session: its admin handle, its cookies' security, ending it.

use super::Session;

#[cfg_attr(not(feature = "routes"), allow(dead_code))]
impl Session {
    /// Admin calls on this session's store, sending events to the layer's
    /// hook with this request's client: the routes and the session limit
    /// revoke through it.
    pub(crate) fn admin(&self) -> crate::admin::SessionAdmin {
        let (store, events) = (self.inner.store.clone(), self.config().events.clone());
        crate::admin::SessionAdmin::with_sink(store, events).with_client(self.inner.client.clone())
    }

    /// Whether the layer's cookies are `Secure` (the site is served over
    /// https), for the routes' same-origin rule.
    pub(crate) fn secure_cookies(&self) -> bool {
        self.config().cookie.secure
    }

    /// The session was revoked by the request itself (revoke-all, or its own
    /// id): continue as anonymous and expire the cookie.
    pub(crate) fn mark_ended(&self) {
        self.state().end(true);
    }
}
