//! A user's failed sign-ins: recording them (one, or a batch that waited)
//! and reading them back ([`SessionAdmin`]'s calls over the store's
//! [`DeviceRecords`](crate::store::DeviceRecords)).

use super::SessionAdmin;
use crate::client::ClientInfo;
use crate::error::Error;
use crate::events::SessionEventKind;
use crate::store::devices::{self, FailedSignIn};
use time::OffsetDateTime;

/// Failed sign-ins of one user, recorded in one write: those that keep
/// their client, and how many more came (a flood), counted only.
#[derive(Debug, Default)]
pub(crate) struct FailedBatch {
    /// When each failed, and from which client (its IP as it is kept).
    pub(crate) attempts: Vec<(OffsetDateTime, ClientInfo)>,
    /// How many more failed, without their client.
    pub(crate) more: u64,
    /// When the latest of those failed.
    pub(crate) more_last_at: Option<OffsetDateTime>,
}

impl FailedBatch {
    /// Whether nothing waits in it.
    pub(crate) fn is_empty(&self) -> bool {
        self.attempts.is_empty() && self.more == 0
    }
}

impl SessionAdmin {
    /// Records a failed sign-in of `user_id` from `client` (pass the client
    /// as it should be kept: [`anonymize_ip`](crate::anonymize_ip) its IP
    /// if your app anonymises; [`Session::record_failed_sign_in`](crate::Session::record_failed_sign_in)
    /// does this for you, off the response path). Emits
    /// [`FailedSignIn`](SessionEventKind::FailedSignIn). Returns how many
    /// failed since the user's last successful sign-in (0 on a store
    /// without device records, and for a user id holding U+0000, which
    /// names nobody), for apps that throttle.
    pub async fn record_failed_sign_in(
        &self, user_id: &str, client: &ClientInfo,
    ) -> Result<u64, Error> {
        let batch = FailedBatch {
            attempts: vec![(OffsetDateTime::now_utc(), client.clone())],
            ..FailedBatch::default()
        };
        self.record_failed_batch(user_id, &batch).await
    }

    /// Records `batch` in one write, and emits a
    /// [`FailedSignIn`](SessionEventKind::FailedSignIn) for each attempt
    /// that kept its client, with the count it brought the user to. Returns
    /// the count after all of them.
    pub(crate) async fn record_failed_batch(
        &self, user_id: &str, batch: &FailedBatch,
    ) -> Result<u64, Error> {
        let Some(store) = self.device_records(user_id) else {
            return Ok(0);
        };
        let count = devices::update(store, user_id, |d| {
            for (at, client) in &batch.attempts {
                let ua = client.user_agent().map(|u| u.chars().take(512).collect());
                d.record_failed(FailedSignIn::new(*at, client.ip(), ua));
            }
            if let Some(last_at) = batch.more_last_at {
                d.count_failed(batch.more, last_at);
            }
            (d.failed.count, true)
        })
        .await?;
        let first = count.saturating_sub(batch.more + batch.attempts.len() as u64);
        for (n, (at, client)) in (first + 1..).zip(&batch.attempts) {
            let kind = SessionEventKind::FailedSignIn { count: n };
            self.emit_from(kind, None, user_id, *at, Some(client));
        }
        Ok(count)
    }

    /// The user's failed sign-ins since their previous successful sign-in
    /// (the first ones kept, oldest first) and how many there were in all.
    pub async fn failed_sign_ins(&self, user_id: &str) -> Result<(Vec<FailedSignIn>, u64), Error> {
        let Some(store) = self.device_records(user_id) else {
            return Ok((Vec::new(), 0));
        };
        Ok(match store.load_devices(user_id).await? {
            Some((_, d)) => {
                let (list, count) = d.failed_since_previous_sign_in();
                (list.into_iter().cloned().collect(), count)
            }
            None => (Vec::new(), 0),
        })
    }
}
