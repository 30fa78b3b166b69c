//! What an item's author certainly knew when it wrote the item.
//!
//! yrs integrates an item only once everything it refers to is in: its author's earlier
//! items, its origins and its parent. So whoever wrote an item had all of those, and,
//! transitively, everything *they* refer to. That set (its causal past) is closed under
//! "earlier clock of the same client", so it is a state vector: a bound per client.
//! [`crate::origin_order`] uses it to tell text the author knew (which an honest author's
//! origins can never skip) from concurrent text (which they may).
//!
//! The references of every block come from the document's encoded state (yrs keeps them in
//! private fields) when the room's item list is rendered, and from each applied update
//! after that ([`crate::list_keeper`]); a block that continues its author's previous one
//! (the next keystroke) only extends it.

use std::collections::HashMap;

use crate::update_check::{Parent, Placed, Shape};

/// One block's clock range and what it refers to (all its units refer to those, or to the
/// unit before them of the same block).
#[derive(Debug, Clone)]
struct Block {
    start: u64,
    end: u64,
    refs: [Option<(u64, u64)>; 3],
}

/// The blocks of a document (and of an update about to be applied), by client, in clock order.
#[derive(Debug, Default)]
pub struct Pasts {
    blocks: HashMap<u64, Vec<Block>>,
    /// Garbage-collected ranges `(client, start, end)`: yrs turns an item that refers to one
    /// into garbage as well.
    garbage: HashMap<u64, Vec<(u64, u64)>>,
}

/// A causal past: every clock of `client` below `bound[client]`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Known {
    bound: HashMap<u64, u64>,
}

impl Known {
    /// Whether the unit range `[clock, end)` of `client` holds a unit of this past.
    pub fn holds_any(&self, client: u64, clock: u64) -> bool {
        self.bound.get(&client).is_some_and(|bound| clock < *bound)
    }
}

impl Pasts {
    /// The blocks of an encoded state (or any update) as [`crate::update_check`] read them.
    pub fn of(shape: &Shape) -> Pasts {
        let mut pasts = Pasts::default();
        pasts.add(shape);
        pasts
    }

    /// Adds the blocks of `shape` (an update applied after the state already added).
    pub fn add(&mut self, shape: &Shape) {
        for placed in &shape.items {
            self.add_item(placed);
        }
        for (client, clock, len) in &shape.garbage {
            let ranges = self.garbage.entry(*client).or_default();
            ranges.push((*clock, clock + len));
            ranges.sort_unstable();
        }
    }

    fn add_item(&mut self, placed: &Placed) {
        let (client, start, len) = placed.item;
        let parent = match &placed.parent {
            Some(Parent::Item(id)) => Some(*id),
            _ => None,
        };
        let block = Block {
            start,
            end: start + len,
            refs: [placed.left, placed.right, parent],
        };
        let blocks = self.blocks.entry(client).or_default();
        if let Some(last) = blocks.last_mut()
            && last.end == start
            && len > 0
            && placed.left == Some((client, start - 1))
            && placed.right == last.refs[1]
            && parent.is_none()
        {
            // Its refs add nothing: its left origin is its own previous unit.
            last.end = start + len;
            return;
        }
        let at = blocks.partition_point(|b| b.start < start);
        if blocks.get(at).is_some_and(|b| b.start == start) {
            return; // known already (an update that repeats part of the state)
        }
        blocks.insert(at, block);
    }

    /// Adds the items a replica took in (trimmed as it took them) and its garbage.
    pub fn add_taken(&mut self, items: &[Placed], garbage: &[(u64, u64, u64)]) {
        for placed in items {
            self.add_item(placed);
        }
        for (client, clock, len) in garbage {
            let ranges = self.garbage.entry(*client).or_default();
            ranges.push((*clock, clock + len));
            ranges.sort_unstable();
        }
    }

    /// The first clock of every block (tests compare pasts item by item).
    #[cfg(test)]
    pub fn starts(&self) -> Vec<(u64, u64)> {
        let blocks = self.blocks.iter();
        blocks
            .flat_map(|(c, bs)| bs.iter().map(|b| (*c, b.start)))
            .collect()
    }

    /// Whether `id` lies in a garbage-collected range.
    pub fn is_garbage(&self, (client, clock): (u64, u64)) -> bool {
        self.garbage
            .get(&client)
            .is_some_and(|ranges| ranges.iter().any(|(s, e)| *s <= clock && clock < *e))
    }

    /// The causal past of an item of `client` at `clock` that refers to `refs`: its own
    /// earlier clocks, `refs`, and everything those refer to, transitively. O(blocks in it).
    pub fn past_of(&self, item: (u64, u64), refs: &[Option<(u64, u64)>]) -> Known {
        let mut walk = PastWalk::default();
        walk.extend(self, None, item, refs);
        walk.known
    }
}

