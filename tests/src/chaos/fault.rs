//! The faults a chaos run injects, and the mix of them each engine gets: on one Redis,
//! gateway kills and SIGTERMs, pub/sub connection kills, Redis restarts and kills; on a
//! Redis Cluster, slot moves and master kills instead of the Redis ones.

use std::fmt;

use crate::BackendKind;

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// kill -9 of a gateway, then a restart on the same port.
    KillGateway,
    /// SIGTERM to a gateway (it drains, closing its clients with 1012), then a restart.
    TerminateGateway,
    /// `CLIENT KILL` of every pub/sub connection (the gateways' subscriptions).
    KillSubscriptions,
    /// Redis SHUTDOWN (AOF), then a restart.
    RestartRedis,
    /// Redis kill -9, then a restart from its AOF.
    KillRedis,
    /// Cluster: the file's slot migrated, keys and all, to another master.
    MoveSlot,
    /// Cluster: kill -9 of the master owning the file's slot; once its replica is promoted
    /// the node starts again and rejoins as a replica.
    KillMaster,
}

/// The faults of a run on one Redis.
pub const REDIS_FAULTS: [Fault; 5] = [
    Fault::KillGateway,
    Fault::TerminateGateway,
    Fault::KillSubscriptions,
    Fault::RestartRedis,
    Fault::KillRedis,
];

/// The faults of a run on a Redis Cluster (the whole cluster is never restarted).
pub const CLUSTER_FAULTS: [Fault; 5] = [
    Fault::KillGateway,
    Fault::TerminateGateway,
    Fault::KillSubscriptions,
    Fault::MoveSlot,
    Fault::KillMaster,
];

impl Fault {
    /// Every kind of fault a run on `backend` injects.
    pub fn mix(backend: BackendKind) -> &'static [Fault] {
        match backend {
            BackendKind::Redis => &REDIS_FAULTS,
            BackendKind::Cluster => &CLUSTER_FAULTS,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::KillGateway => "kill -9 gateway",
            Fault::TerminateGateway => "SIGTERM gateway",
            Fault::KillSubscriptions => "CLIENT KILL pub/sub",
            Fault::RestartRedis => "restart Redis",
            Fault::KillRedis => "kill -9 Redis",
            Fault::MoveSlot => "move the file's slot",
            Fault::KillMaster => "kill -9 the file's master",
        })
    }
}
