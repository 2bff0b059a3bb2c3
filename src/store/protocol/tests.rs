//! [`Protocol`]'s compare-and-set under contention: a storage that lets
//! another writer in just before each of its first swaps (or writes).

use super::*;
use crate::store::credentials::Credentials;
use crate::store::memory::MemoryStorage;
use crate::store::revocation::RevokeReason;
use crate::store::types::TokenState;
use std::sync::Mutex;
use time::Duration;

mod costs;

/// What the other writer does before a swap or a versioned write.
#[derive(Debug, Clone, Copy)]
enum Other {
    /// A touch at this time.
    Touch(OffsetDateTime),
    /// A rotation that wins, at this time.
    Rotate(OffsetDateTime),
    /// A new remember-me credential (a change of credentials that leaves
    /// `rotated_at` alone), at this time.
    Remember(OffsetDateTime),
    /// A data write of key `late` (a request that read the session before
    /// a sign-in moved it).
    Write,
    /// A revocation of the session (theft detected, an operator).
    Revoke,
}

/// A memory storage where another writer comes first, as many times as
/// `others` lists.
#[derive(Debug, Default)]
struct Racing {
    inner: MemoryStorage,
    others: Mutex<Vec<Other>>,
}

impl Racing {
    async fn interfere(&self, id: Uuid) {
        let next = self.others.lock().unwrap().pop();
        let other = Protocol::new(self.inner.clone());
        match next {
            Some(Other::Touch(at)) => {
                let touch = Touch::new(at, at + Duration::minutes(30));
                let token = current_token(&self.inner, id).await;
                let l = other.load(Some(id), &token, &touch).await.unwrap();
                assert_eq!(l.unwrap().record.last_seen_at, at, "the touch was written");
            }
            Some(Other::Rotate(at)) => {
                let seen = other.get(id).await.unwrap().unwrap().rotated_at;
                let pending = TokenHash::from_bytes([0xee; 32]);
                assert!(other.begin_rotation(id, seen, &pending, at).await.unwrap());
            }
            Some(Other::Remember(at)) => {
                let selector = *Uuid::new_v4().as_bytes();
                let c = RememberCredential::new(selector, h(0xdd), at + Duration::days(30));
                assert!(other.set_remember(id, Some(&c), at, at).await.unwrap());
            }
            Some(Other::Write) => {
                let mut patch = DataPatch::default();
                patch.set.insert("late".into(), Value::from(7));
                assert!(other.patch_data(id, &patch).await.unwrap().is_some());
            }
            Some(Other::Revoke) => {
                let how = Revocation::system(RevokeReason::TokenReuse, t0());
                assert_eq!(
                    other.revoke(&RevokeScope::session(id), &how).await.unwrap(),
                    1
                );
            }
            None => {}
        }
    }
}

async fn current_token(s: &MemoryStorage, id: Uuid) -> TokenHash {
    let stored = s.load(&Lookup::Id(id)).await.unwrap().unwrap();
    let current = stored
        .credentials
        .tokens
        .iter()
        .find(|t| t.state == TokenState::Current);
    current.unwrap().hash
}

#[async_trait]
impl SessionStore for Racing {
    async fn migrate(&self) -> Result<MigrationReport, Error> {
        self.inner.migrate().await
    }
    async fn load(&self, key: &Lookup) -> Result<Option<StoredSession>, Error> {
        self.inner.load(key).await
    }
    async fn insert(&self, session: &StoredSession) -> Result<(), Error> {
        self.inner.insert(session).await
    }
    async fn write(&self, id: Uuid, write: &Write<'_>) -> Result<WriteOutcome, Error> {
        if write.expected_version.is_some() {
            self.interfere(id).await;
        }
        self.inner.write(id, write).await
    }
    async fn swap_credentials(
        &self, id: Uuid, epoch: u64, credentials: &Credentials, record: Option<&SessionRecord>,
    ) -> Result<bool, Error> {
        self.interfere(id).await;
        self.inner
            .swap_credentials(id, epoch, credentials, record)
            .await
    }
    async fn revoke(&self, scope: &RevokeScope<'_>, how: &Revocation) -> Result<u64, Error> {
        self.inner.revoke(scope, how).await
    }
    async fn delete(&self, what: &Deletion) -> Result<u64, Error> {
        self.inner.delete(what).await
    }
    async fn list(&self, query: &ListQuery<'_>) -> Result<Vec<SessionRecord>, Error> {
        self.inner.list(query).await
    }
}