/// A causal past being walked, extended item by item: the items of one author in one update
/// come in clock order and each one's past holds the previous one's, so their pasts cost one
/// walk over the blocks, not one each.
#[derive(Debug, Default)]
pub struct PastWalk {
    /// The client whose items' pasts are walked.
    author: Option<u64>,
    known: Known,
    /// Per client, the bound below which the blocks' references were read.
    done: HashMap<u64, u64>,
    /// Blocks read so far (the work done, for the sender's budget).
    pub visited: u64,
}

impl PastWalk {
    /// The past walked so far.
    pub fn known(&self) -> &Known {
        &self.known
    }

    /// Whether the walk holds the past of an earlier item of the same author as the item
    /// `(client, clock)`, so that it may be extended to it (another author's past may hold
    /// text this one did not know).
    pub fn extends_to(&self, (client, clock): (u64, u64)) -> bool {
        self.author == Some(client)
            && self
                .known
                .bound
                .get(&client)
                .is_some_and(|bound| *bound <= clock)
    }

    /// Adds the past of the item `(client, clock)` that refers to `refs`, reading the blocks
    /// of `kept` and of `extra` (an update about to be applied).
    pub fn extend(
        &mut self,
        kept: &Pasts,
        extra: Option<&Pasts>,
        (client, clock): (u64, u64),
        refs: &[Option<(u64, u64)>],
    ) {
        debug_assert!(self.author.is_none_or(|author| author == client));
        self.author = Some(client);
        let mut todo = Vec::new();
        let raise = |known: &mut Known, todo: &mut Vec<u64>, (c, end): (u64, u64)| {
            let bound = known.bound.entry(c).or_insert(0);
            if end > *bound {
                *bound = end;
                todo.push(c);
            }
        };
        raise(&mut self.known, &mut todo, (client, clock));
        for (c, k) in refs.iter().flatten() {
            raise(&mut self.known, &mut todo, (*c, k + 1));
        }
        while let Some(c) = todo.pop() {
            let bound = self.known.bound.get(&c).copied().unwrap_or(0);
            let from = self.done.get(&c).copied().unwrap_or(0);
            if from >= bound {
                continue;
            }
            self.done.insert(c, bound);
            for pasts in std::iter::once(kept).chain(extra) {
                let Some(blocks) = pasts.blocks.get(&c) else {
                    continue;
                };
                let first = blocks.partition_point(|b| b.end <= from);
                for block in blocks[first..].iter().take_while(|b| b.start < bound) {
                    self.visited += 1;
                    for (rc, rk) in block.refs.iter().flatten() {
                        raise(&mut self.known, &mut todo, (*rc, rk + 1));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update_check::check;
    use yrs::{Doc, ReadTxn, StateVector, Text, Transact, Update, updates::decoder::Decode};

    fn writer(client: u64) -> Doc {
        Doc::with_client_id(client)
    }

    #[test]
    fn an_item_knows_what_its_origins_knew_and_no_more() {
        // W (1) types "ab"; V (2) syncs and types "X" after "b"; U (3), who never saw V,
        // types "u" after "a".
        let (w, v, u) = (writer(1), writer(2), writer(3));
        let tw = w.get_or_insert_text("t");
        tw.insert(&mut w.transact_mut(), 0, "ab");
        let base = w
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        for doc in [&v, &u] {
            doc.transact_mut()
                .apply_update(Update::decode_v1(&base).expect("decodes"))
                .expect("applies");
        }
        tw.insert(&mut w.transact_mut(), 2, "c");
        let tv = v.get_or_insert_text("t");
        tv.insert(&mut v.transact_mut(), 2, "X");
        let tu = u.get_or_insert_text("t");
        tu.insert(&mut u.transact_mut(), 1, "u");
        let all = Doc::with_client_id(9);
        for doc in [&w, &v, &u] {
            let state = doc
                .transact()
                .encode_state_as_update_v1(&StateVector::default());
            all.transact_mut()
                .apply_update(Update::decode_v1(&state).expect("decodes"))
                .expect("applies");
        }
        let state = all
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let pasts = Pasts::of(&check(&state).expect("checks"));
        // V's X: after W's b (1#1), so it knew 1#0 and 1#1 but not W's c (1#2).
        let x = pasts.past_of((2, 0), &[Some((1, 1))]);
        assert!(x.holds_any(1, 1));
        assert!(!x.holds_any(1, 2));
        assert!(!x.holds_any(3, 0));
        // An item after V's X knows what X knew, and X.
        let after_x = pasts.past_of((7, 0), &[Some((2, 0)), None]);
        assert!(after_x.holds_any(1, 0) && after_x.holds_any(2, 0));
        assert!(!after_x.holds_any(1, 2) && !after_x.holds_any(3, 0));
    }
}
