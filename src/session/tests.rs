//! The session state machine over a [`MemoryStore`], without HTTP: each
//! "request" is a [`Session`] made from the cookies a browser would send,
//! and each assertion is on the [`CookieUpdate`] its commit returns.

use super::{Session, now};
use crate::binding::{Binding, BindingMode, DefaultBinding};
use crate::client::ClientInfo;
use crate::config::SessionConfig;
use crate::cookie::{CookieChange, CookieToken, CookieUpdate};
use crate::error::Error;
use crate::store::{MemoryStore, SessionStore};
use crate::token::{RememberToken, Token};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

/// A browser against one store: the cookies it holds, updated from each
/// response as a browser would.
#[derive(Clone)]
struct Browser {
    store: Arc<dyn SessionStore>,
    config: Arc<SessionConfig>,
    ip: IpAddr,
    session: Option<String>,
    remember: Option<String>,
}

impl Browser {
    fn new() -> Self {
        Self::with_config(SessionConfig::default())
    }

    fn with_config(config: SessionConfig) -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            config: Arc::new(config),
            ip: HOME,
            session: None,
            remember: None,
        }
    }

    /// The same store and settings, another browser with no cookies.
    fn other(&self) -> Self {
        let (session, remember) = (None, None);
        Self {
            session,
            remember,
            ..self.clone()
        }
    }

    /// A request's session with the given cookies, loaded as an extractor
    /// would.
    async fn request_with(&self, session: Option<&str>, remember: Option<&str>) -> Session {
        let s = self.unloaded(session, remember);
        s.ensure_loaded().await.unwrap();
        s
    }

    fn unloaded(&self, session: Option<&str>, remember: Option<&str>) -> Session {
        Session::new(
            self.store.clone(),
            self.config.clone(),
            cookie(session, Token::parse),
            cookie(remember, RememberToken::parse),
            ClientInfo::new(Some(self.ip), Some("unit test".into())),
        )
    }

    /// A request with this browser's cookies.
    async fn request(&self) -> Session {
        self.request_with(self.session.as_deref(), self.remember.as_deref())
            .await
    }

    /// Ends a successful request; the browser keeps what the response sets.
    async fn respond(&mut self, s: &Session) -> CookieUpdate {
        let commit = s.commit(false).await;
        assert!(commit.error.is_none(), "{:?}", commit.error);
        for (jar, change) in [
            (&mut self.session, &commit.cookies.session),
            (&mut self.remember, &commit.cookies.remember),
        ] {
            match change {
                Some(CookieChange::Set { value, .. }) => *jar = Some(value.clone()),
                Some(CookieChange::Expire) => *jar = None,
                None => {}
            }
        }
        commit.cookies
    }

    async fn sessions(&self) -> u64 {
        let now = now();
        self.store.stats(now, now).await.unwrap().active_sessions
    }
}

fn cookie<T>(value: Option<&str>, parse: impl Fn(&str) -> Option<T>) -> CookieToken<T> {
    match value {
        None => CookieToken::Absent,
        Some(v) => parse(v).map_or(CookieToken::Malformed, CookieToken::Valid),
    }
}

/// The value of a cookie set without `Max-Age` (a browser-session cookie).
fn session_cookie(change: &Option<CookieChange>) -> String {
    match change {
        Some(CookieChange::Set {
            value,
            max_age: None,
        }) => value.clone(),
        other => panic!("expected a session cookie, got {other:?}"),
    }
}

const NOTHING: CookieUpdate = CookieUpdate {
    session: None,
    remember: None,
};

/// A browser with an anonymous session holding `"k": 1`.
async fn with_session() -> Browser {
    let mut b = Browser::new();
    let s = b.request().await;
    s.insert("k", 1).unwrap();
    b.respond(&s).await;
    assert!(b.session.is_some());
    b
}

