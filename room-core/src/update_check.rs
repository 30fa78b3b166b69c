//! Structural rules a client's v1 update must follow before yrs applies it.
//!
//! yrs decodes leniently and trusts what it decodes: fuzzing found updates that it
//! accepted into a state it then could not encode (a panic in `diff`) or that panicked while
//! applying, and once such an update is in the log every rebuild of the room reads it
//! again. Every Yjs or yrs encoder obeys the rules below, so checking them costs honest
//! clients nothing:
//!
//! - counts fit in the bytes that follow (yrs reserves memory for a count before reading);
//! - a client appears once, with an id below 2^53 (JavaScript's safe integers);
//! - clocks and lengths stay below 2^32 (yrs clocks are `u32`; larger ones wrapped);
//! - an item refers (origins, parent) to its own client's past only: nothing can point
//!   at what its author had not written yet;
//! - content is a known kind and decodes; no bytes follow the delete set.
//!
//! The walk uses yrs's own decoder for each piece; it reads the update once more than
//! yrs will, which is small next to applying it. It also notes what the update builds on,
//! so that [`Shape::missing_from`] can tell whether a replica holds all of it: yrs parks
//! an update with missing predecessors and merges it later, and fuzzing found that merge
//! freeing an item it still uses (a use-after-free inside yrs). Client updates are only
//! applied once their predecessors are in.

use std::collections::{HashMap, HashSet};

use yrs::block::{
    BLOCK_GC_REF_NUMBER, BLOCK_SKIP_REF_NUMBER, HAS_ORIGIN, HAS_PARENT_SUB, HAS_RIGHT_ORIGIN,
    ItemContent,
};
use yrs::encoding::read::{Cursor, Read};
use yrs::updates::decoder::{Decoder, DecoderV1};
use yrs::{ClientID, StateVector};

/// Largest client id a JavaScript peer can hold exactly.
const MAX_CLIENT_ID: u64 = (1 << 53) - 1;

/// Highest content kind of the v1 encoding (Move, a yrs extension).
const MAX_CONTENT_REF: u8 = 11;

/// Content kinds that begin with a count of values (JSON strings, `Any` values).
const CONTENT_JSON: u8 = 2;
/// Content kinds a text render shows with their ids, or that hold other items.
const CONTENT_STRING: u8 = 4;
const CONTENT_TYPE: u8 = 7;
const CONTENT_DOC: u8 = 9;
const CONTENT_ANY: u8 = 8;

/// Why an update breaks the rules.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(String);

fn malformed(why: impl Into<String>) -> Malformed {
    Malformed(why.into())
}

/// What an update holds and builds on, by yrs ids.
#[derive(Debug, Default)]
pub struct Shape {
    /// Clock ranges `[first, end)` of each client's blocks.
    ranges: HashMap<u64, (u64, u64)>,
    /// Ids the items refer to (origins and parents) in other clients' blocks.
    refs: Vec<(u64, u64)>,
    /// Deleted clock ranges `[start, end)`, by client.
    deletes: Vec<(u64, u64, u64)>,
    /// Every item, in the update's order.
    pub items: Vec<Placed>,
    /// Garbage-collected ranges `(client, clock, length)`.
    pub garbage: Vec<(u64, u64, u64)>,
    /// Items whose content a text render does not show with its id (`ContentDeleted`, what
    /// a garbage-collecting client sends for removed text, and other non-string kinds):
    /// where their info byte and content lie, so [`crate::item_order`] can render them.
    pub opaque: Vec<OpaqueContent>,
}

/// An item as an update carries it: its id range, its origins and its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// `(client, clock, length)`.
    pub item: (u64, u64, u64),
    pub left: Option<(u64, u64)>,
    pub right: Option<(u64, u64)>,
    /// The parent an item without origins names (with origins, yrs takes theirs).
    pub parent: Option<Parent>,
    /// A map entry (it names a key; only an item without origins can), not an element of a
    /// sequence.
    pub keyed: bool,
}

