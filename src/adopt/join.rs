//! One adoption per old id: the request that takes the row adopts it, and
//! the requests presenting the same id meanwhile (or up to [`JOIN_WINDOW`]
//! after) from the same client (IP and User-Agent: other tabs of the same
//! browser) join the session it made. A request from another client gets
//! nothing, as a replay after the window does: the row is gone.

use super::TowerSessionsImport;
use super::source::{self, is_tower_id};
use crate::client::ClientInfo;
use crate::config::SessionConfig;
use crate::cookie::{CookieToken, read_cookie};
use crate::session::{Session, now};
use crate::token::SessionToken;
use axum::http::{HeaderMap, HeaderValue, header};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// How long a tab presenting an adopted id still joins the new session.
const JOIN_WINDOW: Duration = Duration::from_secs(30);

/// What an adoption came to. (No `Debug`: it holds a token.)
#[derive(Clone)]
enum Outcome {
    /// A session of ours, with this token, made for this client.
    Adopted(String, ClientInfo),
    /// Nothing to adopt: no row (unknown, forged, replayed), an expired or
    /// undecodable record, a refusal, or our write failed.
    Nothing,
    /// tower-sessions' table could not be read, or our store was out of
    /// reach or not set up (the row was put back): its cookie is kept, to
    /// try again on the next request.
    Retry,
}

type Cell = Arc<OnceCell<Outcome>>;

/// The layer's import, with its join markers.
pub(crate) struct Adopter {
    import: TowerSessionsImport,
    /// Old id → its adoption; only adoptions in flight or made stay.
    joins: Mutex<HashMap<String, (Cell, Instant)>>,
}

impl Adopter {
    pub(crate) fn new(import: TowerSessionsImport) -> Self {
        Self {
            import,
            joins: Mutex::new(HashMap::new()),
        }
    }

    /// The adoption of `id`, new or in flight.
    fn cell(&self, id: &str) -> Cell {
        let now = Instant::now();
        let mut joins = self.joins.lock().unwrap_or_else(|e| e.into_inner());
        joins.retain(|_, (_, since)| now.duration_since(*since) < JOIN_WINDOW);
        let (cell, _) = joins
            .entry(id.to_owned())
            .or_insert_with(|| (Arc::new(OnceCell::new()), now));
        cell.clone()
    }

    /// Drops `id`'s marker: nothing was adopted, so nothing is to join (and
    /// forged ids leave nothing behind).
    fn forget(&self, id: &str, cell: &Cell) {
        let mut joins = self.joins.lock().unwrap_or_else(|e| e.into_inner());
        if joins.get(id).is_some_and(|(c, _)| Arc::ptr_eq(c, cell)) {
            joins.remove(id);
        }
    }

    /// Takes `id`'s row and signs its user into `session`.
    async fn adopt(&self, id: &str, session: &Session) -> Outcome {
        let bytes = match self.import.source.take(id).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Outcome::Nothing,
            Err(e) => {
                tracing::warn!(error = %e, "tower-sessions' table could not be read: nothing adopted");
                return Outcome::Retry;
            }
        };
        let Some(record) = source::decode(id, &bytes) else {
            return Outcome::Nothing;
        };
        if record.expiry_date <= now() {
            tracing::debug!("an expired tower-sessions session was not adopted");
            return Outcome::Nothing;
        }
        let (data, expiry) = (record.data.clone(), record.expiry_date);
        let Some(user) = (self.import.mapping)(record).await else {
            tracing::info!("the app refused a tower-sessions session: nothing adopted");
            return Outcome::Nothing;
        };
        match session.adopt(user, data).await {
            Ok(Some(token)) => Outcome::Adopted(token, session.client().clone()),
            Ok(None) => Outcome::Nothing,
            // Our store refused this session for a reason of its own (its
            // data, its user id): another try would fail alike, so the row
            // stays taken rather than be taken again by every request.
            Err(e) if !worth_retrying(&e) => {
                tracing::warn!(error = %e, "a tower-sessions session could not be adopted: nothing adopted");
                Outcome::Nothing
            }
            Err(e) => {
                tracing::warn!(error = %e, "a tower-sessions session could not be adopted");
                // Nobody else can hold the row: it goes back for the next
                // request, rather than signing the user out.
                match self.import.source.put_back(id, &bytes, expiry).await {
                    Ok(()) => Outcome::Retry,
                    Err(e) => {
                        tracing::warn!(error = %e, "a tower-sessions session could not be put back");
                        Outcome::Nothing
                    }
                }
            }
        }
    }
}

/// Whether an adoption that failed with `e` may work on a later request:
/// our store was out of reach or too slow, or is not set up (its tables
/// missing, misconfigured: the operator's fix makes it work).
fn worth_retrying(e: &crate::error::Error) -> bool {
    e.is_unavailable() || e.hint().is_some()
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
            }),
            _ => None,
        }
    }

    /// Adopts (or joins the adoption of) the old id, before the handler: the
    /// session the handler is to see, and what the response needs.
    pub(crate) async fn run(self, session: Session) -> (Session, Adopted) {
        let cell = self.adopter.cell(&self.id);
        let mut adopter_request = false;
        let outcome = cell
            .get_or_init(|| {
                adopter_request = true;
                self.adopter.adopt(&self.id, &session)
            })
            .await
            .clone();
        if !matches!(outcome, Outcome::Adopted(..)) {
            self.adopter.forget(&self.id, &cell);
        }
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

    #[tokio::test]
    async fn debug_shows_no_id_or_token() {
        let pool = sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap();
        let import = TowerSessionsImport::sqlite(pool, |_| async { None::<String> });
        let adopter = Adopter::new(import);
        let cell = adopter.cell("OLDIDOLDIDOLDIDOLDIDOL");
        let outcome = Outcome::Adopted("SECRETTOKEN".into(), ClientInfo::default());
        cell.set(outcome).ok().unwrap();
        let shown = format!("{adopter:?}");
        assert!(shown.contains("markers: 1"), "{shown}");
        assert!(
            !shown.contains("OLDID") && !shown.contains("SECRET"),
            "{shown}"
        );
    }
}
