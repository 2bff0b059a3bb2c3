//! A store written outside the crate, as a stranger would: a `HashMap`
//! behind a `Mutex` implementing the public `SessionStore` trait only (its
//! required methods, and `stats`), wrapped in `Protocol`. It runs the whole
//! conformance kit through the kit's own `store_conformance!` (remember-me's
//! two phases, the lists and the touch included), and a lookup by token.

use axum_user_sessions::SessionProtocol;
use axum_user_sessions::store::{
    Credentials, Deletion, Error, ListQuery, Lookup, MigrationReport, Protocol, Revocation,
    RevokeScope, SessionRecord, SessionStore, StoreStats, StoredSession, TokenHash, Touch, Write,
    WriteOutcome,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// Sessions by id, nothing else: lookups scan.
#[derive(Debug, Default)]
struct MapStorage(Mutex<HashMap<Uuid, StoredSession>>);

impl MapStorage {
    fn map(&self) -> MutexGuard<'_, HashMap<Uuid, StoredSession>> {
        self.0.lock().unwrap()
    }
}

#[async_trait::async_trait]
impl SessionStore for MapStorage {
    async fn migrate(&self) -> Result<MigrationReport, Error> {
        Ok(MigrationReport::default())
    }

    async fn load(&self, key: &Lookup) -> Result<Option<StoredSession>, Error> {
        Ok(self.map().values().find(|s| key.matches(s)).cloned())
    }

    async fn insert(&self, session: &StoredSession) -> Result<(), Error> {
        let mut map = self.map();
        let token_taken = map.values().any(|s| {
            session
                .credentials
                .tokens
                .iter()
                .any(|t| s.credentials.holds(&t.hash))
        });
        if map.contains_key(&session.record.id) || token_taken {
            return Err(Error::Corrupt("duplicate session id or token"));
        }
        map.insert(session.record.id, session.clone());
        Ok(())
    }

    async fn write(&self, id: Uuid, write: &Write<'_>) -> Result<WriteOutcome, Error> {
        Ok(match self.map().get_mut(&id) {
            Some(s) => s.apply_write(write),
            None => WriteOutcome::Gone,
        })
    }

    async fn swap_credentials(
        &self, id: Uuid, expected_epoch: u64, credentials: &Credentials,
        record: Option<&SessionRecord>,
    ) -> Result<bool, Error> {
        Ok(self
            .map()
            .get_mut(&id)
            .is_some_and(|s| s.apply_swap(expected_epoch, credentials, record)))
    }

    async fn revoke(&self, scope: &RevokeScope<'_>, how: &Revocation) -> Result<u64, Error> {
        let mut map = self.map();
        Ok(map
            .values_mut()
            .filter_map(|s| s.apply_revocation(scope, how).then_some(()))
            .count() as u64)
    }

    async fn delete(&self, what: &Deletion) -> Result<u64, Error> {
        let mut map = self.map();
        let doomed: Vec<Uuid> = map
            .values()
            .filter(|s| what.covers(&s.record))
            .take(what.limit())
            .map(|s| s.record.id)
            .collect();
        for id in &doomed {
            map.remove(id);
        }
        Ok(doomed.len() as u64)
    }

    async fn list(&self, query: &ListQuery<'_>) -> Result<Vec<SessionRecord>, Error> {
        Ok(query.select(self.map().values().map(|s| &s.record)))
    }

    async fn stats(
        &self, now: OffsetDateTime, revoked_before: OffsetDateTime,
    ) -> Result<StoreStats, Error> {
        let map = self.map();
        Ok(StoreStats::of(
            map.values().map(|s| &s.record),
            now,
            revoked_before,
        ))
    }
}

/// A fresh outside store, for `store_conformance!`.
async fn outside() -> Arc<dyn SessionProtocol> {
    Arc::new(Protocol::new(MapStorage::default()))
}

axum_user_sessions::store_conformance!(outside);

fn hash(n: u8) -> TokenHash {
    TokenHash::from_bytes([n; 32])
}

fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap()
}

/// A cookie that does not name its session finds it by token when the
/// storage looks tokens up (this one scans), and a token of another
/// session is not found under the wrong id.
#[tokio::test]
async fn a_token_is_found_only_in_its_session() {
    let s = Protocol::new(MapStorage::default());
    let t0 = now();
    let (mut a, mut b) = (
        SessionRecord::new(Uuid::new_v4(), t0),
        SessionRecord::new(Uuid::new_v4(), t0),
    );
    for r in [&mut a, &mut b] {
        (r.expires_at, r.absolute_expires_at) =
            (t0 + Duration::from_secs(60), t0 + Duration::from_secs(600));
    }
    s.create(&a, &hash(1)).await.unwrap();
    s.create(&b, &hash(2)).await.unwrap();
    let touch =
        Touch::new(t0, t0 + Duration::from_secs(60)).with_stale_before(t0 - Duration::from_secs(1));
    let by_token = s.load(None, &hash(2), &touch).await.unwrap().unwrap();
    assert_eq!(by_token.record.id, b.id);
    assert!(
        s.load(Some(a.id), &hash(2), &touch)
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.create(&a, &hash(3)).await.is_err(), "a duplicate id");
}
