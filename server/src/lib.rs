//! The collab gateway: y-websocket rooms shared between gateway pods through Redis.
//!
//! Two crates: the room core (`collab_room_core`, sans-IO: no runtime, no Redis) holds
//! one open file's state and the rule for every input; this crate wires sockets, HTTP,
//! timers and the engine around it.
//!
//! A tour, following one edit:
//! - [`gateway`] is the lifecycle: connect the engine, serve, drain on SIGTERM.
//!   [`app`] is the HTTP surface: `GET /doc/{file}` (WebSocket), `/healthz`, `/readyz`,
//!   `/metrics`; [`listener`] accepts connections and bounds them until they are sessions;
//!   [`upgrade`] does the WebSocket handshake. Handlers and sessions share [`state`].
//! - [`session`] owns one socket: strict decoding ([`collab_protocol::Message`]), frame
//!   limits, keepalives. Before anything else it has the `?token=` checked by the
//!   [`access::Authority`] (`--auth redis|jwt|none`), which answers with an
//!   [`access::Principal`] (who the connection acts for, read-write or read-only) or a
//!   refusal (4401 / 4403, closed before any room opens). It brings the principal and its
//!   `?ext=` opt-ins into the file's room, feeds it the client's messages, writes what the
//!   room queues in the connection's [`outbox`], and closes a JWT connection at `exp`.
//!   After its close frame it lingers ([`linger`]) so a reset never destroys that frame.
//! - [`rooms`] finds or opens the room of a file. A [`room`] is the room core
//!   (`collab_room_core::core::RoomCore`: replica, presence, members, log position; one
//!   function per input, returning effects) inside an actor task ([`room::actor`]) that
//!   owns the channels, timers, the clock and send queues and runs those effects, and
//!   decides how blocking work runs ([`room::runtime`]). The core validates an update by
//!   applying it to its replica, checks the member may write, relays it to local clients
//!   at once, and hands it with its author to the room's [`room::appender`], which
//!   appends it to the log and publishes it with its log position in one atomic step
//!   ([`engine::Store::append`]).
//! - Extensions (wire type 100) live in one home each in the room core
//!   (`collab_room_core::ext`: dispatch, opt-ins, `undo/`, `diagnostics/`); what of them
//!   needs IO is in [`ext`], in the folder of the same name.
//! - [`engine`] is the seam between rooms and shared storage: a `Store` (log, snapshot)
//!   and a `Bus` (pub/sub, gateway liveness), plus the `Directory` access control reads
//!   (session -> user -> sandbox) and the extensions' `UndoStack` and `DiagnosticsCache`,
//!   implemented for one Redis in [`engine::redis`] and, with the same parts, for a Redis
//!   Cluster in [`engine::cluster`] (and in process memory in [`engine::memory`]: unit
//!   tests, `--engine memory`). The bus routes channel messages to rooms and turns
//!   disconnections, resubscriptions and overflows into catch-ups from the log, so a
//!   message pub/sub dropped is never an update lost; other gateways' heartbeats make a
//!   dead gateway's cursors vanish.
//! - [`pending`] bounds what waits for Redis (the core reserves from its counter; a
//!   draining gateway waits here); [`limits`] holds clients to rates.
//! - [`admin`] is the admin API (only with `--admin-token`): it writes sessions, users and
//!   sandbox members through [`engine::IdentityAdmin`]; [`secret`] keeps its token out of
//!   `Debug` and compares it in constant time.
//! - [`status`] is the live status page (`/status`, `/status.json`, also only with
//!   `--admin-token`): rooms, people, edit rates, file states, Redis readiness and charts,
//!   read from what rooms publish ([`room::published`]) without asking them.
//! - [`embedded_redis`] starts a local redis-server when no Redis URL is configured.
//! - [`allocator`] reports what the allocator holds; [`trimmer`] gives back the free pages
//!   ended rooms leave (glibc), and [`census`] reads every long-lived table's size.
//!
//! Data flows one way: socket -> session -> room core -> engine -> Redis, and
//! Redis -> engine -> room -> sessions. A room never touches a socket; a session never
//! touches Redis; only [`engine`] knows Redis commands; an extension sees what the core
//! shows it and answers with effects, never IO.
//!
//! Revocation: [`access::revocation`] re-reads the grants of live `--auth redis`
//! connections through [`engine::Directory::recheck`], closing revoked ones and switching
//! the room access of changed ones (`RoomCmd::SetAccess`): at once for the grants a
//! change touches, as the engine announces it ([`engine::ChangeFeed`]; in Redis,
//! `CLIENT TRACKING` invalidation pushes, which also keep the identity cache coherent),
//! and all of them every `--revalidate-ms` as the backstop.
//!
//! Server-side undo lives in `collab_room_core::ext::undo`: the core captures what each
//! writer's update inserted and deleted (an undo item); the append script pushes it on the
//! author's undo list in the same atomic step as the log entry (an `UndoRecord`).
//! `{"type":"undo"}` pops the user's item through the appender (`UndoStack::pop`), in
//! order after the edits before it, and the core applies it with a transient yrs
//! `UndoManager`; the result is an ordinary authored update whose append pushes the
//! inverse for redo.
//!
//! Diagnostics live in `collab_room_core::ext::diagnostics`: it decides when a room's text
//! is checked (after edits settle, at least every second while someone types) and what
//! each `?ext=diagnostics` member is shown; [`ext::diagnostics::check`] runs one check
//! beside the room: the version (SHA-256) and the syntax parse (`collab-syntax`,
//! incremental, bounded) on the bounded [`ext::diagnostics::CheckPool`], after a look-up
//! or claim in the engine's `DiagnosticsCache`, so each version is parsed once on
//! whichever gateway claims it and published (`D` envelope) to the others. External tools
//! post markers through [`ext::diagnostics::http`].
//!
//! Files (`--files dir|sandbox`): [`ext::files`] opens a document from its file (seeded once
//! cluster-wide by [`engine::FileState`]'s conditional append), writes edits back after they
//! settle under one gateway's lease with one write in flight ([`ext::files::keeper`]), and merges
//! changes made outside as edits authored by `sandbox` (`collab_room_core::ext::files::merge`). Under `--files
//! sandbox` the files live in each sandbox, behind its file agent ([`ext::files::agent`]), reached
//! at the owner's `sandbox_ip`, which only ever travels as a [`sandbox_ip::SandboxIp`].
//!
//! Redis Cluster: the cluster engine ([`engine::cluster`]) is a sibling of
//! [`engine::redis`] behind the same traits; both share its parts, generic over the
//! connection. Readiness is the engine's too ([`engine::readiness`]): one Redis answers
//! `PING`; a cluster must serve every slot this gateway uses, and reports per-node
//! metrics.

pub mod access;
pub mod admin;
pub mod allocator;
pub mod app;
pub mod census;
pub mod config;
pub mod embedded_redis;
pub mod engine;
pub mod ext;
pub mod gateway;
#[cfg(feature = "dhat-heap")]
pub mod heap_profile;
pub mod limits;
pub mod linger;
pub mod listener;
pub mod metrics;
pub mod outbox;
pub mod pending;
pub mod room;
pub mod rooms;
#[cfg(test)]
mod rooms_tests;
pub mod sandbox_ip;
pub mod secret;
pub mod session;
#[cfg(test)]
mod session_tests;
pub mod state;
pub mod status;
#[cfg(test)]
mod test_support;
pub mod trimmer;
pub mod upgrade;

pub use config::Config;
