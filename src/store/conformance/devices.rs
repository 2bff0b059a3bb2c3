//! A user's device records ([`DeviceRecords`](crate::store::DeviceRecords)):
//! the compare-and-set of the document, one per user, and their collection.
//! A store without them ([`SessionProtocol::devices`] answers `None`) skips
//! these scenarios.

use super::support::*;
use crate::store::DeviceRecords;
use crate::store::devices::{FailedSignIn, TrustedDevice, UserDevices};

/// A document with one trust of `selector`, from `at` until `until`.
fn trusting(selector: u8, at: OffsetDateTime, until: OffsetDateTime) -> UserDevices {
    let mut d = UserDevices::default();
    d.trust(
        TrustedDevice::new([selector; 16], &hash(selector), at, until, None),
        at,
    );
    d
}

/// The store's device records; `None` (and a line saying the scenario is
/// skipped) for a store without them.
fn device_records(store: &dyn SessionProtocol) -> Option<&dyn DeviceRecords> {
    let devices = store.extensions().devices;
    if devices.is_none() {
        println!("store conformance: no device records, skipped");
    }
    devices
}

/// The document is written with a compare-and-set on its version: the
/// first write expects none, each later one the version it read; a stale
/// version writes nothing. Users' documents are independent, and a
/// document reads back as written.
pub async fn device_records_are_a_compare_and_set(store: Arc<dyn SessionProtocol>) {
    let Some(s) = device_records(store.as_ref()) else {
        return;
    };
    let t0 = now();
    let day = time::Duration::days(1);
    let doc = trusting(1, t0, t0 + day);
    assert!(s.load_devices("alice").await.unwrap().is_none());
    assert!(s.swap_devices("alice", None, 1, &doc).await.unwrap());
    assert!(
        !s.swap_devices("alice", None, 1, &doc).await.unwrap(),
        "a second first write is refused"
    );
    assert_eq!(
        s.load_devices("alice").await.unwrap(),
        Some((1, doc.clone()))
    );
    let mut next = doc.clone();
    next.record_failed(FailedSignIn::new(
        t0,
        Some([192, 0, 2, 1].into()),
        Some("ua".into()),
    ));
    assert!(s.swap_devices("alice", Some(1), 2, &next).await.unwrap());
    assert!(
        !s.swap_devices("alice", Some(1), 2, &doc).await.unwrap(),
        "a stale version writes nothing"
    );
    assert_eq!(s.load_devices("alice").await.unwrap(), Some((2, next)));
    assert!(s.load_devices("bob").await.unwrap().is_none());
    assert!(s.swap_devices("bob", None, 1, &doc).await.unwrap());
    assert_eq!(
        s.load_devices("bob").await.unwrap().map(|(v, _)| v),
        Some(1)
    );
}

/// Collection deletes the documents with no trust left and no failed
/// sign-in since the horizon (a key-value store may let them expire by
/// themselves), and keeps the others.
pub async fn device_records_are_collected(store: Arc<dyn SessionProtocol>) {
    let Some(s) = device_records(store.as_ref()) else {
        return;
    };
    let t0 = now();
    let hour = time::Duration::hours(1);
    let ended = trusting(1, t0 - hour * 3, t0 - hour);
    let live = trusting(2, t0, t0 + hour);
    let mut failed = UserDevices::default();
    failed.record_failed(FailedSignIn::new(
        t0 - time::Duration::minutes(1),
        None,
        None,
    ));
    for (user, doc) in [("ended", &ended), ("live", &live), ("failed", &failed)] {
        assert!(s.swap_devices(user, None, 1, doc).await.unwrap(), "{user}");
    }
    s.collect_devices(t0, t0 - hour * 24, 100).await.unwrap();
    assert!(
        s.load_devices("ended").await.unwrap().is_none(),
        "no trust left, no failure: collected"
    );
    assert_eq!(
        s.load_devices("live").await.unwrap(),
        Some((1, live.clone()))
    );
    assert_eq!(
        s.load_devices("failed").await.unwrap(),
        Some((1, failed.clone()))
    );
    // A document written again after its collection, with the version its
    // writer gives: a writer that read the collected one compares its
    // version, and writes nothing.
    assert!(s.swap_devices("ended", None, 77, &live).await.unwrap());
    assert!(!s.swap_devices("ended", Some(1), 2, &failed).await.unwrap());
    assert_eq!(s.load_devices("ended").await.unwrap(), Some((77, live)));
}
