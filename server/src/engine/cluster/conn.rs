//! The cluster client as a [`Conn`]: file channels are sharded pub/sub on the file's
//! slot, and pipelines keep to one slot (readiness is [`super::readiness`]).

use futures_util::future::BoxFuture;
use redis::RedisResult;
use redis::cluster_async::ClusterConnection;

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
}