fn t0() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::days(20_000)
}

fn h(n: u8) -> TokenHash {
    TokenHash::from_bytes([n; 32])
}

/// A protocol over a racing storage, with one session (token 1).
async fn racing(others: Vec<Other>) -> (Protocol<Racing>, SessionRecord) {
    let mut r = SessionRecord::new(Uuid::new_v4(), t0());
    r.absolute_expires_at = t0() + Duration::hours(1);
    r.expires_at = t0() + Duration::minutes(30);
    let p = Protocol::new(Racing::default());
    p.create(&r, &h(1)).await.unwrap();
    *p.storage().others.lock().unwrap() = others;
    (p, r)
}

#[tokio::test]
async fn a_touch_does_not_make_a_swap_retry_and_stays() {
    let touched_at = t0() + Duration::seconds(5);
    let (p, r) = racing(vec![Other::Touch(touched_at)]).await;
    let now = t0() + Duration::seconds(10);
    assert!(
        p.begin_rotation(r.id, r.rotated_at, &h(2), now)
            .await
            .unwrap()
    );
    let after = p.get(r.id).await.unwrap().unwrap();
    assert_eq!(after.rotated_at, now);
    assert_eq!(
        after.last_seen_at, touched_at,
        "the swap wrote over the touch"
    );
    assert_eq!(after.version, 2, "the touch and the rotation");
    assert_eq!(
        p.storage().others.lock().unwrap().len(),
        0,
        "the touch came between the read and the swap"
    );
    let stored = p.storage().load(&Lookup::Id(r.id)).await.unwrap().unwrap();
    assert_eq!(stored.epoch, 1, "one swap, and the touch counts no epoch");
}

#[tokio::test]
async fn a_rotation_that_lost_to_another_rotation_answers_false() {
    let (p, r) = racing(vec![Other::Rotate(t0() + Duration::seconds(1))]).await;
    let now = t0() + Duration::seconds(2);
    assert!(
        !p.begin_rotation(r.id, r.rotated_at, &h(2), now)
            .await
            .unwrap()
    );
    let stored = p.storage().load(&Lookup::Id(r.id)).await.unwrap().unwrap();
    assert_eq!(
        stored.credentials.classify(&h(2)),
        None,
        "the loser wrote its token"
    );
}

#[tokio::test]
async fn a_promotion_is_retried_and_stays_idempotent() {
    let (p, r) = racing(vec![]).await;
    let t1 = t0() + Duration::seconds(1);
    assert!(
        p.begin_rotation(r.id, r.rotated_at, &h(2), t1)
            .await
            .unwrap()
    );
    *p.storage().others.lock().unwrap() = vec![Other::Touch(t1), Other::Touch(t1)];
    p.promote(r.id, &h(2), t1).await.unwrap();
    p.promote(r.id, &h(2), t1).await.unwrap();
    let stored = p.storage().load(&Lookup::Id(r.id)).await.unwrap().unwrap();
    assert_eq!(
        stored.credentials.classify(&h(2)),
        Some((TokenState::Current, false))
    );
    let old = stored.credentials.classify(&h(1));
    assert_eq!(old, Some((TokenState::Superseded { at: t1 }, false)));
}

#[tokio::test]
async fn a_session_that_keeps_changing_is_reported_unavailable() {
    let t1 = t0() + Duration::seconds(1);
    let (p, r) = racing(vec![Other::Remember(t1); 3]).await;
    let err = p.begin_rotation(r.id, r.rotated_at, &h(2), t1).await;
    assert!(err.unwrap_err().is_unavailable());
}

