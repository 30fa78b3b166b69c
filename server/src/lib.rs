//! The collab gateway: y-websocket rooms shared between gateway pods through Redis.
//!
//! A tour, following one edit:
//! - [`gateway`] is the lifecycle: connect the engine, serve, drain on SIGTERM.
//!   [`app`] is the HTTP surface: `GET /doc/{file}` (WebSocket), `/healthz`, `/readyz`,
//!   `/metrics`; [`listener`] accepts connections and bounds them until they are sessions;
//!   [`upgrade`] does the WebSocket handshake. Handlers and sessions share [`state`].
//! - [`session`] owns one socket: strict decoding ([`collab_protocol::Message`]), frame
//!   limits, keepalives. It feeds the file's room and writes what the room queues for it.
//! - [`rooms`] finds or opens the room of a file; [`room`] is that room's actor task: it
//!   validates updates by applying them to its [`replica`], relays them to local clients
//!   at once, and hands them to its publisher, which appends them to the log and publishes
//!   them with their log position in one atomic step ([`engine::Store::append`]).
//! - [`engine`] is the seam between rooms and shared storage: a `Store` (log, snapshot)
//!   and a `Bus` (pub/sub, gateway liveness), implemented for one Redis in
//!   [`engine::redis`]. The bus routes channel messages to rooms and turns disconnections,
//!   resubscriptions and overflows into catch-ups from the log, so a message pub/sub
//!   dropped is never an update lost; other gateways' heartbeats make a dead gateway's
//!   cursors vanish.
//! - [`update_check`] holds client updates to the rules every Yjs encoder follows before yrs
//!   sees them.
//! - [`presence`] tracks awareness states (cursors) and which connection or gateway owns
//!   each; [`outbox`] is a connection's bounded send queue and close switch.
//! - [`embedded_redis`] starts a local redis-server when no Redis URL is configured.
//!
//! Data flows one way: socket -> session -> room -> engine -> Redis, and
//! Redis -> engine -> room -> sessions. A room never touches a socket; a session never
//! touches Redis; only [`engine::redis`] knows Redis commands.

pub mod access;
pub mod app;
pub mod config;
pub mod embedded_redis;
pub mod engine;
pub mod ext;
pub mod gateway;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod outbox;
pub mod pending;
pub mod presence;
pub mod replica;
pub mod room;
pub mod rooms;
pub mod session;
pub mod state;
pub mod update_check;
pub mod upgrade;

pub use config::Config;
