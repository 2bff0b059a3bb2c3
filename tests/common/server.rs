//! A real server on a loopback port.

use super::demo;
use axum::Router;
use axum_user_sessions::SessionLayer;
use std::net::SocketAddr;

/// A running server.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    handle: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Serves `router` on a free loopback port, with `ConnectInfo`.
pub async fn serve(router: Router) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    TestApp {
        addr,
        base: format!("http://{addr}"),
        handle,
    }
}

/// Serves the demo app behind `layer`.
pub async fn serve_demo(layer: SessionLayer) -> TestApp {
    serve(demo::app(layer)).await
}
