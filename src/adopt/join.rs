//! One adoption per old id: the request that takes the row adopts it, and
//! the requests presenting the same id meanwhile (or up to [`JOIN_WINDOW`]
//! after) from the same client (IP and User-Agent: other tabs of the same
//! browser) join the session it made. A request from another client gets
//! nothing, as a replay after the window does: the row is gone.
//!
//! The adoption itself runs in a task of its own (`run.rs`) that every
//! request of the id waits on: the one that went away included, whose
//! retry then joins what the task made.

use super::TowerSessionsImport;
use super::run::{Outcome, Watch};
use super::source::is_tower_id;
use crate::config::SessionConfig;
use crate::cookie::{CookieToken, read_cookie};
use crate::session::Session;
use crate::token::SessionToken;
use axum::http::{HeaderMap, HeaderValue, header};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long a tab presenting an adopted id still joins the new session.
const JOIN_WINDOW: Duration = Duration::from_secs(30);

/// The most adoptions one instance runs at once. Past it, a request goes
/// on without adopting (anonymous, tower-sessions' cookie kept for its
/// next request): while tower-sessions' table is slow or locked, made-up
/// ids would otherwise pile up a task each, for as long as it stays so.
const IN_FLIGHT_AT_MOST: usize = 256;

/// The adoption of one old id, in flight or made.
struct Marker {
    outcome: Watch,
    /// When the adoption started; once it adopted, when it did.
    since: Instant,
    /// Tells this adoption from a later one of the same id.
    generation: u64,
}

impl Marker {
    /// Whether the marker still serves at `now`: in flight (its task still
    /// there: one dropped without an outcome, with its runtime, is gone), or
    /// adopted within the join window.
    fn live(&self, now: Instant) -> bool {
        let in_flight = self.outcome.borrow().is_none();
        match in_flight {
            true => self.outcome.has_changed().is_ok(),
            false => now.duration_since(self.since) < JOIN_WINDOW,
        }
    }
}

/// The layer's import, with its join markers.
pub(crate) struct Adopter {
    pub(super) import: TowerSessionsImport,
    /// Old id → its adoption; only adoptions in flight or made stay.
    joins: Mutex<HashMap<String, Marker>>,
    generations: AtomicU64,
}

impl Adopter {
    pub(crate) fn new(import: TowerSessionsImport) -> Self {
        Self {
            import,
            joins: Mutex::new(HashMap::new()),
            generations: AtomicU64::new(0),
        }
    }

    fn joins(&self) -> MutexGuard<'_, HashMap<String, Marker>> {
        self.joins.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The adoption of `id` in flight or made, or (`true`) a new one,
    /// started on `session`.
    fn start_or_join(self: &Arc<Self>, id: &str, session: &Session) -> (Watch, bool) {
        let now = Instant::now();
        let mut joins = self.joins();
        joins.retain(|_, m| m.live(now));
        if let Some(marker) = joins.get(id) {
            return (marker.outcome.clone(), false);
        }
        let in_flight = joins.values().filter(|m| m.outcome.borrow().is_none());
        if in_flight.count() >= IN_FLIGHT_AT_MOST {
            tracing::warn!(
                at_most = IN_FLIGHT_AT_MOST,
                "too many tower-sessions adoptions in flight (is its table locked?): \
                 the request goes on without adopting, to try again"
            );
            return (watch::channel(Some(Outcome::Retry)).1, false);
        }
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        let outcome = self.spawn(id.to_owned(), session.clone(), generation);
        let marker = Marker {
            outcome: outcome.clone(),
            since: now,
            generation,
        };
        joins.insert(id.to_owned(), marker);
        (outcome, true)
    }

    /// The adoption of `id` marked `generation` came to `outcome`: an
    /// adopted session is joined for the window from now; otherwise the
    /// marker goes (nothing to join, and forged ids leave nothing behind).
    pub(super) fn settle(&self, id: &str, generation: u64, outcome: &Outcome) {
        let mut joins = self.joins();
        match joins.get_mut(id) {
            Some(m) if m.generation == generation => {
                if matches!(outcome, Outcome::Adopted(..)) {
                    m.since = Instant::now();
                } else {
                    joins.remove(id);
                }
            }
            _ => {}
        }
    }
}

// The markers map old ids (credentials) to our tokens: neither is shown.
impl std::fmt::Debug for Adopter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let markers = self.joins.lock().map_or(0, |j| j.len());
        f.debug_struct("Adopter")
            .field("import", &self.import)
            .field("markers", &markers)
            .finish()
    }
}

/// A request to adopt for: tower-sessions' cookie, none of ours. (No
/// `Debug`: it holds the old id, a credential.)
pub(crate) struct Pending {
    adopter: Arc<Adopter>,
    id: String,
    /// How long the request waits on the adoption: the store timeout.
    limit: Duration,
}

impl Pending {
    /// The adoption `headers` ask for, if any. Costs no query.
    pub(crate) fn read(
        config: &SessionConfig, headers: &HeaderMap, session: &Session,
    ) -> Option<Self> {
        let adopter = config.adopter.as_ref()?;
        if session.presents_credentials() {
            return None;
        }
        let name = &adopter.import.cookie_name;
        match read_cookie(headers, name, |v| is_tower_id(v).then(|| v.to_owned())) {
            CookieToken::Valid(id) => Some(Self {
                adopter: adopter.clone(),
                id,
                limit: config.store_timeout,
            }),
            _ => None,
        }
    }

