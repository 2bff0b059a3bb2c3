//! Redis Clusters of a test's own (so that killing a node or moving a slot
//! disturbs no other test): 3 masters with a replica each,
//! `cluster-node-timeout` 1 s, and `redis-cli` on any node.

use crate::common::eventually;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The Cluster's processes, killed when the test ends however it ends.
pub struct Nodes {
    pub ports: Vec<u16>,
    pub children: Vec<Child>,
    pub _dir: tempfile::TempDir,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Six consecutive free ports whose cluster-bus twins are free too.
pub fn ports() -> Vec<u16> {
    let start = 23_000 + (std::process::id() % 500) as u16 * 11;
    (0..400u16)
        .map(|i| 23_000 + (start - 23_000 + i * 7) % 5_000)
        .find(|&p| (p..p + 6).all(|q| free(q) && free(q + 10_000)))
        .map(|p| (p..p + 6).collect())
        .expect("six free ports")
}

pub fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The ports of the masters, as node `port` sees the Cluster.
pub fn masters(port: u16) -> Vec<u16> {
    cli(port, &["cluster", "nodes"])
        .lines()
        .filter(|l| {
            let flags = l.split(' ').nth(2).unwrap_or("");
            flags.split(',').any(|f| f == "master") && !flags.contains("fail")
        })
        .filter_map(|l| l.split(' ').nth(1)?.split(['@', ':']).nth(1)?.parse().ok())
        .collect()
}

/// `Some` when `redis-server` is there; a failure under CI without it, a
/// loud skip elsewhere.
pub fn start_cluster_possible() -> Option<()> {
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok()
    {
        return Some(());
    }
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("redis-server is missing: scripts/test.sh installs it");
    }
    eprintln!("\n*** SKIPPED: redis-server is missing; run scripts/test.sh ***\n");
    None
}

/// A Cluster node on `port`, its config in `dir` (where a restart finds
/// it again).
pub fn cluster_node(port: u16, dir: &std::path::Path) -> Child {
    redis_server(port, dir)
        .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
        .args(["--cluster-replica-validity-factor", "0"])
        .arg("--cluster-config-file")
        .arg(dir.join(format!("node-{port}.conf")))
        .spawn()
        .expect("start redis-server")
}

/// `redis-server` on `port`, without persistence, its files in `dir`.
pub fn redis_server(port: u16, dir: &std::path::Path) -> Command {
    let mut cmd = Command::new("redis-server");
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null());
    cmd
}

/// A Cluster of 3 masters with a replica each, on servers of the test's
/// own, every replica in sync.
pub async fn start_cluster() -> Option<Nodes> {
    start_cluster_possible()?;
    let dir = tempfile::tempdir().unwrap();
    let ports = ports();
    let mut nodes = Nodes {
        ports: ports.clone(),
        children: Vec::new(),
        _dir: dir,
    };
    let path = nodes._dir.path().to_owned();
    for &p in &ports {
        nodes.children.push(cluster_node(p, &path));
    }
    for &p in &ports {
        let up = eventually(Duration::from_secs(10), || async move {
            cli(p, &["ping"]).contains("PONG").then_some(())
        })
        .await;
        assert!(up.is_some(), "node {p} did not start");
    }
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let created = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "1", "--cluster-yes"])
        .output()
        .expect("redis-cli --cluster create");
    assert!(created.status.success(), "{created:?}");
    let ready = eventually(Duration::from_secs(20), || async {
        // Every replica in sync with its master.
        let ok = ports.iter().all(|&p| {
            cli(p, &["cluster", "info"]).contains("cluster_state:ok")
                && cli(p, &["cluster", "nodes"]).matches("slave").count() == 3
        }) && ports.iter().all(|&p| {
            let info = cli(p, &["info", "replication"]);
            match info.contains("role:master") {
                true => info.contains("state=online"),
                false => info.contains("master_link_status:up"),
            }
        });
        ok.then_some(())
    })
    .await;
    assert!(ready.is_some(), "the Cluster never came up");
    Some(nodes)
}