impl Placed {
    /// The part of this item that a replica holding `known` clocks of its client takes in:
    /// yrs skips the units it has and gives the rest its own previous unit as left origin
    /// (the right origin stays). `None`: the replica has it all.
    pub fn beyond(&self, known: u64) -> Option<Placed> {
        let (client, clock, len) = self.item;
        if clock + len <= known {
            return None;
        }
        if clock >= known {
            return Some(self.clone());
        }
        Some(Placed {
            item: (client, known, clock + len - known),
            left: Some((client, known - 1)),
            parent: None,
            ..self.clone()
        })
    }
}

impl Shape {
    /// The items a replica at `sv` integrates, as it integrates them ([`Placed::beyond`]).
    pub fn items_beyond(&self, sv: &StateVector) -> Vec<Placed> {
        self.items
            .iter()
            .filter_map(|p| p.beyond(u64::from(sv.get(&ClientID::new(p.item.0)))))
            .collect()
    }
}

/// The parent an item names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parent {
    /// A root type, by name.
    Root(String),
    /// A nested type, by the id of the item that holds it.
    Item((u64, u64)),
}

/// Where an item with opaque content (see [`Shape::opaque`]) lies in an update's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpaqueContent {
    /// The item's info byte.
    pub info_at: usize,
    /// Its content `[start, end)`.
    pub content: (usize, usize),
    pub len: u64,
}

impl Shape {
    /// Why a replica at `sv` cannot apply the update completely (it lacks a predecessor of
    /// some block, reference or deletion), or `None` when it can.
    pub fn missing_from(&self, sv: &StateVector) -> Option<String> {
        let known = |client: u64| sv.get(&ClientID::new(client)) as u64;
        let held = |client: u64, clock: u64| {
            clock < known(client)
                || self
                    .ranges
                    .get(&client)
                    .is_some_and(|(first, end)| *first <= clock && clock < *end)
        };
        for (client, (first, _)) in &self.ranges {
            if *first > known(*client) {
                return Some(format!(
                    "client {client}'s blocks start at {first}, the document holds {}",
                    known(*client)
                ));
            }
        }
        if let Some((client, clock)) = self.refs.iter().find(|(c, k)| !held(*c, *k)) {
            return Some(format!(
                "refers to {client}#{clock}, which the document lacks"
            ));
        }
        if let Some((client, _, end)) = self
            .deletes
            .iter()
            .find(|(c, start, end)| end > start && !held(*c, end - 1))
        {
            return Some(format!(
                "deletes up to {client}#{end}, which the document lacks"
            ));
        }
        None
    }
}

/// Checks `update` (v1) against the rules in the module docs; returns its shape.
pub fn check(update: &[u8]) -> Result<Shape, Malformed> {
    let mut walk = Walk {
        cursor: Cursor::new(update),
        total: update.len(),
        shape: Shape::default(),
    };
    walk.blocks()?;
    walk.delete_set()?;
    if walk.cursor.read_u8().is_ok() {
        return Err(malformed("bytes follow the delete set"));
    }
    Ok(walk.shape)
}

struct Walk<'a> {
    cursor: Cursor<'a>,
    total: usize,
    shape: Shape,
}

