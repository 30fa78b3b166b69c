//! Prometheus metrics, rendered at `/metrics`.
//!
//! One place names every metric, so dashboards and the code agree. Recording goes through
//! the `metrics` facade (a few atomic operations per call); the exporter renders text on
//! scrape, with no listener of its own.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use metrics::{
    Counter, Histogram, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The room core records these itself (through the same facade); they are described here
/// with the rest.
pub use collab_room_core::metrics::{catch_up, rejected, undo};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Frames sent to clients, all types: `collab_messages_out_total` summed, kept readable
/// in process for the status page's deliveries per second (the exporter only renders).
static FRAMES_OUT: AtomicU64 = AtomicU64::new(0);

/// Latency buckets in seconds, from 50 µs to 10 s.
const BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 10.0,
];

/// Installs the process-wide recorder once and returns the handle that renders it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .and_then(|builder| builder.install_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder().handle());
            describe();
            zero();
            handle
        })
        .clone()
}

/// Keeps histograms bounded; call every few seconds.
pub async fn upkeep(handle: PrometheusHandle) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        handle.run_upkeep();
    }
}

fn describe() {
    crate::ext::files::metrics::describe();
    crate::allocator::describe();
    describe_gauge!("collab_connections", "Open client WebSocket connections.");
    describe_gauge!(
        "collab_table_entries",
        "Entries of the gateway's long-lived tables, read at scrape (census.rs): rooms, routes, subscriptions, cursors, identity cache, grants, pending append bytes, tasks."
    );
    describe_gauge!(
        "collab_rooms",
        "Open rooms (files with local clients or in grace)."
    );
    describe_counter!(
        "collab_messages_in_total",
        "Client messages received, by type."
    );
    describe_counter!(
        "collab_bytes_in_total",
        "Client message bytes received, by type."
    );
    describe_counter!(
        "collab_messages_out_total",
        "Messages sent to clients, by type."
    );
    describe_counter!("collab_bytes_out_total", "Bytes sent to clients, by type.");
    describe_histogram!(
        "collab_update_apply_seconds",
        "Time to apply one update to a room's doc."
    );
    describe_histogram!("collab_redis_seconds", "Redis round trips, by operation.");
    describe_histogram!(
        "collab_delivery_seconds",
        "From a frame queued for a client to the socket taking it (the gateway's share of delivery latency), by type."
    );
    describe_counter!(
        "collab_catch_ups_total",
        "Reads of missed updates from the log."
    );
    describe_counter!("collab_compactions_total", "Log compactions, by outcome.");
    describe_counter!(
        "collab_diagnostics_parses_total",
        "Syntax parses, by language and outcome (ok, too-big, timed-out)."
    );
    describe_histogram!(
        "collab_diagnostics_parse_seconds",
        "Time of one syntax parse on the diagnostics pool, by language."
    );
    describe_counter!(
        "collab_diagnostics_cache_total",
        "Diagnostics look-ups before a check: hit, claimed (checked here), elsewhere (another gateway checks), error."
    );
    describe_counter!(
        "collab_diagnostics_posts_total",
        "External diagnostics requests, by outcome."
    );
    describe_counter!(
        "collab_slow_consumer_closes_total",
        "Clients closed for not reading."
    );
    describe_counter!(
        "collab_cursor_states_coalesced_total",
        "Queued cursor states replaced by a newer state of the same cursor before being sent."
    );
    describe_counter!("collab_rejected_total", "Refused client input, by reason.");
    describe_counter!(
        "collab_undo_total",
        "Server-side undo and redo requests, by op and outcome."
    );
    describe_counter!(
        "collab_revocations_total",
        "Live connections whose re-read grant changed, by kind: session (closed 4401), access (closed 4403), downgrade (now read-only), upgrade (now read-write)."
    );
    describe_gauge!(
        "collab_identity_tracking",
        "1 while Redis pushes identity invalidations (CLIENT TRACKING) and the identity cache serves; 0 without (revocation sweeps at the untracked period)."
    );
    describe_counter!(
        "collab_identity_tracking_connects_total",
        "Identity tracking connections made (each one starts with an empty cache)."
    );
    describe_counter!(
        "collab_identity_cache_total",
        "Identity record reads, by result: hit (served from the tracked cache), miss (read from Redis)."
    );
    describe_counter!(
        "collab_redis_reconnects_total",
        "Losses of the subscription connection."
    );
    describe_gauge!(
        "collab_redis_node_up",
        "Under --redis-cluster, per master (node = host:port): 1 if it answered the last probe (CLUSTER INFO) in time with cluster_state:ok, else 0; 0 too once it left the slot map."
    );
    describe_histogram!(
        "collab_redis_node_probe_seconds",
        "Under --redis-cluster: round trip of a probe of one master, by node."
    );
    describe_counter!(
        "collab_redis_node_probe_failures_total",
        "Under --redis-cluster: failed probes of a master, by node and fault (silent: no answer in time, unreachable, cluster-down: cluster_state:fail)."
    );
    describe_gauge!(
        "collab_redis_node_slots",
        "Under --redis-cluster: slots a master serves, by node (0 once it left the slot map)."
    );
    describe_gauge!(
        "collab_redis_node_file_channels",
        "Under --redis-cluster: this gateway's file channels (sharded subscriptions, one per open file) on a master, by node."
    );
}

