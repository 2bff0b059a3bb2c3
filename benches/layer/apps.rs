//! The handlers under test, three ways: through the session layer, with no
//! session layer (the baseline: the same answers, no database), and the raw
//! SQL floor (no session layer, exactly one primary-key statement per
//! request on the same pool).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum_user_sessions::{Error, Session, SessionLayer};
use sqlx::PgPool;
use std::net::SocketAddr;

/// The floor's table: shaped like a session row reduced to its key and one
/// counter.
pub(crate) const FLOOR_TABLE: &str =
    "CREATE TABLE bench_floor (id text PRIMARY KEY, n bigint NOT NULL)";

/// The app through `layer`. Writes go through `Session::update`, as the
/// demo's `POST /counter`; a new session through `insert` (written after the
/// handler).
pub(crate) fn layered(layer: SessionLayer) -> Router {
    Router::new()
        .route(
            "/read",
            get(|s: Session| async move { s.get::<u64>("n").ok().flatten().unwrap_or(0).to_string() }),
        )
        .route("/write", post(write))
        .route(
            "/new",
            post(|s: Session| async move { s.insert("n", 1u64).map(|()| "1") }),
        )
        .route("/me", get(me))
        .route("/rotate", post(rotate))
        .route("/seed/{user}", post(seed))
        .layer(layer)
}

async fn write(s: Session) -> Result<String, Error> {
    let n = s.update("n", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
    Ok(n.to_string())
}

/// `200` with the user, `401` once the session is gone.
async fn me(s: Session) -> Result<String, StatusCode> {
    s.user_id().ok_or(StatusCode::UNAUTHORIZED)
}

async fn rotate(s: Session) -> Result<&'static str, Error> {
    s.rotate().await?;
    Ok("ok")
}

async fn seed(s: Session, Path(user): Path<String>) -> Result<&'static str, Error> {
    s.login(&user).await?;
    s.insert("n", 0u64)?;
    Ok("ok")
}

/// The same answers with no session layer and no database.
pub(crate) fn baseline() -> Router {
    Router::new()
        .route("/read", get(|| async { "0".to_string() }))
        .route("/write", post(|| async { "1".to_string() }))
        .route("/new", post(|| async { "1" }))
}

/// The raw SQL floor on `pool`: the client's row is named by its cookie
/// `floor=<id>`.
pub(crate) fn floor(pool: PgPool) -> Router {
    Router::new()
        .route("/read", get(floor_read))
        .route("/write", post(floor_write))
        .route("/new", post(floor_new))
        .with_state(pool)
}

fn floor_id(headers: &HeaderMap) -> Result<String, StatusCode> {
    headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("floor="))
        .map(str::to_owned)
        .ok_or(StatusCode::UNAUTHORIZED)
}

fn unavailable(_: sqlx::Error) -> StatusCode {
    StatusCode::SERVICE_UNAVAILABLE
}

async fn floor_read(State(pool): State<PgPool>, headers: HeaderMap) -> Result<String, StatusCode> {
    let n: Option<i64> = sqlx::query_scalar("SELECT n FROM bench_floor WHERE id = $1")
        .bind(floor_id(&headers)?)
        .fetch_optional(&pool)
        .await
        .map_err(unavailable)?;
    n.map(|n| n.to_string()).ok_or(StatusCode::UNAUTHORIZED)
}

async fn floor_write(State(pool): State<PgPool>, headers: HeaderMap) -> Result<String, StatusCode> {
    let n: Option<i64> =
        sqlx::query_scalar("UPDATE bench_floor SET n = n + 1 WHERE id = $1 RETURNING n")
            .bind(floor_id(&headers)?)
            .fetch_optional(&pool)
            .await
            .map_err(unavailable)?;
    n.map(|n| n.to_string()).ok_or(StatusCode::UNAUTHORIZED)
}

async fn floor_new(State(pool): State<PgPool>) -> Result<impl IntoResponse, StatusCode> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    sqlx::query("INSERT INTO bench_floor (id, n) VALUES ($1, 1)")
        .bind(&id)
        .execute(&pool)
        .await
        .map_err(unavailable)?;
    Ok(([(header::SET_COOKIE, format!("floor={id}; HttpOnly"))], "1"))
}

/// Serves `router` on a free local port.
pub(crate) async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}
