//! The one process harness of the collab gateway: every Rust test and tool that needs a
//! `redis-server`, a Redis Cluster, a `collab-gateway` or a free loopback port gets it here.
//!
//! - [`redis`]: [`RedisServer`], a private `redis-server` on a free port (append-only file
//!   fsynced on every write) that a test can stop, kill, restart and inspect; and
//!   [`redis::start_bare`], a Redis with no persistence for benchmarks (`collab-load
//!   compare`), started without an async runtime.
//! - [`cluster`]: [`RedisCluster`], 3 masters and 3 replicas on loopback, with the faults a
//!   test causes (slot moves, killed masters, frozen nodes).
//! - [`gateway`]: [`Gateway`], a `collab-gateway` child process started against either and
//!   awaited until it prints its readiness line; [`gateway::gateway_binary`] finds the
//!   binary.
//! - [`process`]: what all of them share: [`process::free_port`] (never 6379, where a
//!   shared Redis lives), finding programs, signals, and [`process::start_server`] for any
//!   server that announces "... listening on ADDR" (the systems `compare` measures).
//! - [`wait`]: [`eventually`], a deadline for conditions that cannot notify.
//!
//! Users: the end-to-end tests (`collab-tests` re-exports these modules under the same
//! names), `collab-load`'s tests and its `compare` command. The shell and JavaScript
//! harnesses (`bench/lib.sh`, `tests/node/lib`, client-js test helpers) keep their own.

pub mod cluster;
pub mod gateway;
pub mod process;
pub mod redis;
pub mod wait;

pub use cluster::RedisCluster;
pub use gateway::{Gateway, HttpResponse};
pub use redis::RedisServer;
pub use wait::eventually;
