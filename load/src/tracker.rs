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

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use hdrhistogram::Histogram;
use yrs::{StateVector, Update};

/// Position of an editor within its file's membership list.
pub type Slot = usize;

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

/// One completed delivery, recorded after the file lock is released.
struct Sample {
    kind: Kind,
    same_target: bool,
    us: u64,
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

/// An editor's document at the end of a run, for the convergence check.
#[derive(Debug, Clone, PartialEq)]
pub struct FinalState {
    pub state_vector: StateVector,
    pub text_hash: u64,
    /// Text length in UTF-16 units.
    pub text_len: u32,
    /// What the doc still waits for, if it holds updates it could not integrate.
    pub pending: Option<String>,
}

impl FinalState {
    fn same_doc(&self, other: &FinalState) -> bool {
        self.state_vector == other.state_vector
            && self.text_hash == other.text_hash
            && self.pending.is_none()
            && other.pending.is_none()
    }

    fn describe(&self) -> String {
        format!(
            "text {} units, hash {:016x}, state vector {:?}{}",
            self.text_len,
            self.text_hash,
            self.state_vector,
            self.pending
                .as_ref()
                .map_or(String::new(), |p| format!(", pending: {p}"))
        )
    }
}

/// A latency histogram in microseconds, 1 µs to 1 hour, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant histogram bounds are valid")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Insert(u64, u32),
    Delete(u64, u32),
    Cursor(u64, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Edit,
    Cursor,
}

struct Record {
    sent: Instant,
    sender: Slot,
    kind: Kind,
    /// Receivers (by slot) that have not got it yet.
    pending: Vec<u64>,
    remaining: u32,
    keys: Vec<Key>,
}

/// The records deleting one id, and the editors (slots) that have it deleted.
#[derive(Default)]
struct Deleted {
    ids: Vec<u64>,
    seen: Vec<u64>,
}

fn set_bit(bits: &mut Vec<u64>, slot: Slot) {
    if bits.len() <= slot / 64 {
        bits.resize(slot / 64 + 1, 0);
    }
    bits[slot / 64] |= 1 << (slot % 64);
}

struct FileTracker {
    /// Whether each slot is still connected.
    members: Vec<bool>,
    /// Who each slot is, for diagnostics.
    labels: Vec<String>,
    /// The target (gateway) of each slot.
    targets: Vec<usize>,
    /// Final document of each slot.
    finals: Vec<Option<FinalState>>,
    next_id: u64,
    records: HashMap<u64, Record>,
    inserted: BTreeMap<(u64, u32), u64>,
    deleted: BTreeMap<(u64, u32), Deleted>,
    /// Deliveries of deletions the receiver had from someone else's update already.
    superseded: u64,
    cursors: BTreeMap<(u64, u32), u64>,
    /// Cursor states a receiver skipped because a newer one of the same cursor came.
    cursor_superseded: u64,
    edits: u64,
    expected: u64,
    delivered: u64,
    cursor_updates: u64,
    cursor_expected: u64,
    cursor_delivered: u64,
}

impl FileTracker {
    fn new() -> FileTracker {
        FileTracker {
            members: Vec::new(),
            labels: Vec::new(),
            targets: Vec::new(),
            finals: Vec::new(),
            next_id: 0,
            records: HashMap::new(),
            inserted: BTreeMap::new(),
            deleted: BTreeMap::new(),
            superseded: 0,
            cursors: BTreeMap::new(),
            cursor_superseded: 0,
            edits: 0,
            expected: 0,
            delivered: 0,
            cursor_updates: 0,
            cursor_expected: 0,
            cursor_delivered: 0,
        }
    }

