//! [`update`]: versions of new documents, and contention.

use super::*;
use crate::store::MemoryStorage;

/// A document written again after its collection gets a version of its
/// own: a writer that read the collected one (at version 1, as every
/// first document was) compares that version and writes nothing, where
/// it overwrote the new document.
#[tokio::test]
async fn a_document_collected_and_written_again_is_not_the_one_a_slow_writer_read() {
    let store = MemoryStorage::default();
    let now = OffsetDateTime::now_utc();
    let failed_at = async |at| {
        let fail = |d: &mut UserDevices| {
            d.record_failed(FailedSignIn::new(at, None, None));
            ((), true)
        };
        update(&store, "u", fail).await.unwrap();
    };
    failed_at(now - time::Duration::days(60)).await;
    let (read, stale) = store.load_devices("u").await.unwrap().unwrap();
    assert_eq!(store.collect_devices(now, now, 10).await.unwrap(), 1);
    failed_at(now).await;
    let (version, _) = store.load_devices("u").await.unwrap().unwrap();
    assert_ne!(
        version, read,
        "the new document took the collected one's version"
    );
    assert!(
        !store
            .swap_devices("u", Some(read), read + 1, &stale)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .load_devices("u")
            .await
            .unwrap()
            .unwrap()
            .1
            .failed
            .count,
        1
    );
}

/// A store whose every compare-and-set loses.
struct Contended;

#[async_trait]
impl DeviceRecords for Contended {
    async fn load_devices(&self, _: &str) -> Result<Option<(u64, UserDevices)>, Error> {
        Ok(None)
    }
    async fn swap_devices(
        &self, _: &str, _: Option<u64>, _: u64, _: &UserDevices,
    ) -> Result<bool, Error> {
        Ok(false)
    }
    async fn collect_devices(
        &self, _: OffsetDateTime, _: OffsetDateTime, _: u32,
    ) -> Result<u64, Error> {
        Ok(0)
    }
}

/// Other writers winning every attempt is a busy store (`503`), not a
/// broken one (`500`).
#[tokio::test]
async fn losing_every_attempt_is_unavailable() {
    let lost = update(&Contended, "u", |_| ((), true)).await.unwrap_err();
    assert!(lost.is_unavailable(), "{lost:?}");
}
