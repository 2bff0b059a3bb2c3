//! [`DeviceRecords`] on Redis: a user's document in a hash of its own
//! (`v` its version, `d` the document), in the user's slot; each write one
//! compare-and-set script on `v`. The key expires by itself when its last
//! trust ends and its last failed sign-in is past the store's retention, so
//! collection has nothing to do.

use super::conn::Call;
use super::scripts::DEVICE_SWAP;
use super::storage::RedisStorage;
use crate::store::devices::{DeviceRecords, UserDevices};
use crate::store::error::Error;
use async_trait::async_trait;
use time::OffsetDateTime;

impl RedisStorage {
    /// The hash of `user`'s device records, in the slot of its sessions:
    /// its index's key with `d` for `u` (no pattern of the scans matches it).
    fn devices_key(&self, user: &str) -> String {
        self.keys.user(user).replacen("}:u:", "}:d:", 1)
    }
}

#[async_trait]
impl DeviceRecords for RedisStorage {
    async fn load_devices(&self, user_id: &str) -> Result<Option<(u64, UserDevices)>, Error> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.devices_key(user_id)).arg("v").arg("d");
        let (v, d): (Option<u64>, Option<String>) = self.conn.query(&cmd).await?;
        let (Some(v), Some(d)) = (v, d) else {
            return Ok(None);
        };
        let devices =
            serde_json::from_str(&d).map_err(|_| Error::Corrupt("unreadable device records"))?;
        Ok(Some((v, devices)))
    }

    async fn swap_devices(
        &self, user_id: &str, expected: Option<u64>, version: u64, devices: &UserDevices,
    ) -> Result<bool, Error> {
        let doc = serde_json::to_string(devices)
            .map_err(|_| Error::Corrupt("device records that do not serialise"))?;
        let retention = time::Duration::try_from(self.retention).unwrap_or(time::Duration::ZERO);
        let failed_end = devices.last_failed_at().map(|at| at + retention);
        let end = devices.trust_until().max(failed_end);
        let end = end.unwrap_or_else(OffsetDateTime::now_utc) + time::Duration::SECOND;
        let end_ms = end.unix_timestamp_nanos() / 1_000_000;
        let call = Call::new(&DEVICE_SWAP)
            .key(self.devices_key(user_id))
            .arg(expected.map(|v| v.to_string()).unwrap_or_default())
            .arg(version)
            .arg(doc)
            .arg(end_ms)
            .arg(uuid::Uuid::new_v4());
        let swapped: i64 = self.run(&call, self.wait).await?;
        Ok(swapped == 1)
    }

    async fn collect_devices(
        &self, now: OffsetDateTime, failed_before: OffsetDateTime, limit: u32,
    ) -> Result<u64, Error> {
        // Each key expires by itself (see the module's docs).
        let _ = (now, failed_before, limit);
        Ok(0)
    }
}
