//! What each of [`Protocol`]'s calls costs its storage, counted beneath it:
//! the hot paths one call, the rare ones two, a sign-in that moves the
//! session to a new id three.

use super::{h, t0};
use crate::store::counting::CountingStore;
use crate::store::memory::MemoryStorage;
use crate::store::protocol::Protocol;
use crate::store::remember::Reissue;
use crate::store::revocation::{Revocation, RevokeReason, RevokeScope, RevokedBy};
use crate::store::session_store::SessionProtocol;
use crate::store::types::{DataPatch, SessionRecord, Touch};
use time::Duration;
use uuid::Uuid;

#[tokio::test]
async fn each_call_costs_the_storage_calls_its_docs_say() {
    let counted = CountingStore::new(MemoryStorage::default());
    let p = Protocol::new(counted.clone());
    let cost = async |call: std::pin::Pin<Box<dyn Future<Output = ()> + Send + '_>>| {
        let before = counted.round_trips();
        call.await;
        counted.round_trips() - before
    };
    let mut r = SessionRecord::new(Uuid::new_v4(), t0());
    r.absolute_expires_at = t0() + Duration::hours(1);
    r.expires_at = t0() + Duration::minutes(30);
    let now = t0() + Duration::minutes(5);
    let mut fresh = Touch::new(now, now + Duration::minutes(30));
    fresh.stale_before = t0() - Duration::minutes(1);
    let due = Touch::new(now, now + Duration::minutes(30));
    let mut patch = DataPatch::default();
    patch.set.insert("n".into(), serde_json::json!(1));

    let create = Box::pin(async { p.create(&r, &h(1)).await.unwrap() });
    assert_eq!(cost(create).await, 1, "a new session: the insert");
    let load = Box::pin(async {
        assert!(p.load(Some(r.id), &h(1), &fresh).await.unwrap().is_some());
    });
    assert_eq!(cost(load).await, 1, "a load whose touch is not due");
    let load = Box::pin(async {
        let l = p.load(Some(r.id), &h(1), &due).await.unwrap().unwrap();
        assert_eq!(l.record.last_seen_at, now, "touched");
    });
    assert_eq!(cost(load).await, 2, "a load, then its touch");
    let write = Box::pin(async { assert!(p.patch_data(r.id, &patch).await.unwrap().is_some()) });
    assert_eq!(cost(write).await, 1, "a data write");
    let begin = Box::pin(async {
        let rotated = p.get(r.id).await.unwrap().unwrap().rotated_at;
        assert!(p.begin_rotation(r.id, rotated, &h(2), now).await.unwrap());
    });
    assert_eq!(cost(begin).await, 3, "the get, then a read and a swap");
    let promote = Box::pin(async { p.promote(r.id, &h(2), now).await.unwrap() });
    assert_eq!(cost(promote).await, 2, "a read and a swap");
    let sign_in = Reissue::new(Some("ann".into()), now);
    let reissue = Box::pin(async { assert!(p.reissue(r.id, &h(3), &sign_in).await.unwrap()) });
    assert_eq!(cost(reissue).await, 2, "a read and a swap");

    let mut moving = Reissue::new(Some("ann".into()), now);
    let new_id = Uuid::new_v4();
    moving.new_id = Some(new_id);
    let moved = Box::pin(async { assert!(p.reissue(r.id, &h(4), &moving).await.unwrap()) });
    assert_eq!(
        cost(moved).await,
        4,
        "a read, the new session, the old one's end, the read of late writes"
    );
    let how = Revocation::new(RevokeReason::User, RevokedBy::user("ann"), now);
    let revoke = Box::pin(async {
        let revoked = p.revoke(&RevokeScope::session(new_id), &how).await;
        assert_eq!(revoked.unwrap(), 1);
    });
    assert_eq!(cost(revoke).await, 1, "one revocation");
}
