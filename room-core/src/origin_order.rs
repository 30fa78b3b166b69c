//! Refuses an item whose origins its author could not have seen side by side.
//!
//! In Yjs an item's left origin is its left neighbour when it was typed and its right origin
//! its right neighbour (tombstones count), so for an honest author nothing lay between the
//! two. Whatever lies between them in the room's list must therefore be text the author did
//! not have (concurrent text). YATA's convergence rests on that; yrs integrates items that
//! break it, and where such an item lands then depends on the order of integration, which
//! the encoded state does not keep: the live editors and a late joiner see two texts for
//! good (`fuzz/findings/crossed-origins/`). Two shapes break it: origins the other way
//! round (right before left, or in different types: "crossed"), and origins in order with
//! text between them that the author knew ("skips").
//!
//! What the author knew at least is its item's causal past ([`crate::causal_past`]): its
//! own earlier items, its origins and, transitively, what those refer to. The rule: no unit
//! of that past lies strictly between the origins. It is exact: an item that meets it could
//! have been written by an author holding just that past, so honest authors always meet it
//! and any item that meets it integrates the same in every order.
//!
//! Deciding it reads the room's item list ([`ItemList`], kept in step with the doc by
//! [`crate::list_keeper`]). An item whose origins are neighbours there meets the rule
//! trivially ([`Placing::quick`]: two index look-ups); that is every honest keystroke
//! unless someone typed at the same place concurrently. An item whose origins are
//! consecutive in its author's previous item's placement (its left origin, its units, its
//! right origin: [`Authors::continues`]) meets it whenever that previous item did, because
//! everything that landed near it since came later and so lies outside the author's past
//! (see the proof in the README). Any other item is a slow check: a walk over what lies
//! between its origins and, when something does, every block's references (O(document));
//! each connection may use only so many ([`crate::slow_checks`]). Every accepted item is
//! then placed on the list as yrs places it: after its left origin, or among concurrent
//! text as YATA does ([`ItemList::integrate`]).

use std::collections::HashMap;

use yrs::{ClientID, StateVector};

use crate::causal_past::{Known, PastWalk, Pasts};
use crate::item_list::{Id, ItemList};
use crate::update_check::{Parent, Placed, Shape};

/// Each author's last item the room took in, for [`Authors::continues`].
#[derive(Debug, Default)]
pub struct Authors {
    last: HashMap<u64, Placed>,
}

impl Authors {
    /// Notes the items of an update the replica took in.
    pub fn remember<'a>(&mut self, items: impl IntoIterator<Item = &'a Placed>) {
        for placed in items {
            let (client, clock, _) = placed.item;
            match self.last.get(&client) {
                Some(known) if known.item.1 > clock => {}
                _ => {
                    self.last.insert(client, placed.clone());
                }
            }
        }
    }

    /// Whether `placed` follows its author's previous item (`pending`: the update's own
    /// items before it, else the last one remembered) with origins next to each other
    /// there: then it meets the rule without looking at the document.
    pub fn continues(&self, pending: &HashMap<u64, &Placed>, placed: &Placed) -> bool {
        let (client, clock, _) = placed.item;
        let Some(prev) = pending
            .get(&client)
            .copied()
            .or_else(|| self.last.get(&client))
        else {
            return false;
        };
        let (_, start, len) = prev.item;
        if start + len != clock || prev.keyed || placed.keyed {
            return false;
        }
        // Places along the previous item: its left origin 0, its units 1..=len, its right
        // origin len + 1. No origin stands for the start or the end of the list only
        // where the previous item had none either.
        let place = |id: Option<(u64, u64)>, own: Option<(u64, u64)>, edge: u64| match id {
            None => own.is_none().then_some(edge),
            Some((c, k)) if c == client && start <= k && k < start + len => Some(1 + k - start),
            Some(id) if Some(id) == own => Some(edge),
            Some(_) => None,
        };
        match (
            place(placed.left, prev.left, 0),
            place(placed.right, prev.right, len + 1),
        ) {
            (Some(l), Some(r)) => r == l + 1,
            _ => false,
        }
    }
}