    /// Adopts (or joins the adoption of) the old id, before the handler: the
    /// session the handler is to see, and what the response needs.
    pub(crate) async fn run(self, session: Session) -> (Session, Adopted) {
        let (mut watch, adopter_request) = self.adopter.start_or_join(&self.id, &session);
        // The adoption's task runs to its end; a request that goes away, or
        // stops waiting at the store timeout, drops only this wait.
        let wait = watch.wait_for(Option::is_some);
        let waited = match tokio::time::timeout(self.limit, wait).await {
            Ok(outcome) => outcome.ok().and_then(|o| o.clone()),
            Err(_) => {
                tracing::warn!(
                    limit = ?self.limit,
                    "adopting a tower-sessions session took longer than the store timeout: \
                     the request goes on without it"
                );
                None
            }
        };
        // The adoption may still write the session it was started on: a
        // request that stopped waiting goes on with a session of its own.
        let session = match (&waited, adopter_request) {
            (None, true) => session.detached(),
            _ => session,
        };
        let outcome = waited.unwrap_or(Outcome::Retry);
        let mut adopted = Adopted {
            cookie_name: self.adopter.import.cookie_name.clone(),
            expire: !matches!(outcome, Outcome::Retry),
            joined: None,
        };
        match outcome {
            Outcome::Adopted(token, client) if !adopter_request && &client == session.client() => {
                match SessionToken::parse(&token) {
                    Some(parsed) => {
                        adopted.joined = Some(token);
                        (session.joining(parsed), adopted)
                    }
                    None => (session, adopted),
                }
            }
            _ => (session, adopted),
        }
    }
}

/// What the response of an adopting request needs. (No `Debug`: it may
/// hold a token.)
pub(crate) struct Adopted {
    cookie_name: String,
    /// Expire tower-sessions' cookie.
    expire: bool,
    /// The adopted session's token, for a request that joined it: its
    /// cookie is set to it.
    pub(crate) joined: Option<String>,
}

impl Adopted {
    /// Leaves tower-sessions' cookie in place: a request that joined the
    /// adoption but could not load its session (the store failed) sets no
    /// cookie of ours, and the browser's next request joins again.
    pub(crate) fn keep_old_cookie(&mut self) {
        self.expire = false;
    }

    /// Expires tower-sessions' cookie (tower-sessions sets it on `Path=/`).
    pub(crate) fn write_headers(&self, headers: &mut HeaderMap) {
        if !self.expire {
            return;
        }
        let value = format!(
            "{}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            self.cookie_name
        );
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(header::SET_COOKIE, value);
        }
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use crate::client::ClientInfo;

    #[tokio::test]
    async fn debug_shows_no_id_or_token() {
        let pool = sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap();
        let import = TowerSessionsImport::sqlite(pool, |_| async { None::<String> });
        let adopter = Adopter::new(import);
        let (tx, outcome) = tokio::sync::watch::channel(None);
        tx.send_replace(Some(Outcome::Adopted(
            "SECRETTOKEN".into(),
            ClientInfo::default(),
        )));
        let marker = Marker {
            outcome,
            since: Instant::now(),
            generation: 0,
        };
        adopter
            .joins()
            .insert("OLDIDOLDIDOLDIDOLDIDOL".into(), marker);
        let shown = format!("{adopter:?}");
        assert!(shown.contains("markers: 1"), "{shown}");
        assert!(
            !shown.contains("OLDID") && !shown.contains("SECRET"),
            "{shown}"
        );
    }

    /// A marker whose task went away without an outcome (dropped with its
    /// runtime) is not in flight any more: it neither holds its id nor
    /// counts against the cap.
    #[test]
    fn a_marker_whose_task_is_gone_is_not_in_flight() {
        let (tx, outcome) = tokio::sync::watch::channel(None);
        let marker = Marker {
            outcome,
            since: Instant::now(),
            generation: 0,
        };
        assert!(marker.live(Instant::now()), "in flight");
        drop(tx);
        assert!(!marker.live(Instant::now()), "its task is gone");
    }

    /// Made-up ids while tower-sessions' table cannot be read (here: its
    /// pool's one connection is held) start at most `IN_FLIGHT_AT_MOST`
    /// adoptions; the next request is told to try again at once, and
    /// starts nothing. Once the table answers, every marker goes.
    #[tokio::test]
    async fn adoptions_in_flight_are_bounded() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let held = pool.acquire().await.unwrap();
        let import = TowerSessionsImport::sqlite(pool, |_| async { None::<String> });
        let adopter = Arc::new(Adopter::new(import));
        let store: Arc<dyn crate::store::SessionProtocol> =
            Arc::new(crate::store::MemoryStore::default());
        let config = Arc::new(SessionConfig::default());
        let (none, no_remember) = (CookieToken::Absent, CookieToken::Absent);
        let session = Session::new(store, config, none, no_remember, ClientInfo::default());
        let id = |n: usize| format!("{n:0>22}");
        for n in 0..IN_FLIGHT_AT_MOST {
            let (_, started) = adopter.start_or_join(&id(n), &session);
            assert!(started);
        }
        let (outcome, started) = adopter.start_or_join(&id(IN_FLIGHT_AT_MOST), &session);
        assert!(!started, "one adoption too many");
        assert!(matches!(*outcome.borrow(), Some(Outcome::Retry)));
        assert_eq!(adopter.joins().len(), IN_FLIGHT_AT_MOST);
        drop(held);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !adopter.joins().is_empty() {
            assert!(Instant::now() < deadline, "markers left behind");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
