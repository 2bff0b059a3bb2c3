//! The Redis store: one node or a Redis Cluster. [`RedisStore`] is the
//! session protocol ([`Protocol`]) over `RedisStorage`, whose operations
//! are in `storage.rs` (reads in `reads.rs`, data and activity writes in
//! `writes.rs`, revocations of a session or a user in `revoke.rs`), what
//! `migrate` checks of the server in `server.rs`, its Lua
//! scripts in `scripts.rs` (their sources in `lua/`), its keys in `keys.rs`, a session's hash fields
//! in `hash.rs` (the rest of it as one JSON value in `codec.rs`), what
//! spans hash slots (revoking everyone, garbage collection, statistics) in
//! `scan.rs`, the connection (one node or a Cluster, `WAIT`, scans) in
//! `conn.rs`, what its errors mean (an outage, corrupt data) in
//! `errors.rs` and the [`RedisOptions`] in `options.rs`.
//!
//! # Design
//!
//! - **Keys.** A session is one hash, `P:{tttt}:s:<id>`, whose tag `tttt`
//!   is the id's placement tag ([`placement`](crate::store::placement)):
//!   a user's sessions and the user's index `P:{tttt}:u:<user>` share one
//!   hash slot, so a user's list, "sign out everywhere" and the cap are
//!   each one script on one slot. A user's session whose id lacks the
//!   user's tag is refused ([`Error::Corrupt`]).
//! - **Atomic, in one round trip where it is hot.** A data write (a patch,
//!   at an expected version or not), the compare-and-set of one key
//!   (`update_value`) and a touch are each one script: the session's data
//!   keys, activity and revocation are fields of its hash of their own, so
//!   the script checks what
//!   [`StoredSession::apply_write`](crate::store::StoredSession::apply_write)
//!   checks (there, not revoked, at the version or holding the JSON text
//!   Rust gives) and sets the fields Rust computed, parsing nothing. A
//!   load whose touch is due is two round trips: the read (`HGETALL`),
//!   then the touch at the version read. Every other change (rotation,
//!   revocation, names) is decided in Rust on the copy read and written
//!   whole by one script, a compare-and-set on its version; the loser
//!   reads again. No script holds a protocol rule: token states, rotation
//!   and the token history stay in Rust.
//! - **Cookies name their session**: the store finds sessions by id
//!   ([`Extensions::finds_tokens`](crate::store::Extensions::finds_tokens)
//!   is `false`); a remember-me selector's entry points at its session,
//!   with the credential's TTL, and is checked against it.
//! - **Expiry** is Redis' TTL: a session's keys live to its hard end plus
//!   the [ended-list retention](RedisOptions::ended_retention).
//!   Garbage collection and statistics scan every master.
//! - **Revoking everyone** writes no session: it starts a new
//!   *generation* on every hash slot (one small "not before" hash per slot,
//!   `not_before.rs`), each master's slots in pipelines ending with their
//!   `WAIT`. A session keeps its slot's generation from its insert, and one
//!   of an older generation counts as revoked by the first revocation
//!   after its insert at which it was live (the rule of every store),
//!   for loads, lists, writes and garbage collection: every read of a
//!   session reads its slot's key in the same round trip, every script
//!   that writes one reads it in the same call and writes nothing on a
//!   session of an older generation but a revocation. A generation, not
//!   an instant, so that no clock (of an app instance or of a master)
//!   decides which session came first: the insert that stamps it and the
//!   bump are both atomic on the slot's master. One key per slot, not one
//!   for the store, because a script reaches one slot's keys only; not one
//!   cached copy per app instance, because a revocation must hold on every
//!   instance the moment it is acknowledged. The call then counts, by a
//!   read-only scan, the sessions its generations ended (it answers how
//!   many it revoked); the revocation holds before the count starts.
//! - **No acknowledged revocation lost.** A revocation, a sign-in and a
//!   credential swap (rotation, logout, theft) are sent with a `WAIT` on
//!   the same connection to the same master, in the same round-trip; fewer
//!   replicas than [`min_replicas`](RedisOptions::min_replicas) in
//!   [`wait_timeout`](RedisOptions::wait_timeout) fails the call as
//!   unavailable (`503`). A `WAIT` counts only what its own connection
//!   wrote: a waiting call that answers without writing (the copy read
//!   already says it: the session was revoked by another call, or by this
//!   call's own first try, which the client sent again after its
//!   connection dropped, maybe to a new master) first writes a key of the
//!   session's slot and sends its `WAIT` after that write, in the same
//!   pipeline. Data writes and reads do not wait. Nothing is read from
//!   replicas. Redis reads nothing more from a client while its `WAIT`
//!   blocks, so the calls that wait go on connections of their own
//!   ([`WAITING_LINKS`], 4, opened only when the store waits: the calls
//!   of one hash tag, a user and its sessions, always on the same one),
//!   and a replica that lags slows the
//!   revocations, sign-ins and rotations, never the reads and data writes
//!   on the shared connection.
//! - **No cache.** Redis has no change feed here: the in-process cache is
//!   refused over this store.

use crate::store::delegate::protocol_store;
use crate::store::error::Error;
use crate::store::protocol::Protocol;
use conn::{Conn, Wait};
use errors::error;
use keys::Keys;

