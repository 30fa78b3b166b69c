//! The in-memory engine's per-user undo and redo lists of one file, with the semantics
//! of the Redis append and pop scripts (`engine/redis/scripts.rs`):
//!
//! - an edit joins the top undo item while its author keeps typing within the capture
//!   window (and the item stays under [`MAX_ITEM_BYTES`]), else starts a new item, and
//!   clears the author's redo list;
//! - an undo's result goes on the redo list, a redo's on the undo list, as inverses that
//!   never absorb later edits (stamp 0);
//! - a list keeps at most `depth` items and expires `ttl` after its last push;
//! - whenever a user's undo or redo count moves between zero and non-zero, an `N`
//!   envelope `{"user","undo","redo"}` is published on the file's channel.
//!
//! [`UndoLists`] is one file's lists as pure data (time comes in as an argument);
//! [`MemoryUndo`] is one gateway's access to every file's lists on the server: pops and
//! counts, and the recording the store does inside its append step. Kept apart from the
//! log so that it follows the undo interface wherever it moves.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use collab_protocol::envelope::Kind;
use collab_protocol::{FileId, UndoOp};

use super::bus::Channels;
use super::shared::{Clock, lock};
use std::collections::{HashMap, VecDeque};

use crate::engine::log::AppendBatch;
use collab_room_core::ext::undo::{Popped, UndoCounts, UndoPolicy, UndoRecord};

pub use collab_room_core::ext::undo::MAX_ITEM_BYTES;

/// One stored item: when its author last extended it (0: an inverse) and its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    stamp: u64,
    parts: Vec<u8>,
}

impl Item {
    /// Its size as a Redis list element `<stamp>\n<parts>`.
    fn stored_len(&self) -> usize {
        self.stamp.to_string().len() + 1 + self.parts.len()
    }
}

/// One list and when it expires (ms on the server's clock).
#[derive(Debug, Default)]
struct List {
    items: VecDeque<Item>,
    expires: u64,
}

impl List {
    /// Forgets the items once the list has expired.
    fn expire(&mut self, now: u64) {
        if !self.items.is_empty() && self.expires <= now {
            self.items.clear();
        }
    }

    fn push(&mut self, item: Item, policy: &Policy, now: u64) {
        self.items.push_front(item);
        self.items.truncate(policy.depth);
        self.expires = now.saturating_add(policy.ttl_ms);
    }
}

/// A user's two lists for one file.
#[derive(Debug, Default)]
struct Lists {
    undo: List,
    redo: List,
}

impl Lists {
    fn counts(&self) -> UndoCounts {
        UndoCounts {
            undo: self.undo.items.len() as u64,
            redo: self.redo.items.len() as u64,
        }
    }
}

/// The limits as the stores apply them (a depth of at least 1, a TTL of at least 1 ms).
struct Policy {
    capture_ms: u64,
    depth: usize,
    ttl_ms: u64,
}

impl Policy {
    fn of(policy: &UndoPolicy) -> Policy {
        Policy {
            capture_ms: u64::try_from(policy.capture.as_millis()).unwrap_or(u64::MAX),
            depth: policy.depth.max(1) as usize,
            ttl_ms: u64::try_from(policy.ttl.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
        }
    }
}

/// Every user's lists for one file.
#[derive(Debug, Default)]
pub struct UndoLists {
    users: HashMap<String, Lists>,
}

/// What one authored part (or a run of one user's edits) does to its author's lists.
enum RecordKind {
    Edit,
    Undone,
    Redone,
}

/// The undo records of a batch, as `(user, kind, item)`: consecutive edits of one user (a
/// burst merged into one log entry) are one record, their parts concatenated.
fn records(batch: &AppendBatch) -> Vec<(&str, RecordKind, Vec<u8>)> {
    let mut out: Vec<(&str, RecordKind, Vec<u8>)> = Vec::new();
    for part in batch.parts() {
        let (Some(user), Some(record)) = (&part.author, &part.undo) else {
            continue;
        };
        let (kind, item) = match record {
            UndoRecord::Edit(item) => (RecordKind::Edit, item),
            UndoRecord::Undone(item) => (RecordKind::Undone, item),
            UndoRecord::Redone(item) => (RecordKind::Redone, item),
        };
        match out.last_mut() {
            Some((last, RecordKind::Edit, parts))
                if matches!(kind, RecordKind::Edit) && *last == &**user =>
            {
                parts.extend_from_slice(item)
            }
            _ => out.push((user, kind, item.clone())),
        }
    }
    out
}

/// The `N` payload when `before` and `after` differ in which counts are zero.
fn notice(user: &str, before: UndoCounts, after: UndoCounts) -> Option<Bytes> {
    let moved = (before.undo == 0) != (after.undo == 0) || (before.redo == 0) != (after.redo == 0);
    moved.then(|| {
        let json = serde_json::json!({"user": user, "undo": after.undo, "redo": after.redo});
        Bytes::from(json.to_string())
    })
}

impl UndoLists {
    /// `user`'s lists as of `now` (expired ones emptied).
    fn lists(&mut self, user: &str, now: u64) -> &mut Lists {
        let lists = self.users.entry(user.to_owned()).or_default();
        lists.undo.expire(now);
        lists.redo.expire(now);
        lists
    }

