//! A load-test harness for y-websocket gateways: many simulated editors in one process.
//!
//! How a run flows:
//!
//! - [`config`] holds the flags every scenario shares (targets, framing, server pids, JSON
//!   path, deadlines); [`target`] parses a target and refuses any that is not a loopback
//!   address unless `--allow-remote` is given; [`tls`] holds what `wss://` targets trust.
//! - [`scenario`] has one file per named preset (`edit-storm`, `fan-out`, `idle`,
//!   `join-storm`, `awareness`). A scenario decides how many editors go to which file and
//!   target, and drives the phases of a [`fleet`]. Scenarios that need a document in place
//!   before they measure (a large one for `join-storm`, some text for cursors to point at
//!   in `awareness`) build it through [`seed`]: one paced writer, one verifying reader.
//! - [`fleet`] spawns the editors, throttles their connects (or holds them at a barrier and
//!   lets them go at once) and moves them through the [`phase`]s connect -> edit -> drain ->
//!   stop together. What the editors of a run share (tracker, counters, dialect, phase) is
//!   [`shared::Shared`].
//! - [`client`] is one simulated editor: a real yrs `Doc` (UTF-16 offsets, root `Y.Text`
//!   "monaco") behind one WebSocket. It syncs (step 1 / step 2), types and deletes at random
//!   positions, optionally moves its cursor (awareness), and applies what it receives;
//!   or, when light ([`replicas`]: all but a sample of full replicas), decodes and times
//!   what it receives without applying it, so the harness does not out-spend the gateways.
//!   A light `join-storm` joiner checks its document from the decoded update ([`doc_check`]).
//! - [`framing`] turns y-websocket messages into WebSocket frames and back; it is the one place
//!   the dialects differ (Hocuspocus: document name before each message, auth first).
//! - [`tracker`] measures end-to-end propagation: every edit an editor sends is recorded by
//!   the yrs ids it inserts or deletes; every update an editor receives is matched against
//!   those records, and the time since the send goes into a histogram once per receiver.
//! - [`stats`] counts everything else (edits, bytes, errors, disconnects, connect and sync
//!   times), [`procstat`] reads CPU time and RSS of server processes from `/proc`, and
//!   [`progress`] prints a status line to stderr while a scenario runs, handing each
//!   second's reading to the [`sampler`].
//! - [`report`] gathers the figures into one serializable [`report::Report`], printed as a
//!   table and optionally written as JSON and as an HTML page with SVG charts; the
//!   per-second [`timeline`] (rates, latency, server CPU and RSS) is part of it.
//! - [`compare`] is the `compare` command: it starts our gateways, Hocuspocus and the raw
//!   relay floor in turn on fresh Redis servers, runs the scenarios against each through
//!   this same binary, and writes the side-by-side `BENCHMARKS.md` and HTML page, with
//!   the harness's own CPU beside the servers' and a capacity search (the highest edit
//!   rate at p99 < 10 ms, and server CPU per delivery there).
//!
//! Besides the scenarios, [`floor`] is a server: the raw relay floor (`collab-load floor`),
//! y-websocket frames relayed through Redis pub/sub with no CRDT work, the lower bound the
//! gateways are compared with; [`write_floor`] (`collab-load write-floor`) is the physical
//! floor below it: the same relay as one epoll thread writing each frame, encoded once, to
//! every socket with a plain non-blocking `write`.
//!
//! [`undo_latency`] (`collab-load undo-latency`) measures server-side undo: one writer
//! (`?ext=undo&user=`) on a seeded document asks the gateway to undo its last edit, and an
//! observer (on another gateway when there are two) times until the edit is gone. It talks
//! through [`conn`], the plain one-message-at-a-time connection the seeder uses too.
//!
//! [`diag_latency`] (`collab-load diag-latency`) measures server-side syntax diagnostics:
//! a writer types keystrokes that break and fix a generated TypeScript file
//! ([`ts_source`]), an observer opted in with `?ext=diagnostics` times until it has the
//! markers of its new text, and [`scrape`] reads the gateways' `/metrics` for parse counts.
//! Both stand on [`latency`]: the seed of one big file, the writer and observer
//! ([`probe_side`]), the histograms, the server watches and the report's rows and JSON.
//!
//! [`files_latency`] (`collab-load files-latency`) measures the files feature (`--files
//! dir`): keystroke to disk, an outside write to an editor on the other gateway, writes per
//! minute under continuous typing and the typing lost when Redis is flushed; it starts its
//! own Redis and gateways through collab-harness.
//!
//! [`soak`] (`collab-load soak`) watches memory over many visits: its own Redis and two
//! gateways, rounds of short visits (half to new files), and after each round, once the
//! rooms closed, each gateway's RSS, allocator figures and the sizes of its tables, which
//! must be back at their baseline.
//!
//! Apart from the network, [`gc_trace`] replays a recorded editing trace (`load/traces/`)
//! into yrs docs with GC on and off and measures state size, heap ([`heap`], a counting
//! allocator the binary installs), resident memory and time: what the gateway's GC-off
//! replicas cost.

pub mod client;
pub mod compare;
pub mod config;
pub mod conn;
pub mod diag_latency;
pub mod doc_check;
pub mod files_latency;
pub mod fleet;
pub mod floor;
pub mod framing;
pub mod gc_trace;
pub mod heap;
pub mod latency;
pub mod phase;
pub mod probe_side;
pub mod procstat;
pub mod progress;
pub mod replicas;
pub mod report;
pub mod sampler;
pub mod scenario;
pub mod scrape;
pub mod seed;
pub mod shared;
pub mod soak;
pub mod stats;
pub mod target;
pub mod timeline;
pub mod tls;
pub mod tracker;
pub mod ts_source;
pub mod undo_latency;
pub mod write_floor;
