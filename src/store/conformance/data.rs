//! Versions, update-only writes, and the compare-and-set of one key.

use super::support::*;

/// Each change of a session row counts one version, the same on every store;
/// token bookkeeping alone does not.
pub async fn every_change_counts_a_version(store: Arc<dyn SessionProtocol>) {
    let s = store.as_ref();
    let t0 = now();
    let r = created(s, t0, Some("alice"), Duration::from_secs(1800)).await;
    let version = async |token: u8, touch: Touch| {
        let l = s
            .load(Some(r.id), &hash(token), &touch)
            .await
            .unwrap()
            .unwrap();
        let got = s.get(l.record.id).await.unwrap().unwrap();
        assert_eq!(got.version, l.record.version, "get and load disagree");
        l.record.version
    };
    assert_eq!(version(1, touch(t0)).await, 0, "a new row");
    let mut patch = DataPatch::default();
    patch.set.insert("k".into(), serde_json::json!(1));
    assert_eq!(s.patch_data(r.id, &patch).await.unwrap(), Some(1));
    assert_eq!(s.patch_data(r.id, &patch).await.unwrap(), Some(2));
    assert_eq!(version(1, touch(t0)).await, 2, "a load that does not touch");
    let t1 = t0 + Duration::from_secs(1);
    let due = Touch::new(t1, t1 + Duration::from_secs(1800));
    assert_eq!(version(1, due).await, 3, "the touch");
    assert!(
        s.begin_rotation(r.id, r.rotated_at, &hash(2), t1)
            .await
            .unwrap()
    );
    assert_eq!(version(1, touch(t1)).await, 4, "a rotation");
    s.promote(r.id, &hash(2), t1).await.unwrap();
    assert_eq!(version(2, touch(t1)).await, 5, "a promotion (its tokens)");
    let re = Reissue::new(Some("alice".into()), t1);
    assert!(s.reissue(r.id, &hash(3), &re).await.unwrap());
    assert_eq!(version(3, touch(t1)).await, 6, "a sign-in");
    let listed = s.list_user("alice", t1).await.unwrap();
    assert_eq!(listed.iter().map(|r| r.version).collect::<Vec<_>>(), [6]);
    let how = Revocation::new(RevokeReason::other("test"), RevokedBy::System, t1);
    assert_eq!(
        s.revoke(&RevokeScope::session(r.id), &how).await.unwrap(),
        1
    );
    assert_eq!(version(3, touch(t1)).await, 7, "a revocation");
}

/// Writes are update-only: after a delete or a revocation, no data write,
/// sign-in or rotation brings the session back, and a revoked session is
/// not revoked again.
pub async fn update_only_writes_never_resurrect(store: Arc<dyn SessionProtocol>) {
    let s = store.as_ref();
    let t0 = now();
    let r = created(s, t0, Some("alice"), Duration::from_secs(1800)).await;
    let mut patch = DataPatch::default();
    patch.set.insert("k".into(), serde_json::json!(1));
    assert_eq!(s.patch_data(r.id, &patch).await.unwrap(), Some(1));
    assert!(s.delete(r.id).await.unwrap());
    assert_eq!(s.patch_data(r.id, &patch).await.unwrap(), None);
    assert!(
        !s.reissue(r.id, &hash(2), &Reissue::new(None, t0))
            .await
            .unwrap()
    );
    assert!(
        !s.begin_rotation(r.id, r.rotated_at, &hash(3), t0)
            .await
            .unwrap()
    );
    assert!(
        s.get(r.id).await.unwrap().is_none(),
        "a write brought the session back"
    );
    assert!(state(s, r.id, &hash(1), t0).await.is_none());
    // Revoked rows refuse writes too.
    let r2 = record(t0, Some("alice"), Duration::from_secs(1800));
    s.create(&r2, &hash(4)).await.unwrap();
    let revoke = async || {
        let how = Revocation::new(RevokeReason::other("test"), RevokedBy::System, t0);
        s.revoke(&RevokeScope::session(r2.id), &how).await.unwrap()
    };
    assert_eq!(revoke().await, 1);
    assert_eq!(s.patch_data(r2.id, &patch).await.unwrap(), None);
    assert_eq!(revoke().await, 0, "a revoked session is not revoked again");
}