impl Walk<'_> {
    fn var(&mut self, what: &str) -> Result<u64, Malformed> {
        self.cursor
            .read_var::<u64>()
            .map_err(|e| malformed(format!("{what}: {e}")))
    }

    /// A count of things that take at least `each` bytes.
    fn count(&mut self, what: &str, each: u64) -> Result<u64, Malformed> {
        let n = self.var(what)?;
        if n.saturating_mul(each) > self.total as u64 {
            return Err(malformed(format!(
                "{what} {n} does not fit in {} bytes",
                self.total
            )));
        }
        Ok(n)
    }

    fn client(&mut self, what: &str) -> Result<u64, Malformed> {
        let client = self.var(what)?;
        if client > MAX_CLIENT_ID {
            return Err(malformed(format!("{what} {client} is not below 2^53")));
        }
        Ok(client)
    }

    fn clock(&mut self, what: &str) -> Result<u64, Malformed> {
        let clock = self.var(what)?;
        if clock > u64::from(u32::MAX) {
            return Err(malformed(format!("{what} {clock} is not below 2^32")));
        }
        Ok(clock)
    }

    /// An id an item refers to; one of its own client must be in that client's past.
    fn reference(&mut self, what: &str, author: u64, clock: u64) -> Result<(u64, u64), Malformed> {
        let client = self.client(what)?;
        let at = self.clock(what)?;
        if client == author && at >= clock {
            return Err(malformed(format!(
                "{what} {client}#{at} is not before the item {author}#{clock}"
            )));
        }
        if client != author {
            self.shape.refs.push((client, at));
        }
        Ok((client, at))
    }

    fn blocks(&mut self) -> Result<(), Malformed> {
        // A group is at least a block count, a client, a clock and one block byte.
        let groups = self.count("client groups", 3)?;
        let mut clients = HashSet::new();
        for _ in 0..groups {
            let blocks = self.count("blocks", 1)?;
            let client = self.client("client")?;
            if !clients.insert(client) {
                return Err(malformed(format!("client {client} appears twice")));
            }
            let first = self.clock("first clock")?;
            let mut clock = first;
            for _ in 0..blocks {
                clock += self.block(client, clock)?;
                if clock > u64::from(u32::MAX) {
                    return Err(malformed(format!("client {client}'s clock passes 2^32")));
                }
            }
            self.shape.ranges.insert(client, (first, clock));
        }
        Ok(())
    }

    /// Reads one block at `client`#`clock`; returns its length.
    fn block(&mut self, client: u64, clock: u64) -> Result<u64, Malformed> {
        let info = self
            .cursor
            .read_u8()
            .map_err(|e| malformed(format!("block info: {e}")))?;
        match info {
            BLOCK_GC_REF_NUMBER | BLOCK_SKIP_REF_NUMBER => {
                let len = self.var("block length")?;
                if len == 0 {
                    return Err(malformed("empty block"));
                }
                if info == BLOCK_GC_REF_NUMBER {
                    self.shape.garbage.push((client, clock, len));
                }
                return Ok(len);
            }
            _ => {}
        }
        if info & 0b1_1111 > MAX_CONTENT_REF {
            return Err(malformed(format!(
                "unknown content kind {}",
                info & 0b1_1111
            )));
        }
        let info_at = self.cursor.next - 1;
        let mut left = None;
        let mut right = None;
        let mut parent = None;
        if info & HAS_ORIGIN != 0 {
            left = Some(self.reference("left origin", client, clock)?);
        }
        if info & HAS_RIGHT_ORIGIN != 0 {
            right = Some(self.reference("right origin", client, clock)?);
        }
        if info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0 {
            let named = self.var("parent kind")? == 1;
            parent = Some(if named {
                Parent::Root(self.string("parent name")?)
            } else {
                Parent::Item(self.reference("parent", client, clock)?)
            });
            if info & HAS_PARENT_SUB != 0 {
                self.string("parent key")?;
            }
        }
        let content_at = self.cursor.next;
        let len = u64::from(self.content(info)?.len_utf16());
        if !matches!(info & 0b1_1111, CONTENT_STRING | CONTENT_TYPE | CONTENT_DOC) {
            self.shape.opaque.push(OpaqueContent {
                info_at,
                content: (content_at, self.cursor.next),
                len,
            });
        }
        self.shape.items.push(Placed {
            item: (client, clock, len),
            left,
            right,
            parent,
            // With origins yrs reads no parent and no key: the item takes its origins'
            // (a text item beside text), whatever the key bit says.
            keyed: info & HAS_PARENT_SUB != 0 && info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0,
        });
        Ok(len)
    }

    /// Decodes an item's content with yrs's decoder, after checking that a leading count
    /// fits in the bytes left (yrs reserves memory for it before reading).
    fn content(&mut self, info: u8) -> Result<ItemContent, Malformed> {
        let rest = &self.cursor.buf[self.cursor.next..];
        if matches!(info & 0b1111, CONTENT_JSON | CONTENT_ANY) {
            let count: u64 = Cursor::new(rest)
                .read_var()
                .map_err(|e| malformed(format!("content count: {e}")))?;
            if count > rest.len() as u64 {
                return Err(malformed(format!(
                    "content claims {count} values in {} bytes",
                    rest.len()
                )));
            }
        }
        let mut decoder = DecoderV1::new(Cursor::new(rest));
        let content = ItemContent::decode(&mut decoder, info)
            .map_err(|e| malformed(format!("content: {e}")))?;
        let left = decoder
            .read_to_end()
            .map_err(|e| malformed(format!("content: {e}")))?
            .len();
        self.cursor.next += rest.len() - left;
        Ok(content)
    }

    fn string(&mut self, what: &str) -> Result<String, Malformed> {
        self.cursor
            .read_string()
            .map(str::to_owned)
            .map_err(|e| malformed(format!("{what}: {e}")))
    }

    fn delete_set(&mut self) -> Result<(), Malformed> {
        let clients = self.count("delete set clients", 2)?;
        for _ in 0..clients {
            let client = self.client("deleting client")?;
            let ranges = self.count("deleted ranges", 2)?;
            for _ in 0..ranges {
                let clock = self.clock("deleted clock")?;
                let len = self.var("deleted length")?;
                if clock.saturating_add(len) > u64::from(u32::MAX) {
                    return Err(malformed("a deleted range passes 2^32"));
                }
                self.shape.deletes.push((client, clock, clock + len));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Array, Doc, Map, OffsetKind, Options, ReadTxn, Text, Transact, WriteTxn};

    #[test]
    fn updates_from_yrs_pass() {
        let doc = Doc::with_options(Options {
            offset_kind: OffsetKind::Utf16,
            ..Options::default()
        });
        let text = doc.get_or_insert_text("monaco");
        let mut updates = Vec::new();
        for round in 0..20u32 {
            let mut txn = doc.transact_mut();
            let len = text.len(&txn);
            text.insert(&mut txn, round % (len + 1), "héllo 🎉\n");
            if len > 4 {
                text.remove_range(&mut txn, 1, 2);
            }
            updates.push(txn.encode_update_v1());
        }
        {
            let mut txn = doc.transact_mut();
            let meta = txn.get_or_insert_map("meta");
            meta.insert(&mut txn, "lang", "rust");
            let list = txn.get_or_insert_array("list");
            list.insert(&mut txn, 0, 42);
            updates.push(txn.encode_update_v1());
        }
        updates.push(
            doc.transact()
                .encode_state_as_update_v1(&Default::default()),
        );
        for update in updates {
            check(&update).expect("an update yrs made follows the rules");
        }
    }

    #[test]
    fn a_clock_past_2_32_is_refused() {
        // From the fuzzer: client 11 starting at clock ~2^40 (yrs wrapped it, then panicked).
        let update = [
            0x01, 0x01, 0x0b, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1e, 0x04, 0x01, 0x01, 0x61, 0x00,
        ];
        assert!(check(&update).is_err());
    }

    #[test]
    fn a_client_twice_is_refused() {
        // Two groups for client 11, each one string item "a" under root "t".
        let group = [0x01, 0x0b, 0x00, 0x04, 0x01, 0x01, 0x74, 0x01, 0x61];
        let mut update = vec![0x02];
        update.extend_from_slice(&group);
        update.extend_from_slice(&group);
        update.push(0x00);
        let err = check(&update).expect_err("refused");
        assert!(err.to_string().contains("twice"), "{err}");
    }

    #[test]
    fn an_origin_in_its_own_future_is_refused() {
        // Client 11 at clock 0 claiming its own clock 5 as left origin.
        let update = [0x01, 0x01, 0x0b, 0x00, 0x84, 0x0b, 0x05, 0x01, 0x61, 0x00];
        let err = check(&update).expect_err("refused");
        assert!(err.to_string().contains("left origin"), "{err}");
    }

    #[test]
    fn a_content_count_past_its_bytes_is_refused() {
        // Client 11, one JSON item under root "t" claiming 2^35 strings in 2 bytes.
        let update = [
            0x01, 0x01, 0x0b, 0x00, 0x02, 0x01, 0x01, 0x74, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
            0x00, 0x00,
        ];
        let err = check(&update).expect_err("refused");
        assert!(err.to_string().contains("claims"), "{err}");
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let doc = Doc::new();
        let text = doc.get_or_insert_text("monaco");
        let mut txn = doc.transact_mut();
        text.insert(&mut txn, 0, "x");
        let mut update = txn.encode_update_v1();
        update.push(0x00);
        assert!(check(&update).is_err());
    }
}
