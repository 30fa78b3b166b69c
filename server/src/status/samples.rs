//! The status page's short history, kept on the gateway: once a [`PERIOD`], this gateway's
//! connections, frames delivered to clients per second and edits per second, for the last
//! [`KEPT`] periods; and each open room's edit count over the last [`RATE_WINDOW`], for its
//! edit rate.
//!
//! Sampling starts with the first status request, so a gateway nobody looks at pays
//! nothing; then it reads counters (an atomic per room, the sessions' count, the frames
//! counter) and never asks a room anything. The task holds the gateway's state weakly and
//! ends with it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::state::AppState;

/// How often a sample is taken.
pub const PERIOD: Duration = Duration::from_secs(1);
/// Samples kept: two minutes.
pub const KEPT: usize = 120;
/// The span a room's edit rate is measured over.
pub const RATE_WINDOW: Duration = Duration::from_secs(5);

/// One sample of the whole gateway.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// Milliseconds since sampling started.
    pub at_ms: u64,
    pub connections: usize,
    /// Frames sent to clients per second since the previous sample.
    pub deliveries_per_sec: f64,
    /// Edits accepted in this gateway's rooms per second since the previous sample.
    pub edits_per_sec: f64,
}

pub struct Samples {
    started: Instant,
    running: AtomicBool,
    history: Mutex<History>,
}

#[derive(Default)]
struct History {
    points: VecDeque<Point>,
    /// The previous sample's time and frames counter.
    last: Option<(Instant, u64)>,
    /// Per room id: its edit counts at the samples within the rate window.
    rooms: HashMap<u64, VecDeque<(Instant, u64)>>,
}

/// What one sample reads: the sessions' count, the frames counter, and each open room's id
/// with its edit count.
pub struct Reading {
    pub connections: usize,
    pub frames_out: u64,
    pub rooms: Vec<(u64, u64)>,
}

impl Default for Samples {
    fn default() -> Self {
        Samples {
            started: Instant::now(),
            running: AtomicBool::new(false),
            history: Mutex::new(History::default()),
        }
    }
}

impl Samples {
    fn history(&self) -> MutexGuard<'_, History> {
        // Nothing panics while holding it; a poisoned lock still holds whole samples.
        self.history.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When this was made: with the gateway's routes, as it starts.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Starts sampling `state` once a [`PERIOD`], the first time it is called.
    pub fn start(self: &Arc<Self>, state: &Arc<AppState>) {
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let samples = Arc::clone(self);
        let state: Weak<AppState> = Arc::downgrade(state);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PERIOD);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let Some(state) = state.upgrade() else { break };
                samples.record(Instant::now(), read(&state));
            }
        });
    }

    /// Adds one sample taken at `now`.
    pub fn record(&self, now: Instant, reading: Reading) {
        let mut history = self.history();
        let mut edits = 0;
        let mut open = HashMap::with_capacity(reading.rooms.len());
        for (id, count) in reading.rooms {
            let mut window = history.rooms.remove(&id).unwrap_or_default();
            // A room new since the last sample made all its edits since then.
            edits += count.saturating_sub(window.back().map_or(0, |&(_, c)| c));
            window.push_back((now, count));
            while window
                .front()
                .is_some_and(|&(at, _)| now.saturating_duration_since(at) > RATE_WINDOW)
            {
                window.pop_front();
            }
            open.insert(id, window);
        }
        history.rooms = open;
        let (deliveries_per_sec, edits_per_sec) = match history.last {
            Some((at, frames)) => {
                let secs = now.saturating_duration_since(at).as_secs_f64().max(1e-3);
                let delivered = reading.frames_out.saturating_sub(frames) as f64;
                (delivered / secs, edits as f64 / secs)
            }
            None => (0.0, 0.0),
        };
        history.last = Some((now, reading.frames_out));
        let at_ms = now.saturating_duration_since(self.started).as_millis() as u64;
        history.points.push_back(Point {
            at_ms,
            connections: reading.connections,
            deliveries_per_sec,
            edits_per_sec,
        });
        while history.points.len() > KEPT {
            history.points.pop_front();
        }
    }

    /// The samples kept, oldest first.
    pub fn points(&self) -> Vec<Point> {
        self.history().points.iter().copied().collect()
    }

    /// Room `id`'s edits per second over the rate window, counting `edits_now` at `now`
    /// (0 until it has been sampled once).
    pub fn edit_rate(&self, id: u64, edits_now: u64, now: Instant) -> f64 {
        let history = self.history();
        let Some(&(since, edits_then)) = history.rooms.get(&id).and_then(VecDeque::front) else {
            return 0.0;
        };
        let secs = now.saturating_duration_since(since).as_secs_f64();
        if secs < 0.5 {
            return 0.0;
        }
        edits_now.saturating_sub(edits_then) as f64 / secs
    }
}

/// Reads the counters of `state` for one sample.
fn read(state: &AppState) -> Reading {
    Reading {
        connections: state.sessions.live(),
        frames_out: crate::metrics::frames_out_total(),
        rooms: state
            .rooms
            .published()
            .into_iter()
            .map(|(_, id, published)| (id, published.edits()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn reading(connections: usize, frames_out: u64, rooms: &[(u64, u64)]) -> Reading {
        Reading {
            connections,
            frames_out,
            rooms: rooms.to_vec(),
        }
    }

    #[test]
    fn rates_come_from_the_counters_between_samples() {
        let samples = Samples::default();
        let t0 = Instant::now();
        samples.record(t0, reading(1, 100, &[(7, 0)]));
        samples.record(t0 + 2 * S, reading(2, 140, &[(7, 6), (8, 2)]));
        let points = samples.points();
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].deliveries_per_sec, 0.0, "no rate from one sample");
        assert_eq!(points[1].connections, 2);
        assert_eq!(points[1].deliveries_per_sec, 20.0);
        assert_eq!(
            points[1].edits_per_sec, 4.0,
            "6 in room 7 and 2 in the new room 8"
        );
        assert_eq!(samples.edit_rate(7, 10, t0 + 5 * S), 2.0);
        assert_eq!(samples.edit_rate(9, 10, t0 + 5 * S), 0.0, "never sampled");
    }

    #[test]
    fn only_the_window_and_the_last_samples_are_kept() {
        let samples = Samples::default();
        let t0 = Instant::now();
        for i in 0..(KEPT as u64 + 10) {
            samples.record(t0 + i as u32 * S, reading(0, i, &[(1, i)]));
        }
        assert_eq!(samples.points().len(), KEPT);
        let last = t0 + (KEPT as u32 + 9) * S;
        // Edits went up by one a second throughout: the window says so.
        assert_eq!(samples.edit_rate(1, KEPT as u64 + 9, last), 1.0);
        // A room that closed is forgotten.
        samples.record(last + S, reading(0, 0, &[]));
        assert_eq!(samples.edit_rate(1, 500, last + 2 * S), 0.0);
    }
}
