//! One look at one master: does it answer, in time, and does it serve? A single
//! `CLUSTER INFO` on the cluster client's own connection to that node tells both: an
//! answer within the deadline, and `cluster_state:ok` (a node whose state is `fail`
//! refuses every key command with `CLUSTERDOWN`, answering or not).

use std::time::{Duration, Instant};

use redis::cluster_async::ClusterConnection;

use super::topology::Node;

/// How long a node may take to answer a probe. Redis answers `CLUSTER INFO` in
/// microseconds; a node slower than this is stopped, partitioned or swamped.
pub const DEADLINE: Duration = Duration::from_millis(800);

/// Why a probe failed, in words fit for `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No answer within [`DEADLINE`].
    Silent,
    /// No connection to it, or an error instead of an answer.
    Unreachable,
    /// It answers, but reports `cluster_state:fail`.
    ClusterDown,
}

impl Fault {
    /// The fault as a metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Fault::Silent => "silent",
            Fault::Unreachable => "unreachable",
            Fault::ClusterDown => "cluster-down",
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Silent => write!(f, "no answer within {} ms", DEADLINE.as_millis()),
            Fault::Unreachable => f.write_str("unreachable"),
            Fault::ClusterDown => f.write_str("cluster_state:fail"),
        }
    }
}

/// Probes `node`; `Ok` is its round trip.
pub async fn probe(conn: &ClusterConnection, node: &Node) -> Result<Duration, Fault> {
    let mut conn = conn.clone();
    let mut info = redis::cmd("CLUSTER");
    info.arg("INFO");
    let started = Instant::now();
    let reply = tokio::time::timeout(DEADLINE, conn.route_command(info, node.route()))
        .await
        .map_err(|_| Fault::Silent)?
        .map_err(|_| Fault::Unreachable)?;
    let took = started.elapsed();
    let text: String = redis::from_redis_value(reply).map_err(|_| Fault::Unreachable)?;
    if text
        .lines()
        .any(|line| line.trim_end() == "cluster_state:ok")
    {
        Ok(took)
    } else {
        Err(Fault::ClusterDown)
    }
}