    /// Forgets a user whose lists are both empty.
    fn tidy(&mut self, user: &str) {
        if self
            .users
            .get(user)
            .is_some_and(|l| l.undo.items.is_empty() && l.redo.items.is_empty())
        {
            self.users.remove(user);
        }
    }

    /// Records the authored parts of an appended batch; returns the `N` payloads to publish.
    pub fn record(&mut self, batch: &AppendBatch, policy: &UndoPolicy, now: u64) -> Vec<Bytes> {
        let policy = Policy::of(policy);
        let mut notices = Vec::new();
        for (user, kind, part) in records(batch) {
            let lists = self.lists(user, now);
            let before = lists.counts();
            match kind {
                RecordKind::Edit => {
                    let joins = lists.undo.items.front().is_some_and(|top| {
                        top.stamp > 0
                            && now.saturating_sub(top.stamp) < policy.capture_ms
                            && top.stored_len() + part.len() <= MAX_ITEM_BYTES
                    });
                    match lists.undo.items.front_mut() {
                        Some(top) if joins => {
                            top.stamp = now;
                            top.parts.extend_from_slice(&part);
                            lists.undo.expires = now.saturating_add(policy.ttl_ms);
                        }
                        _ => lists.undo.push(
                            Item {
                                stamp: now,
                                parts: part,
                            },
                            &policy,
                            now,
                        ),
                    }
                    lists.redo.items.clear();
                }
                RecordKind::Undone => lists.redo.push(
                    Item {
                        stamp: 0,
                        parts: part,
                    },
                    &policy,
                    now,
                ),
                RecordKind::Redone => lists.undo.push(
                    Item {
                        stamp: 0,
                        parts: part,
                    },
                    &policy,
                    now,
                ),
            }
            let after = lists.counts();
            notices.extend(notice(user, before, after));
            self.tidy(user);
        }
        notices
    }

    /// Pops the top item of `user`'s undo (or redo) list; also the `N` payload to publish.
    pub fn pop(&mut self, user: &str, op: UndoOp, now: u64) -> (Popped, Option<Bytes>) {
        let lists = self.lists(user, now);
        let before = lists.counts();
        let from = match op {
            UndoOp::Undo => &mut lists.undo,
            UndoOp::Redo => &mut lists.redo,
        };
        let item = from.items.pop_front().map(|item| item.parts);
        let counts = lists.counts();
        self.tidy(user);
        (Popped { item, counts }, notice(user, before, counts))
    }

    /// How many items `user`'s lists hold.
    pub fn counts(&mut self, user: &str, now: u64) -> UndoCounts {
        let counts = self.lists(user, now).counts();
        self.tidy(user);
        counts
    }
}

/// Every file's lists.
pub type Files = Mutex<HashMap<FileId, UndoLists>>;

/// One gateway's access to the server's undo lists.
pub struct MemoryUndo {
    pub files: Arc<Files>,
    /// Where count notices are published.
    pub channels: Arc<Channels>,
    pub clock: Arc<Clock>,
    /// The origin of the notices this gateway publishes.
    pub gateway: Arc<str>,
    pub policy: UndoPolicy,
}

impl MemoryUndo {
    /// Records an appended batch's authored parts and publishes the count notices; the
    /// store calls it inside its append step, so the lists change with the log.
    pub fn record(&self, file: &FileId, batch: &AppendBatch, now: u64) {
        let mut files = lock(&self.files);
        let lists = files.entry(file.clone()).or_default();
        for notice in lists.record(batch, &self.policy, now) {
            self.notify(file, notice);
        }
        if lists.users.is_empty() {
            files.remove(file);
        }
    }

    /// Pops the top of `user`'s undo (or redo) list and publishes a count notice, in one
    /// step: two gateways popping at once never get the same item.
    pub fn pop(&self, file: &FileId, user: &str, op: UndoOp) -> Popped {
        let now = self.clock.now_ms();
        let mut files = lock(&self.files);
        let Some(lists) = files.get_mut(file) else {
            return Popped::default();
        };
        let (popped, notice) = lists.pop(user, op, now);
        if let Some(notice) = notice {
            self.notify(file, notice);
        }
        if lists.users.is_empty() {
            files.remove(file);
        }
        popped
    }

    /// How many items `user`'s lists for `file` hold.
    pub fn counts(&self, file: &FileId, user: &str) -> UndoCounts {
        let now = self.clock.now_ms();
        let mut files = lock(&self.files);
        files
            .get_mut(file)
            .map_or_else(UndoCounts::default, |lists| lists.counts(user, now))
    }

    fn notify(&self, file: &FileId, notice: Bytes) {
        let kind = Kind::UndoCounts;
        self.channels.deliver(file, &self.gateway, kind, notice);
    }
}

#[cfg(test)]
#[path = "undo_tests.rs"]
mod tests;