/// Where an item that meets the rule lands, as far as the check can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Nothing lay between its origins: right after the left one (`None`: first).
    Adjacent(Option<Id>),
    /// Concurrent text lay between them: somewhere among it.
    Among,
    /// Not in the text (another type, or garbage).
    Outside,
}

/// The document as the exact check reads it: the text's item list and every block's
/// references (the doc's, and those of the update about to be applied, read from it only
/// when something lies between an item's origins).
pub struct Scene<'a> {
    pub list: &'a mut ItemList,
    kept: &'a Pasts,
    update: Option<&'a Shape>,
    extra: Option<Pasts>,
    /// The last causal past walked, kept for the same author's next item.
    walk: Option<PastWalk>,
    /// Work done by slow checks: runs walked between origins and blocks read for pasts.
    pub work: u64,
}

impl<'a> Scene<'a> {
    pub fn new(list: &'a mut ItemList, kept: &'a Pasts, update: Option<&'a Shape>) -> Self {
        Scene {
            list,
            kept,
            update,
            extra: None,
            walk: None,
            work: 0,
        }
    }

    /// Reads the update's blocks once, when a check first needs them.
    fn read_update(&mut self) {
        if let Some(update) = self.update
            && self.extra.is_none()
        {
            self.extra = Some(Pasts::of(update));
        }
    }

    fn is_garbage(&mut self, id: Id) -> bool {
        if self.kept.is_garbage(id) {
            return true;
        }
        self.read_update();
        self.extra
            .as_ref()
            .is_some_and(|extra| extra.is_garbage(id))
    }

    /// The causal past of `item`, walked on from the previous item's when that was an
    /// earlier item of the same author.
    fn past_of(&mut self, item: Id, refs: &[Option<Id>]) -> &Known {
        self.read_update();
        let mut walk = match self.walk.take() {
            Some(walk) if walk.extends_to(item) => walk,
            _ => PastWalk::default(),
        };
        let before = walk.visited;
        walk.extend(self.kept, self.extra.as_ref(), item, refs);
        self.work += walk.visited - before;
        self.walk.insert(walk).known()
    }
}

/// Checks one item against the rule on `scene` (the text named `text`). `Err` says why
/// it breaks it. O(runs between its origins), plus every block's references when some lie
/// there.
pub fn exact(scene: &mut Scene, text: &str, placed: &Placed) -> Result<Fit, String> {
    if placed.keyed {
        return Ok(Fit::Outside);
    }
    let (client, clock, _) = placed.item;
    let parent = match &placed.parent {
        Some(Parent::Item(id)) => Some(*id),
        _ => None,
    };
    let (left, right) = (placed.left, placed.right);
    if left.is_none() && right.is_none() {
        let in_text = matches!(&placed.parent, Some(Parent::Root(name)) if name == text);
        if !in_text {
            return Ok(Fit::Outside);
        }
    }
    if left.is_some() && left == right {
        return Err(format!("{} is both origins of {}", id(left), named(placed)));
    }
    let mut units = [None, None];
    for (at, origin) in [left, right].into_iter().enumerate() {
        let Some(origin) = origin else { continue };
        match scene.list.locate(origin) {
            Some(unit) => units[at] = Some(unit),
            // yrs turns an item next to garbage into garbage.
            None if scene.is_garbage(origin) => return Ok(Fit::Outside),
            None => {}
        }
    }
    let in_list = |at: usize| [left, right][at].is_none() || units[at].is_some();
    match (in_list(0), in_list(1)) {
        (true, true) => {}
        (false, false) => return Ok(Fit::Outside),
        _ => {
            return Err(format!(
                "the origins of {} are in different types",
                named(placed)
            ));
        }
    }
    let Some(between) = scene.list.between(units[0], units[1]) else {
        return Err(format!(
            "the right origin of {} ({}) lies before its left origin ({})",
            named(placed),
            id(right),
            id(left)
        ));
    };
    if between.is_empty() {
        return Ok(Fit::Adjacent(left));
    }
    scene.work += between.len() as u64;
    let known = scene.past_of((client, clock), &[left, right, parent]);
    if let Some((c, k, _)) = between.iter().find(|(c, k, _)| known.holds_any(*c, *k)) {
        return Err(format!(
            "{} skips {c}#{k}, which lies between its origins ({} and {}) and which its \
             author knew",
            named(placed),
            id(left),
            id(right)
        ));
    }
    Ok(Fit::Among)
}

