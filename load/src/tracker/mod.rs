//! End-to-end propagation: from an edit's send to its arrival at every other editor.
//!
//! All editors live in this process, so one shared record per edit suffices. When an editor
//! sends an update it records the yrs ids the update creates (inserted blocks, keyed by
//! `(client, first clock)`) and the ids it deletes (keyed the same way), with the send
//! `Instant` and the set of editors of the file that should receive it. When an editor
//! receives an update, the blocks and delete ranges it carries are looked up; each record
//! found that this receiver had not seen yet yields one delivery: `now - sent` goes into the
//! run's histograms (microseconds; all deliveries, and split by whether sender and receiver
//! use the same target). Records live per file, each file behind its own lock. A record is
//! dropped once every receiver has it, so what remains at the end is exactly the missing
//! deliveries.
//!
//! Awareness (cursor) updates are tracked the same way, keyed by `(client, awareness clock)`,
//! in a histogram of their own. A newer state of a cursor replaces older ones: a gateway may
//! drop a queued older state for a receiver that lags (cursor coalescing), so a receiver
//! that gets clock `k` of a cursor has every earlier state of it delivered at once, as
//! `cursor superseded`, outside the histogram.
//!
//! Deletions carry no clock of their own in Yjs, hence the key by deleted ids. Two editors
//! may delete the same character at once; a gateway that relays only what changed its doc
//! then drops the second deletion as a no-op, so the second record may never match an
//! update. For each deleted id the tracker therefore remembers which editors already have
//! it deleted (the deleters, and every receiver of an update deleting it). A deletion
//! recorded for a receiver that has the id deleted already, and an earlier deletion still
//! pending for an editor that now deletes the id itself, count as delivered at once, as
//! `superseded`, outside the latency histogram.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use hdrhistogram::Histogram;
use yrs::Update;

mod final_state;
mod records;

pub use final_state::FinalState;
pub use records::Slot;
use records::{FileTracker, Key, Kind, Sample, set_bit};

/// Propagation records of every file of a run.
pub struct Tracker {
    files: Vec<Mutex<FileTracker>>,
    /// One set of histograms for the run (not per file: a histogram is ~180 KB).
    latencies: Mutex<Latencies>,
}

/// Latency histograms (microseconds) of a run.
struct Latencies {
    edit: Histogram<u64>,
    same_target: Histogram<u64>,
    cross_target: Histogram<u64>,
    cursor: Histogram<u64>,
    /// Edit deliveries since the timeline last took them (per-second percentiles).
    interval: Histogram<u64>,
}

/// Running totals for the status line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub edits: u64,
    pub delivered: u64,
    pub cursor_updates: u64,
    pub cursor_delivered: u64,
}

/// Totals over all files, taken at the end of a run.
pub struct Summary {
    pub edits: u64,
    pub expected: u64,
    pub delivered: u64,
    /// Deliveries of deletions the receiver already had from someone else's deletion of
    /// the same character (counted in `delivered`, not in the histogram).
    pub superseded: u64,
    pub edit_latency_us: Histogram<u64>,
    /// Deliveries between editors on the same target (relayed within one gateway).
    pub same_target_us: Histogram<u64>,
    /// Deliveries between editors on different targets (through Redis).
    pub cross_target_us: Histogram<u64>,
    pub cursor_updates: u64,
    pub cursor_expected: u64,
    pub cursor_delivered: u64,
    /// Cursor states a receiver skipped for a newer one of the same cursor (counted in
    /// `cursor_delivered`, not in the histogram).
    pub cursor_superseded: u64,
    pub cursor_latency_us: Histogram<u64>,
}

impl Summary {
    pub fn missing(&self) -> u64 {
        self.expected.saturating_sub(self.delivered)
    }

    pub fn cursor_missing(&self) -> u64 {
        self.cursor_expected.saturating_sub(self.cursor_delivered)
    }
}

impl Tracker {
    pub fn new(files: usize) -> Tracker {
        Tracker {
            files: (0..files).map(|_| Mutex::new(FileTracker::new())).collect(),
            latencies: Mutex::new(Latencies {
                edit: new_histogram(),
                same_target: new_histogram(),
                cross_target: new_histogram(),
                cursor: new_histogram(),
                interval: new_histogram(),
            }),
        }
    }