/// Every refusal reason the gateway gives, so each counter exists from the start.
pub(crate) const REJECTION_REASONS: &[&str] = &[
    "malformed-message",
    "text-frame",
    "frame-too-big",
    "message-rate",
    "byte-rate",
    "invalid-file-id",
    "gateway-full",
    "document-unavailable",
    "invalid-update",
    "origin-check-budget",
    "document-too-big",
    "store-unavailable",
    "early-update",
    "read-only",
    "foreign-cursor",
    "awareness-not-object",
    "awareness-too-big",
    "too-many-handshakes",
    "handshake-timeout",
    "request-too-large",
    "malformed-request",
    // Access control (`access::Refusal`): 4401, 4403, and 1013 when Redis does not answer.
    "missing-token",
    "unknown-token",
    "token-expired",
    "bad-token",
    "outside-sandbox",
    "no-sandbox",
    "auth-unavailable",
    "read-only",
];

/// What a revalidation round can do to a live connection.
const REVOCATION_KINDS: &[&str] = &["session", "access", "downgrade", "upgrade"];

/// Registers counters at zero, so rates and alerts work before the first event.
fn zero() {
    gauge!("collab_connections").set(0.0);
    gauge!("collab_rooms").set(0.0);
    gauge!("collab_identity_tracking").set(0.0);
    counter!("collab_catch_ups_total").absolute(0);
    counter!("collab_slow_consumer_closes_total").absolute(0);
    counter!("collab_cursor_states_coalesced_total").absolute(0);
    counter!("collab_redis_reconnects_total").absolute(0);
    counter!("collab_identity_tracking_connects_total").absolute(0);
    for result in ["hit", "miss"] {
        counter!("collab_identity_cache_total", "result" => result).absolute(0);
    }
    for outcome in ["hit", "claimed", "elsewhere", "error"] {
        counter!("collab_diagnostics_cache_total", "outcome" => outcome).absolute(0);
    }
    for outcome in ["compacted", "lost-race", "nothing-to-do", "failed"] {
        counter!("collab_compactions_total", "outcome" => outcome).absolute(0);
    }
    for kind in REVOCATION_KINDS {
        counter!("collab_revocations_total", "kind" => *kind).absolute(0);
    }
    for reason in REJECTION_REASONS {
        counter!("collab_rejected_total", "reason" => *reason).absolute(0);
    }
}

/// The y-websocket type of an encoded frame, as a label.
pub fn frame_type(frame: &[u8]) -> &'static str {
    match frame.first() {
        Some(0) => "sync",
        Some(1) => "awareness",
        Some(2) => "auth",
        Some(3) => "query-awareness",
        Some(100) => "extension",
        _ => "other",
    }
}

/// Every label [`frame_type`] gives.
const FRAME_TYPES: [&str; 6] = [
    "sync",
    "awareness",
    "auth",
    "query-awareness",
    "extension",
    "other",
];

/// The per-frame-type series, registered once: a labelled macro call hashes its key and
/// looks it up in the registry every time, which on the delivery path cost 4% of the
/// gateway's CPU (bench/results/delivery-floor-2/).
struct PerType {
    kind: &'static str,
    messages_in: Counter,
    bytes_in: Counter,
    messages_out: Counter,
    bytes_out: Counter,
    delivery: Histogram,
}

static PER_TYPE: OnceLock<Vec<PerType>> = OnceLock::new();

