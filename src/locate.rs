//! Where a device was last seen, as a place: the app's [`Locator`] (a GeoIP
//! database, a lookup service) turns a session's last IP into a label
//! ("Lisbon, Portugal"), off the request path, and the answer is stored
//! with the session. None is shipped.

use crate::store::{SessionProtocol, SessionRecord};
use hashlink::LruCache;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

/// The longest label kept (longer ones are cut).
const MAX_LABEL: usize = 100;

/// How long a lookup may take before it is given up.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How many (session, IP) lookups a process remembers having started, so
/// that it starts each at most once; past it, the least recently seen is
/// forgotten (an LRU: a flood of new sessions forgets only the oldest).
const TRIED_CAPACITY: usize = 10_000;

/// How many lookups may run at once. Past it, a request starts none (its
/// session is looked up on a later request): a burst of new sessions, or a
/// locator that hangs, cannot pile up tasks.
const MAX_IN_FLIGHT: usize = 64;

/// Turns an IP address into a place label ("Lisbon, Portugal") for "Your
/// devices": [`SessionLayer::with_locator`](crate::SessionLayer::with_locator).
///
/// It is called after the response, in a task of its own, at most once per
/// session and IP change in a process (the last 10,000 are remembered), at
/// most 64 at once (a lookup beyond that is skipped, and tried again on a
/// later request); a slow (10 s at most), failing (`None`) or
/// panicking locator never delays or breaks a request. The IP is the
/// stored one: anonymised when
/// [IP anonymisation](crate::SessionLayer::with_ip_anonymization) is on.
///
/// Any `Fn(IpAddr) -> impl Future<Output = Option<String>>` is a locator:
///
/// ```
/// use axum_user_sessions::{MemoryStore, SessionLayer};
/// use std::net::IpAddr;
///
/// let layer = SessionLayer::new(MemoryStore::new()).with_locator(|ip: IpAddr| async move {
///     // look `ip` up in a GeoIP database here
///     ip.is_loopback().then(|| "This computer".to_owned())
/// });
/// ```
pub trait Locator: Send + Sync + 'static {
    /// The place of `ip`, or `None` when unknown.
    fn locate(&self, ip: IpAddr) -> Pin<Box<dyn Future<Output = Option<String>> + Send + '_>>;
}

impl<F, Fut> Locator for F
where
    F: Fn(IpAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<String>> + Send + 'static,
{
    fn locate(&self, ip: IpAddr) -> Pin<Box<dyn Future<Output = Option<String>> + Send + '_>> {
        Box::pin(self(ip))
    }
}

/// The layer's locator, with the lookups this process started and the
/// permits of those running.
#[derive(Clone)]
pub(crate) struct Locating {
    locator: Arc<dyn Locator>,
    tried: Arc<Mutex<LruCache<(Uuid, IpAddr), ()>>>,
    in_flight: Arc<Semaphore>,
}

impl fmt::Debug for Locating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Locating").finish_non_exhaustive()
    }
}

impl Locating {
    pub(crate) fn new(locator: impl Locator) -> Self {
        Self::bounded(locator, TRIED_CAPACITY, MAX_IN_FLIGHT)
    }

    /// With room to remember `tried` lookups and run `in_flight` at once.
    fn bounded(locator: impl Locator, tried: usize, in_flight: usize) -> Self {
        Self {
            locator: Arc::new(locator),
            tried: Arc::new(Mutex::new(LruCache::new(tried))),
            in_flight: Arc::new(Semaphore::new(in_flight)),
        }
    }

    /// After a request on `record`: when its last IP has no place yet and
    /// no lookup of it was started here, starts one in a task of its own,
    /// whose answer is stored (if the IP is still the session's then).
    pub(crate) fn after(&self, store: &Arc<dyn SessionProtocol>, record: &SessionRecord) {
        let (Some(ip), None) = (record.last_ip, &record.location) else {
            return;
        };
        // Anonymous sessions are listed nowhere: no lookup for them.
        if record.user_id.is_none() || record.revoked_at.is_some() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Some(permit) = self.start(record.id, ip) else {
            return;
        };
        let (locator, store, id) = (self.locator.clone(), store.clone(), record.id);
        runtime.spawn(async move {
            let _permit = permit;
            let found = tokio::time::timeout(LOOKUP_TIMEOUT, locator.locate(ip)).await;
            let Some(label) = found.ok().flatten().and_then(|l| clean(&l)) else {
                tracing::debug!(session.id = %id, "no place found for the session's IP");
                return;
            };
            match store.set_location(id, ip, &label).await {
                Ok(_) => {}
                Err(crate::store::Error::Unsupported(what)) => {
                    tracing::debug!(unsupported = what, "the store keeps no places");
                }
                Err(e) => {
                    tracing::warn!(session.id = %id, error = %e, "storing a session's place failed");
                }
            }
        });
    }

