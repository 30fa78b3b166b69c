//! A counting global allocator, for figures of how much heap one piece of work keeps
//! (`collab-load gc-trace`). The binary installs it; it counts only between [`start`] and
//! [`stop`], so every other command pays one relaxed atomic load per allocation.
//!
//! The figure is net: bytes allocated minus bytes freed since [`start`] (so freeing what
//! was allocated before counts as negative), and the highest that net reached.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed};

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

/// The system allocator, counted while [`start`]ed. Install it with
/// `#[global_allocator] static A: Counting = Counting;`.
pub struct Counting;

// SAFETY: every call is forwarded unchanged to `System`; the counters are only atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size() as i64);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size() as i64);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        grew(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            grew(new_size as i64 - layout.size() as i64);
        }
        new
    }
}

#[inline]
fn grew(bytes: i64) {
    if COUNTING.load(Relaxed) {
        let now = LIVE.fetch_add(bytes, Relaxed) + bytes;
        PEAK.fetch_max(now, Relaxed);
    }
}

/// Net heap since [`start`], bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub live: i64,
    pub peak: i64,
}

/// Starts counting from zero.
pub fn start() {
    LIVE.store(0, Relaxed);
    PEAK.store(0, Relaxed);
    COUNTING.store(true, Relaxed);
}

/// The net so far (counting goes on).
pub fn reading() -> Reading {
    Reading {
        live: LIVE.load(Relaxed),
        peak: PEAK.load(Relaxed),
    }
}

/// Stops counting and returns the last reading.
pub fn stop() -> Reading {
    COUNTING.store(false, Relaxed);
    reading()
}

/// Whether [`Counting`] is this process's global allocator (it saw a test allocation).
pub fn installed() -> bool {
    start();
    let probe = std::hint::black_box(vec![0u8; 4096]);
    let seen = reading().live >= 4096;
    drop(probe);
    stop();
    seen
}
