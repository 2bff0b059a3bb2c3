//! Caches on a store with no change feed (SQLite, memory), by database, in
//! this process: so that a revocation made through another handle on the
//! same database ([`SessionAdmin::new(pool)`](crate::SessionAdmin::new))
//! reaches the layer's cache at once, instead of after its time to live.

use super::Shared;
use crate::store::delegate::Stale;
use crate::store::session_store::SessionProtocol;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

/// The live caches of each database, by
/// [`Extensions::in_process_database`](crate::store::Extensions::in_process_database).
type Registry = HashMap<String, Vec<Weak<Shared>>>;

fn registry() -> MutexGuard<'static, Registry> {
    static CACHES: OnceLock<Mutex<Registry>> = OnceLock::new();
    CACHES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// `cache` hears of the changes made to `database` through other handles.
pub(super) fn register(database: &str, cache: &Arc<Shared>) {
    let mut caches = registry();
    let list = caches.entry(database.to_owned()).or_default();
    list.retain(|c| c.strong_count() > 0);
    list.push(Arc::downgrade(cache));
}

/// A change made through `store` (not through a cache): the caches of this
/// process on the same database drop the copies it made stale. Nothing for
/// a store with a change feed (its caches hear of it there).
pub(crate) fn changed(store: &dyn SessionProtocol, stale: Stale<'_>) {
    if let Some(database) = store.extensions().in_process_database {
        changed_in(database, stale);
    }
}

/// A change made to `database` (by name, as
/// [`Extensions::in_process_database`](crate::store::Extensions::in_process_database)
/// says it) not through a cache: the caches of this process on it drop
/// the copies it made stale.
pub(crate) fn changed_in(database: &str, stale: Stale<'_>) {
    let caches: Vec<Arc<Shared>> = {
        let mut registry = registry();
        let Some(list) = registry.get_mut(database) else {
            return;
        };
        list.retain(|c| c.strong_count() > 0);
        list.iter().filter_map(Weak::upgrade).collect()
    };
    for cache in caches {
        match stale {
            Stale::Nothing => {}
            Stale::Session(id) | Stale::SessionAfter(id) => cache.forget(id),
            Stale::User(user) => cache.forget_user(user),
            Stale::Every => cache.flush(),
        }
    }
}
