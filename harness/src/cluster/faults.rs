//! What a test does to a running cluster, as an operator or a crash would: move a slot
//! with its keys, flush a node's scripts, kill pub/sub connections or a whole node, and
//! wait for a replica to take over; plus what it reads back (`INFO commandstats`).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use redis::aio::MultiplexedConnection;

use super::{MIGRATE_BATCH, RedisCluster, START_DEADLINE};
use crate::process::signal;
use crate::redis::{command_calls, kill_pubsub_connections, ping};
use crate::wait::eventually;

impl RedisCluster {
    /// Moves `slot` and its keys from its owner to the master on `to`, like resharding:
    /// `SETSLOT IMPORTING` on the target, `MIGRATING` on the source, `MIGRATE ... KEYS`
    /// in batches until the source holds none, then `SETSLOT NODE` on the target, the
    /// source and every other master. Returns the source's port.
    pub async fn migrate_slot(&self, slot: u16, to: u16) -> Result<u16> {
        let nodes = self.topology().await?;
        let source = nodes
            .iter()
            .find(|n| n.master && n.owns(slot))
            .ok_or_else(|| anyhow!("no master owns slot {slot}"))?
            .clone();
        let target = nodes
            .iter()
            .find(|n| n.port == to && n.master)
            .ok_or_else(|| anyhow!("no master on port {to}"))?
            .clone();
        if source.port == target.port {
            bail!("slot {slot} is already on port {to}");
        }
        let mut src = self.node(source.port).await?;
        let mut dst = self.node(target.port).await?;
        setslot(&mut dst, slot, "IMPORTING", &source.id).await?;
        setslot(&mut src, slot, "MIGRATING", &target.id).await?;
        loop {
            let keys: Vec<String> = redis::cmd("CLUSTER")
                .arg("GETKEYSINSLOT")
                .arg(slot)
                .arg(MIGRATE_BATCH)
                .query_async(&mut src)
                .await
                .context("CLUSTER GETKEYSINSLOT")?;
            if keys.is_empty() {
                break;
            }
            redis::cmd("MIGRATE")
                .arg("127.0.0.1")
                .arg(target.port)
                .arg("")
                .arg(0)
                .arg(5000)
                .arg("KEYS")
                .arg(&keys)
                .query_async::<()>(&mut src)
                .await
                .with_context(|| format!("MIGRATE of {} keys", keys.len()))?;
        }
        setslot(&mut dst, slot, "NODE", &target.id)
            .await
            .context("on the target")?;
        setslot(&mut src, slot, "NODE", &target.id)
            .await
            .context("on the source")?;
        for other in nodes
            .iter()
            .filter(|n| n.master && !n.failed && n.port != source.port && n.port != target.port)
        {
            let mut con = self.node(other.port).await?;
            setslot(&mut con, slot, "NODE", &target.id)
                .await
                .with_context(|| format!("on port {} of {nodes:?}", other.port))?;
        }
        Ok(source.port)
    }

    /// `SCRIPT FLUSH` on the node on `port`: its next `EVALSHA` answers `NOSCRIPT`.
    pub async fn script_flush(&self, port: u16) -> Result<()> {
        let mut con = self.node(port).await?;
        redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async::<()>(&mut con)
            .await
            .context("SCRIPT FLUSH")
    }

    /// Calls per command on the node on `port` (`INFO commandstats`), by lower-case
    /// name (`evalsha`, `script|load`, ...).
    pub async fn command_calls(&self, port: u16) -> Result<HashMap<String, u64>> {
        command_calls(&mut self.node(port).await?).await
    }

    /// Kills every pub/sub client connection on every live node (`CLIENT LIST TYPE
    /// pubsub`, then `CLIENT KILL ID`); returns how many were killed.
    pub async fn kill_pubsub_clients(&self) -> Result<usize> {
        let mut killed = 0;
        for node in self.nodes.iter().filter(|n| n.child.is_some()) {
            killed += kill_pubsub_connections(&mut self.node(node.port).await?).await?;
        }
        Ok(killed)
    }

    /// The port of a replica of the master on `master`.
    pub async fn replica_of(&self, master: u16) -> Result<u16> {
        let nodes = self.topology().await?;
        let id = nodes
            .iter()
            .find(|n| n.port == master)
            .ok_or_else(|| anyhow!("no node on port {master}"))?
            .id
            .clone();
        nodes
            .iter()
            .find(|n| n.master_id.as_deref() == Some(id.as_str()) && !n.failed)
            .map(|n| n.port)
            .ok_or_else(|| anyhow!("the master on port {master} has no live replica"))
    }

