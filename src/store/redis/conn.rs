//! The connection: one node (redis-rs' reconnecting `ConnectionManager`) or
//! a Cluster (its `ClusterConnection`, which follows `MOVED` and `ASK` and
//! refreshes the slot map on its own), a script call with or without the
//! `WAIT` that follows it, and the masters a scan visits.

use super::errors::{error, value};
use super::scripts::Lua;
use crate::store::error::Error;
use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, ErrorKind, FromRedisValue, RedisError, ServerErrorKind, Value};
use std::time::Duration;

/// A connection to one node or to a Cluster. Clones share it.
#[derive(Clone)]
pub(super) enum Conn {
    /// One node.
    Node(ConnectionManager),
    /// A Cluster.
    Cluster(ClusterConnection),
}

/// A node to scan: `None` for the only one.
pub(super) type Node = Option<(String, u16)>;

/// How many replicas must have a write before it is acknowledged.
#[derive(Debug, Clone, Copy)]
pub(super) struct Wait {
    /// At least this many replicas.
    pub(super) replicas: u32,
    /// Waiting at most this long.
    pub(super) timeout: Duration,
}

impl Wait {
    /// The `WAIT` command.
    pub(super) fn cmd(&self) -> Cmd {
        let ms = u64::try_from(self.timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(self.replicas).arg(ms);
        cmd
    }

    /// `WAIT`'s answer: fewer replicas than asked is unavailable.
    pub(super) fn check(&self, answer: Value) -> Result<(), Error> {
        let acked: i64 = value(answer)?;
        if acked < i64::from(self.replicas) {
            return Err(Error::unavailable(NotReplicated {
                acked,
                wanted: self.replicas,
            }));
        }
        Ok(())
    }
}

/// A script with its keys and arguments.
pub(super) struct Call<'a> {
    lua: &'a Lua,
    keys: Vec<String>,
    args: Vec<Vec<u8>>,
}

impl<'a> Call<'a> {
    pub(super) fn new(lua: &'a Lua) -> Self {
        Self {
            lua,
            keys: Vec::new(),
            args: Vec::new(),
        }
    }

    pub(super) fn key(mut self, key: String) -> Self {
        self.keys.push(key);
        self
    }

    pub(super) fn arg(mut self, arg: impl ToString) -> Self {
        self.args.push(arg.to_string().into_bytes());
        self
    }

    /// Field-value pairs, as arguments one after the other.
    pub(super) fn pairs(mut self, pairs: Vec<(String, String)>) -> Self {
        for (field, value) in pairs {
            self.args.push(field.into_bytes());
            self.args.push(value.into_bytes());
        }
        self
    }

    /// The first key: where a Cluster routes the call.
    pub(super) fn first_key(&self) -> Option<&str> {
        self.keys.first().map(String::as_str)
    }

    /// `EVALSHA`, or with `body`, `EVAL` with the script's source.
    fn cmd(&self, body: bool) -> Cmd {
        let mut cmd = redis::cmd(if body { "EVAL" } else { "EVALSHA" });
        match body {
            true => cmd.arg(self.lua.source),
            false => cmd.arg(self.lua.script.get_hash()),
        };
        cmd.arg(self.keys.len()).arg(&self.keys).arg(&self.args);
        cmd
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Node(_) => "Conn::Node",
            Self::Cluster(_) => "Conn::Cluster",
        })
    }
}

fn no_script(e: &RedisError) -> bool {
    e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) || e.to_string().contains("NOSCRIPT")
}

fn no_script_value(v: &Value) -> bool {
    matches!(v, Value::ServerError(e) if e.code() == "NOSCRIPT")
}

impl Conn {
    /// One command, routed by its key on a Cluster.
    pub(super) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, Error> {
        match self {
            Self::Node(c) => cmd.query_async(&mut c.clone()).await,
            Self::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        }
        .map_err(error)
    }