/// `update_value` is a compare-and-set of one key: a stale
/// expectation writes nothing and reports what is there, JSON `null` is a
/// value, other keys are left alone, a revoked session is not written.
pub async fn update_value_is_a_compare_and_set(store: Arc<dyn SessionProtocol>) {
    use crate::store::UpdateOutcome::{Conflict, Gone, Updated};
    use serde_json::json;
    let s = store.as_ref();
    let t0 = now();
    let mut r = record(t0, Some("alice"), Duration::from_secs(1800));
    r.data.insert("n".into(), json!(1));
    r.data.insert("other".into(), json!({"kept": true}));
    s.create(&r, &hash(1)).await.unwrap();
    let data = async || s.get(r.id).await.unwrap().unwrap().data;
    // A write says the row's version after it: the one before, plus one.
    let next = async || Updated {
        version: s.get(r.id).await.unwrap().unwrap().version + 1,
    };
    let cas =
        async |key: &str, expected: Option<serde_json::Value>, new: Option<serde_json::Value>| {
            s.update_value(r.id, key, expected.as_ref(), new.as_ref())
                .await
                .unwrap()
        };

    let want = next().await;
    assert_eq!(cas("n", Some(json!(1)), Some(json!(2))).await, want);
    // A stale expectation writes nothing and says what is there now.
    assert_eq!(
        cas("n", Some(json!(1)), Some(json!(3))).await,
        Conflict {
            current: Some(json!(2))
        }
    );
    assert_eq!(
        cas("n", None, Some(json!(3))).await,
        Conflict {
            current: Some(json!(2))
        },
        "a present key is not absent"
    );
    assert_eq!(data().await["n"], json!(2));
    // Retried with what is there: written.
    let want = next().await;
    assert_eq!(cas("n", Some(json!(2)), Some(json!(3))).await, want);
    // Removing, and setting an absent key.
    let want = next().await;
    assert_eq!(cas("n", Some(json!(3)), None).await, want);
    assert!(!data().await.contains_key("n"));
    assert_eq!(
        cas("n", Some(json!(3)), None).await,
        Conflict { current: None }
    );
    let want = next().await;
    assert_eq!(cas("n", None, Some(json!(null))).await, want);
    // JSON null is a value, not an absent key.
    assert_eq!(
        cas("n", None, Some(json!(5))).await,
        Conflict {
            current: Some(json!(null))
        }
    );
    let nested = json!({"a": [1, {"b": "c"}], "z": 1.5});
    let want = next().await;
    assert_eq!(
        cas("n", Some(json!(null)), Some(nested.clone())).await,
        want
    );
    let want = next().await;
    assert_eq!(cas("n", Some(nested.clone()), Some(json!("x"))).await, want);
    let mut expected = serde_json::Map::new();
    expected.insert("n".into(), json!("x"));
    expected.insert("other".into(), json!({"kept": true}));
    assert_eq!(data().await, expected, "other keys are left alone");

    // A revoked session is not written, nor brought back.
    let how = Revocation::system(RevokeReason::User, t0);
    assert_eq!(
        s.revoke(&RevokeScope::session(r.id), &how).await.unwrap(),
        1
    );
    assert_eq!(cas("n", Some(json!("x")), Some(json!("y"))).await, Gone);
    let after = s.get(r.id).await.unwrap().unwrap();
    // The revocation cleared the data; the late write put nothing back.
    assert!(after.data.is_empty(), "{:?}", after.data);
    assert!(after.revoked_at.is_some());
    // Nor is a deleted one, or one that never was.
    let gone = record(t0, None, Duration::from_secs(1800));
    s.create(&gone, &hash(2)).await.unwrap();
    assert!(s.delete(gone.id).await.unwrap());
    for id in [gone.id, Uuid::new_v4()] {
        assert_eq!(
            s.update_value(id, "n", None, Some(&json!(1)))
                .await
                .unwrap(),
            Gone
        );
        assert!(s.get(id).await.unwrap().is_none());
    }
}
