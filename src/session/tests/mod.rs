//! The session state machine over the memory storage, without HTTP: each
//! "request" is a [`Session`] made from the cookies a browser would send,
//! and each assertion is on the [`CookieUpdate`] its commit returns.

use super::{Session, now};
use crate::binding::{Binding, BindingMode, DefaultBinding};
use crate::client::ClientInfo;
use crate::config::SessionConfig;
use crate::cookie::{CookieChange, CookieToken, CookieUpdate};
use crate::error::Error;
use crate::store::{CountingStore, MemoryStorage, Protocol, SessionProtocol};
use crate::token::{RememberToken, SessionToken};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

/// A browser against one store: the cookies it holds, updated from each
/// response as a browser would.
#[derive(Clone)]
struct Browser {
    store: Arc<dyn SessionProtocol>,
    /// The calls that reached the memory storage beneath `store`'s protocol.
    counted: CountingStore,
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
        Self::over(MemoryStorage::default(), config)
    }

    /// A browser over `storage`, under `config`.
    fn over(storage: impl crate::store::SessionStore, config: SessionConfig) -> Self {
        let counted = CountingStore::new(storage);
        Self {
            store: Arc::new(Protocol::new(counted.clone())),
            counted,
            config: Arc::new(config),
            ip: HOME,
            session: None,
            remember: None,
        }
    }

    /// How many store calls this browser's store has served.
    fn round_trips(&self) -> u64 {
        self.counted.round_trips()
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
            cookie(session, SessionToken::parse),
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
    trust: None,
};

/// A browser with an anonymous session holding `"k": 1`.
async fn with_session() -> Browser {
    with_session_under(SessionConfig::default()).await
}

/// The same, under `config`.
async fn with_session_under(config: SessionConfig) -> Browser {
    let mut b = Browser::with_config(config);
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

    b.session = Some(SessionToken::generate(None).unwrap().encode());
    let s = b.request().await;
    assert_eq!(s.id(), None);
    let update = b.respond(&s).await;
    assert_eq!(update.session, Some(CookieChange::Expire));
    assert_eq!(update.remember, None, "no remember-me cookie to expire");
}

/// A browser whose session cookie names a session that is gone (idled
/// out and collected), and a request of it, loaded.
async fn with_a_dead_cookie() -> (Browser, Session) {
    let b = with_session().await;
    let id = b.request().await.id().unwrap();
    b.store.delete(id).await.unwrap();
    let s = b.request().await;
    assert_eq!(s.id(), None);
    (b, s)
}

/// Waits until the clock has passed `at`.
async fn past(at: time::OffsetDateTime) {
    while now() <= at {
        tokio::task::yield_now().await;
    }
}

/// Waits until `s`'s response is no longer prompt.
async fn past_prompt(s: &Session) {
    while now() - s.inner.arrived <= super::commit::PROMPT {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A slow request whose cookie named nothing live (an idled-out session)
/// answers after a sign-in in another tab set a new cookie: it must not
/// expire that one. A prompt response still expires a dead cookie.
#[tokio::test]
async fn a_slow_response_does_not_expire_a_dead_cookie() {
    let (mut b, slow) = with_a_dead_cookie().await;
    let mut other_tab = b.clone();
    let s = other_tab.request().await;
    s.login("alice").await.unwrap();
    session_cookie(&other_tab.respond(&s).await.session);
    past_prompt(&slow).await;
    assert_eq!(b.respond(&slow).await, NOTHING);
    let prompt = b.request().await;
    assert_eq!(b.respond(&prompt).await.session, Some(CookieChange::Expire));
}

/// What the handler asks for is sent however late: a logout on a request
/// whose cookie was already dead at load still expires the cookies.
#[tokio::test]
async fn a_slow_logout_still_expires_the_cookies() {
    let (mut b, slow) = with_a_dead_cookie().await;
    slow.logout().await.unwrap();
    past_prompt(&slow).await;
    assert_eq!(b.respond(&slow).await.session, Some(CookieChange::Expire));
}

mod arrival;
mod auth;
mod interleaved;
mod late_restore;
mod sign_out_elsewhere;
mod stalled_restore;
mod update;