#[tokio::test]
async fn a_session_is_created_only_when_data_is_written() {
    let mut b = Browser::new();
    let s = b.request().await;
    assert_eq!(s.id(), None);
    assert_eq!(s.get::<u32>("k").unwrap(), None);
    assert_eq!(b.respond(&s).await, NOTHING);
    assert_eq!(b.sessions().await, 0);

    // Removing what is not there writes nothing either.
    let s = b.request().await;
    assert!(!s.remove("k"));
    assert_eq!(b.respond(&s).await, NOTHING);
    assert_eq!(b.sessions().await, 0);

    let s = b.request().await;
    s.insert("k", 1).unwrap();
    let update = b.respond(&s).await;
    let token = session_cookie(&update.session);
    assert_eq!(update.remember, None);
    assert_eq!(b.sessions().await, 1);

    // The next request finds it, and changes nothing in the cookies.
    let s = b.request_with(Some(&token), None).await;
    assert_eq!(s.get::<u32>("k").unwrap(), Some(1));
    assert!(!s.is_authenticated());
    assert_eq!(b.respond(&s).await, NOTHING);
}

#[tokio::test]
async fn a_failed_handler_writes_nothing() {
    let b = Browser::new();
    let s = b.request().await;
    s.insert("k", 1).unwrap();
    let commit = s.commit(true).await;
    assert!(commit.error.is_none());
    assert_eq!(commit.cookies, NOTHING);
    assert_eq!(b.sessions().await, 0);
}

#[tokio::test]
async fn a_session_never_extracted_commits_nothing() {
    let b = Browser::new();
    // Even a malformed cookie is left alone when nothing looked at it.
    let s = b.unloaded(Some("nope"), Some("nope"));
    let commit = s.commit(false).await;
    assert!(commit.error.is_none());
    assert_eq!(commit.cookies, NOTHING);
}

#[tokio::test]
async fn malformed_and_unknown_cookies_are_expired() {
    let mut b = Browser::new();
    b.session = Some("nope".into());
    b.remember = Some("nope".into());
    let s = b.request().await;
    let update = b.respond(&s).await;
    assert_eq!(update.session, Some(CookieChange::Expire));
    assert_eq!(update.remember, Some(CookieChange::Expire));

    b.session = Some(Token::generate().unwrap().encode());
    let s = b.request().await;
    assert_eq!(s.id(), None);
    let update = b.respond(&s).await;
    assert_eq!(update.session, Some(CookieChange::Expire));
    assert_eq!(update.remember, None, "no remember-me cookie to expire");
}

#[tokio::test]
async fn login_issues_a_new_token_and_retires_the_old() {
    let mut b = with_session().await;
    let old = b.session.clone().unwrap();
    let s = b.request().await;
    let id = s.id().unwrap();
    s.login("alice").await.unwrap();
    assert_eq!(s.user_id().as_deref(), Some("alice"));
    assert!(s.is_fresh(Duration::from_secs(60)));
    let update = b.respond(&s).await;
    let new = session_cookie(&update.session);
    assert_ne!(new, old);
    assert_eq!(update.remember, None);

    // The same session, signed in, with its data.
    let s = b.request().await;
    assert_eq!(s.id(), Some(id));
    assert_eq!(s.user_id().as_deref(), Some("alice"));
    assert_eq!(s.get::<u32>("k").unwrap(), Some(1));

    // A request still carrying the old token (it left before the sign-in)
    // is anonymous, and must not expire the cookie the sign-in set.
    let s = b.request_with(Some(&old), None).await;
    assert_eq!(s.id(), None);
    assert_eq!(b.other().respond(&s).await, NOTHING);
}

#[tokio::test]
async fn login_as_another_user_starts_a_fresh_session() {
    let mut b = with_session().await;
    let s = b.request().await;
    s.login("alice").await.unwrap();
    b.respond(&s).await;
    let alice = b.request().await.id().unwrap();

    let s = b.request().await;
    s.login("bob").await.unwrap();
    assert_ne!(s.id(), Some(alice));
    assert_eq!(s.get::<u32>("k").unwrap(), None, "bob inherits nothing");
    session_cookie(&b.respond(&s).await.session);
    assert!(b.store.get(alice).await.unwrap().is_none());
}