    /// Waits until a replica of the master on `master` has acknowledged everything that
    /// master had written when this was called (`master_repl_offset`, and the replicas'
    /// `offset=` in its `INFO replication`); returns that replica's port. Replication is
    /// asynchronous: only then does killing the master lose nothing by itself.
    pub async fn wait_replicated(&self, master: u16, within: Duration) -> Result<u16> {
        let (written, _) = self.replication_offsets(master).await?;
        let caught_up = || async {
            self.replication_offsets(master)
                .await
                .is_ok_and(|(_, acked)| acked.iter().any(|(_, offset)| *offset >= written))
        };
        if !eventually(within, caught_up).await {
            bail!(
                "no replica of {master} acknowledged offset {written} within {within:?}: {:?}",
                self.replication_offsets(master).await
            );
        }
        let (_, acked) = self.replication_offsets(master).await?;
        acked
            .into_iter()
            .find(|(_, offset)| *offset >= written)
            .map(|(port, _)| port)
            .ok_or_else(|| anyhow!("the replica of {master} that caught up went away"))
    }

    /// The master's `master_repl_offset`, and each replica's port and acknowledged offset.
    async fn replication_offsets(&self, master: u16) -> Result<(u64, Vec<(u16, u64)>)> {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut self.node(master).await?)
            .await
            .context("INFO replication")?;
        let written = info
            .lines()
            .find_map(|line| line.strip_prefix("master_repl_offset:"))
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| anyhow!("no master_repl_offset in INFO replication of {master}"))?;
        // `slave0:ip=127.0.0.1,port=30004,state=online,offset=1234,lag=0`
        let acked = info
            .lines()
            .filter(|line| line.starts_with("slave") && line.contains(":ip="))
            .filter_map(|line| {
                let field = |name: &str| {
                    line.split([':', ','])
                        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                        .map(str::to_owned)
                };
                Some((field("port")?.parse().ok()?, field("offset")?.parse().ok()?))
            })
            .collect();
        Ok((written, acked))
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the node on `port`: a frozen node answers
    /// nobody, neither clients nor its master nor the cluster bus.
    pub fn freeze(&self, port: u16, frozen: bool) -> Result<()> {
        let child = self
            .nodes
            .iter()
            .find(|n| n.port == port)
            .and_then(|n| n.child.as_ref())
            .ok_or_else(|| anyhow!("no running node on port {port}"))?;
        signal(child.id(), if frozen { "STOP" } else { "CONT" });
        Ok(())
    }

    /// Cuts the master on `port` off from its replicas (`CLIENT KILL TYPE replica`): what
    /// it acknowledges from now on, until they reconnect, exists on the master only.
    pub async fn cut_replication(&self, port: u16) -> Result<()> {
        let mut con = self.node(port).await?;
        redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("replica")
            .query_async::<i64>(&mut con)
            .await
            .context("CLIENT KILL TYPE replica")?;
        Ok(())
    }

    /// Kills the node on `port` with SIGKILL and reaps it.
    pub fn kill9(&mut self, port: u16) -> Result<()> {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.port == port)
            .ok_or_else(|| anyhow!("no node on port {port}"))?;
        if let Some(mut child) = node.child.take() {
            child.kill().context("kill -9 of a cluster node")?;
            child.wait().context("reaping a cluster node")?;
        }
        Ok(())
    }

    /// Starts the node on `port` again after [`RedisCluster::kill9`], from its directory
    /// (its `nodes.conf` and append-only file), and waits until the cluster has settled
    /// again: a master whose slots went to its replica while it was down comes back as
    /// that replica's replica, so the cluster has its 3 masters and 3 replicas again.
    pub async fn start_again(&mut self, port: u16) -> Result<()> {
        let args: Vec<&str> = self.node_args.iter().map(String::as_str).collect();
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.port == port)
            .ok_or_else(|| anyhow!("no node on port {port}"))?;
        if node.child.is_some() {
            bail!("the node on port {port} is still running");
        }
        node.spawn(&args)?;
        let url = node.url();
        if !eventually(START_DEADLINE, || ping(&url)).await {
            bail!("the node on port {port} did not answer PING after a restart");
        }
        if !eventually(START_DEADLINE, || self.is_settled()).await {
            bail!(
                "the cluster did not settle after the node on port {port} came back: nodes \
                 {:?}; logs:\n{}",
                self.topology().await,
                self.logs()
            );
        }
        Ok(())
    }

    /// Waits until a live master other than `old` owns `slot` and the cluster is ok again
    /// (the replica of a killed master was promoted); returns the new owner.
    pub async fn wait_for_new_owner(&self, slot: u16, old: u16, within: Duration) -> Result<u16> {
        let promoted = || async {
            match self.owner(slot).await {
                Ok(owner) if owner.port != old => self.state_ok().await,
                _ => false,
            }
        };
        if !eventually(within, promoted).await {
            bail!(
                "no new master took slot {slot} from port {old} within {within:?}: cluster \
                 state ok {}, nodes {:?}; logs:\n{}",
                self.state_ok().await,
                self.topology().await,
                self.logs()
            );
        }
        Ok(self.owner(slot).await?.port)
    }
}

async fn setslot(con: &mut MultiplexedConnection, slot: u16, how: &str, id: &str) -> Result<()> {
    redis::cmd("CLUSTER")
        .arg("SETSLOT")
        .arg(slot)
        .arg(how)
        .arg(id)
        .query_async::<()>(con)
        .await
        .with_context(|| format!("CLUSTER SETSLOT {slot} {how}"))
}