mod codec;
mod conn;
mod devices;
mod errors;
mod hash;
mod keys;
mod not_before;
mod options;
mod reads;
mod revoke;
mod scan;
mod scripts;
mod server;
mod slots;
mod storage;
mod writes;

pub use options::RedisOptions;
pub use storage::RedisStorage;

/// A [`SessionProtocol`](crate::store::SessionProtocol) on Redis, one node
/// or a Cluster: the session protocol ([`Protocol`]) over the Redis storage.
/// It needs Redis 7.0 or later (or Valkey) with `maxmemory-policy
/// noeviction` (or no `maxmemory`): [`migrate`](crate::migrate()) checks
/// both, where the server lets it.
///
/// ```no_run
/// # async fn f() -> Result<(), axum_user_sessions::store::Error> {
/// use axum_user_sessions::{SessionLayer, store::RedisStore};
///
/// let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
/// let layer = SessionLayer::new(store);
/// # Ok(()) }
/// ```
///
/// On a Cluster, with [`RedisStore::cluster`]:
///
/// ```no_run
/// # async fn f() -> Result<(), axum_user_sessions::store::Error> {
/// use axum_user_sessions::store::RedisStore;
/// let store = RedisStore::cluster(["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"]).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisStore(Protocol<RedisStorage>);

/// How many connections a store that waits for replicas keeps for the
/// calls that wait (a `WAIT` holds its connection until the replicas
/// answer), beside the one every other call shares.
pub(super) const WAITING_LINKS: usize = 4;

protocol_store!(RedisStore);

impl RedisStore {
    /// The storage underneath the protocol (to count its calls with a
    /// [`CountingStore`](crate::store::CountingStore), say).
    pub fn storage(&self) -> &RedisStorage {
        self.0.storage()
    }
}

impl RedisStore {
    /// A store on the Redis node `url` (`redis://host:port/db`), with the
    /// default [`RedisOptions`]. The connection reconnects on its own.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(url, RedisOptions::default()).await
    }

    /// A store on the Redis node `url`, with `options`.
    pub async fn connect_with(url: &str, options: RedisOptions) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(misconfigured)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.response_timeout))
            .set_response_timeout(Some(options.reply_timeout()))
            .set_number_of_retries(1);
        let open = async || {
            let manager = client.get_connection_manager_with_config(config.clone());
            Ok(Conn::Node(manager.await.map_err(error)?))
        };
        Self::with(open, options).await
    }

    /// A store on the Redis Cluster that `nodes` (some of its nodes'
    /// `redis://host:port` URLs) belong to, with the default
    /// [`RedisOptions`]. The client finds the other nodes, follows `MOVED`
    /// and `ASK` and reconnects on its own.
    pub async fn cluster<S: AsRef<str>>(nodes: impl IntoIterator<Item = S>) -> Result<Self, Error> {
        Self::cluster_with(nodes, RedisOptions::default()).await
    }

    /// A store on the Redis Cluster of `nodes`, with `options`.
    pub async fn cluster_with<S: AsRef<str>>(
        nodes: impl IntoIterator<Item = S>, options: RedisOptions,
    ) -> Result<Self, Error> {
        let nodes: Vec<String> = nodes
            .into_iter()
            .map(|n| match n.as_ref() {
                n if n.contains("://") => n.to_owned(),
                n => format!("redis://{n}"),
            })
            .collect();
        let client = redis::cluster::ClusterClientBuilder::new(nodes)
            .connection_timeout(options.response_timeout)
            .response_timeout(options.reply_timeout())
            .retries(2)
            .build()
            .map_err(misconfigured)?;
        let open = async || {
            Ok(Conn::Cluster(
                client.get_async_connection().await.map_err(error)?,
            ))
        };
        Self::with(open, options).await
    }

    /// The store on the connections `open` opens: one shared by the calls
    /// that do not wait for replicas, and, when the store waits,
    /// [`WAITING_LINKS`] for those that do.
    async fn with(
        open: impl AsyncFn() -> Result<Conn, Error>, options: RedisOptions,
    ) -> Result<Self, Error> {
        let conn = open().await?;
        let keys = Keys::new(&options.prefix).map_err(|hint| Error::Misconfigured {
            hint,
            source: "bad key prefix".into(),
        })?;
        let replicas = match options.min_replicas {
            Some(n) => n,
            None => u32::from(conn.has_replicas().await?),
        };
        let wait = (replicas > 0).then_some(Wait {
            replicas,
            timeout: options.wait_timeout,
        });
        let mut waiting = Vec::new();
        if wait.is_some() {
            for _ in 0..WAITING_LINKS {
                waiting.push(open().await?);
            }
        }
        Ok(Self(Protocol::new(RedisStorage {
            conn,
            waiting: waiting.into(),
            keys,
            retention: options.retention.min(options::MAX_RETENTION),
            wait,
            collecting: Default::default(),
        })))
    }

    /// How many replicas a revocation, sign-in or rotation waits for.
    pub fn min_replicas(&self) -> u32 {
        self.0.storage().wait.map_or(0, |w| w.replicas)
    }
}

fn misconfigured(e: redis::RedisError) -> Error {
    Error::Misconfigured {
        hint: "a Redis URL is redis://host:port (or rediss://), a Cluster's nodes host:port",
        source: Box::new(e),
    }
}
