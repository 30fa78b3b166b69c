//! The exact order of a text's string items, deleted ones included, rendered from yrs.
//!
//! yrs has no public way to walk from an id to its neighbours, but it renders a text *as of
//! a snapshot*: with a snapshot that deletes nothing, deleted string items are rendered too,
//! each tagged with its id when compared with an empty snapshot. That walk is O(document),
//! so the room takes it only to (re)build its [`crate::item_list::ItemList`], which then
//! follows the updates by itself ([`crate::list_keeper`]).
//!
//! Content that arrived already deleted (`ContentDeleted`, what a garbage-collecting client
//! sends for text it removed) carries no string and is not rendered, nor are embeds and
//! other non-string kinds. A document that holds some is ordered with
//! [`ItemOrder::rebuilt`] instead: its encoded state, with every such content written as a
//! string of the same length, loaded into a scratch doc and rendered there. The scratch doc
//! has the live order as long as every item the room took in meets the rule of
//! [`crate::origin_order`] (then the order does not depend on the order of integration).

use yrs::types::text::{ChangeKind, YChange};
use yrs::updates::decoder::Decode;
use yrs::{
    Doc, ID, IdSet, OffsetKind, Options, Out, ReadTxn, Snapshot, StateVector, Text, Transact,
    TransactionMut, Update,
};

use crate::update_check::Shape;

/// Where a unit stands: the run it is in and its offset there (ordered like the document).
#[cfg(test)]
pub type Rank = (usize, u64);

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

    /// Orders a document whose encoded `state` (with its `shape`) holds opaque content
    /// ([`Shape::opaque`]): rendered as strings of their length in a scratch doc.
    pub fn rebuilt(state: &[u8], shape: &Shape, text_name: &str) -> ItemOrder {
        let doc = Doc::with_options(Options {
            offset_kind: OffsetKind::Utf16,
            skip_gc: true,
            ..Options::default()
        });
        let state = with_deleted_as_strings(state, shape);
        let Ok(update) = Update::decode_v1(&state) else {
            return ItemOrder::default();
        };
        let mut txn = doc.transact_mut();
        if txn.apply_update(update).is_err() {
            return ItemOrder::default();
        }
        match txn.get_text(text_name) {
            Some(text) => ItemOrder::of(&mut txn, &text),
            None => ItemOrder::default(),
        }
    }

    /// The runs in document order: `(client, first clock, length)`.
    pub fn runs(&self) -> impl Iterator<Item = (u64, u32, u32)> + '_ {
        self.items.iter().copied()
    }

    /// Where the unit `(client, clock)` stands: a rank that orders any two rendered units.
    #[cfg(test)]
    pub fn rank(&self, (client, clock): (u64, u64)) -> Option<Rank> {
        self.items
            .iter()
            .enumerate()
            .find(|(_, (c, start, len))| {
                *c == client && u64::from(*start) <= clock && clock < u64::from(start + len)
            })
            .map(|(at, (_, start, _))| (at, clock - u64::from(*start)))
    }
}

/// `state` with every opaque content (as `shape` found them) written as a string of its
/// length: deleted ones stay deleted (the delete set says so), but all are rendered.
fn with_deleted_as_strings(state: &[u8], shape: &Shape) -> Vec<u8> {
    let mut out = Vec::with_capacity(state.len());
    let mut copied = 0;
    for deleted in &shape.opaque {
        out.extend_from_slice(&state[copied..deleted.info_at]);
        out.push((state[deleted.info_at] & !0b1_1111) | 4);
        out.extend_from_slice(&state[deleted.info_at + 1..deleted.content.0]);
        let len = usize::try_from(deleted.len).unwrap_or(0);
        let mut n = len as u64;
        while n >= 0x80 {
            out.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out.extend(std::iter::repeat_n(b'~', len));
        copied = deleted.content.1;
    }
    out.extend_from_slice(&state[copied..]);
    out
}
