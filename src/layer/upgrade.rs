//! The layer's settings for upgrading a running fleet:
//! [`SessionLayer::with_session_ids_in_tokens`].

use super::SessionLayer;

/// Upgrading a running fleet.
impl SessionLayer {
    /// Whether the session tokens this layer issues (cookies and bearer
    /// tokens) name their session: `<session id>.<secret>`, so that a
    /// request's session is found by its key (the table's primary key on
    /// Postgres and SQLite, the key itself on a key-value store) and the
    /// secret's SHA-256 compared with that session's own. Default: off,
    /// tokens of 0.1's form (the secret alone, found by its hash).
    ///
    /// Either way the layer reads both forms, so a fleet that runs this
    /// version everywhere can turn it on at any time, and back off, without
    /// signing anyone out. 0.1 reads a token that names its session as
    /// malformed: **turn it on once every instance runs 0.2** (a new app,
    /// with no 0.1 instance, turns it on from the start). It will be the
    /// default in 0.3.
    ///
    /// The id is public (it is in the device list and in URLs): it finds the
    /// session, the secret proves the request holds it. A known id with a
    /// wrong secret is "no session", and changes nothing.
    ///
    /// ```
    /// use axum_user_sessions::{MemoryStore, SessionLayer};
    /// let layer = SessionLayer::new(MemoryStore::new()).with_session_ids_in_tokens(true);
    /// ```
    pub fn with_session_ids_in_tokens(self, on: bool) -> Self {
        self.config(|c| c.session_ids_in_tokens = on)
    }
}
