//! A TCP proxy in front of Postgres that counts the statements its clients
//! send: each `Execute` of the extended protocol (one per statement, however
//! many exchanges preparing it took) and each simple `Query`. For counting what an instance costs the
//! database, whatever pool or task sends it.

use super::proxy::Proxy;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct WireCounter {
    pub addr: SocketAddr,
    statements: Arc<AtomicU64>,
    _proxy: Proxy,
}

impl WireCounter {
    /// Counts what goes to `upstream`. Clients must not ask for TLS
    /// (`PgSslMode::Disable`): the counter reads the protocol's frames.
    pub async fn start(upstream: SocketAddr) -> Self {
        let statements = Arc::new(AtomicU64::new(0));
        let counted = statements.clone();
        let proxy = Proxy::forwarding(upstream, move |mut from, to| {
            let counted = counted.clone();
            async move {
                let _ = forward(&mut from, to, &counted).await;
            }
        })
        .await;
        Self {
            addr: proxy.addr,
            statements,
            _proxy: proxy,
        }
    }

    /// A counter in front of the database of `pool`, and `pool`'s options
    /// (without TLS) pointed at the counter.
    #[allow(dead_code)]
    pub async fn in_front_of(pool: &sqlx::PgPool) -> (Self, sqlx::postgres::PgConnectOptions) {
        let opts = (*pool.connect_options())
            .clone()
            .ssl_mode(sqlx::postgres::PgSslMode::Disable);
        let upstream =
            std::net::ToSocketAddrs::to_socket_addrs(&(opts.get_host(), opts.get_port()))
                .unwrap()
                .next()
                .unwrap();
        let counter = Self::start(upstream).await;
        let port = counter.addr.port();
        (counter, opts.host("127.0.0.1").port(port))
    }

    /// Cuts every connection and refuses new ones ([`Proxy::down`]).
    #[allow(dead_code)]
    pub fn down(&self) {
        self._proxy.down();
    }

    /// Statements sent so far.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::SeqCst)
    }
}

/// Copies the client's frames to the server, counting statements: the
/// startup message first (no type byte), then typed messages.
async fn forward(
    from: &mut tokio::net::tcp::OwnedReadHalf, mut to: tokio::net::tcp::OwnedWriteHalf,
    counted: &AtomicU64,
) -> std::io::Result<()> {
    // Untyped: an SSL or GSS encryption request (refused by a server
    // without TLS, or the client would not go on in clear), then the
    // startup message.
    loop {
        let mut len = [0u8; 4];
        from.read_exact(&mut len).await?;
        let mut startup = vec![0u8; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
        from.read_exact(&mut startup).await?;
        to.write_all(&len).await?;
        to.write_all(&startup).await?;
        let code = startup
            .get(..4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        if !matches!(code, Some(80_877_103 | 80_877_104)) {
            break;
        }
    }
    loop {
        let mut head = [0u8; 5];
        from.read_exact(&mut head).await?;
        let size = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut frame = vec![0u8; size + 1];
        frame[..5].copy_from_slice(&head);
        from.read_exact(&mut frame[5..]).await?;
        if matches!(head[0], b'E' | b'Q') {
            counted.fetch_add(1, Ordering::SeqCst);
        }
        to.write_all(&frame).await?;
    }
}
