//! One file's delivery records: what each sent edit, deletion and cursor move still owes
//! to which editor, the ids that identify them in a received update, and the deletions
//! that count as delivered at once (`superseded`). [`super::Tracker`] holds one per file
//! behind its own lock.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use super::final_state::FinalState;

/// Position of an editor within its file's membership list.
pub type Slot = usize;

/// One completed delivery, recorded after the file lock is released.
pub(super) struct Sample {
    pub(super) kind: Kind,
    pub(super) same_target: bool,
    pub(super) us: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    Insert(u64, u32),
    Delete(u64, u32),
    Cursor(u64, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Edit,
    Cursor,
}

pub(super) struct Record {
    pub(super) sent: Instant,
    pub(super) sender: Slot,
    pub(super) kind: Kind,
    /// Receivers (by slot) that have not got it yet.
    pub(super) pending: Vec<u64>,
    pub(super) remaining: u32,
    pub(super) keys: Vec<Key>,
}

/// The records deleting one id, and the editors (slots) that have it deleted.
#[derive(Default)]
pub(super) struct Deleted {
    pub(super) ids: Vec<u64>,
    pub(super) seen: Vec<u64>,
}

pub(super) fn set_bit(bits: &mut Vec<u64>, slot: Slot) {
    if bits.len() <= slot / 64 {
        bits.resize(slot / 64 + 1, 0);
    }
    bits[slot / 64] |= 1 << (slot % 64);
}

pub(super) struct FileTracker {
    /// Whether each slot is still connected.
    pub(super) members: Vec<bool>,
    /// Who each slot is, for diagnostics.
    pub(super) labels: Vec<String>,
    /// The target (gateway) of each slot.
    pub(super) targets: Vec<usize>,
    /// Final document of each slot.
    pub(super) finals: Vec<Option<FinalState>>,
    pub(super) next_id: u64,
    pub(super) records: HashMap<u64, Record>,
    pub(super) inserted: BTreeMap<(u64, u32), u64>,
    pub(super) deleted: BTreeMap<(u64, u32), Deleted>,
    /// Deliveries of deletions the receiver had from someone else's update already.
    pub(super) superseded: u64,
    pub(super) cursors: BTreeMap<(u64, u32), u64>,
    /// Cursor states a receiver skipped because a newer one of the same cursor came.
    pub(super) cursor_superseded: u64,
    pub(super) edits: u64,
    pub(super) expected: u64,
    pub(super) delivered: u64,
    pub(super) cursor_updates: u64,
    pub(super) cursor_expected: u64,
    pub(super) cursor_delivered: u64,
}

impl FileTracker {
    pub(super) fn new() -> FileTracker {
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

    pub(super) fn record(&mut self, sender: Slot, keys: Vec<Key>, sent: Instant, kind: Kind) {
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
    pub(super) fn deliver(&mut self, slot: Slot, mut ids: Vec<u64>, now: Instant) -> Vec<Sample> {
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
    pub(super) fn supersede(&mut self, slot: Slot, mut ids: Vec<u64>) {
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

    pub(super) fn forget(&mut self, id: u64, keys: &[Key]) {
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
