//! What a store reports, rather than stores: counts for monitoring, and
//! what a migration run did.

/// Counts for monitoring and the CLI's `stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct StoreStats {
    /// Live sessions (signed in or anonymous).
    pub active_sessions: u64,
    /// Distinct users with at least one live session.
    pub active_users: u64,
    /// Rows that garbage collection may delete now (expired, or revoked
    /// before the retention horizon given).
    pub collectable: u64,
}

impl StoreStats {
    /// Counts (for stores outside this crate).
    pub fn new(active_sessions: u64, active_users: u64, collectable: u64) -> Self {
        Self {
            active_sessions,
            active_users,
            collectable,
        }
    }

    /// The counts over `records` (for stores that keep sessions as Rust
    /// values): live at `now`, and
    /// [collectable](super::SessionRecord::is_collectable) at `now` with
    /// `revoked_before`.
    pub fn of<'r>(
        records: impl IntoIterator<Item = &'r super::SessionRecord>, now: time::OffsetDateTime,
        revoked_before: time::OffsetDateTime,
    ) -> Self {
        let mut users = std::collections::HashSet::new();
        let mut stats = Self::default();
        for r in records {
            if r.is_live(now) {
                stats.active_sessions += 1;
                users.extend(r.user_id.as_deref());
            }
            if r.is_collectable(now, revoked_before) {
                stats.collectable += 1;
            }
        }
        stats.active_users = users.len() as u64;
        stats
    }
}

/// What a migration run did.
///
/// `newly_applied` compares the versions applied before and after the run:
/// when several processes migrate the same database at once (instances
/// starting together), the migrations are applied once, but each report may
/// list them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationReport {
    /// The migrations this run applied, oldest first (empty when the tables
    /// were up to date).
    pub newly_applied: Vec<AppliedMigration>,
    /// The newest version applied, now; `None` for a store without
    /// migrations (memory).
    pub latest_version: Option<i64>,
    /// How many migrations are applied, now.
    pub total_applied: usize,
}

/// One migration a run applied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppliedMigration {
    /// Its version (a timestamp, `20261123000001`).
    pub version: i64,
    /// Its description (from the file name, `sessions`).
    pub description: String,
}

impl MigrationReport {
    /// A report (for stores outside this crate; [`Default`] is "nothing to
    /// migrate").
    pub fn new(
        newly_applied: Vec<AppliedMigration>, latest_version: Option<i64>, total_applied: usize,
    ) -> Self {
        Self {
            newly_applied,
            latest_version,
            total_applied,
        }
    }
}

impl AppliedMigration {
    /// A migration applied (for stores outside this crate).
    pub fn new(version: i64, description: impl Into<String>) -> Self {
        Self {
            version,
            description: description.into(),
        }
    }
}
