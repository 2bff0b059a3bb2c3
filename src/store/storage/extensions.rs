//! [`Extensions`]: the extension traits a store offers, through one
//! accessor of [`SessionStore`](super::SessionStore).

use crate::store::devices::DeviceRecords;
use crate::store::session_store::CacheSupport;

/// The extension traits a store offers, from
/// [`SessionStore::extensions`](super::SessionStore::extensions): one
/// accessor for all, so that the store boundary does not grow with each.
///
/// ```
/// use axum_user_sessions::store::Extensions;
/// let none = Extensions::new();
/// assert!(none.cache.is_none() && none.devices.is_none());
/// ```
#[derive(Clone, Copy, Default)]
#[non_exhaustive]
pub struct Extensions<'a> {
    /// What a cache over the store needs ([`CacheSupport`]).
    pub cache: Option<&'a dyn CacheSupport>,
    /// Trusted devices and failed sign-ins ([`DeviceRecords`]); without
    /// them, those features answer
    /// [`Error::Unsupported`](crate::store::Error::Unsupported).
    pub devices: Option<&'a dyn DeviceRecords>,
}

impl<'a> Extensions<'a> {
    /// No extension.
    pub fn new() -> Self {
        Self::default()
    }

    /// With the cache's support.
    pub fn with_cache(mut self, cache: &'a dyn CacheSupport) -> Self {
        self.cache = Some(cache);
        self
    }

    /// With device records.
    pub fn with_devices(mut self, devices: &'a dyn DeviceRecords) -> Self {
        self.devices = Some(devices);
        self
    }
}

impl std::fmt::Debug for Extensions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extensions")
            .field("cache", &self.cache.is_some())
            .field("devices", &self.devices.is_some())
            .finish()
    }
}