#[tokio::test]
async fn rotate_and_reauthenticate_issue_a_token_without_grace() {
    let mut b = with_session().await;
    for reauthenticate in [false, true] {
        let old = b.session.clone().unwrap();
        let s = b.request().await;
        if reauthenticate {
            s.reauthenticate().await.unwrap();
            assert!(s.authenticated_at().is_some());
        } else {
            s.rotate().await.unwrap();
            assert_eq!(s.authenticated_at(), None);
        }
        let new = session_cookie(&b.respond(&s).await.session);
        assert_ne!(new, old);
        assert_eq!(b.request().await.get::<u32>("k").unwrap(), Some(1));
        assert_eq!(b.request_with(Some(&old), None).await.id(), None);
    }

    // Without a session, nothing happens.
    let mut anon = b.other();
    let s = anon.request().await;
    s.rotate().await.unwrap();
    s.reauthenticate().await.unwrap();
    assert_eq!(anon.respond(&s).await, NOTHING);
}

#[tokio::test]
async fn a_due_rotation_sends_a_pending_token_promoted_on_first_use() {
    let mut config = SessionConfig::default();
    // Due at every request made with the current token.
    config.rotation.interval = Some(Duration::ZERO);
    let mut b = Browser::with_config(config);
    let s = b.request().await;
    s.insert("k", 1).unwrap();
    b.respond(&s).await;
    let old = b.session.clone().unwrap();
    let id = b.request().await.id().unwrap();

    // The request with the current token gets a pending token...
    let s = b.request_with(Some(&old), None).await;
    let update = s.commit(false).await.cookies;
    let pending = session_cookie(&update.session);
    assert_ne!(pending, old);
    assert_eq!(update.remember, None);

    // ...while a concurrent request with the old token still works, and
    // starts no second rotation within the grace window.
    let s = b.request_with(Some(&old), None).await;
    assert_eq!(s.id(), Some(id));
    assert_eq!(s.commit(false).await.cookies, NOTHING);

    // The pending token is promoted on first use: same session, no new
    // cookie.
    let s = b.request_with(Some(&pending), None).await;
    assert_eq!(s.id(), Some(id));
    assert_eq!(s.get::<u32>("k").unwrap(), Some(1));
    assert_eq!(s.commit(false).await.cookies, NOTHING);

    // The old token is superseded, and works for the grace window.
    let s = b.request_with(Some(&old), None).await;
    assert_eq!(s.id(), Some(id));
    assert_eq!(s.commit(false).await.cookies, NOTHING);
}

#[tokio::test]
async fn a_superseded_token_after_the_grace_window_revokes_the_session() {
    let mut b = with_session().await;
    let old = b.session.clone().unwrap();
    let id = b.request().await.id().unwrap();
    // A rotation completed ten minutes ago.
    let record = b.store.get(id).await.unwrap().unwrap();
    let then = now() - Duration::from_secs(600);
    let new = Token::generate().unwrap();
    assert!(
        b.store
            .begin_rotation(id, record.rotated_at, &new.hash(), then)
            .await
            .unwrap()
    );
    b.store.promote(id, &new.hash(), then).await.unwrap();

    // The old token replayed: theft. Anonymous, and its cookie expired.
    let s = b.request_with(Some(&old), None).await;
    assert_eq!(s.id(), None);
    let update = b.respond(&s).await;
    assert_eq!(update.session, Some(CookieChange::Expire));
    assert_eq!(update.remember, None);
    let record = b.store.get(id).await.unwrap().unwrap();
    assert!(record.revoked_at.is_some());
    assert_eq!(record.revoke_reason.as_deref(), Some("token_reuse"));

    // The rightful holder of the new token is signed out too.
    let s = b.request_with(Some(&new.encode()), None).await;
    assert_eq!(s.id(), None);
}