    fn file(&self, file: usize) -> MutexGuard<'_, FileTracker> {
        // A poisoned lock only means another editor panicked mid-update; the counters are
        // still meaningful, so go on with them.
        self.files[file]
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn record_samples(&self, samples: &[Sample]) {
        if samples.is_empty() {
            return;
        }
        let mut l = self.latencies.lock().unwrap_or_else(|p| p.into_inner());
        for s in samples {
            match s.kind {
                Kind::Edit => {
                    l.edit.saturating_record(s.us);
                    l.interval.saturating_record(s.us);
                    if s.same_target {
                        l.same_target.saturating_record(s.us);
                    } else {
                        l.cross_target.saturating_record(s.us);
                    }
                }
                Kind::Cursor => l.cursor.saturating_record(s.us),
            }
        }
    }

    /// Adds a synced editor to `file`; edits sent from now on expect it as a receiver.
    /// `target` is the index of the gateway it is connected to; `label` names it in
    /// diagnostics (client id and URL).
    pub fn join(&self, file: usize, target: usize, label: String) -> Slot {
        let mut f = self.file(file);
        f.members.push(true);
        f.targets.push(target);
        f.labels.push(label);
        f.finals.push(None);
        f.members.len() - 1
    }

    /// Records an editor's final document for the convergence check at the end of a run.
    pub fn final_state(&self, file: usize, slot: Slot, state: FinalState) {
        let mut f = self.file(file);
        if let Some(s) = f.finals.get_mut(slot) {
            *s = Some(state);
        }
    }

    /// Files whose editors ended with different documents, each with a description (at
    /// most `limit` descriptions), and the number of files checked. Editors that left
    /// early are not compared.
    pub fn divergence(&self, limit: usize) -> (u64, u64, Vec<String>) {
        let (mut checked, mut diverged, mut samples) = (0, 0, Vec::new());
        for file in 0..self.files.len() {
            let f = self.file(file);
            let finals: Vec<_> = f
                .finals
                .iter()
                .enumerate()
                .filter_map(|(slot, s)| s.as_ref().map(|s| (slot, s)))
                .collect();
            let Some((first_slot, first)) = finals.first() else {
                continue;
            };
            checked += 1;
            let odd: Vec<_> = finals.iter().filter(|(_, s)| !s.same_doc(first)).collect();
            if odd.is_empty() {
                continue;
            }
            diverged += 1;
            if samples.len() < limit {
                let (odd_slot, odd_state) = odd[0];
                samples.push(format!(
                    "file {file}: {} of {} editors differ from {} ({}), e.g. {} ({})",
                    odd.len(),
                    finals.len(),
                    f.labels[*first_slot],
                    first.describe(),
                    f.labels[*odd_slot],
                    odd_state.describe(),
                ));
            }
        }
        (checked, diverged, samples)
    }

    /// Up to `limit` descriptions of deliveries still outstanding.
    pub fn missing_samples(&self, limit: usize, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        for file in 0..self.files.len() {
            let f = self.file(file);
            let mut recs: Vec<_> = f.records.values().collect();
            recs.sort_by_key(|r| r.sent);
            for r in recs {
                if out.len() >= limit {
                    return out;
                }
                let missing: Vec<&str> = (0..f.members.len())
                    .filter(|slot| r.pending[slot / 64] & (1 << (slot % 64)) != 0)
                    .map(|slot| f.labels[slot].as_str())
                    .collect();
                out.push(format!(
                    "file {file}: {:?} from {} sent {:.0} ms before the end, not received by {}",
                    r.keys,
                    f.labels[r.sender],
                    now.saturating_duration_since(r.sent).as_secs_f64() * 1000.0,
                    missing.join(", "),
                ));
            }
        }
        out
    }

    /// Removes an editor from the receivers of later edits (after a disconnect).
    pub fn leave(&self, file: usize, slot: Slot) {
        let mut f = self.file(file);
        if let Some(m) = f.members.get_mut(slot) {
            *m = false;
        }
    }

    /// Records an update `slot` is about to send.
    pub fn sent(&self, file: usize, slot: Slot, update: &Update, at: Instant) {
        let mut f = self.file(file);
        f.edits += 1;
        let mut keys = Vec::new();
        for (client, ranges) in update.insertions(true).iter() {
            for r in ranges.iter() {
                keys.push(Key::Insert(client.get(), r.start));
            }
        }
        for (client, ranges) in update.delete_set().iter() {
            for r in ranges.iter() {
                keys.push(Key::Delete(client.get(), r.start));
            }
        }
        f.record(slot, keys, at, Kind::Edit);
    }

    /// Records an awareness state `(client, clock)` that `slot` is about to send.
    pub fn cursor_sent(&self, file: usize, slot: Slot, client: u64, clock: u32, at: Instant) {
        let mut f = self.file(file);
        f.cursor_updates += 1;
        f.record(slot, vec![Key::Cursor(client, clock)], at, Kind::Cursor);
    }

