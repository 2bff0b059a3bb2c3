//! The layer's tower-sessions import: [`SessionLayer::adopt_tower_sessions`].

use super::SessionLayer;
use crate::adopt::{Adopter, TowerSessionsImport};
use std::sync::Arc;

/// Coming from tower-sessions.
impl SessionLayer {
    /// Carries tower-sessions sessions over on the fly: a request with
    /// tower-sessions' cookie and none of ours gets a new session of ours,
    /// signed in as `import`'s mapping says, with the old session's data;
    /// the old row is taken (so it cannot be replayed) and the old cookie
    /// expired. See [`TowerSessionsImport`] for each step, and the
    /// [migrating guide](crate::guide::migrating) for the switch. Default:
    /// off.
    ///
    /// ```
    /// # async fn f() -> Result<(), sqlx::Error> {
    /// use axum_user_sessions::{SessionLayer, TowerSessionsImport};
    ///
    /// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
    /// axum_user_sessions::migrate(&pool).await.unwrap();
    /// let import = TowerSessionsImport::sqlite(pool.clone(), |record| async move {
    ///     record.get("user_id").and_then(|v| v.as_i64())
    /// });
    /// let layer = SessionLayer::new(pool).adopt_tower_sessions(import);
    /// # Ok(()) }
    /// ```
    pub fn adopt_tower_sessions(self, import: TowerSessionsImport) -> Self {
        let adopter = Arc::new(Adopter::new(import));
        self.config(|c| c.adopter = Some(adopter))
    }
}
