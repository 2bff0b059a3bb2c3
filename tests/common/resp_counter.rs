//! A TCP proxy in front of a Redis node that records the commands its
//! clients send (RESP arrays of bulk strings, as every client sends them):
//! for counting what one store call costs the server, on the wire, whatever
//! the server's other clients do meanwhile.

use super::proxy::Proxy;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct RespCounter {
    pub addr: SocketAddr,
    /// Each command's name and first argument (its key, for most).
    commands: Arc<Mutex<Vec<(String, String)>>>,
    _proxy: Proxy,
}

impl RespCounter {
    /// Records what goes to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let commands: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let seen = commands.clone();
        let proxy = Proxy::forwarding(upstream, move |mut from, mut to| {
            let seen = seen.clone();
            async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 16 * 1024];
                while let Ok(n) = from.read(&mut chunk).await {
                    if n == 0 || to.write_all(&chunk[..n]).await.is_err() {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some((name, first, used)) = command(&buf) {
                        seen.lock().unwrap().push((name, first));
                        buf.drain(..used);
                    }
                }
            }
        })
        .await;
        Self {
            addr: proxy.addr,
            commands,
            _proxy: proxy,
        }
    }

    /// The commands sent so far, by name (`EVALSHA`, `HGETALL`…).
    pub fn commands(&self) -> Vec<String> {
        self.calls().into_iter().map(|(name, _)| name).collect()
    }

    /// The commands sent so far, each with its first argument (its key,
    /// for most): `("HGETALL", "P:{0a1b}:s:…")`.
    pub fn calls(&self) -> Vec<(String, String)> {
        self.commands.lock().unwrap().clone()
    }
}

/// The first command in `buf`, by name, with its first argument (empty
/// without one), and its length; `None` until it is whole.
fn command(buf: &[u8]) -> Option<(String, String, usize)> {
    if buf.first()? != &b'*' {
        // Not an array of bulk strings: recorded as such, and skipped.
        return Some(("<not RESP>".into(), String::new(), buf.len()));
    }
    let (count, mut at) = number_line(buf, 0, b'*')?;
    let (mut name, mut first) = (String::new(), String::new());
    for i in 0..count {
        let (len, start) = number_line(buf, at, b'$')?;
        let end = start + len;
        if buf.len() < end + 2 {
            return None;
        }
        if i == 0 {
            name = String::from_utf8_lossy(&buf[start..end]).to_uppercase();
        } else if i == 1 {
            first = String::from_utf8_lossy(&buf[start..end]).into_owned();
        }
        at = end + 2;
    }
    Some((name, first, at))
}

/// `<kind><number>\r\n` at `at`: the number, and where the next line
/// starts.
fn number_line(buf: &[u8], at: usize, kind: u8) -> Option<(usize, usize)> {
    if *buf.get(at)? != kind {
        return None;
    }
    let end = at + buf[at..].windows(2).position(|w| w == b"\r\n")?;
    let n = std::str::from_utf8(&buf[at + 1..end]).ok()?.parse().ok()?;
    Some((n, end + 2))
}