    /// A permit to look `ip` up for session `id`, when no lookup of it was
    /// started here (as far as the LRU remembers) and one more may run;
    /// the lookup is then remembered as started. `None` otherwise: one
    /// skipped for want of a permit is not remembered, so a later request
    /// tries again.
    fn start(&self, id: Uuid, ip: IpAddr) -> Option<OwnedSemaphorePermit> {
        let mut tried = self.tried.lock().unwrap_or_else(|e| e.into_inner());
        if tried.get(&(id, ip)).is_some() {
            return None;
        }
        let permit = self.in_flight.clone().try_acquire_owned().ok()?;
        tried.insert((id, ip), ());
        Some(permit)
    }
}

/// A label as stored: without control or invisible characters (the rule of
/// device names, [`crate::text::is_hidden`]), trimmed, at most 100
/// characters; `None` when empty, or when it holds nothing but combining
/// marks ([`crate::text::is_marks_only`]).
fn clean(label: &str) -> Option<String> {
    let shown: String = label
        .chars()
        .filter(|c| !crate::text::is_hidden(*c))
        .collect();
    let label: String = shown.trim().chars().take(MAX_LABEL).collect();
    let label = label.trim_end().to_owned();
    (!crate::text::is_marks_only(&label)).then_some(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_cleaned() {
        assert_eq!(
            clean(" Lisbon, Portugal\n").as_deref(),
            Some("Lisbon, Portugal")
        );
        assert_eq!(clean("a\u{1b}[31mb").as_deref(), Some("a[31mb"));
        assert_eq!(clean("  "), None);
        assert_eq!(
            clean("\u{202E}Lis\u{00AD}bon\u{2028}, \u{3164}Portugal\u{E0001}").as_deref(),
            Some("Lisbon, Portugal")
        );
        assert_eq!(clean(" \u{200B} "), None);
        assert_eq!(clean("\u{301}\u{301}"), None, "marks alone show nothing");
        assert_eq!(clean(&"x".repeat(300)).unwrap().len(), MAX_LABEL);
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn each_ip_is_looked_up_once() {
        let l = Locating::new(|_: IpAddr| async { None });
        let id = Uuid::new_v4();
        assert!(l.start(id, ip(1)).is_some());
        assert!(l.start(id, ip(1)).is_none());
        assert!(l.start(id, ip(2)).is_some());
    }

    /// A full memory forgets the least recently seen lookup only, not all.
    #[test]
    fn the_oldest_lookup_is_forgotten_first() {
        let l = Locating::bounded(|_: IpAddr| async { None }, 3, 10);
        let (a, b, c, d) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        for id in [a, b, c] {
            assert!(l.start(id, ip(1)).is_some());
        }
        assert!(
            l.start(a, ip(1)).is_none(),
            "a is seen again: now the newest"
        );
        assert!(l.start(d, ip(1)).is_some(), "d makes room: b goes");
        assert!(l.start(a, ip(1)).is_none(), "a is remembered");
        assert!(l.start(c, ip(1)).is_none(), "c is remembered");
        assert!(l.start(b, ip(1)).is_some(), "b was forgotten");
    }

    /// At most `in_flight` lookups run; one refused for want of room is
    /// not remembered, and starts once a running one ends.
    #[test]
    fn lookups_in_flight_are_bounded() {
        let l = Locating::bounded(|_: IpAddr| async { None }, 100, 2);
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        let first = l.start(ids[0], ip(1));
        let second = l.start(ids[1], ip(1));
        assert!(first.is_some() && second.is_some());
        assert!(l.start(ids[2], ip(1)).is_none(), "a third runs at once");
        drop(first);
        assert!(
            l.start(ids[2], ip(1)).is_some(),
            "the skipped one never ran"
        );
        assert!(l.start(ids[0], ip(1)).is_none(), "the first one runs again");
    }

    /// Through `after`: a locator that never answers holds its permit (up
    /// to the timeout), so new sessions beyond the bound start no task.
    #[tokio::test(flavor = "current_thread")]
    async fn a_hanging_locator_runs_at_most_the_bound() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let l = Locating::bounded(
            move |_: IpAddr| {
                counted.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<Option<String>>()
            },
            100,
            2,
        );
        let store: Arc<dyn SessionProtocol> = Arc::new(crate::MemoryStore::new());
        for _ in 0..5 {
            let mut r = SessionRecord::new(Uuid::new_v4(), time::OffsetDateTime::now_utc());
            r.user_id = Some("alice".into());
            r.last_ip = Some(ip(1));
            l.after(&store, &r);
        }
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(l.in_flight.available_permits(), 0);
    }
}