    fn record(&mut self, sender: Slot, keys: Vec<Key>, sent: Instant, kind: Kind) {
        let mut pending = vec![0u64; self.members.len().div_ceil(64)];
        let mut remaining = 0u32;
        for (slot, _) in self
            .members
            .iter()
            .enumerate()
            .filter(|(slot, live)| **live && *slot != sender)
        {
            pending[slot / 64] |= 1 << (slot % 64);
            remaining += 1;
        }
        match kind {
            Kind::Edit => self.expected += u64::from(remaining),
            Kind::Cursor => self.cursor_expected += u64::from(remaining),
        }
        if remaining == 0 || keys.is_empty() {
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut earlier = Vec::new();
        for key in &keys {
            match *key {
                Key::Insert(c, k) => {
                    self.inserted.insert((c, k), id);
                }
                Key::Delete(c, k) => {
                    let d = self.deleted.entry((c, k)).or_default();
                    // Earlier deletions of the same id that the sender had not received
                    // yet: it has the id deleted now, by itself.
                    earlier.extend_from_slice(&d.ids);
                    d.ids.push(id);
                    set_bit(&mut d.seen, sender);
                    // Receivers that have this id deleted already cannot get it again.
                    for (word, seen) in d.seen.iter().enumerate() {
                        if let Some(p) = pending.get_mut(word) {
                            let already = *p & seen;
                            *p &= !seen;
                            let n = already.count_ones();
                            remaining -= n;
                            self.delivered += u64::from(n);
                            self.superseded += u64::from(n);
                        }
                    }
                }
                Key::Cursor(c, k) => {
                    self.cursors.insert((c, k), id);
                }
            }
        }
        self.supersede(sender, earlier);
        if remaining == 0 {
            self.forget(id, &keys);
            return;
        }
        self.records.insert(
            id,
            Record {
                sent,
                sender,
                kind,
                pending,
                remaining,
                keys,
            },
        );
    }

    /// Delivers the records `ids` to `slot`; returns the latencies to record.
    fn deliver(&mut self, slot: Slot, mut ids: Vec<u64>, now: Instant) -> Vec<Sample> {
        ids.sort_unstable();
        ids.dedup();
        let mut samples = Vec::new();
        for id in ids {
            let Some(rec) = self.records.get_mut(&id) else {
                continue;
            };
            let (word, bit) = (slot / 64, 1u64 << (slot % 64));
            if rec.pending.get(word).is_none_or(|w| w & bit == 0) {
                continue;
            }
            rec.pending[word] &= !bit;
            rec.remaining -= 1;
            let us = u64::try_from(now.saturating_duration_since(rec.sent).as_micros())
                .unwrap_or(u64::MAX);
            match rec.kind {
                Kind::Edit => self.delivered += 1,
                Kind::Cursor => self.cursor_delivered += 1,
            }
            samples.push(Sample {
                kind: rec.kind,
                same_target: self.targets.get(slot) == self.targets.get(rec.sender),
                us: us.max(1),
            });
            if rec.remaining == 0 {
                let keys = std::mem::take(&mut rec.keys);
                self.records.remove(&id);
                self.forget(id, &keys);
            }
        }
        samples
    }

    /// Completes, for `slot`, the records `ids` without a latency sample: deletions of an id
    /// `slot` deleted itself, or cursor states older than one `slot` received.
    fn supersede(&mut self, slot: Slot, mut ids: Vec<u64>) {
        ids.sort_unstable();
        ids.dedup();
        let (word, bit) = (slot / 64, 1u64 << (slot % 64));
        for id in ids {
            let Some(rec) = self.records.get_mut(&id) else {
                continue;
            };
            let Some(w) = rec.pending.get_mut(word).filter(|w| **w & bit != 0) else {
                continue;
            };
            *w &= !bit;
            rec.remaining -= 1;
            match rec.kind {
                Kind::Edit => {
                    self.delivered += 1;
                    self.superseded += 1;
                }
                Kind::Cursor => {
                    self.cursor_delivered += 1;
                    self.cursor_superseded += 1;
                }
            }
            if rec.remaining == 0 {
                let keys = std::mem::take(&mut rec.keys);
                self.records.remove(&id);
                self.forget(id, &keys);
            }
        }
    }

    fn forget(&mut self, id: u64, keys: &[Key]) {
        for key in keys {
            match *key {
                Key::Insert(c, k) => {
                    self.inserted.remove(&(c, k));
                }
                Key::Delete(c, k) => {
                    if let Some(d) = self.deleted.get_mut(&(c, k)) {
                        d.ids.retain(|x| *x != id);
                        if d.ids.is_empty() {
                            self.deleted.remove(&(c, k));
                        }
                    }
                }
                Key::Cursor(c, k) => {
                    self.cursors.remove(&(c, k));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::{ClientID, Doc, Options, Text, Transact};

    fn doc(id: u64) -> Doc {
        Doc::with_options(Options {
            client_id: ClientID::new(id),
            ..Options::default()
        })
    }

    fn edit(doc: &Doc, f: impl FnOnce(&mut yrs::TransactionMut, &yrs::TextRef)) -> Vec<u8> {
        let text = doc.get_or_insert_text("monaco");
        let mut txn = doc.transact_mut();
        f(&mut txn, &text);
        txn.encode_update_v1()
    }

    fn update(bytes: &[u8]) -> Update {
        Update::decode_v1(bytes).unwrap()
    }

    #[test]
    fn inserts_and_deletes_are_delivered_once_per_receiver() {
        let t = Tracker::new(1);
        let (a, b, c) = (
            t.join(0, 0, String::new()),
            t.join(0, 0, String::new()),
            t.join(0, 0, String::new()),
        );
        let da = doc(1);
        let now = Instant::now();

        let ins = edit(&da, |txn, text| text.insert(txn, 0, "hello"));
        t.sent(0, a, &update(&ins), now);
        let del = edit(&da, |txn, text| text.remove_range(txn, 1, 2));
        t.sent(0, a, &update(&del), now);
        assert_eq!(t.outstanding(), (4, 0));

        // The sender never counts its own edits; a repeat counts nothing.
        assert_eq!(t.received(0, a, &update(&ins), now), 0);
        assert_eq!(t.received(0, b, &update(&ins), now), 1);
        assert_eq!(t.received(0, b, &update(&ins), now), 0);
        assert_eq!(t.received(0, b, &update(&del), now), 1);
        // A merged update (as a sync step 2 would carry) delivers both at once.
        let merged = Update::merge_updates([update(&ins), update(&del)]);
        assert_eq!(t.received(0, c, &merged, now), 2);

        let s = t.summary();
        assert_eq!(
            (s.edits, s.expected, s.delivered, s.missing()),
            (2, 4, 4, 0)
        );
        assert_eq!(s.edit_latency_us.len(), 4);
        assert_eq!(t.outstanding(), (0, 0));
    }

    #[test]
    fn a_deletion_someone_else_made_first_counts_as_superseded() {
        let t = Tracker::new(1);
        let (a, b, c) = (
            t.join(0, 0, String::new()),
            t.join(0, 0, String::new()),
            t.join(0, 0, String::new()),
        );
        let now = Instant::now();
        let (da, db) = (doc(1), doc(2));
        let ins = edit(&da, |txn, text| text.insert(txn, 0, "x"));
        t.sent(0, a, &update(&ins), now);
        for s in [b, c] {
            t.received(0, s, &update(&ins), now);
        }
        db.transact_mut().apply_update(update(&ins)).unwrap();
        // b deletes "x"; c gets it; then a, not having seen it, deletes "x" too.
        let del_b = edit(&db, |txn, text| text.remove_range(txn, 0, 1));
        t.sent(0, b, &update(&del_b), now);
        assert_eq!(t.received(0, c, &update(&del_b), now), 1);
        let del_a = edit(&da, |txn, text| text.remove_range(txn, 0, 1));
        t.sent(0, a, &update(&del_a), now);
        // b and c had "x" deleted already, so a's deletion is complete at once (a gateway
        // would drop it as a no-op); and a has "x" deleted now, so b's is complete too.
        assert_eq!(t.outstanding(), (0, 0));
        assert_eq!(t.received(0, a, &update(&del_b), now), 0);
        let s = t.summary();
        assert_eq!((s.expected, s.delivered, s.missing()), (6, 6, 0));
        assert_eq!(s.superseded, 3);
        assert_eq!(s.edit_latency_us.len(), 3);
        assert_eq!(t.outstanding(), (0, 0));
    }

    #[test]
    fn concurrent_deleters_do_not_wait_for_each_other() {
        let t = Tracker::new(1);
        let (a, b) = (t.join(0, 0, String::new()), t.join(0, 1, String::new()));
        let now = Instant::now();
        let (da, db) = (doc(1), doc(2));
        let ins = edit(&da, |txn, text| text.insert(txn, 0, "x"));
        t.sent(0, a, &update(&ins), now);
        t.received(0, b, &update(&ins), now);
        db.transact_mut().apply_update(update(&ins)).unwrap();
        // a deletes "x", then b deletes it before a's deletion reaches it. Each gateway
        // drops the other's deletion as a no-op: neither update arrives anywhere.
        let del_a = edit(&da, |txn, text| text.remove_range(txn, 0, 1));
        t.sent(0, a, &update(&del_a), now);
        assert_eq!(t.outstanding(), (1, 0));
        let del_b = edit(&db, |txn, text| text.remove_range(txn, 0, 1));
        t.sent(0, b, &update(&del_b), now);
        let s = t.summary();
        assert_eq!((s.expected, s.delivered, s.superseded), (3, 3, 2));
        assert_eq!(t.outstanding(), (0, 0));
    }

    #[test]
    fn deliveries_are_split_by_same_and_cross_target() {
        let t = Tracker::new(1);
        let a = t.join(0, 0, String::new());
        let b = t.join(0, 0, String::new());
        let c = t.join(0, 1, String::new());
        let ins = edit(&doc(3), |txn, text| text.insert(txn, 0, "x"));
        let now = Instant::now();
        t.sent(0, a, &update(&ins), now);
        t.received(0, b, &update(&ins), now);
        t.received(0, c, &update(&ins), now);
        let s = t.summary();
        assert_eq!((s.same_target_us.len(), s.cross_target_us.len()), (1, 1));
    }

    #[test]
    fn departed_editors_are_not_expected_but_missing_ones_are_reported() {
        let t = Tracker::new(2);
        let (a, b, c) = (
            t.join(1, 0, String::new()),
            t.join(1, 0, String::new()),
            t.join(1, 0, String::new()),
        );
        t.leave(1, c);
        let da = doc(7);
        let ins = edit(&da, |txn, text| text.insert(txn, 0, "x"));
        t.sent(1, a, &update(&ins), Instant::now());
        let s = t.summary();
        assert_eq!((s.expected, s.missing()), (1, 1));
        let _ = b;
    }

    #[test]
    fn cursor_updates_are_tracked_by_client_and_clock() {
        let t = Tracker::new(1);
        let (a, b) = (t.join(0, 0, String::new()), t.join(0, 0, String::new()));
        let now = Instant::now();
        t.cursor_sent(0, a, 42, 1, now);
        t.cursor_sent(0, a, 42, 2, now);
        t.cursor_sent(0, a, 42, 3, now);
        assert_eq!(t.cursor_received(0, b, [(42, 1), (43, 1)], now), 1);
        let s = t.summary();
        assert_eq!(
            (s.cursor_updates, s.cursor_delivered, s.cursor_missing()),
            (3, 1, 2)
        );
        // Clock 2 never comes (the gateway replaced it while b lagged); clock 3 does.
        assert_eq!(t.cursor_received(0, b, [(42, 3)], now), 1);
        let s = t.summary();
        assert_eq!(
            (s.cursor_delivered, s.cursor_superseded, s.cursor_missing()),
            (3, 1, 0)
        );
    }
}
