//! TEMPORARY (issue 23's profile, not for main): with `COLLAB_PROBE=1`, measures what waits
//! in the gateway and prints it to stderr every 5 s: the runtime's scheduling delay (a
//! task that yields every 10 ms and times how long until it runs again), the room tasks'
//! queue lengths when they wake, the appenders' batch sizes, and Redis appends in flight.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

static ROOM_WAKES: AtomicU64 = AtomicU64::new(0);
static ROOM_QUEUED: AtomicU64 = AtomicU64::new(0);
static ROOM_QUEUED_MAX: AtomicU64 = AtomicU64::new(0);
static BATCHES: AtomicU64 = AtomicU64::new(0);
static BATCHED: AtomicU64 = AtomicU64::new(0);
static IN_FLIGHT: AtomicU64 = AtomicU64::new(0);

pub fn room_woke(queued: usize) {
    ROOM_WAKES.fetch_add(1, Relaxed);
    ROOM_QUEUED.fetch_add(queued as u64, Relaxed);
    ROOM_QUEUED_MAX.fetch_max(queued as u64, Relaxed);
}

pub fn batch(parts: usize) {
    BATCHES.fetch_add(1, Relaxed);
    BATCHED.fetch_add(parts as u64, Relaxed);
}

pub fn append_started() {
    IN_FLIGHT.fetch_add(1, Relaxed);
}

pub fn append_ended() {
    IN_FLIGHT.fetch_sub(1, Relaxed);
}

pub fn spawn() {
    if std::env::var_os("COLLAB_PROBE").is_none() {
        return;
    }
    tokio::spawn(async {
        let mut delays = Vec::new();
        let mut in_flight = Vec::new();
        let mut window = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let asked = Instant::now();
            tokio::task::yield_now().await;
            delays.push(asked.elapsed().as_micros() as u64);
            in_flight.push(IN_FLIGHT.load(Relaxed));
            if window.elapsed() >= Duration::from_secs(5) {
                window = Instant::now();
                delays.sort_unstable();
                in_flight.sort_unstable();
                let at = |v: &[u64], q: f64| v[((v.len() - 1) as f64 * q) as usize];
                let wakes = ROOM_WAKES.swap(0, Relaxed).max(1);
                let queued = ROOM_QUEUED.swap(0, Relaxed);
                let batches = BATCHES.swap(0, Relaxed).max(1);
                let mean_in_flight = in_flight.iter().sum::<u64>() as f64 / in_flight.len() as f64;
                eprintln!(
                    "probe: sched_delay_us p50 {} p90 {} p99 {} max {} | room wakes {} queued mean {:.2} max {} | append batches {} parts/batch {:.2} | appends in flight mean {:.2} p99 {} max {}",
                    at(&delays, 0.5),
                    at(&delays, 0.9),
                    at(&delays, 0.99),
                    at(&delays, 1.0),
                    wakes,
                    queued as f64 / wakes as f64,
                    ROOM_QUEUED_MAX.swap(0, Relaxed),
                    batches,
                    BATCHED.swap(0, Relaxed) as f64 / batches as f64,
                    mean_in_flight,
                    at(&in_flight, 0.99),
                    at(&in_flight, 1.0),
                );
                delays.clear();
                in_flight.clear();
            }
        }
    });
}
