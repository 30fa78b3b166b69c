//! Refuses an item whose right origin lies before its left origin in the document.
//!
//! In Yjs an item's left origin is its left neighbour when it was typed and its right origin
//! its right neighbour, so the left one always comes first and the item lands between them.
//! No Yjs client writes an item the other way round (`fuzz/findings/crossed-origins/`), but
//! yrs integrates one anyway, and the document it then encodes rebuilds another order: the
//! live editors show `xEVILyz!`, a late joiner `xyzEVIL!`, for good.
//!
//! yrs's public API has no way to walk from an id to its neighbours; the one way to place an
//! id is a [`StickyIndex`], which counts the visible text left of it (O(blocks) to its left).
//! Two such counts order two origins exactly unless both are invisible (deleted, or not
//! text) with no visible text between them. So, per item with both origins:
//! - [`Facts`] first: an item accepted between `L` and `R` stands before `R` and after `L` for
//!   good, so the next keystroke (left origin: the last one, right origin: the same `R`) needs
//!   no count at all. That is every keystroke of ordinary typing but the first at a place.
//! - Else, with both origins in the replica, the counts decide before integration: crossed
//!   is refused ([`Verdict::Crossed`]), ordered is accepted and remembered.
//! - What they cannot decide (both origins invisible and adjacent, or an origin inside the
//!   same update that no fact places) is checked right after integration ([`after`]): the
//!   item's own visible text must lie between its origins. A failure there means the replica
//!   took the item and must be rebuilt; the sender is closed all the same.

use std::collections::VecDeque;

use yrs::{Assoc, ClientID, ID, ReadTxn, StateVector, StickyIndex};

use crate::item_order::ItemOrder;

/// An item with both origins, as an update carries it: `(client, clock, length)` and the
/// `(client, clock)` of its left and right origins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Between {
    pub item: (u64, u64, u64),
    pub left: (u64, u64),
    pub right: (u64, u64),
}

/// What the check says of one item before integration.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The origins stand in order: yrs places the item between them.
    Ordered,
    /// The right origin stands before the left one, or they cannot be ordered at all.
    Crossed(String),
    /// Only the integrated item can tell: check it with [`after`].
    Unsure,
}

/// How many accepted items [`Facts`] remembers (a few screens of typing at several places).
const REMEMBERED: usize = 256;

/// Items known to lie between their origins, newest last.
#[derive(Debug, Default)]
pub struct Facts {
    known: VecDeque<Between>,
}

impl Facts {
    /// Whether the remembered items, or `pending` (accepted in this update), put `left` before
    /// `right`: `left` inside an item whose right origin is `right`, or `right` inside one
    /// whose left origin is `left`.
    fn orders(&self, pending: &[Between], left: (u64, u64), right: (u64, u64)) -> bool {
        let inside = |id: (u64, u64), item: (u64, u64, u64)| {
            id.0 == item.0 && item.1 <= id.1 && id.1 < item.1 + item.2
        };
        let says = |b: &Between| {
            (b.right == right && inside(left, b.item)) || (b.left == left && inside(right, b.item))
        };
        pending.iter().rev().any(says) || self.known.iter().rev().any(says)
    }

    /// Remembers items now integrated between their origins.
    pub fn remember(&mut self, items: impl IntoIterator<Item = Between>) {
        for between in items {
            if self.known.len() == REMEMBERED {
                self.known.pop_front();
            }
            self.known.push_back(between);
        }
    }
}

/// What [`before`] found in an update that may be applied.
#[derive(Debug, Default)]
pub struct Plan {
    /// Items whose origins stand in order: remember them once the update is in.
    pub ordered: Vec<Between>,
    /// Items to check with [`after`] once integrated.
    pub unsure: Vec<Between>,
}

/// Checks every item of an update before integration; `Err` names the first crossed one.
pub fn before<T: ReadTxn>(txn: &T, facts: &Facts, items: &[Between]) -> Result<Plan, String> {
    let mut plan = Plan::default();
    if items.is_empty() {
        return Ok(plan);
    }
    let sv = txn.state_vector();
    for between in items {
        match verdict(txn, &sv, facts, &plan.ordered, between) {
            Verdict::Ordered => plan.ordered.push(*between),
            Verdict::Crossed(why) => return Err(why),
            Verdict::Unsure => plan.unsure.push(*between),
        }
    }
    Ok(plan)
}

