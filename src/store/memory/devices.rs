//! [`DeviceRecords`] in memory: one document per user, with its version.

use super::MemoryStorage;
use crate::store::devices::{DeviceRecords, UserDevices};
use crate::store::error::Error;
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
impl DeviceRecords for MemoryStorage {
    async fn load_devices(&self, user_id: &str) -> Result<Option<(u64, UserDevices)>, Error> {
        Ok(self.lock().devices.get(user_id).cloned())
    }

    async fn swap_devices(
        &self, user_id: &str, expected: Option<u64>, version: u64, devices: &UserDevices,
    ) -> Result<bool, Error> {
        let mut t = self.lock();
        let stored = t.devices.get(user_id).map(|(v, _)| *v);
        if stored != expected {
            return Ok(false);
        }
        t.devices
            .insert(user_id.to_owned(), (version, devices.clone()));
        Ok(true)
    }

    async fn collect_devices(
        &self, now: OffsetDateTime, failed_before: OffsetDateTime, limit: u32,
    ) -> Result<u64, Error> {
        let mut t = self.lock();
        let gone: Vec<String> = t
            .devices
            .iter()
            .filter(|(_, (_, d))| {
                d.trust_until().is_none_or(|at| at <= now)
                    && d.last_failed_at().is_none_or(|at| at < failed_before)
            })
            .map(|(user, _)| user.clone())
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect();
        for user in &gone {
            t.devices.remove(user);
        }
        Ok(gone.len() as u64)
    }
}
