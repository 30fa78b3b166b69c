//! The exact order of a text's string items, deleted ones included.
//!
//! [`crate::origin_order`] places an origin by counting the visible text left of it, which
//! cannot order two origins that are both invisible with no visible text between them (text
//! deleted by two authors, say). An item crossed between such origins passes the counts and
//! still splits the document (`fuzz/findings/crossed-origins/`). yrs has no public way to walk
//! from an id to its neighbours, but it renders a text *as of a snapshot*: with a snapshot
//! that deletes nothing, deleted string items are rendered too, each tagged with its id when
//! compared with an empty snapshot. That walk is O(document), so it is only taken for the
//! rare items the counts leave undecided.
//!
//! Content that arrived already deleted (`ContentDeleted`, what a garbage-collecting client
//! sends for text it removed) carries no string and is not rendered: an origin there is
//! [`None`] and the caller falls back to its other checks.

use yrs::types::text::{ChangeKind, YChange};
use yrs::{ID, IdSet, Out, ReadTxn, Snapshot, StateVector, Text, TransactionMut};

/// String items of one text in document order: `(client, first clock, length in clock units)`.
#[derive(Debug, Default)]
pub struct ItemOrder {
    items: Vec<(u64, u32, u32)>,
}

impl ItemOrder {
    /// Renders `text` with every string item, deleted or not. Needs a write transaction
    /// because yrs splits blocks at the snapshots' edges (these snapshots have none inside
    /// an item, so nothing is split).
    pub fn of(txn: &mut TransactionMut, text: &yrs::TextRef) -> ItemOrder {
        let everything = Snapshot::new(txn.state_vector(), IdSet::new());
        let nothing = Snapshot::new(StateVector::default(), IdSet::new());
        let chunks = text.diff_range(txn, Some(&everything), Some(&nothing), |c: YChange| c);
        let items = chunks
            .into_iter()
            .filter_map(|chunk| {
                let ychange = chunk.ychange?;
                if ychange.kind != ChangeKind::Added {
                    return None;
                }
                let Out::Any(yrs::Any::String(s)) = &chunk.insert else {
                    return None;
                };
                let len = s.encode_utf16().count() as u32;
                let ID { client, clock } = ychange.id;
                Some((client.get(), clock, len))
            })
            .collect();
        ItemOrder { items }
    }

    /// Where the unit `(client, clock)` stands: a rank that orders any two rendered units.
    pub fn rank(&self, (client, clock): (u64, u64)) -> Option<(usize, u64)> {
        self.items
            .iter()
            .enumerate()
            .find(|(_, (c, start, len))| {
                *c == client && u64::from(*start) <= clock && clock < u64::from(start + len)
            })
            .map(|(at, (_, start, _))| (at, clock - u64::from(*start)))
    }
}