/// What the cheap look at an item tells ([`quick`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quick {
    /// Its origins are neighbours in the list: it meets the rule and lands after the left.
    Adjacent(Option<Id>),
    /// It is not in the text.
    Outside,
    /// Only [`exact`] (or the integrated document) can tell.
    Slow,
}

/// Items of an update already found outside the text, and what the replica held before it.
pub struct Placing<'h> {
    held: &'h StateVector,
    outside: Vec<(u64, u64, u64)>,
}

impl<'h> Placing<'h> {
    pub fn new(held: &'h StateVector) -> Self {
        Placing {
            held,
            outside: Vec::new(),
        }
    }

    /// Whether `id` is an item the replica held before this update.
    fn held(&self, (client, clock): Id) -> bool {
        clock < u64::from(self.held.get(&ClientID::new(client)))
    }

    fn found_outside(&self, (client, clock): Id) -> bool {
        self.outside
            .iter()
            .any(|(c, k, n)| *c == client && *k <= clock && clock < k + n)
    }

    /// Where `placed` lands, when two index look-ups tell: origins that are neighbours in
    /// `list` (an honest keystroke), or origins that are all outside the text. `list` must
    /// hold the text the replica held before the update, plus the update's earlier items.
    pub fn quick(&self, list: &ItemList, text: &str, placed: &Placed) -> Quick {
        if placed.keyed {
            return Quick::Outside;
        }
        let (left, right) = (placed.left, placed.right);
        if left.is_none() && right.is_none() {
            return match &placed.parent {
                Some(Parent::Root(name)) if name == text => match list.next(None) {
                    None => Quick::Adjacent(None),
                    Some(_) => Quick::Slow,
                },
                _ => Quick::Outside,
            };
        }
        let units = [left, right].map(|o| o.map(|id| (id, list.locate(id))));
        let elsewhere = |o: &Option<(Id, Option<_>)>| match o {
            None => true,
            Some((id, unit)) => unit.is_none() && (self.held(*id) || self.found_outside(*id)),
        };
        if units.iter().all(elsewhere) {
            return Quick::Outside;
        }
        let left_unit = match units[0] {
            None => None,
            Some((_, None)) => return Quick::Slow,
            Some((_, unit)) => unit,
        };
        let right_unit = match units[1] {
            None => None,
            Some((_, None)) => return Quick::Slow,
            Some((_, unit)) => unit,
        };
        if list.next(left_unit) == right_unit {
            Quick::Adjacent(left)
        } else {
            Quick::Slow
        }
    }

    /// Whether an origin of `placed` is an item of this update not placed yet (a later
    /// block of another client): only the integrated document can place it.
    fn refers_ahead(&self, list: &ItemList, placed: &Placed) -> bool {
        [placed.left, placed.right]
            .into_iter()
            .flatten()
            .any(|id| !self.held(id) && list.locate(id).is_none() && !self.found_outside(id))
    }

    /// Notes where an item landed: after its left origin, or where YATA puts it among the
    /// concurrent text between its origins. False when the list cannot tell (an origin not
    /// in it, or the right one not after the left one).
    fn note(&mut self, list: &mut ItemList, placed: &Placed, fit: Fit) -> bool {
        let run = (placed.item, placed.left, placed.right);
        match fit {
            Fit::Adjacent(left) => list.insert_after(left, run),
            Fit::Among => list.integrate(run),
            Fit::Outside => {
                self.outside.push(placed.item);
                true
            }
        }
    }
}

