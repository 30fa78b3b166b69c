//! A throwaway Redis Cluster for one test: 3 masters and 3 replicas on loopback.
//!
//! [`RedisCluster::start`] runs six `redis-server --cluster-enabled yes` processes, each
//! in its own temporary directory with an append-only file, joins them with `redis-cli
//! --cluster create ... --cluster-replicas 1 --cluster-yes` and waits until every node
//! reports `cluster_state:ok`. Each node also listens on its cluster bus port, port +
//! 10000, so ports are picked below 55536 with both free. `--cluster-node-timeout 2000`
//! makes a failover take seconds. Every process is killed when the value is dropped.
//!
//! Faults a test can cause (in `faults.rs`): [`RedisCluster::migrate_slot`] moves a slot
//! (with its keys) to another master the way an operator's resharding does (`SETSLOT
//! IMPORTING`, `MIGRATING`, `MIGRATE ... KEYS`, `SETSLOT NODE` on every master);
//! [`RedisCluster::kill9`] kills a node, [`RedisCluster::kill_pubsub_clients`] its
//! subscribers' connections, [`RedisCluster::wait_replicated`] waits for a replica to
//! have everything its master wrote, [`RedisCluster::wait_for_new_owner`] waits for a
//! replica to be promoted, and [`RedisCluster::start_again`] brings a killed node back
//! (a master that lost its slots rejoins as a replica).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use redis::aio::MultiplexedConnection;

use crate::process::which;
use crate::redis::ping;
use crate::wait::eventually;

mod faults;

/// Masters, and replicas per master.
const MASTERS: usize = 3;
const REPLICAS_PER_MASTER: usize = 1;
/// How long starting and joining the nodes may take.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// Keys moved per `MIGRATE` call.
const MIGRATE_BATCH: usize = 100;

/// One `redis-server --cluster-enabled yes` process.
struct Node {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

/// What `CLUSTER NODES` says about one node.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub id: String,
    pub port: u16,
    pub master: bool,
    /// Failed (`fail` or `fail?` flag) or disconnected.
    pub failed: bool,
    /// Slot ranges it owns, inclusive.
    pub slots: Vec<(u16, u16)>,
    /// The id of the master it replicates, for a replica.
    pub master_id: Option<String>,
}

impl NodeInfo {
    pub fn owns(&self, slot: u16) -> bool {
        self.slots
            .iter()
            .any(|(lo, hi)| (*lo..=*hi).contains(&slot))
    }
}

/// Six cluster nodes on `127.0.0.1`.
pub struct RedisCluster {
    _root: tempfile::TempDir,
    nodes: Vec<Node>,
    /// The extra `redis-server` arguments of every node (a restarted node gets them too).
    node_args: Vec<String>,
}

impl RedisCluster {
    /// Starts 3 masters and 3 replicas, joins them and waits for `cluster_state:ok`.
    pub async fn start() -> Result<RedisCluster> {
        RedisCluster::start_with(&[]).await
    }

    /// [`RedisCluster::start`] with more `redis-server` arguments for every node, such
    /// as `["--cluster-require-full-coverage", "no"]` (the other shards keep serving
    /// while one has no master, as the compose profile runs it).
    pub async fn start_with(node_args: &[&str]) -> Result<RedisCluster> {
        let root = tempfile::Builder::new()
            .prefix("collab-cluster-")
            .tempdir()
            .context("creating a directory for the cluster")?;
        let ports = cluster_ports(MASTERS * (1 + REPLICAS_PER_MASTER))?;
        let mut cluster = RedisCluster {
            nodes: ports
                .iter()
                .map(|port| Node {
                    port: *port,
                    dir: root.path().join(port.to_string()),
                    child: None,
                })
                .collect(),
            _root: root,
            node_args: node_args.iter().map(|a| a.to_string()).collect(),
        };
        for node in &mut cluster.nodes {
            node.spawn(node_args)?;
        }
        for node in &cluster.nodes {
            let url = node.url();
            if !eventually(START_DEADLINE, || ping(&url)).await {
                bail!(
                    "cluster node on port {} did not answer PING; log: {}",
                    node.port,
                    node.log_tail()
                );
            }
        }
        cluster.create()?;
        if !eventually(START_DEADLINE, || cluster.is_settled()).await {
            bail!(
                "the cluster did not reach cluster_state:ok with every replica attached; log of \
                 port {}: {}",
                cluster.nodes[0].port,
                cluster.nodes[0].log_tail()
            );
        }
        Ok(cluster)
    }

