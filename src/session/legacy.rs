//! Cookies under the names 0.1 sent, where today's differ
//! ([`CookieConfig::legacy_name`](crate::cookie::CookieConfig::legacy_name)):
//! read for the sessions 0.1 wrote, and for no other.
//!
//! Whoever can set a cookie for the site without its prefix (a plain-http
//! page of the domain, a sibling subdomain) can plant one under 0.1's
//! unprefixed name, which is what today's `__Secure-` name rules out: an
//! attacker's own token planted there signed the visitor into the
//! attacker's account. So a cookie under 0.1's name counts only when it
//! carries 0.1's token form (the service reads no other there) and names a
//! session 0.1 created: one with a version 4 id
//! ([`placement::created_by_0_1`]), which no session of today's has, and
//! which no later write changes (a sign-in, a restore or a rotation by this
//! version leaves a 0.1 session's concurrent requests alone), and no older
//! than a 0.1 session could live (the longer of the absolute timeout and
//! the remember-me lifetime, from its creation): this version's sign-ins
//! keep a session's id, and must not keep a planter's 0.1 session
//! plantable for ever. A 0.1 user's cookie keeps working until its session
//! would have ended under 0.1; a planted one signs nobody in, and is
//! expired. One that names no session of this store (a sibling app's own
//! `session` cookie) is left alone.

use super::Session;
use crate::store::{SessionRecord, placement};

/// What came under 0.1's cookie names, and what it named.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Legacy {
    /// The session cookie came under its 0.1 name: a rotation moves it.
    pub(super) session: bool,
    /// The remember-me cookie came under its 0.1 name.
    remember: bool,
    /// The session cookie named a session of this store.
    session_ours: bool,
    /// The remember-me cookie named a session of this store.
    remember_ours: bool,
}

impl Session {
    /// The session cookie came under its 0.1 name (set by the service): a
    /// current token rotates, so that the cookie moves to today's name
    /// through the rotation's compare-and-set. A request that lost a race
    /// to a sign-in or another rotation then sets nothing, where sending
    /// its old token again under the new name would put a retired or
    /// superseded token over the newer cookie.
    pub(crate) fn cookie_under_legacy_name(&self) {
        self.state().legacy.session = true;
    }

    /// The remember-me cookie came under its 0.1 name (set by the service).
    pub(crate) fn remember_under_legacy_name(&self) {
        self.state().legacy.remember = true;
    }

    /// Which cookies read under 0.1's names (session, remember-me) named a
    /// session of this store: the response expires those, once it sets or
    /// expires today's.
    pub(crate) fn legacy_cookies_ours(&self) -> (bool, bool) {
        let legacy = self.state().legacy;
        (legacy.session_ours, legacy.remember_ours)
    }

    /// Whether the session cookie, found to name `record`, is refused: it
    /// came under 0.1's name, and 0.1 did not create `record`.
    pub(super) fn refuses_legacy_session(&self, record: &SessionRecord) -> bool {
        let mut st = self.state();
        st.legacy.session_ours |= st.legacy.session;
        st.legacy.session && self.planted(record)
    }

    /// Whether the remember-me cookie, found to name `record`, is refused.
    pub(super) fn refuses_legacy_remember(&self, record: &SessionRecord) -> bool {
        let mut st = self.state();
        st.legacy.remember_ours |= st.legacy.remember;
        st.legacy.remember && self.planted(record)
    }

    /// A cookie under 0.1's name that names `record`: one 0.1 did not
    /// create, or older than any 0.1 session lives.
    fn planted(&self, record: &SessionRecord) -> bool {
        let cfg = self.config();
        let lifetime = cfg.absolute_timeout.max(cfg.remember.lifetime);
        let lifetime = time::Duration::try_from(lifetime).unwrap_or(time::Duration::MAX);
        let end = record.created_at.checked_add(lifetime);
        let outlived = end.is_some_and(|end| end <= super::now());
        let planted = !placement::created_by_0_1(record.id) || outlived;
        if planted {
            tracing::warn!(
                session.id = %record.id,
                "a cookie under 0.1's name names a session 0.1 did not create, or one past a 0.1 session's life: refused (planted?)"
            );
        }
        planted
    }
}