#[tokio::test]
async fn logout_expires_both_cookies() {
    let mut b = Browser::new();
    let s = b.request().await;
    s.login_remember("bob", true).await.unwrap();
    let update = b.respond(&s).await;
    session_cookie(&update.session);
    match &update.remember {
        Some(CookieChange::Set {
            max_age: Some(secs),
            ..
        }) => {
            let lifetime = b.config.remember.lifetime.as_secs() as i64;
            assert!((lifetime - 60..=lifetime).contains(secs), "{secs}");
        }
        other => panic!("expected a remember-me cookie, got {other:?}"),
    }
    let old = b.session.clone().unwrap();

    let s = b.request().await;
    assert!(s.is_persistent());
    let id = s.id().unwrap();
    s.logout().await.unwrap();
    assert_eq!(s.id(), None);
    let update = b.respond(&s).await;
    assert_eq!(update.session, Some(CookieChange::Expire));
    assert_eq!(update.remember, Some(CookieChange::Expire));
    assert!(b.store.get(id).await.unwrap().is_none());

    // The old token now names nothing: its cookie is expired.
    let s = b.request_with(Some(&old), None).await;
    assert_eq!(s.id(), None);
    assert_eq!(b.respond(&s).await.session, Some(CookieChange::Expire));

    // Signing out without a session or cookies changes nothing.
    let s = b.request().await;
    s.logout().await.unwrap();
    assert_eq!(b.respond(&s).await, NOTHING);
}

#[tokio::test]
async fn the_remember_me_cookie_reopens_the_session() {
    let mut b = Browser::new();
    let s = b.request().await;
    s.login_remember("carol", true).await.unwrap();
    b.respond(&s).await;
    let id = b.request().await.id().unwrap();
    let remember = b.remember.clone().unwrap();

    // The browser restarted: only the remember-me cookie is left.
    b.session = None;
    let s = b.request().await;
    assert_eq!(s.id(), Some(id));
    assert!(s.is_restored());
    let update = b.respond(&s).await;
    session_cookie(&update.session);
    assert!(
        matches!(&update.remember, Some(CookieChange::Set { value, max_age: Some(_) }) if *value != remember),
        "a new validator: {update:?}"
    );
    let s = b.request().await;
    assert_eq!(s.id(), Some(id));
    assert!(!s.is_restored());

    // Signing in again without "remember me" drops the credential.
    let s = b.request().await;
    s.login("carol").await.unwrap();
    let update = b.respond(&s).await;
    session_cookie(&update.session);
    assert_eq!(update.remember, Some(CookieChange::Expire));
    assert!(!b.request().await.is_persistent());
}

#[tokio::test]
async fn a_write_after_the_session_ended_is_an_error_and_expires_the_cookie() {
    let b = with_session().await;
    let s = b.request().await;
    let id = s.id().unwrap();
    s.insert("k", 2).unwrap();
    // Signed out elsewhere while this request ran.
    assert!(b.store.delete(id).await.unwrap());
    let commit = s.commit(false).await;
    assert!(matches!(commit.error, Some(Error::SessionEnded)));
    assert_eq!(commit.cookies.session, Some(CookieChange::Expire));
    assert_eq!(commit.cookies.remember, None);
    assert_eq!(s.id(), None);
    assert_eq!(b.sessions().await, 0, "the write must not resurrect it");
}

#[tokio::test]
async fn a_client_refused_by_the_binding_is_anonymous_and_keeps_the_cookie() {
    let config = SessionConfig {
        binding: Binding::Default(DefaultBinding {
            ip: BindingMode::Enforce,
            ..DefaultBinding::default()
        }),
        ..SessionConfig::default()
    };
    let mut b = Browser::with_config(config);
    let s = b.request().await;
    s.login("dave").await.unwrap();
    b.respond(&s).await;
    let id = b.request().await.id().unwrap();

    let mut thief = b.clone();
    thief.ip = ELSEWHERE;
    let s = thief.request().await;
    assert_eq!(s.id(), None);
    assert_eq!(thief.respond(&s).await, NOTHING);

    // The rightful client is still signed in.
    assert_eq!(b.request().await.id(), Some(id));
}
