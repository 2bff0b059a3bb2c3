//! Typed keys (`SessionKey<T>`) through a real server, on every store: the
//! same keys as the string-keyed API, checked at compile time.

use crate::common;

use axum::Router;
use axum::routing::{get, post};
use axum_user_sessions::{Session, SessionKey};
use common::{Backend, Client, serve};
use serde::{Deserialize, Serialize};

conformance!(typed_keys_read_write_update_remove);

#[derive(Debug, Default, Serialize, Deserialize)]
struct Cart {
    items: Vec<u32>,
}

const CART: SessionKey<Cart> = SessionKey::new("cart");
const VISITS: SessionKey<u64> = SessionKey::new("visits");

type Res = Result<String, axum_user_sessions::Error>;

fn app(layer: axum_user_sessions::SessionLayer) -> Router {
    Router::new()
        .route(
            "/add",
            post(|s: Session| async move {
                let mut cart = s.get_key(&CART)?.unwrap_or_default();
                cart.items.push(cart.items.len() as u32 + 1);
                s.insert_key(&CART, &cart)?;
                Res::Ok(format!("{:?}", cart.items))
            }),
        )
        .route(
            "/visit",
            post(|s: Session| async move {
                let n = s.update_key(&VISITS, |n| n.unwrap_or(0) + 1).await?;
                Res::Ok(n.to_string())
            }),
        )
        .route(
            "/checkout",
            post(|s: Session| async move {
                let cart = s.remove_key(&CART)?.unwrap_or_default();
                Res::Ok(format!("{:?}", cart.items))
            }),
        )
        .route(
            "/raw",
            get(|s: Session| async move {
                // The string-keyed API sees the same keys.
                let cart: Option<serde_json::Value> = s.get(CART.name())?;
                let visits: Option<u64> = s.get("visits")?;
                Res::Ok(format!("{cart:?} {visits:?}"))
            }),
        )
        .layer(layer)
}

async fn typed_keys_read_write_update_remove(b: Backend) {
    let app = serve(app(b.layer())).await;
    let mut c = Client::new(&app);
    assert_eq!(c.post("/add").await.body, "[1]");
    assert_eq!(c.post("/add").await.body, "[1, 2]");
    assert_eq!(c.post("/visit").await.body, "1");
    assert_eq!(c.post("/visit").await.body, "2");
    let raw = c.get("/raw").await.body;
    assert_eq!(
        raw,
        r#"Some(Object {"items": Array [Number(1), Number(2)]}) Some(2)"#
    );
    assert_eq!(c.post("/checkout").await.body, "[1, 2]");
    assert_eq!(c.get("/raw").await.body, "None Some(2)");
    assert_eq!(c.post("/checkout").await.body, "[]");
}
