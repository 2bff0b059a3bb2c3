//! [`Extensions`]: what a store offers beyond the required calls, through
//! one accessor of [`SessionStore`](super::SessionStore): the extension
//! traits it implements, and the facts about it that are values, not
//! behaviour.

use crate::store::devices::DeviceRecords;
use crate::store::feed::CacheSupport;

/// What a store offers beyond the required calls, from
/// [`SessionStore::extensions`](super::SessionStore::extensions): one
/// accessor for all, so that the store boundary does not grow with each.
/// The extension traits it implements are behaviour; what is a fact about
/// the store (where its database lives, whether it finds a session by a
/// token alone) is a value here rather than a method to implement.
///
/// ```
/// use axum_user_sessions::store::Extensions;
/// let none = Extensions::new();
/// assert!(none.cache.is_none() && none.devices.is_none());
/// assert!(none.finds_tokens && none.in_process_database.is_none());
/// assert!(!none.cacheable(), "a cache needs to hear of changes");
/// let local = Extensions::new().in_process("memory:1");
/// assert!(local.cacheable());
/// ```
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct Extensions<'a> {
    /// The change feed a cache over the store needs when other processes
    /// write to it ([`CacheSupport`]).
    pub cache: Option<&'a dyn CacheSupport>,
    /// Trusted devices and failed sign-ins ([`DeviceRecords`]); without
    /// them, those features answer
    /// [`Error::Unsupported`](crate::store::Error::Unsupported).
    pub devices: Option<&'a dyn DeviceRecords>,
    /// For a store whose database lives in this process, with no change
    /// feed (SQLite, memory): a name of that database, the same for every
    /// handle on it, so that this process's caches on it hear of changes
    /// made through another handle (such as
    /// [`SessionAdmin::new(pool)`](crate::SessionAdmin::new) next to a
    /// layer with a cache). `None` for the others.
    pub in_process_database: Option<&'a str>,
    /// Whether [`load`](super::SessionStore::load) finds a session by a
    /// token alone ([`Lookup::Token`](super::Lookup::Token): cookies of
    /// 0.1's form, which do not name their session). `true` unless the
    /// store says otherwise ([`keyed_by_id`](Self::keyed_by_id)); a store
    /// that does not is given cookies that name their session, whatever
    /// [`with_session_ids_in_tokens`](crate::SessionLayer::with_session_ids_in_tokens)
    /// says.
    pub finds_tokens: bool,
}

impl Default for Extensions<'_> {
    fn default() -> Self {
        Self {
            cache: None,
            devices: None,
            in_process_database: None,
            finds_tokens: true,
        }
    }
}

impl<'a> Extensions<'a> {
    /// No extension, and a store that finds sessions by token.
    pub fn new() -> Self {
        Self::default()
    }

    /// With a change feed for caches.
    pub fn with_cache(mut self, cache: &'a dyn CacheSupport) -> Self {
        self.cache = Some(cache);
        self
    }

    /// With device records.
    pub fn with_devices(mut self, devices: &'a dyn DeviceRecords) -> Self {
        self.devices = Some(devices);
        self
    }

    /// A store whose database lives in this process, named `database`
    /// ([`in_process_database`](Self::in_process_database)).
    pub fn in_process(mut self, database: &'a str) -> Self {
        self.in_process_database = Some(database);
        self
    }

    /// A store that finds a session by its id or remember-me selector only,
    /// never by a token alone ([`finds_tokens`](Self::finds_tokens)).
    pub fn keyed_by_id(mut self) -> Self {
        self.finds_tokens = false;
        self
    }

    /// Whether a cache ([`CachedStore`](crate::store::CachedStore)) may sit
    /// over the store: only where it hears of every change, through a
    /// change feed or as a database of this process. A cache over any other
    /// store (Redis, which many processes share with no feed) answers
    /// every load [`Error::Unsupported`](crate::store::Error::Unsupported)
    /// rather than serve a session another instance revoked.
    pub fn cacheable(&self) -> bool {
        self.cache.is_some() || self.in_process_database.is_some()
    }
}

impl std::fmt::Debug for Extensions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extensions")
            .field("cache", &self.cache.is_some())
            .field("devices", &self.devices.is_some())
            .field("in_process_database", &self.in_process_database)
            .field("finds_tokens", &self.finds_tokens)
            .finish()
    }
}
