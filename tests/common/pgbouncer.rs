//! Debian's PgBouncer in transaction-pooling mode, started by the test in
//! front of the test's Postgres, as production often runs it.
//!
//! Each test that needs it starts its own (nextest runs every test in a
//! process of its own): a few milliseconds, no state shared between tests,
//! and its server connections close with it, so the test database can be
//! dropped afterwards. The binary is `$PGBOUNCER`, else `pgbouncer` on the
//! `PATH`, else Debian's `/usr/sbin/pgbouncer`; `scripts/test.sh` installs
//! it. A missing binary fails the test, loudly: it is not skipped.

use sqlx::postgres::PgConnectOptions;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running PgBouncer, stopped when dropped.
pub struct PgBouncer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// The settings sqlx and the store need (the PgBouncer guide, `guide::pgbouncer`), plus
/// where this one listens and which server it pools.
fn config(upstream: &PgConnectOptions, port: u16, users: &std::path::Path) -> String {
    format!(
        "[databases]\n\
         * = host={host} port={upstream_port}\n\
         [pgbouncer]\n\
         pool_mode = transaction\n\
         ignore_startup_parameters = extra_float_digits\n\
         listen_addr = 127.0.0.1\n\
         listen_port = {port}\n\
         unix_socket_dir =\n\
         auth_type = trust\n\
         auth_file = {users}\n\
         max_client_conn = 200\n\
         default_pool_size = 10\n\
         log_connections = 0\n\
         log_disconnections = 0\n",
        host = upstream.get_host(),
        upstream_port = upstream.get_port(),
        users = users.display(),
    )
}

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("PGBOUNCER") {
        return path.into();
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("pgbouncer"))
        .chain([PathBuf::from("/usr/sbin/pgbouncer")])
        .find(|p| p.is_file());
    on_path.unwrap_or_else(|| {
        panic!(
            "pgbouncer not found (not $PGBOUNCER, not on PATH, not /usr/sbin/pgbouncer): \
             the PgBouncer tests need it. Install it (Debian/Ubuntu: apt-get install \
             pgbouncer) or run scripts/test.sh, which does"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

impl PgBouncer {
    /// Starts PgBouncer in front of the server `upstream` points at (any
    /// database on it, by name), and waits until it accepts connections.
    pub async fn start(upstream: &PgConnectOptions) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let users = dir.path().join("users.txt");
        std::fs::write(&users, format!("\"{}\" \"\"\n", upstream.get_username())).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let ini = dir.path().join("pgbouncer.ini");
        std::fs::write(&ini, config(upstream, port, &users)).unwrap();
        let mut cmd = Command::new(binary());
        if is_root() {
            // PgBouncer refuses to run as root; the user Postgres runs as
            // must read the configuration.
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            cmd.args(["-u", "postgres"]);
        }
        let log = std::fs::File::create(dir.path().join("pgbouncer.log")).unwrap();
        let child = cmd
            .arg(&ini)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start pgbouncer");
        let mut bouncer = Self { child, port, dir };
        bouncer.wait_accepting().await;
        bouncer
    }

    async fn wait_accepting(&mut self) {
        let addr = ("127.0.0.1", self.port);
        let up = crate::common::eventually(Duration::from_secs(10), || async {
            tokio::net::TcpStream::connect(addr).await.ok().map(drop)
        })
        .await;
        if up.is_none() || self.child.try_wait().unwrap().is_some() {
            panic!("pgbouncer did not start:\n{}", self.log());
        }
    }

    /// What PgBouncer logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }

    /// `direct`, reached through this PgBouncer instead (same database,
    /// user and settings).
    pub fn route(&self, direct: &PgConnectOptions) -> PgConnectOptions {
        direct.clone().host("127.0.0.1").port(self.port)
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl crate::common::Backend {
    /// Postgres through a PgBouncer of its own in transaction mode: the
    /// tables migrated over the direct connection (as the PgBouncer guide says to),
    /// the store on a pool through PgBouncer. `pg` stays the direct pool.
    pub async fn pgbouncer(test_pool: sqlx::PgPool) -> Self {
        let mut b = Self::postgres(test_pool).await;
        let direct = (*b.pg.as_ref().unwrap().connect_options()).clone();
        b.bouncer = Some(PgBouncer::start(&direct).await);
        b.kind = crate::common::Kind::PgBouncer;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(false)
            .connect_with(b.store_connect_options())
            .await
            .expect("connect through pgbouncer");
        let storage = b.pg_store(pool).storage().clone();
        b.counted = axum_user_sessions::store::CountingStore::new(storage);
        b.store = std::sync::Arc::new(axum_user_sessions::store::Protocol::new(b.counted.clone()));
        b
    }

    /// Whether the store is a Postgres one (direct, cached or through
    /// PgBouncer).
    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// How the store reaches Postgres: through PgBouncer for that kind,
    /// directly otherwise.
    pub fn store_connect_options(&self) -> PgConnectOptions {
        let direct = (*self
            .pg
            .as_ref()
            .expect("a Postgres backend")
            .connect_options())
        .clone();
        match &self.bouncer {
            Some(bouncer) => bouncer.route(&direct),
            None => direct,
        }
    }

    /// A store on `pool` (from [`store_connect_options`](Self::store_connect_options)),
    /// made as the store under test is.
    pub fn pg_store(&self, pool: sqlx::PgPool) -> axum_user_sessions::PgStore {
        let store = axum_user_sessions::PgStore::new(pool);
        if self.bouncer.is_some() {
            store.behind_pgbouncer()
        } else {
            store
        }
    }
}