/// Orders one item's origins in the document before integration; `pending`: items of the
/// same update already found in order.
pub fn verdict<T: ReadTxn>(
    txn: &T,
    sv: &StateVector,
    facts: &Facts,
    pending: &[Between],
    b: &Between,
) -> Verdict {
    let (l, r) = (b.left, b.right);
    if l == r {
        return Verdict::Crossed(format!("{}#{} is both origins of {}", l.0, l.1, named(b)));
    }
    if facts.orders(pending, l, r) {
        return Verdict::Ordered;
    }
    let held = |(client, clock): (u64, u64)| clock < u64::from(sv.get(&ClientID::new(client)));
    if !held(l) || !held(r) {
        // An origin inside this update: placed only once integrated.
        return Verdict::Unsure;
    }
    let (Some(l_end), Some(r_start)) =
        (offset(txn, l, Assoc::Before), offset(txn, r, Assoc::After))
    else {
        // An origin yrs no longer has content for (garbage-collected by its author): yrs
        // integrates the item as garbage too.
        return Verdict::Ordered;
    };
    if l_end.branch != r_start.branch {
        return Verdict::Crossed(format!(
            "the origins of {} are in different types",
            named(b)
        ));
    }
    if l_end.index > r_start.index {
        return Verdict::Crossed(format!(
            "the right origin of {} ({}#{}) lies before its left origin ({}#{})",
            named(b),
            r.0,
            r.1,
            l.0,
            l.1
        ));
    }
    if l_end.index < r_start.index || visible(txn, l) || visible(txn, r) {
        // Visible text between them, or a visible origin next to the other: in order.
        return Verdict::Ordered;
    }
    Verdict::Unsure
}

/// Checks an item the counts could not order, now integrated: its visible text must lie
/// between its origins. An item with no visible text left cannot show a wrong order.
pub fn after<T: ReadTxn>(txn: &T, b: &Between) -> Result<(), String> {
    let (client, clock, len) = b.item;
    if len == 0 || !visible(txn, (client, clock)) {
        return Ok(());
    }
    let first = offset(txn, (client, clock), Assoc::After);
    let last = offset(txn, (client, clock + len - 1), Assoc::Before);
    let l_end = offset(txn, b.left, Assoc::Before);
    let r_start = offset(txn, b.right, Assoc::After);
    let (Some(first), Some(last), Some(l_end), Some(r_start)) = (first, last, l_end, r_start)
    else {
        return Ok(());
    };
    let same = first.branch == l_end.branch && first.branch == r_start.branch;
    if same && l_end.index <= first.index && last.index <= r_start.index {
        return Ok(());
    }
    Err(format!("{} does not lie between its origins", named(b)))
}

/// Decides with the exact item order ([`ItemOrder`], O(document)) what the counts left
/// unsure before integration: both origins rendered and crossed is refused, in order is
/// accepted; the rest stays for the checks after integration.
pub fn settle(order: &ItemOrder, plan: Plan) -> Result<Plan, String> {
    let mut settled = Plan {
        ordered: plan.ordered,
        unsure: Vec::new(),
    };
    for b in plan.unsure {
        match (order.rank(b.left), order.rank(b.right)) {
            (Some(l), Some(r)) if r <= l => {
                return Err(format!(
                    "the right origin of {} ({}#{}) lies before its left origin ({}#{})",
                    named(&b),
                    b.right.0,
                    b.right.1,
                    b.left.0,
                    b.left.1
                ));
            }
            (Some(_), Some(_)) => settled.ordered.push(b),
            _ => settled.unsure.push(b),
        }
    }
    Ok(settled)
}

/// Checks an integrated item against the exact item order: it must stand after its left
/// origin and before its right one wherever the three are rendered.
pub fn after_exact(order: &ItemOrder, b: &Between) -> Result<(), String> {
    let (client, clock, len) = b.item;
    if len == 0 {
        return Ok(());
    }
    let first = order.rank((client, clock));
    let last = order.rank((client, clock + len - 1));
    let wrong = match (order.rank(b.left), first) {
        (Some(l), Some(first)) => first <= l,
        _ => false,
    } || match (last, order.rank(b.right)) {
        (Some(last), Some(r)) => r <= last,
        _ => false,
    };
    if wrong {
        return Err(format!("{} does not lie between its origins", named(b)));
    }
    Ok(())
}

/// Where `id` stands among the visible text of its type: before it (`After`) or after it
/// (`Before`); `None` when yrs has no item there.
fn offset<T: ReadTxn>(txn: &T, (client, clock): (u64, u64), assoc: Assoc) -> Option<yrs::Offset> {
    let clock = u32::try_from(clock).ok()?;
    StickyIndex::from_id(ID::new(ClientID::new(client), clock), assoc).get_offset(txn)
}

/// Whether the unit at `id` is visible text (the two sides of it differ by one).
fn visible<T: ReadTxn>(txn: &T, id: (u64, u64)) -> bool {
    match (
        offset(txn, id, Assoc::After),
        offset(txn, id, Assoc::Before),
    ) {
        (Some(a), Some(b)) => b.index > a.index,
        _ => false,
    }
}

fn named(b: &Between) -> String {
    format!("the item {}#{}", b.item.0, b.item.1)
}

#[cfg(test)]
#[path = "origin_order_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "origin_order_property_tests.rs"]
mod property_tests;