    /// Matches an update `slot` received against the records of its file; returns the
    /// number of deliveries it completed.
    pub fn received(&self, file: usize, slot: Slot, update: &Update, now: Instant) -> u64 {
        let mut f = self.file(file);
        let mut ids = Vec::new();
        for (client, ranges) in update.insertions(true).iter() {
            for r in ranges.iter() {
                let c = client.get();
                ids.extend(
                    f.inserted
                        .range((c, r.start)..(c, r.end))
                        .map(|(_, id)| *id),
                );
            }
        }
        for (client, ranges) in update.delete_set().iter() {
            for r in ranges.iter() {
                let c = client.get();
                for (_, d) in f.deleted.range_mut((c, r.start)..(c, r.end)) {
                    set_bit(&mut d.seen, slot);
                    ids.extend_from_slice(&d.ids);
                }
            }
        }
        let samples = f.deliver(slot, ids, now);
        drop(f);
        self.record_samples(&samples);
        samples.len() as u64
    }

    /// Matches received awareness entries `(client, clock)`; returns completed deliveries.
    pub fn cursor_received(
        &self,
        file: usize,
        slot: Slot,
        entries: impl IntoIterator<Item = (u64, u32)>,
        now: Instant,
    ) -> u64 {
        let mut f = self.file(file);
        let entries: Vec<(u64, u32)> = entries.into_iter().collect();
        let ids: Vec<u64> = entries
            .iter()
            .filter_map(|key| f.cursors.get(key).copied())
            .collect();
        let older: Vec<u64> = entries
            .iter()
            .flat_map(|&(client, clock)| {
                f.cursors
                    .range((client, 0)..(client, clock))
                    .map(|(_, id)| *id)
                    .collect::<Vec<_>>()
            })
            .collect();
        f.supersede(slot, older);
        let samples = f.deliver(slot, ids, now);
        drop(f);
        self.record_samples(&samples);
        samples.len() as u64
    }

    /// Deliveries still outstanding (edits and cursors).
    pub fn outstanding(&self) -> (u64, u64) {
        let mut edits = 0;
        let mut cursors = 0;
        for file in 0..self.files.len() {
            let f = self.file(file);
            edits += f.expected.saturating_sub(f.delivered);
            cursors += f.cursor_expected.saturating_sub(f.cursor_delivered);
        }
        (edits, cursors)
    }

    /// Edits and cursor updates sent, and their deliveries completed, so far.
    pub fn progress(&self) -> Counts {
        let mut c = Counts::default();
        for file in 0..self.files.len() {
            let f = self.file(file);
            c.edits += f.edits;
            c.delivered += f.delivered;
            c.cursor_updates += f.cursor_updates;
            c.cursor_delivered += f.cursor_delivered;
        }
        c
    }

    /// The edit deliveries recorded since the last call, as a histogram (microseconds);
    /// starts a new interval.
    pub fn take_interval(&self) -> Histogram<u64> {
        let mut l = self.latencies.lock().unwrap_or_else(|p| p.into_inner());
        let h = l.interval.clone();
        l.interval.reset();
        h
    }

    /// Totals and merged histograms over all files.
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            edits: 0,
            expected: 0,
            delivered: 0,
            superseded: 0,
            edit_latency_us: new_histogram(),
            same_target_us: new_histogram(),
            cross_target_us: new_histogram(),
            cursor_updates: 0,
            cursor_expected: 0,
            cursor_delivered: 0,
            cursor_superseded: 0,
            cursor_latency_us: new_histogram(),
        };
        {
            let l = self.latencies.lock().unwrap_or_else(|p| p.into_inner());
            s.edit_latency_us = l.edit.clone();
            s.same_target_us = l.same_target.clone();
            s.cross_target_us = l.cross_target.clone();
            s.cursor_latency_us = l.cursor.clone();
        }
        for file in 0..self.files.len() {
            let f = self.file(file);
            s.edits += f.edits;
            s.expected += f.expected;
            s.delivered += f.delivered;
            s.superseded += f.superseded;
            s.cursor_updates += f.cursor_updates;
            s.cursor_expected += f.cursor_expected;
            s.cursor_delivered += f.cursor_delivered;
            s.cursor_superseded += f.cursor_superseded;
        }
        s
    }
}

/// A latency histogram in microseconds, 1 µs to 1 hour, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant histogram bounds are valid")
}

#[cfg(test)]
mod tests;
