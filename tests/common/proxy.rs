//! A TCP proxy in front of a server, for the tests that play an outage
//! ([`Proxy::down`]) or read what the clients send on the wire (the
//! counters: `wire_counter.rs`, `resp_counter.rs`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::{AbortHandle, JoinHandle};

/// A TCP proxy on a free loopback port in front of `upstream`: each client
/// connection gets its own connection to the server. The server's bytes go
/// back as they are; the client's go through the proxy's forwarding (a
/// plain copy, or one that reads them as they pass). A test can cut every
/// connection and refuse new ones, to play an outage without touching the
/// shared server.
pub struct Proxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// A proxy that passes everything through.
    pub async fn start(upstream: SocketAddr) -> Self {
        Self::forwarding(upstream, |mut from, mut to| async move {
            let _ = tokio::io::copy(&mut from, &mut to).await;
        })
        .await
    }

    /// A proxy whose client-to-server bytes are moved by `forward(from the
    /// client, to the server)`, which returns when either side is done.
    pub async fn forwarding<F, Fut>(upstream: SocketAddr, forward: F) -> Self
    where
        F: Fn(OwnedReadHalf, OwnedWriteHalf) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (is_up, live) = (up.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !is_up.load(Ordering::SeqCst) {
                    drop(client); // refused: the server is "down"
                    continue;
                }
                let forward = forward.clone();
                let task = tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    // Frames go one by one: no Nagle delay on small writes.
                    let _ = (client.set_nodelay(true), server.set_nodelay(true));
                    let (from_client, mut to_client) = client.into_split();
                    let (mut from_server, to_server) = server.into_split();
                    // Cut with this connection's task (aborted by `down`).
                    let _back = AbortOnDrop(tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                    }));
                    forward(from_client, to_server).await;
                });
                live.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            addr,
            up,
            conns,
            accept,
        }
    }

    /// Cuts every connection and refuses new ones.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    /// Accepts connections again.
    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.down();
        self.accept.abort();
    }
}

/// Aborts its task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
