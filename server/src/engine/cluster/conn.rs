//! The cluster client as a [`Conn`]: file channels are sharded pub/sub on the file's
//! slot, pipelines keep to one slot, and readiness pings every master and asks the
//! cluster's state.

use futures_util::future::BoxFuture;
use redis::RedisResult;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo};

use crate::engine::redis::conn::Conn;

impl Conn for ClusterConnection {
    /// `SPUBLISH` reaches only the nodes of the channel's shard (the file's slot), where
    /// classic `PUBLISH` would be broadcast over the cluster bus to every node.
    const FILE_PUBLISH: &'static str = "SPUBLISH";
    /// A cluster refuses a pipeline whose keys span slots (`CROSSSLOT`).
    const ONE_SLOT_PIPELINES: bool = true;
    /// The cluster client resubscribes a node's channels only after a slot refresh that
    /// names their new owner, and an idle subscription connection never triggers one
    /// after its node died: the failover happens seconds after the disconnection, when
    /// the client has long refreshed (and found the dead node still in charge).
    const RESUBSCRIBES_ITSELF: bool = false;

    /// Classic `SUBSCRIBE`, routed by the channel's slot; classic messages reach every
    /// node, so whichever node that is hears every gateway.
    fn subscribe_broadcast<'a>(&'a mut self, channel: &'a str) -> BoxFuture<'a, RedisResult<()>> {
        Box::pin(self.subscribe(channel))
    }

    /// `SSUBSCRIBE`, one channel per call (several across slots fail with `CROSSSLOT`);
    /// the client sends it to the owner of the channel's slot.
    fn subscribe_file<'a>(&'a mut self, channel: &'a str) -> BoxFuture<'a, RedisResult<()>> {
        Box::pin(self.ssubscribe(channel))
    }

    fn unsubscribe_file<'a>(&'a mut self, channel: &'a str) -> BoxFuture<'a, RedisResult<()>> {
        Box::pin(self.sunsubscribe(channel))
    }

    /// `PING` on every master, all of which must answer, and `cluster_state:ok` (every
    /// slot has a master that the cluster can reach). The client leaves a master whose
    /// connection it lost out of an every-master call rather than fail it, so the ping
    /// alone would miss a dead master until its replica takes over; the cluster state
    /// turns to `fail` once the other nodes agree the master is gone.
    fn ping_all(&mut self) -> BoxFuture<'_, RedisResult<()>> {
        Box::pin(async move {
            let every_master = RoutingInfo::MultiNode((
                MultipleNodeRoutingInfo::AllMasters,
                Some(ResponsePolicy::AllSucceeded),
            ));
            self.route_command(redis::cmd("PING"), every_master).await?;
            let info: String = redis::cmd("CLUSTER").arg("INFO").query_async(self).await?;
            if info
                .lines()
                .any(|line| line.trim_end() == "cluster_state:ok")
            {
                Ok(())
            } else {
                Err(redis::RedisError::from((
                    redis::ErrorKind::Server(redis::ServerErrorKind::ClusterDown),
                    "cluster_state is not ok",
                )))
            }
        })
    }
}