/// The series of frame type `kind`, once the recorder is installed (before it, handles
/// would stay unregistered for good, so callers fall back to the macros).
fn per_type(kind: &'static str) -> Option<&'static PerType> {
    HANDLE.get()?;
    let all = PER_TYPE.get_or_init(|| {
        FRAME_TYPES
            .iter()
            .map(|&kind| PerType {
                kind,
                messages_in: counter!("collab_messages_in_total", "type" => kind),
                bytes_in: counter!("collab_bytes_in_total", "type" => kind),
                messages_out: counter!("collab_messages_out_total", "type" => kind),
                bytes_out: counter!("collab_bytes_out_total", "type" => kind),
                delivery: histogram!("collab_delivery_seconds", "type" => kind),
            })
            .collect()
    });
    all.iter().find(|series| series.kind == kind)
}

pub fn message_in(frame: &[u8]) {
    let kind = frame_type(frame);
    match per_type(kind) {
        Some(series) => {
            series.messages_in.increment(1);
            series.bytes_in.increment(frame.len() as u64);
        }
        None => {
            counter!("collab_messages_in_total", "type" => kind).increment(1);
            counter!("collab_bytes_in_total", "type" => kind).increment(frame.len() as u64);
        }
    }
}

/// Counts one connection's batch of frames on its way out: per batch, not per frame, since a
/// labelled counter is a registry look-up (profiled in bench/results/delivery-profile/).
/// Returns, per frame type, when the batch's oldest frame of that type was queued, for
/// [`delivered`].
pub fn messages_out<'a>(frames: impl Iterator<Item = (&'a [u8], Option<Instant>)>) -> Outgoing {
    let mut counted: [(&'static str, u64, u64); 4] = [("", 0, 0); 4];
    let mut out = Outgoing::default();
    for (frame, queued_at) in frames {
        FRAMES_OUT.fetch_add(1, Ordering::Relaxed);
        let kind = frame_type(frame);
        if let Some(queued_at) = queued_at {
            out.note(kind, queued_at);
        }
        match counted.iter_mut().find(|(k, n, _)| *k == kind || *n == 0) {
            Some(slot) => {
                slot.0 = kind;
                slot.1 += 1;
                slot.2 += frame.len() as u64;
            }
            None => {
                counter!("collab_messages_out_total", "type" => kind).increment(1);
                counter!("collab_bytes_out_total", "type" => kind).increment(frame.len() as u64);
            }
        }
    }
    for (kind, frames, bytes) in counted.into_iter().take_while(|(_, n, _)| *n > 0) {
        match per_type(kind) {
            Some(series) => {
                series.messages_out.increment(frames);
                series.bytes_out.increment(bytes);
            }
            None => {
                counter!("collab_messages_out_total", "type" => kind).increment(frames);
                counter!("collab_bytes_out_total", "type" => kind).increment(bytes);
            }
        }
    }
    out
}

/// `frames` copies of one frame the room wrote straight into clients' sockets: counted as
/// messages out, delivered with no wait. Called once per fan-out, not per connection.
pub fn written_at_once(frame: &[u8], frames: usize) {
    let (n, kind) = (frames as u64, frame_type(frame));
    FRAMES_OUT.fetch_add(n, Ordering::Relaxed);
    match per_type(kind) {
        Some(series) => {
            series.messages_out.increment(n);
            series.bytes_out.increment(n * frame.len() as u64);
            series.delivery.record_many(0.0, frames);
        }
        None => {
            counter!("collab_messages_out_total", "type" => kind).increment(n);
            counter!("collab_bytes_out_total", "type" => kind).increment(n * frame.len() as u64);
            histogram!("collab_delivery_seconds", "type" => kind).record_many(0.0, frames);
        }
    }
}

/// Per frame type, when a batch's oldest frame of that type was queued.
#[derive(Debug, Default)]
pub struct Outgoing {
    oldest: [Option<(&'static str, Instant)>; 4],
}

impl Outgoing {
    fn note(&mut self, kind: &'static str, queued_at: Instant) {
        let slot = self
            .oldest
            .iter_mut()
            .find(|slot| slot.is_none_or(|(k, _)| k == kind));
        if let Some(slot) = slot
            && slot.is_none()
        {
            *slot = Some((kind, queued_at));
        }
    }
}

/// A batch's frames were taken by the client's socket now: records, per frame type, how
/// long the batch's oldest frame of that type waited since the room queued it (one record
/// per type and batch, not per frame: the upper bound of that batch's delivery times).
pub fn delivered(out: &Outgoing) {
    for (kind, queued_at) in out.oldest.iter().flatten() {
        let waited = queued_at.elapsed().as_secs_f64();
        match per_type(kind) {
            Some(series) => series.delivery.record(waited),
            None => histogram!("collab_delivery_seconds", "type" => *kind).record(waited),
        }
    }
}

/// Frames sent to clients since the process started.
pub fn frames_out_total() -> u64 {
    FRAMES_OUT.load(Ordering::Relaxed)
}

pub fn connections(delta: f64) {
    gauge!("collab_connections").increment(delta);
}

pub fn rooms(delta: f64) {
    gauge!("collab_rooms").increment(delta);
}

pub fn update_applied(took: Duration) {
    histogram!("collab_update_apply_seconds").record(took.as_secs_f64());
}

pub fn redis_round_trip(op: &'static str, took: Duration) {
    histogram!("collab_redis_seconds", "op" => op).record(took.as_secs_f64());
}

pub fn compaction(outcome: &'static str) {
    counter!("collab_compactions_total", "outcome" => outcome).increment(1);
}

pub fn cursor_coalesced() {
    counter!("collab_cursor_states_coalesced_total").increment(1);
}

pub fn slow_consumer_closed() {
    counter!("collab_slow_consumer_closes_total").increment(1);
}

pub fn redis_reconnect() {
    counter!("collab_redis_reconnects_total").increment(1);
}

/// A cluster master answered its probe in `took`.
pub fn redis_node_probed(node: &str, took: Duration) {
    gauge!("collab_redis_node_up", "node" => node.to_owned()).set(1.0);
    histogram!("collab_redis_node_probe_seconds", "node" => node.to_owned())
        .record(took.as_secs_f64());
}

/// A cluster master's probe failed with `fault`.
pub fn redis_node_fault(node: &str, fault: &'static str) {
    gauge!("collab_redis_node_up", "node" => node.to_owned()).set(0.0);
    counter!("collab_redis_node_probe_failures_total", "node" => node.to_owned(), "fault" => fault)
        .increment(1);
}

/// What a cluster master serves: `slots`, and `channels` of this gateway's files.
pub fn redis_node_serves(node: &str, slots: u32, channels: u32) {
    gauge!("collab_redis_node_slots", "node" => node.to_owned()).set(f64::from(slots));
    gauge!("collab_redis_node_file_channels", "node" => node.to_owned()).set(f64::from(channels));
}

/// A node left the slot map (no longer a master).
pub fn redis_node_gone(node: &str) {
    gauge!("collab_redis_node_up", "node" => node.to_owned()).set(0.0);
    redis_node_serves(node, 0, 0);
}

pub fn revocation(kind: &'static str) {
    counter!("collab_revocations_total", "kind" => kind).increment(1);
}

/// Identity tracking went on (a new connection, empty cache) or off.
pub fn tracking(on: bool) {
    gauge!("collab_identity_tracking").set(if on { 1.0 } else { 0.0 });
    if on {
        counter!("collab_identity_tracking_connects_total").increment(1);
    }
}

pub fn identity_cache(hits: u64, misses: u64) {
    if hits > 0 {
        counter!("collab_identity_cache_total", "result" => "hit").increment(hits);
    }
    if misses > 0 {
        counter!("collab_identity_cache_total", "result" => "miss").increment(misses);
    }
}

/// One syntax parse on the diagnostics pool: `ok`, `too-big` or `timed-out`.
pub fn diagnostics_parse(language: &'static str, outcome: &'static str, took: Duration) {
    counter!("collab_diagnostics_parses_total", "language" => language, "outcome" => outcome)
        .increment(1);
    histogram!("collab_diagnostics_parse_seconds", "language" => language)
        .record(took.as_secs_f64());
}

/// What a look-up before a check found.
pub fn diagnostics_cache(outcome: &'static str) {
    counter!("collab_diagnostics_cache_total", "outcome" => outcome).increment(1);
}

/// An external diagnostics request answered: `stored`, `cleared`, `stale`, `refused`, `invalid`.
pub fn diagnostics_post(outcome: &'static str) {
    counter!("collab_diagnostics_posts_total", "outcome" => outcome).increment(1);
}