/// Follows an update from the log (checked where it was accepted) on `list`; false when
/// some item lands where only the integrated document tells (then `list` is out of step).
pub fn follow(list: &mut ItemList, held: &StateVector, text: &str, items: &[Placed]) -> bool {
    let mut placing = Placing::new(held);
    items.iter().all(|placed| {
        let fit = match placing.quick(list, text, placed) {
            Quick::Adjacent(left) => Fit::Adjacent(left),
            Quick::Outside => Fit::Outside,
            Quick::Slow if placing.refers_ahead(list, placed) => return false,
            Quick::Slow => Fit::Among,
        };
        placing.note(list, placed, fit)
    })
}

/// Why an update is refused before integration.
#[derive(Debug)]
pub enum Refusal {
    /// An item breaks the rule.
    Breaks(String),
    /// Checking it took more work than allowed: the number of slow items checked so far.
    OverBudget(u32),
}

/// What checking an update before integration found.
#[derive(Debug, Default)]
pub struct Checked {
    /// Items only the integrated document can check (their origins' place depends on where
    /// an earlier item of the same update landed among concurrent text).
    pub deferred: Vec<Placed>,
    /// Whether the list now holds the text as the update leaves it.
    pub in_step: bool,
    /// Items that took the slow path (a walk between their origins, every block's
    /// references, or a check after integration).
    pub slow: u32,
    /// The work they took: runs walked, blocks read, and a render of the list for the
    /// checks after integration (each at least 1).
    pub work: u64,
}

/// Checks every item of an update before integration, placing them on `scene.list` (the
/// text as the replica at `held` holds it). An item whose origins are neighbours there, or
/// that continues its author's typing, costs a few index look-ups; any other is a slow
/// check, and once their work passes `allowance` the update is refused (the work done is
/// bounded by the allowance plus one item's). Pasts are walked on from one item to its
/// author's next, so an author's many scattered items (offline typing sent on reconnect)
/// cost about one walk over the document, not one each.
pub fn before(
    authors: &Authors,
    scene: &mut Scene,
    held: &StateVector,
    text: &str,
    items: &[Placed],
    allowance: u64,
) -> Result<Checked, Refusal> {
    let mut pending: HashMap<u64, &Placed> = HashMap::new();
    let mut placing = Placing::new(held);
    let mut checked = Checked {
        in_step: true,
        ..Checked::default()
    };
    for placed in items {
        let quick = if checked.in_step {
            placing.quick(scene.list, text, placed)
        } else {
            Quick::Slow
        };
        let fit = match quick {
            Quick::Adjacent(left) => Some(Fit::Adjacent(left)),
            Quick::Outside => Some(Fit::Outside),
            // It meets the rule; YATA places it among the concurrent text.
            Quick::Slow if authors.continues(&pending, placed) => Some(Fit::Among),
            Quick::Slow => {
                checked.slow += 1;
                let before = scene.work;
                let fit = if !checked.in_step || placing.refers_ahead(scene.list, placed) {
                    if checked.deferred.is_empty() {
                        // The list is rendered again after integration.
                        scene.work += scene.list.len() as u64;
                    }
                    checked.deferred.push(placed.clone());
                    None
                } else {
                    Some(exact(scene, text, placed).map_err(Refusal::Breaks)?)
                };
                scene.work = scene.work.max(before + 1);
                if scene.work > allowance {
                    return Err(Refusal::OverBudget(checked.slow));
                }
                fit
            }
        };
        checked.in_step &= fit.is_some_and(|fit| placing.note(scene.list, placed, fit));
        pending.insert(placed.item.0, placed);
    }
    checked.work = scene.work;
    Ok(checked)
}

fn id(id: Option<(u64, u64)>) -> String {
    match id {
        Some((client, clock)) => format!("{client}#{clock}"),
        None => "the edge of the text".into(),
    }
}

fn named(placed: &Placed) -> String {
    format!("the item {}#{}", placed.item.0, placed.item.1)
}

#[cfg(test)]
#[path = "origin_order_tests.rs"]
pub(crate) mod tests;

#[cfg(test)]
#[path = "origin_order_property_tests.rs"]
mod property_tests;

#[cfg(test)]
#[path = "origin_order_cost_tests.rs"]
mod cost_tests;

#[cfg(test)]
#[path = "origin_order_reconnect_tests.rs"]
mod reconnect_tests;
