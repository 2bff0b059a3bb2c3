//! The Postgres change feed: a `LISTEN` on the channel the change triggers
//! notify (migration `change_notifications`), for caches.

use crate::store::feed::{Change, ChangeFeed};
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use uuid::Uuid;

/// The channel the change triggers notify on.
const CHANNEL: &str = "axum_user_sessions";

/// Starts a listener on `pool` (it holds one connection) and returns its
/// feed. The listener stops when the feed's receiver is dropped.
pub(super) fn subscribe(pool: &PgPool) -> ChangeFeed {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let live = Arc::new(AtomicBool::new(false));
    tokio::spawn(listen(pool.clone(), tx, live.clone()));
    ChangeFeed { changes: rx, live }
}

/// Listens for session changes until the receiving cache is gone. While the
/// connection is down `live` is false (the cache is bypassed); every
/// (re)connection starts with a flush, since changes may have been missed.
async fn listen(pool: PgPool, tx: UnboundedSender<Change>, live: Arc<AtomicBool>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let connected = async {
            let mut l = sqlx::postgres::PgListener::connect_with(&pool).await?;
            l.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        }
        .await;
        let mut listener = match connected {
            Ok(l) => l,
            Err(err) => {
                tracing::warn!(error = %err, "session cache: cannot listen for changes; cache bypassed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                if tx.is_closed() {
                    return;
                }
                continue;
            }
        };
        if tx.send(Change::Flush).is_err() {
            return;
        }
        live.store(true, Ordering::Release);
        backoff = Duration::from_millis(100);
        tracing::debug!("session cache: listening for changes");
        loop {
            tokio::select! {
                msg = listener.try_recv() => match msg {
                    Ok(Some(n)) => {
                        if let Ok(id) = n.payload().parse::<Uuid>()
                            && tx.send(Change::Session(id)).is_err()
                        {
                            return;
                        }
                    }
                    // Connection lost (None) or failed: stop serving from
                    // memory at once, and reconnect.
                    Ok(None) | Err(_) => break,
                },
                () = tx.closed() => return,
            }
        }
        live.store(false, Ordering::Release);
        let _ = tx.send(Change::Flush);
        tracing::warn!(
            "session cache: change listener lost its connection; cache bypassed until it is back"
        );
    }
}
