//! What the memory store reads across its sessions: a user's live ones (by
//! page) and recently ended ones, as data-free copies, and the counts of
//! `stats`.

use super::tables::Tables;
use crate::store::report::StoreStats;
use crate::store::types::SessionRecord;
use std::cmp::Reverse;
use time::OffsetDateTime;
use uuid::Uuid;

/// One page of a user's live sessions, after `after`, in the SQL stores'
/// order (last seen, newest first, then id), times to the microsecond.
pub(super) fn page(
    t: &Tables, user_id: &str, now: OffsetDateTime, after: Option<(OffsetDateTime, Uuid)>,
    limit: u32,
) -> Vec<SessionRecord> {
    let key = |t: OffsetDateTime, id: Uuid| (Reverse(t.unix_timestamp_nanos() / 1000), id);
    let after = after.map(|(t, id)| key(t, id));
    let mut list: Vec<SessionRecord> = t
        .sessions
        .values()
        .filter(|s| s.user_id.as_deref() == Some(user_id) && s.is_live(now))
        .filter(|s| after.is_none_or(|a| key(s.last_seen_at, s.id) > a))
        .map(without_data)
        .collect();
    list.sort_by_key(|s| key(s.last_seen_at, s.id));
    list.truncate(limit as usize);
    list
}

/// A user's sessions that are not live at `now` and ended at or after
/// `since`, the most recently ended first.
pub(super) fn ended(
    t: &Tables, user_id: &str, since: OffsetDateTime, now: OffsetDateTime, limit: u32,
) -> Vec<SessionRecord> {
    let mut list: Vec<SessionRecord> = t
        .sessions
        .values()
        .filter(|s| s.user_id.as_deref() == Some(user_id))
        .filter(|s| !s.is_live(now) && s.ended_at() >= since)
        .map(without_data)
        .collect();
    list.sort_by(|a, b| b.ended_at().cmp(&a.ended_at()).then(a.id.cmp(&b.id)));
    list.truncate(limit as usize);
    list
}

/// A copy of `record` without its data (an empty object), as `list_user`
/// answers: the data is not copied at all.
fn without_data(record: &SessionRecord) -> SessionRecord {
    SessionRecord {
        id: record.id,
        user_id: record.user_id.clone(),
        data: serde_json::Map::new(),
        created_at: record.created_at,
        authenticated_at: record.authenticated_at,
        last_seen_at: record.last_seen_at,
        expires_at: record.expires_at,
        absolute_expires_at: record.absolute_expires_at,
        tokens_expire_at: record.tokens_expire_at,
        rotated_at: record.rotated_at,
        ip: record.ip,
        user_agent: record.user_agent.clone(),
        persistent: record.persistent,
        revoked_at: record.revoked_at,
        revoke_reason: record.revoke_reason.clone(),
        revoked_by: record.revoked_by.clone(),
        version: record.version,
        name: record.name.clone(),
        last_ip: record.last_ip,
        location: record.location.clone(),
        sign_in_method: record.sign_in_method.clone(),
        second_factor: record.second_factor,
        api_client: record.api_client,
    }
}

/// Live sessions and users at `now`, and sessions collectable at `now` with
/// the retention horizon `revoked_before`.
pub(super) fn stats(t: &Tables, now: OffsetDateTime, revoked_before: OffsetDateTime) -> StoreStats {
    let live: Vec<&SessionRecord> = t.sessions.values().filter(|s| s.is_live(now)).collect();
    let users: std::collections::HashSet<&str> =
        live.iter().filter_map(|s| s.user_id.as_deref()).collect();
    StoreStats {
        active_sessions: live.len() as u64,
        active_users: users.len() as u64,
        collectable: t
            .sessions
            .values()
            .filter(|s| s.is_collectable(now, revoked_before))
            .count() as u64,
    }
}
