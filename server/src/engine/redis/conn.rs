//! What the Redis-backed parts (store, bus, directory, identity writes) need of a
//! connection, so one implementation of each serves both one Redis server and a Redis
//! Cluster ([`crate::engine::cluster`]).
//!
//! The two differ in three places only: how a file's channel is published to and
//! subscribed (classic `PUBLISH`/`SUBSCRIBE` on one server; sharded `SPUBLISH`/`SSUBSCRIBE`
//! on the file's slot under a cluster), whether a pipeline may touch keys of several
//! slots (a cluster refuses it: `CROSSSLOT`), and whether it resubscribes by itself.
//! Readiness is not here: it differs in kind, not in a command (one `PING`, or a probe of
//! each slot in use: [`crate::engine::readiness`]). Everything else (the Lua scripts, the reply parsing, the undo lists) is the same code.

use futures_util::future::BoxFuture;
use redis::RedisResult;
use redis::aio::{ConnectionLike, ConnectionManager};

/// A multiplexed, cheaply cloned connection to "the Redis" of an engine.
pub trait Conn: ConnectionLike + Clone + Send + Sync + 'static {
    /// The command that publishes on a file's channel (`PUBLISH` or `SPUBLISH`); the
    /// scripts use it too.
    const FILE_PUBLISH: &'static str;

    /// Whether a pipeline must keep to one slot (then reads of unrelated keys go as one
    /// small pipeline per key, concurrently).
    const ONE_SLOT_PIPELINES: bool;

    /// Whether the connection subscribes to everything again by itself after it lost a
    /// server; if not, the bus does it after every disconnection.
    const RESUBSCRIBES_ITSELF: bool;

    /// Subscribes to a channel with classic pub/sub (the gateways channel).
    fn subscribe_broadcast<'a>(&'a mut self, channel: &'a str) -> BoxFuture<'a, RedisResult<()>>;

    /// Subscribes to a file's channel (one channel per call: under a cluster a
    /// multi-channel call across slots fails).
    fn subscribe_file<'a>(&'a mut self, channel: &'a str) -> BoxFuture<'a, RedisResult<()>>;

    /// Unsubscribes from a file's channel.
    fn unsubscribe_file<'a>(&'a mut self, channel: &'a str) -> BoxFuture<'a, RedisResult<()>>;
}

impl Conn for ConnectionManager {
    const FILE_PUBLISH: &'static str = "PUBLISH";
    const ONE_SLOT_PIPELINES: bool = false;
    /// With `set_automatic_resubscription`, which the bus's subscriber turns on.
    const RESUBSCRIBES_ITSELF: bool = true;

    fn subscribe_broadcast<'a>(&'a mut self, channel: &'a str) -> BoxFuture<'a, RedisResult<()>> {
        Box::pin(self.subscribe(channel))
    }

    fn subscribe_file<'a>(&'a mut self, channel: &'a str) -> BoxFuture<'a, RedisResult<()>> {
        Box::pin(self.subscribe(channel))
    }

    fn unsubscribe_file<'a>(&'a mut self, channel: &'a str) -> BoxFuture<'a, RedisResult<()>> {
        Box::pin(self.unsubscribe(channel))
    }
}

/// TCP settings of the gateway's connections to Redis: `TCP_NODELAY`. redis-rs leaves
/// Nagle's algorithm on by default, and a multiplexed connection sends small commands back
/// to back (the appends of many files): with Nagle, a command written while an earlier
/// one is unacknowledged waits for that ACK before it leaves.
pub fn tcp_settings() -> redis::io::tcp::TcpSettings {
    redis::io::tcp::TcpSettings::default().set_nodelay(true)
}

/// A client for the Redis at `url` whose connections use [`tcp_settings`].
pub fn client(url: &str) -> RedisResult<redis::Client> {
    let info = redis::IntoConnectionInfo::into_connection_info(url)?;
    redis::Client::open(info.set_tcp_settings(tcp_settings()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn connections_to_redis_send_without_nagle() {
        let client = super::client("redis://127.0.0.1:7000/").expect("a client");
        assert!(client.get_connection_info().tcp_settings().nodelay());
        // The subscription and tracking connections are opened from this client's info.
        let info = client.get_connection_info().clone();
        assert!(info.tcp_settings().nodelay());
    }
}
