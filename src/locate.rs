//! Where a device was last seen, as a place: the app's [`Locator`] (a GeoIP
//! database, a lookup service) turns a session's last IP into a label
//! ("Lisbon, Portugal"), off the request path, and the answer is stored
//! with the session. None is shipped.

use crate::store::{SessionRecord, SessionStore};
use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// The longest label kept (longer ones are cut).
const MAX_LABEL: usize = 100;

/// How long a lookup may take before it is given up.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How many (session, IP) lookups a process remembers having started, so
/// that it starts each at most once (the set is emptied when full).
const TRIED_CAPACITY: usize = 10_000;

/// Turns an IP address into a place label ("Lisbon, Portugal") for "Your
/// devices": [`SessionLayer::with_locator`](crate::SessionLayer::with_locator).
///
/// It is called after the response, in a task of its own, at most once per
/// session and IP change in a process; a slow, failing (`None`) or
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

/// The layer's locator, with the lookups this process started.
#[derive(Clone)]
pub(crate) struct Locating {
    locator: Arc<dyn Locator>,
    tried: Arc<Mutex<HashSet<(Uuid, IpAddr)>>>,
}

impl fmt::Debug for Locating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Locating").finish_non_exhaustive()
    }
}

impl Locating {
    pub(crate) fn new(locator: impl Locator) -> Self {
        Self {
            locator: Arc::new(locator),
            tried: Arc::default(),
        }
    }

    /// After a request on `record`: when its last IP has no place yet and
    /// no lookup of it was started here, starts one in a task of its own,
    /// whose answer is stored (if the IP is still the session's then).
    pub(crate) fn after(&self, store: &Arc<dyn SessionStore>, record: &SessionRecord) {
        let (Some(ip), None) = (record.last_ip, &record.location) else {
            return;
        };
        // Anonymous sessions are listed nowhere: no lookup for them.
        if record.user_id.is_none() || record.revoked_at.is_some() || !self.first_try(record.id, ip)
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (locator, store, id) = (self.locator.clone(), store.clone(), record.id);
        runtime.spawn(async move {
            let found = tokio::time::timeout(LOOKUP_TIMEOUT, locator.locate(ip)).await;
            let Some(label) = found.ok().flatten().and_then(|l| clean(&l)) else {
                tracing::debug!(session.id = %id, "no place found for the session's IP");
                return;
            };
            if let Err(e) = store.set_location(id, ip, &label).await {
                tracing::warn!(session.id = %id, error = %e, "storing a session's place failed");
            }
        });
    }

    /// Whether this is the first lookup of `ip` for session `id` here.
    fn first_try(&self, id: Uuid, ip: IpAddr) -> bool {
        let mut tried = self.tried.lock().unwrap_or_else(|e| e.into_inner());
        if tried.len() >= TRIED_CAPACITY {
            tried.clear();
        }
        tried.insert((id, ip))
    }
}

/// A label as stored: without control or invisible characters (the rule of
/// device names, [`crate::text::is_hidden`]), trimmed, at most 100
/// characters; `None` when empty.
fn clean(label: &str) -> Option<String> {
    let shown: String = label
        .chars()
        .filter(|c| !crate::text::is_hidden(*c))
        .collect();
    let label: String = shown.trim().chars().take(MAX_LABEL).collect();
    let label = label.trim_end().to_owned();
    (!label.is_empty()).then_some(label)
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
        assert_eq!(clean(&"x".repeat(300)).unwrap().len(), MAX_LABEL);
    }

    #[test]
    fn each_ip_is_looked_up_once() {
        let l = Locating::new(|_: IpAddr| async { None });
        let (id, ip) = (Uuid::new_v4(), "192.0.2.1".parse().unwrap());
        assert!(l.first_try(id, ip));
        assert!(!l.first_try(id, ip));
        assert!(l.first_try(id, "192.0.2.2".parse().unwrap()));
    }
}