#[tokio::test]
async fn update_value_retries_a_write_that_lost_to_a_touch() {
    let t1 = t0() + Duration::seconds(1);
    let (p, r) = racing(vec![Other::Touch(t1)]).await;
    let one = serde_json::json!(1);
    let outcome = p.update_value(r.id, "k", None, Some(&one)).await.unwrap();
    assert_eq!(outcome, UpdateOutcome::Updated { version: 2 });
    let (p, r) = racing(vec![Other::Touch(t1); 3]).await;
    let outcome = p.update_value(r.id, "k", None, Some(&one)).await.unwrap();
    assert_eq!(
        outcome,
        UpdateOutcome::Conflict { current: None },
        "nothing written"
    );
}

#[tokio::test]
async fn a_touch_of_a_row_that_changed_meanwhile_is_left_out() {
    let t1 = t0() + Duration::seconds(1);
    let (p, r) = racing(vec![Other::Rotate(t1)]).await;
    let t2 = t0() + Duration::seconds(2);
    let touch = Touch::new(t2, t2 + Duration::minutes(30));
    let l = p.load(Some(r.id), &h(1), &touch).await.unwrap().unwrap();
    assert_eq!(
        (l.record.last_seen_at, l.record.version),
        (t0(), 0),
        "the copy read"
    );
    let stored = p
        .storage()
        .load(&Lookup::Id(r.id))
        .await
        .unwrap()
        .unwrap()
        .record;
    assert_eq!(
        (stored.rotated_at, stored.last_seen_at),
        (t1, t0()),
        "no touch mixed in"
    );
}

/// A session holding `cart`, signed in to a new id while `other` races the
/// move: the protocol, the old session, the new id.
async fn moved_racing(other: Other) -> (Protocol<Racing>, SessionRecord, Uuid) {
    let (p, r) = racing(vec![other]).await;
    assert!(p.patch_data(r.id, &cart()).await.unwrap().is_some());
    let (new_id, now) = (Uuid::new_v4(), t0() + Duration::seconds(10));
    let mut reissue = Reissue::new(Some("alice".into()), now);
    reissue.new_id = Some(new_id);
    assert!(p.reissue(r.id, &h(2), &reissue).await.unwrap());
    let raced = p.storage().others.lock().unwrap().is_empty();
    assert!(raced, "the race did not run");
    (p, r, new_id)
}

fn cart() -> DataPatch {
    let mut patch = DataPatch::default();
    patch.set.insert("cart".into(), Value::from(1));
    patch
}

/// A data write that read the session before a sign-in moved it, and landed
/// between the move's read and the old id's end, reaches the new id; one
/// that lands after the end is refused, on either call, rather than
/// acknowledged on a row no cookie names.
#[tokio::test]
async fn a_write_racing_a_move_reaches_the_new_id_or_is_refused() {
    let (p, r, new_id) = moved_racing(Other::Write).await;
    let moved = p.get(new_id).await.unwrap().unwrap();
    assert_eq!(moved.data.get("cart"), Some(&Value::from(1)));
    let late = moved.data.get("late");
    assert_eq!(late, Some(&Value::from(7)), "the late write was lost");

    let old = p.get(r.id).await.unwrap().unwrap();
    assert!(!old.takes_writes());
    assert_eq!(p.patch_data(r.id, &cart()).await.unwrap(), None);
    let one = Value::from(1);
    let set = p.update_value(r.id, "cart", Some(&one), None).await;
    assert_eq!(set.unwrap(), UpdateOutcome::Gone);
    let after = p.get(r.id).await.unwrap().unwrap();
    assert_eq!(after, old, "a late write landed");
}

/// A revocation of the old id during a sign-in's move empties its data;
/// the carry of late writes takes that for no write, and the new id keeps
/// what it was given. It used to carry the emptying, as removals.
#[tokio::test]
async fn a_revocation_racing_a_move_does_not_empty_the_new_id() {
    let (p, r, new_id) = moved_racing(Other::Revoke).await;
    assert!(p.get(r.id).await.unwrap().unwrap().revoked_at.is_some());
    let moved = p.get(new_id).await.unwrap().unwrap();
    assert_eq!(
        moved.data.get("cart"),
        Some(&Value::from(1)),
        "{:?}",
        moved.data
    );
}
