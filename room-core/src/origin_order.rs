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
//! Deciding it needs the item order (O(document), [`ItemOrder`]) and, when something lies
//! between the origins, every block's references (O(document)). Ordinary typing skips both
//! ([`Authors::continues`]): an item whose origins are consecutive in its author's previous
//! item's placement (its left origin, its units, its right origin) meets the rule whenever
//! that previous item did, because everything that landed near it since came later and so
//! lies outside the author's past (see the proof in the README).

use std::collections::HashMap;

use crate::causal_past::Pasts;
use crate::item_order::{ItemOrder, Rank};
use crate::update_check::{Parent, Placed};

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
    Adjacent(Option<Rank>),
    /// Concurrent text lay between them: somewhere among it.
    Among,
    /// Not in the text (another type, or garbage).
    Outside,
}

/// The document as the exact check reads it: the text's item order and every block's
/// references (read only when something lies between an item's origins).
pub struct Scene<'a> {
    pub order: ItemOrder,
    pasts: Option<Pasts>,
    read_pasts: Box<dyn FnMut() -> Pasts + 'a>,
}

impl<'a> Scene<'a> {
    pub fn new(order: ItemOrder, read_pasts: impl FnMut() -> Pasts + 'a) -> Scene<'a> {
        Scene {
            order,
            pasts: None,
            read_pasts: Box::new(read_pasts),
        }
    }

    fn pasts(&mut self) -> &Pasts {
        self.pasts.get_or_insert_with(&mut self.read_pasts)
    }
}

/// Checks one item against the rule on `scene` (the text named `text`). `Err` says why
/// it breaks it.
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
    let mut ranks = [None, None];
    for (at, origin) in [left, right].into_iter().enumerate() {
        let Some(origin) = origin else { continue };
        match scene.order.rank(origin) {
            Some(rank) => ranks[at] = Some(rank),
            // yrs turns an item next to garbage into garbage.
            None if scene.pasts().is_garbage(origin) => return Ok(Fit::Outside),
            None => {}
        }
    }
    let ranked = |at: usize| [left, right][at].is_none() || ranks[at].is_some();
    match (ranked(0), ranked(1)) {
        (true, true) => {}
        (false, false) => return Ok(Fit::Outside),
        _ => {
            return Err(format!(
                "the origins of {} are in different types",
                named(placed)
            ));
        }
    }
    if let (Some(l), Some(r)) = (ranks[0], ranks[1])
        && r <= l
    {
        return Err(format!(
            "the right origin of {} ({}) lies before its left origin ({})",
            named(placed),
            id(right),
            id(left)
        ));
    }
    let between: Vec<_> = scene.order.between(ranks[0], ranks[1]).collect();
    if between.is_empty() {
        return Ok(Fit::Adjacent(ranks[0]));
    }
    let known = scene
        .pasts()
        .past_of((client, clock), &[left, right, parent]);
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

/// Checks every item of an update before integration. Returns the items only the
/// integrated document can check (their origins' order depends on where an earlier item of
/// the same update landed among concurrent text); `scene` is read only if some item does
/// not simply continue its author's typing.
pub fn before<'s>(
    authors: &Authors,
    scene: impl FnOnce() -> Scene<'s>,
    text: &str,
    items: &[Placed],
) -> Result<Vec<Placed>, String> {
    let mut pending: HashMap<u64, &Placed> = HashMap::new();
    let mut scene = Some(scene);
    let mut read: Option<Scene> = None;
    let mut order_known = true;
    let mut deferred = Vec::new();
    for placed in items {
        if authors.continues(&pending, placed) {
            // Where it lands among concurrent text is not known here.
            order_known = false;
        } else if !order_known {
            deferred.push(placed.clone());
        } else {
            if read.is_none() {
                read = scene.take().map(|make| make());
            }
            let Some(scene) = read.as_mut() else {
                deferred.push(placed.clone());
                continue;
            };
            match exact(scene, text, placed)? {
                Fit::Adjacent(left) => scene.order.insert_after(left, placed.item),
                Fit::Among => order_known = false,
                Fit::Outside => {}
            }
        }
        pending.insert(placed.item.0, placed);
    }
    Ok(deferred)
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
mod tests;

#[cfg(test)]
#[path = "origin_order_property_tests.rs"]
mod property_tests;