    /// A pipeline of single-key commands sent to `node` (which holds
    /// their keys: a scan of it found them), one answer per command.
    pub(super) async fn pipe_on(
        &self, node: &Node, pipe: redis::Pipeline,
    ) -> Result<Vec<Value>, Error> {
        let count = pipe.len();
        match (self, node) {
            (Self::Cluster(c), Some((host, port))) => {
                let route = SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                };
                c.clone().route_pipeline(pipe, 0, count, route).await
            }
            (Self::Cluster(c), None) => pipe.query_async(&mut c.clone()).await,
            (Self::Node(c), _) => pipe.query_async(&mut c.clone()).await,
        }
        .map_err(error)
    }

    /// Runs `call`; with `wait`, sends `WAIT` right after it on the same
    /// connection to the same master (one round-trip, a pipeline) and fails
    /// as unavailable when fewer replicas than asked have the write in
    /// time (the write is made, and not acknowledged).
    pub(super) async fn run<T: FromRedisValue>(
        &self, call: &Call<'_>, wait: Option<Wait>,
    ) -> Result<T, Error> {
        // A node that does not have the script (a replica promoted since,
        // a restart, the importing node of a slot that moves, reached by
        // `ASK`) ran nothing: the call goes again with the script's source
        // (`EVAL`), routed and redirected the same way, which caches the
        // script on the node that ran it (one Redis may evict later: one
        // more resend then).
        let mut sent = self.send(call, wait, false).await;
        let missing = match &sent {
            Err(e) => no_script(e),
            Ok(v) => v.first().is_some_and(no_script_value),
        };
        if missing {
            sent = self.send(call, wait, true).await;
        }
        let values = sent.map_err(error)?;
        let mut values = values.into_iter();
        let answer = value(values.next().unwrap_or(Value::Nil))?;
        if let Some(w) = wait {
            w.check(values.next().unwrap_or(Value::Nil))?;
        }
        Ok(answer)
    }

    async fn send(
        &self, call: &Call<'_>, wait: Option<Wait>, body: bool,
    ) -> Result<Vec<Value>, RedisError> {
        let mut pipe = redis::pipe();
        pipe.add_command(call.cmd(body));
        if let Some(w) = wait {
            pipe.add_command(w.cmd());
        }
        let count = pipe.len();
        match self {
            Self::Node(c) => pipe.query_async(&mut c.clone()).await,
            Self::Cluster(c) => {
                let key = call.keys.first().map_or(&b""[..], |k| k.as_bytes());
                let route =
                    SingleNodeRoutingInfo::SpecificNode(Route::with_key(key, SlotAddr::Master));
                c.clone().route_pipeline(pipe, 0, count, route).await
            }
        }
    }

    /// The masters, each with the hash slots it serves (one node: all).
    pub(super) async fn masters_with_slots(&self) -> Result<Vec<(Node, Vec<usize>)>, Error> {
        let Self::Cluster(c) = self else {
            return Ok(vec![(None, (0..super::slots::SLOTS).collect())]);
        };
        let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random);
        let mut nodes = redis::cmd("CLUSTER");
        nodes.arg("NODES");
        let text: String = value(c.clone().route_command(nodes, route).await.map_err(error)?)?;
        let mut out = Vec::new();
        for line in text.lines() {
            let mut f = line.split(' ');
            let (_, addr, flags) = (f.next(), f.next(), f.next().unwrap_or(""));
            let master = flags.split(',').any(|x| x == "master")
                && !flags.split(',').any(|x| x == "fail" || x == "fail?");
            let Some(addr) = addr.filter(|_| master) else {
                continue;
            };
            // Then: master id, ping sent, pong received, epoch, link
            // state, and the slots (`a-b` or `a`; `[…]` a slot moving).
            let slots = f
                .skip(5)
                .filter(|r| !r.starts_with('['))
                .filter_map(|r| match r.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => r.parse().ok().map(|a| (a, a)),
                })
                .flat_map(|(a, b): (usize, usize)| a..=b)
                .collect();
            let addr = addr.split('@').next().unwrap_or(addr);
            if let Some((host, port)) = addr.rsplit_once(':')
                && let Ok(port) = port.parse()
            {
                out.push((Some((host.to_owned(), port)), slots));
            }
        }
        Ok(out)
    }

    /// A pipeline of commands on `key`'s slot, sent to its master in one
    /// round trip, one answer per command.
    pub(super) async fn pipe_by_key(
        &self, key: &str, pipe: redis::Pipeline,
    ) -> Result<Vec<Value>, Error> {
        let count = pipe.len();
        match self {
            Self::Node(c) => pipe.query_async(&mut c.clone()).await,
            Self::Cluster(c) => {
                let route = SingleNodeRoutingInfo::SpecificNode(Route::with_key(
                    key.as_bytes(),
                    SlotAddr::Master,
                ));
                c.clone().route_pipeline(pipe, 0, count, route).await
            }
        }
        .map_err(error)
    }

    /// One `SCAN` step on `node`.
    pub(super) async fn scan(
        &self, node: &Node, cursor: u64, pattern: &str,
    ) -> Result<(u64, Vec<String>), Error> {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(500);
        match (self, node) {
            (Self::Cluster(c), Some((host, port))) => {
                let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                });
                value(c.clone().route_command(scan, route).await.map_err(error)?)
            }
            _ => self.query(&scan).await,
        }
    }

    /// Whether the master (of one node), or any master of a Cluster, has
    /// a replica now.
    pub(super) async fn has_replicas(&self) -> Result<bool, Error> {
        match self {
            Self::Node(_) => {
                let mut info = redis::cmd("INFO");
                info.arg("replication");
                let text: String = self.query(&info).await?;
                Ok(text
                    .lines()
                    .find_map(|l| l.strip_prefix("connected_slaves:"))
                    .and_then(|n| n.trim().parse::<u32>().ok())
                    .is_some_and(|n| n > 0))
            }
            Self::Cluster(c) => {
                let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random);
                let mut nodes = redis::cmd("CLUSTER");
                nodes.arg("NODES");
                let text: String =
                    value(c.clone().route_command(nodes, route).await.map_err(error)?)?;
                Ok(text.lines().any(|l| {
                    l.split(' ')
                        .nth(2)
                        .is_some_and(|f| f.split(',').any(|x| x == "slave"))
                }))
            }
        }
    }
}

/// Fewer replicas than asked had a write when `WAIT` timed out.
#[derive(Debug, thiserror::Error)]
#[error("{acked} replica(s) acknowledged the write, {wanted} wanted")]
pub(super) struct NotReplicated {
    acked: i64,
    wanted: u32,
}