    /// Every node's URL, comma-separated: the gateways' `--redis-url` under
    /// `--redis-cluster`.
    pub fn seeds(&self) -> String {
        self.nodes
            .iter()
            .map(Node::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Ports of every node started (dead or alive).
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// A connection to the node on `port`.
    pub async fn node(&self, port: u16) -> Result<MultiplexedConnection> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
        Ok(client.get_multiplexed_async_connection().await?)
    }

    /// A cluster client connection (follows slots, as the platform's own client does).
    pub async fn client_connection(&self) -> Result<redis::cluster_async::ClusterConnection> {
        let client = redis::cluster::ClusterClientBuilder::new(
            self.nodes.iter().map(Node::url).collect::<Vec<_>>(),
        )
        .response_timeout(Duration::from_secs(10))
        .build()?;
        Ok(client.get_async_connection().await?)
    }

    /// A connection to some node that is alive.
    async fn any_node(&self) -> Result<MultiplexedConnection> {
        for node in self.nodes.iter().filter(|n| n.child.is_some()) {
            if let Ok(con) = self.node(node.port).await {
                return Ok(con);
            }
        }
        bail!("no cluster node answers")
    }

    /// The slot of `key` (`CLUSTER KEYSLOT`).
    pub async fn keyslot(&self, key: &str) -> Result<u16> {
        let mut con = self.any_node().await?;
        Ok(redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query_async(&mut con)
            .await?)
    }

    /// The cluster as a live node sees it (`CLUSTER NODES`).
    pub async fn topology(&self) -> Result<Vec<NodeInfo>> {
        let mut con = self.any_node().await?;
        let text: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async(&mut con)
            .await
            .context("CLUSTER NODES")?;
        Ok(parse_nodes(&text))
    }

    /// The master that owns `slot`.
    pub async fn owner(&self, slot: u16) -> Result<NodeInfo> {
        self.topology()
            .await?
            .into_iter()
            .find(|n| n.master && !n.failed && n.owns(slot))
            .ok_or_else(|| anyhow!("no live master owns slot {slot}"))
    }

    /// The live masters.
    pub async fn masters(&self) -> Result<Vec<NodeInfo>> {
        Ok(self
            .topology()
            .await?
            .into_iter()
            .filter(|n| n.master && !n.failed)
            .collect())
    }

    /// Whether every live node reports `cluster_state:ok`.
    pub async fn state_ok(&self) -> bool {
        for node in self.nodes.iter().filter(|n| n.child.is_some()) {
            let Ok(mut con) = self.node(node.port).await else {
                return false;
            };
            let info: Result<String, _> = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut con)
                .await;
            if !info.is_ok_and(|info| info.contains("cluster_state:ok")) {
                return false;
            }
        }
        true
    }

    /// `cluster_state:ok` everywhere, every node sees every other with its final role
    /// (right after `--cluster create`, some still take a replica for a master), and every
    /// replica has synced with its master.
    async fn is_settled(&self) -> bool {
        if !self.state_ok().await {
            return false;
        }
        for node in &self.nodes {
            let Ok(mut con) = self.node(node.port).await else {
                return false;
            };
            let Ok(text) = redis::cmd("CLUSTER")
                .arg("NODES")
                .query_async::<String>(&mut con)
                .await
            else {
                return false;
            };
            let nodes = parse_nodes(&text);
            let masters = nodes.iter().filter(|n| n.master).count();
            let serving = nodes
                .iter()
                .filter(|n| n.master && !n.slots.is_empty())
                .count();
            if nodes.len() != self.nodes.len() || masters != MASTERS || serving != MASTERS {
                return false;
            }
            // A replica that never synced with its master refuses to take over from it.
            let Ok(replication) = redis::cmd("INFO")
                .arg("replication")
                .query_async::<String>(&mut con)
                .await
            else {
                return false;
            };
            if replication.contains("role:slave") && !replication.contains("master_link_status:up")
            {
                return false;
            }
        }
        true
    }

