//! The layer's "where was this device last seen" setting: the locator.

use super::SessionLayer;
use crate::locate::{Locating, Locator};

/// Where devices were last seen.
impl SessionLayer {
    /// Turns each signed-in session's last IP
    /// ([`SessionRecord::last_ip`](crate::store::SessionRecord::last_ip))
    /// into a place label with `locator` ("Lisbon, Portugal"), shown in
    /// "Your devices" as `location`. The lookup runs after the response, in
    /// a task of its own, at most once per session and IP change in this
    /// process, and its answer is stored with the session (one statement,
    /// off the request path); a slow, failing or panicking locator never
    /// delays or fails a request. Default: none (no label). The crate ships
    /// no locator: plug in a GeoIP database.
    ///
    /// ```
    /// use axum_user_sessions::{MemoryStore, SessionLayer};
    /// use std::collections::HashMap;
    /// use std::net::IpAddr;
    /// use std::sync::Arc;
    ///
    /// let places: Arc<HashMap<IpAddr, String>> = Arc::new(HashMap::from([(
    ///     "203.0.113.7".parse().unwrap(),
    ///     "Lisbon, Portugal".to_owned(),
    /// )]));
    /// let layer = SessionLayer::new(MemoryStore::new()).with_locator(move |ip: IpAddr| {
    ///     let places = places.clone();
    ///     async move { places.get(&ip).cloned() }
    /// });
    /// ```
    pub fn with_locator(self, locator: impl Locator) -> Self {
        let locating = Locating::new(locator);
        self.config(|c| c.locator = Some(locating))
    }
}
