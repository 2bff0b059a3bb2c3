//! `SESSION_IMPORT=tower-sessions`: the demo adopts tower-sessions sessions
//! (`SessionLayer::adopt_tower_sessions`) from tower-sessions' table in the
//! demo's own database, signing in the demo user named under the record's
//! key `user_id`.

use axum_user_sessions::{SessionLayer, TowerRecord, TowerSessionsImport};

/// The demo's mapping: the user named under `user_id`, if the demo knows
/// them; anything else is refused.
pub async fn user_of(record: TowerRecord) -> Option<String> {
    let name = record.get("user_id")?.as_str()?;
    super::USERS
        .iter()
        .any(|(user, _)| *user == name)
        .then(|| name.to_owned())
}

/// The demo's import from tower-sessions' Postgres table.
pub fn postgres(pool: sqlx::PgPool) -> TowerSessionsImport {
    TowerSessionsImport::postgres(pool, user_of)
}

/// The demo's import from tower-sessions' SQLite table.
pub fn sqlite(pool: sqlx::SqlitePool) -> TowerSessionsImport {
    TowerSessionsImport::sqlite(pool, user_of)
}

/// `layer`, adopting tower-sessions sessions from the database at `url` when
/// `SESSION_IMPORT` is `tower-sessions`.
pub async fn from_env(
    layer: SessionLayer, url: &str,
) -> Result<SessionLayer, Box<dyn std::error::Error>> {
    match std::env::var("SESSION_IMPORT").as_deref().map(str::trim) {
        Ok("tower-sessions") => {}
        Ok(other) => {
            eprintln!("SESSION_IMPORT={other:?}: only `tower-sessions` is known; ignored");
            return Ok(layer);
        }
        Err(_) => return Ok(layer),
    }
    let import = if url.starts_with("postgres") {
        postgres(sqlx::PgPool::connect(url).await?)
    } else {
        sqlite(sqlx::SqlitePool::connect(url).await?)
    };
    tracing::info!("SESSION_IMPORT=tower-sessions: tower-sessions sessions are adopted");
    Ok(layer.adopt_tower_sessions(import))
}
