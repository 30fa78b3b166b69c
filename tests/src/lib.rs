//! End-to-end harness for the collab gateway: real `redis-server` and `collab-gateway`
//! processes, driven by test editors over WebSockets.
//!
//! A test reads like an operator's afternoon:
//!
//! 1. [`RedisServer::start`] runs a private `redis-server` on a free loopback port (AOF on,
//!    fsync always), which a test can restart or whose pub/sub connections it can kill.
//! 2. [`Gateway::start`] spawns the `collab-gateway` binary against that Redis and waits for
//!    its readiness line; a test can `kill9`, `terminate` or `restart` it. Its stderr shows
//!    in the test output. [`RedisCluster::start`] and [`Gateway::start_on_cluster`] do the
//!    same on a Redis Cluster; a test that holds on both takes a [`BackendKind`] and starts
//!    a [`Backend`] of that kind, and its gateways with [`Backend::gateway`].
//! 3. [`Client::connect`] opens one editor on a file through one gateway: a yrs doc with
//!    UTF-16 offsets, speaking y-websocket like `WebsocketProvider` does. Tests edit,
//!    set cursors (awareness), send bad frames, and await what a user would see with
//!    [`Client::wait_for`].
//! 4. [`converge`] checks that replicas hold every writer's operations and equal text;
//!    [`tokens`] checks that a text holds exactly the edits editors made.
//!
//! For longer runs, an [`Editor`] keeps typing and reconnects like y-websocket, and
//! [`chaos::run`] plays a seeded scenario of editors and faults (the `collab-chaos`
//! binary and `tests/chaos.rs`).
//!
//! Modules:
//! - [`redis`], [`cluster`], [`gateway`], [`process`], [`wait`]: the processes (a Redis, a
//!   Redis Cluster of 3 masters and 3 replicas, the gateway), free ports and deadlines, from
//!   `collab-harness`, the one process harness `collab-load` uses too; re-exported here
//!   under the same names.
//! - [`backend`]: either of them, for tests that run on both engines.
//! - [`client`]: the test editor.
//! - [`converge`](mod@converge): convergence across replicas.
//! - [`tokens`]: unique-token edits and the check that none was lost.
//! - [`editor`]: an editor that keeps typing and reconnects with y-websocket's backoff.
//! - [`chaos`]: the seeded fault-injection scenario.
//! - [`stalled`]: a client that stops reading (backpressure tests).
//! - [`prometheus`]: reading a gateway's `/metrics` text.
//! - [`proxy`]: a TCP proxy in front of Redis that a failover test moves, and that can
//!   swallow what subscribers receive (a lost echo).
//! - [`admin_api`]: the admin API as a test calls it (a gateway with an admin token).
//! - [`admission`]: asserting that a connection is admitted, or refused with a code and reason.
//! - [`identity`]: the platform's identity records (`--auth redis`), written into Redis.
//! - [`jwt`]: signed tokens for `--auth jwt`.
//! - [`agent`]: a sandbox's file agent process (`collab-sandbox-agent`), for `--files sandbox`.
//! - [`agent_tap`]: a relay in front of an agent that tells a test when a file was read.
//!
//! The tests themselves live in `tests/tests/`, one file per behaviour. They need the
//! gateway binary: `cargo build -p collab-server` first (or set `COLLAB_GATEWAY_BIN`).

pub mod admin_api;
pub mod admission;
pub mod agent;
pub mod agent_tap;
pub mod backend;
pub mod chaos;
pub mod client;
pub mod converge;
pub mod editor;
pub mod identity;
pub mod jwt;
pub mod prometheus;
pub mod proxy;
pub mod stalled;
pub mod tokens;

pub use collab_harness::{cluster, gateway, process, redis, wait};

pub use agent::Agent;
pub use agent_tap::AgentTap;
pub use backend::{Backend, BackendKind};
pub use client::{Client, Edit, ErrorNotice, UndoState};
pub use cluster::RedisCluster;
pub use converge::{converge, converge_to, merged_text, writes_of};
pub use editor::{Editor, EditorOptions, Reconnect};
pub use gateway::{Gateway, HttpResponse};
pub use identity::Platform;
pub use redis::RedisServer;
pub use stalled::StalledReader;
pub use wait::eventually;

use std::time::Duration;

/// The default deadline for one awaited condition.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// Awaits the file at `path` holding exactly `expected` (what a gateway writes back with
/// `--files`), within [`DEADLINE`].
pub async fn file_holds(path: &std::path::Path, expected: &str) -> bool {
    wait::eventually(DEADLINE, || async {
        std::fs::read(path).is_ok_and(|bytes| bytes == expected.as_bytes())
    })
    .await
}

/// y-monaco's awareness state: `{"user":{"name":..,"color":..},"selection":null}`.
pub fn cursor_state(name: &str, color: &str) -> serde_json::Value {
    serde_json::json!({ "user": { "name": name, "color": color }, "selection": null })
}

/// The `user.name` of an awareness state, if it has one.
pub fn user_name(state: &serde_json::Value) -> Option<&str> {
    state.get("user")?.get("name")?.as_str()
}
