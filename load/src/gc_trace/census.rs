//! Walks the structs of an encoded v1 state: how many blocks the doc holds, of which kind
//! and where they start and end, which yrs's public API does not tell. Decoding goes through yrs's own decoder and
//! content parser; only the loop over the struct headers is repeated here (from
//! `Update::decode` and `decode_block` of yrs 0.28.1).

use serde::{Deserialize, Serialize};
use yrs::block::{
    BLOCK_GC_REF_NUMBER, BLOCK_SKIP_REF_NUMBER, HAS_ORIGIN, HAS_PARENT_SUB, HAS_RIGHT_ORIGIN,
    ItemContent,
};
use yrs::updates::decoder::{Decoder, DecoderV1};
use yrs::{ClientID, IdSet, encoding::read::Read as _, updates::decoder::Decode};

/// The structs of a state, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Census {
    /// Every struct (item, tombstone or GC range).
    pub blocks: u64,
    /// Items that keep their content (live, or deleted under GC off).
    pub with_content: u64,
    /// Deleted items whose content was dropped (`ItemContent::Deleted`, GC on).
    pub tombstones: u64,
    /// GC ranges (items dropped with their parent).
    pub gc_ranges: u64,
    /// Ranges in the state's delete set.
    pub delete_ranges: u64,
}

/// One struct of an encoded state: its first id, its clock length, and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Struct {
    pub client: ClientID,
    pub clock: u32,
    pub len: u32,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An item with its content.
    Item,
    /// A deleted item whose content was dropped.
    Tombstone,
    /// A GC range.
    Gc,
}

/// Counts the structs of `state`, a v1 update.
pub fn count(state: &[u8]) -> anyhow::Result<Census> {
    let mut census = Census::default();
    let deletes = walk(state, |s| {
        census.blocks += 1;
        match s.kind {
            Kind::Item => census.with_content += 1,
            Kind::Tombstone => census.tombstones += 1,
            Kind::Gc => census.gc_ranges += 1,
        }
    })?;
    census.delete_ranges = deletes.iter().map(|(_, r)| r.len() as u64).sum();
    Ok(census)
}

/// Calls `visit` with every struct of `state` (a v1 update), in encoding order, and
/// returns its delete set.
pub fn walk(state: &[u8], mut visit: impl FnMut(Struct)) -> anyhow::Result<IdSet> {
    let mut decoder = DecoderV1::from(state);
    let clients: u32 = decoder.read_var()?;
    for _ in 0..clients {
        let blocks: u32 = decoder.read_var()?;
        let client = decoder.read_client()?;
        let mut clock: u32 = decoder.read_var()?;
        for _ in 0..blocks {
            let (len, kind) = match decoder.read_info()? {
                BLOCK_SKIP_REF_NUMBER => {
                    clock += decoder.read_var::<u32>()?;
                    continue;
                }
                BLOCK_GC_REF_NUMBER => (decoder.read_len()?, Kind::Gc),
                info => {
                    let copies_parent = info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) != 0;
                    if info & HAS_ORIGIN != 0 {
                        decoder.read_left_id()?;
                    }
                    if info & HAS_RIGHT_ORIGIN != 0 {
                        decoder.read_right_id()?;
                    }
                    if !copies_parent {
                        if decoder.read_parent_info()? {
                            decoder.read_string()?;
                        } else {
                            decoder.read_left_id()?;
                        }
                        if info & HAS_PARENT_SUB != 0 {
                            decoder.read_string()?;
                        }
                    }
                    // Clock lengths of strings count UTF-16 code units, as in Yjs.
                    let content = ItemContent::decode(&mut decoder, info)?;
                    let kind = match content {
                        ItemContent::Deleted(_) => Kind::Tombstone,
                        _ => Kind::Item,
                    };
                    (content.len_utf16(), kind)
                }
            };
            visit(Struct {
                client,
                clock,
                len,
                kind,
            });
            clock += len;
        }
    }
    Ok(IdSet::decode(&mut decoder)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Doc, Options, ReadTxn, StateVector, Text, Transact};

    fn census_after_deleting(skip_gc: bool) -> Census {
        let doc = Doc::with_options(Options {
            skip_gc,
            ..Options::default()
        });
        let text = doc.get_or_insert_text("monaco");
        text.insert(&mut doc.transact_mut(), 0, "abcdef");
        text.remove_range(&mut doc.transact_mut(), 2, 2);
        let state = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        count(&state).expect("counts")
    }

    #[test]
    fn gc_turns_deleted_content_into_a_tombstone() {
        let on = census_after_deleting(false);
        assert_eq!((on.blocks, on.with_content, on.tombstones), (3, 2, 1));
        assert_eq!(on.delete_ranges, 1);
        let off = census_after_deleting(true);
        assert_eq!((off.blocks, off.with_content, off.tombstones), (3, 3, 0));
        assert_eq!(off.delete_ranges, 1);
    }
}
