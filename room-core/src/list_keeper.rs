//! Keeps the room's [`ItemList`] in step with its doc.
//!
//! The list follows every update the replica applies while it can tell where each item
//! lands ([`crate::origin_order::follow`], [`crate::origin_order::before`]). It is "in step"
//! with the replica version it was last brought to: every change to the doc bumps that
//! version (the cached sync answers rely on the same, [`crate::replica::Replica::touched`]),
//! so a change it did not follow (server-side undo, a merged outside file change, an update
//! yrs parked, an update refused halfway) leaves it out of step, and the next check renders
//! the list afresh from yrs (O(document), [`ItemOrder`]). Deletions do not move items, so
//! they need no following. A version is a number, so the normal path compares no state
//! vectors.

use std::collections::HashMap;

use yrs::{ReadTxn, StateVector, TransactionMut};

use crate::causal_past::Pasts;
use crate::item_list::ItemList;
use crate::item_order::ItemOrder;
use crate::update_check::Placed;

#[derive(Debug, Default)]
pub struct ListKeeper {
    list: ItemList,
    /// Every block's references, kept with the list.
    pasts: Pasts,
    /// The replica version the list holds; `None`: out of step.
    at: Option<u64>,
    /// How often the list was rendered afresh (tests read it).
    renders: u64,
}

impl ListKeeper {
    /// Whether the list holds the doc at replica version `version`.
    pub fn in_step(&self, version: u64) -> bool {
        self.at == Some(version)
    }

    /// The list as of the doc in `txn` (at `version`): rendered afresh when out of step.
    /// `opaque`: the doc holds content the render does not show with its id.
    pub fn fresh(
        &mut self,
        txn: &mut TransactionMut,
        version: u64,
        text: &str,
        opaque: bool,
    ) -> &mut ItemList {
        if !self.in_step(version) {
            (self.list, self.pasts) = render(txn, text, opaque);
            self.renders += 1;
            self.at = Some(version);
        }
        &mut self.list
    }

    /// The list and the blocks' references, for an update about to be applied on top of
    /// the state they hold.
    pub fn parts(&mut self) -> (&mut ItemList, &Pasts) {
        (&mut self.list, &self.pasts)
    }

    /// The replica took in `items` (as it trimmed them) and `garbage`.
    pub fn took(&mut self, items: &[Placed], garbage: &[(u64, u64, u64)]) {
        self.pasts.add_taken(items, garbage);
    }

    /// The changes since the last settle were made: the list now holds the doc at
    /// `version` (`None`: it could not follow them).
    pub fn settle(&mut self, version: Option<u64>) {
        self.list.keep();
        self.at = version;
    }

    /// The list must be rendered afresh before its next use (a refusal is confirmed on a
    /// fresh render).
    pub fn out_of_step(&mut self) {
        self.at = None;
    }

    /// The update was refused before integration: its items go again.
    pub fn refused(&mut self) {
        self.list.rollback();
    }

    /// `Err` when the list claims to be in step with the doc in `txn` but holds another
    /// order than a fresh render (runs compared joined, as splits differ).
    #[cfg(test)]
    pub fn agrees(
        &self,
        txn: &mut TransactionMut,
        version: u64,
        text: &str,
        opaque: bool,
    ) -> Result<(), String> {
        if !self.in_step(version) {
            return Ok(());
        }
        let joined = |runs: Vec<(u64, u64, u64)>| {
            let mut out: Vec<(u64, u64, u64)> = Vec::new();
            for (c, k, n) in runs {
                match out.last_mut() {
                    Some((lc, lk, ln)) if *lc == c && *lk + *ln == k => *ln += n,
                    _ => out.push((c, k, n)),
                }
            }
            out
        };
        let (list, pasts) = render(txn, text, opaque);
        let (kept, rendered) = (joined(self.list.runs()), joined(list.runs()));
        if kept != rendered {
            return Err(format!("kept {kept:?}, rendered {rendered:?}"));
        }
        for start in pasts.starts() {
            let (ours, theirs) = (self.pasts.past_of(start, &[]), pasts.past_of(start, &[]));
            if ours != theirs {
                return Err(format!(
                    "the past of {start:?}: kept {ours:?}, read {theirs:?}"
                ));
            }
        }
        Ok(())
    }

    /// How often the list was rendered from the doc.
    pub fn renders(&self) -> u64 {
        self.renders
    }
}

/// The item list of `text` in the doc of `txn` and every block's references (O(document)):
/// yrs's render, or, when the doc is `opaque`, the render of a scratch copy
/// ([`ItemOrder::rebuilt`]); each run with its origins, read from the encoded state.
pub fn render(txn: &mut TransactionMut, text: &str, opaque: bool) -> (ItemList, Pasts) {
    let bytes = txn.encode_state_as_update_v1(&StateVector::default());
    let shape = crate::update_check::check(&bytes).unwrap_or_default();
    let order = if opaque {
        ItemOrder::rebuilt(&bytes, &shape, text)
    } else {
        match txn.get_text(text) {
            Some(t) => ItemOrder::of(txn, &t),
            None => ItemOrder::default(),
        }
    };
    let mut blocks: HashMap<u64, Vec<&Placed>> = HashMap::new();
    for placed in &shape.items {
        blocks.entry(placed.item.0).or_default().push(placed);
    }
    let origins = |client: u64, clock: u64| {
        let blocks = blocks.get(&client)?;
        let at = blocks.partition_point(|p| p.item.1 + p.item.2 <= clock);
        let block = blocks.get(at).filter(|p| p.item.1 <= clock)?;
        let left = match block.item.1 == clock {
            true => block.left,
            false => Some((client, clock - 1)),
        };
        Some((left, block.right))
    };
    let list = ItemList::of_runs(order.runs().map(|(client, start, len)| {
        let (clock, len) = (u64::from(start), u64::from(len));
        let (left, right) = origins(client, clock).unwrap_or_default();
        ((client, clock, len), left, right)
    }));
    (list, Pasts::of(&shape))
}
