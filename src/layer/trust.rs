//! The layer's trusted-device settings
//! ([`Session::trust_device`](crate::Session::trust_device)).

use super::{MAX_TIMEOUT, SessionLayer};
use std::time::Duration;

/// Trusted devices.
impl SessionLayer {
    /// How long a device the user trusted may skip the second factor, from
    /// the grant; use does not extend it. Default: 30 days. The credential
    /// lives in a cookie of its own, `__Host-trust`, which outlives
    /// sign-out.
    ///
    /// ```
    /// use axum_user_sessions::{MemoryStore, SessionLayer};
    /// use std::time::Duration;
    ///
    /// let layer = SessionLayer::new(MemoryStore::new())
    ///     .with_trusted_device_lifetime(Duration::from_secs(14 * 24 * 60 * 60));
    /// ```
    pub fn with_trusted_device_lifetime(self, lifetime: Duration) -> Self {
        self.config(|c| c.trust.lifetime = lifetime.min(MAX_TIMEOUT))
    }

    /// How soon after a sign-in that passed a second factor the device may
    /// be trusted. Default: 5 minutes; at least 1 second.
    pub fn with_trusted_device_grant_window(self, window: Duration) -> Self {
        self.config(|c| c.trust.grant_window = window.max(Duration::from_secs(1)))
    }
}