    /// The last lines of every live node's log.
    fn logs(&self) -> String {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| format!("--- port {} ---\n{}", n.port, n.log_tail()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn create(&self) -> Result<()> {
        let cli = which("redis-cli").ok_or_else(|| anyhow!("redis-cli is not on PATH"))?;
        let output = Command::new(cli)
            .arg("--cluster")
            .arg("create")
            .args(self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)))
            .args(["--cluster-replicas", &REPLICAS_PER_MASTER.to_string()])
            .arg("--cluster-yes")
            .stdin(Stdio::null())
            .output()
            .context("running redis-cli --cluster create")?;
        if !output.status.success() {
            bail!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Node {
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self, extra_args: &[&str]) -> Result<()> {
        let binary = which("redis-server").ok_or_else(|| anyhow!("redis-server is not on PATH"))?;
        std::fs::create_dir_all(&self.dir).context("creating a node's directory")?;
        let child = Command::new(binary)
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", "nodes.conf"])
            .args(["--cluster-node-timeout", "2000"])
            .args(["--appendonly", "yes"])
            .args(["--save", ""])
            .args(["--daemonize", "no", "--protected-mode", "no"])
            .args(["--logfile", "redis.log"])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawning a cluster node")?;
        self.child = Some(child);
        Ok(())
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }
}

/// `n` distinct loopback ports below 55536 whose cluster bus port (+10000) is free too.
fn cluster_ports(n: usize) -> Result<Vec<u16>> {
    let mut ports = Vec::new();
    for _ in 0..1000 {
        if ports.len() == n {
            return Ok(ports);
        }
        let port: u16 = rand::random_range(20000..45000);
        if ports.contains(&port) || ports.iter().any(|p: &u16| p.abs_diff(port) == 10000) {
            continue;
        }
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10000) {
            ports.push(port);
        }
    }
    if ports.len() == n {
        return Ok(ports);
    }
    bail!("found only {} free port pairs for the cluster", ports.len())
}

/// `CLUSTER NODES` lines: `id addr flags master ping pong epoch link slot...`.
fn parse_nodes(text: &str) -> Vec<NodeInfo> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 8 {
                return None;
            }
            let port = fields[1]
                .split('@')
                .next()?
                .rsplit(':')
                .next()?
                .parse()
                .ok()?;
            let flags: Vec<&str> = fields[2].split(',').collect();
            let slots = fields[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((lo, hi)) => Some((lo.parse().ok()?, hi.parse().ok()?)),
                    None => s.parse().ok().map(|one| (one, one)),
                })
                .collect();
            Some(NodeInfo {
                id: fields[0].to_owned(),
                port,
                master: flags.contains(&"master"),
                failed: flags.iter().any(|f| f.starts_with("fail")) || fields[7] != "connected",
                slots,
                master_id: (fields[3] != "-").then(|| fields[3].to_owned()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cluster_nodes() {
        let text = "a1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460 [5461->-b2]\n\
                    b2 127.0.0.1:30002@40002 master - 0 0 2 connected 5461-10922 16000\n\
                    c3 127.0.0.1:30003@40003 slave a1 0 0 1 connected\n\
                    d4 127.0.0.1:30004@40004 master,fail - 0 0 3 disconnected\n";
        let nodes = parse_nodes(text);
        assert_eq!(nodes.len(), 4);
        assert_eq!(nodes[0].port, 30001);
        assert!(nodes[0].master && nodes[0].owns(5460) && !nodes[0].owns(5461));
        assert!(nodes[1].owns(16000) && nodes[1].owns(6000));
        assert!(!nodes[2].master);
        assert_eq!(nodes[2].master_id.as_deref(), Some("a1"));
        assert_eq!(nodes[0].master_id, None);
        assert!(nodes[3].failed);
    }
}
