//! The room's text as a linked list of item runs in document order, with an index by id.
//!
//! [`crate::origin_order`] asks one question of every item a client sends: what lies between
//! its two origins in the room's list? yrs keeps that list (`Item::left`/`right`) but does not
//! let us walk it from an id, and rendering it ([`crate::item_order::ItemOrder`]) is
//! O(document): 30 us on a 48,000-character file, 2.4 ms per keystroke in a 3,000-character
//! file with removed text (the scratch copy). This list holds the same order, is built from
//! that render once and then follows every update the room applies (an item whose origins are
//! neighbours lands right after its left origin), so the question costs two index look-ups
//! for an honest keystroke, and a walk over what lies between otherwise.
//!
//! Runs are `(client, first clock, length)` in clock units; deleted items stay (tombstones),
//! as in yrs. Changes made within one update can be taken back ([`ItemList::rollback`]) when
//! the update is refused.

use std::collections::{BTreeMap, HashMap};

/// An item id, `(client, clock)`.
pub type Id = (u64, u64);

/// One unit of the list: a node and the offset in its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    node: u32,
    off: u32,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    client: u64,
    start: u32,
    len: u32,
    prev: Option<u32>,
    next: Option<u32>,
}

/// A change to take back on [`ItemList::rollback`].
#[derive(Debug, Clone, Copy)]
enum Change {
    Inserted(u32),
    /// `rest` was cut off the end of `of`.
    Split { of: u32, rest: u32 },
}

#[derive(Debug, Default)]
pub struct ItemList {
    nodes: Vec<Node>,
    head: Option<u32>,
    /// client -> first clock of a run -> its node.
    index: HashMap<u64, BTreeMap<u32, u32>>,
    journal: Vec<Change>,
}

impl ItemList {
    /// A list holding `runs` in this order.
    pub fn of_runs(runs: impl IntoIterator<Item = (u64, u32, u32)>) -> ItemList {
        let mut list = ItemList::default();
        let mut last = None;
        for (client, start, len) in runs {
            if len == 0 {
                continue;
            }
            last = Some(list.link(client, start, len, last));
        }
        list.journal.clear();
        list
    }

    /// The unit `id` is, if it is an item of the list.
    pub fn locate(&self, (client, clock): Id) -> Option<Unit> {
        let clock = u32::try_from(clock).ok()?;
        let (start, node) = self.index.get(&client)?.range(..=clock).next_back()?;
        (clock - start < self.nodes[*node as usize].len).then_some(Unit {
            node: *node,
            off: clock - start,
        })
    }

    /// The unit right after `unit` (`None`: the first one); `None` at the end.
    pub fn next(&self, unit: Option<Unit>) -> Option<Unit> {
        let first = |node: u32| Unit { node, off: 0 };
        match unit {
            None => self.head.map(first),
            Some(u) if u.off + 1 < self.nodes[u.node as usize].len => Some(Unit {
                node: u.node,
                off: u.off + 1,
            }),
            Some(u) => self.nodes[u.node as usize].next.map(first),
        }
    }

    /// The runs strictly between `left` and `right` (`None`: the start, the end), or `None`
    /// when `right` does not come after `left`. O(runs walked).
    pub fn between(&self, left: Option<Unit>, right: Option<Unit>) -> Option<Vec<(u64, u64, u64)>> {
        let mut out = Vec::new();
        let mut at = self.next(left);
        loop {
            if at == right {
                return Some(out);
            }
            let u = at?;
            let node = self.nodes[u.node as usize];
            let end = match right {
                Some(r) if r.node == u.node && r.off > u.off => r.off,
                _ => node.len,
            };
            out.push((
                node.client,
                u64::from(node.start + u.off),
                u64::from(end - u.off),
            ));
            at = if end < node.len {
                Some(Unit {
                    node: u.node,
                    off: end,
                })
            } else {
                node.next.map(|node| Unit { node, off: 0 })
            };
        }
    }

    /// Puts the run `(client, clock, len)` right after the unit `left` (`None`: first).
    /// False (nothing changed) when `left` is not in the list or the run does not fit u32.
    pub fn insert_after(&mut self, left: Option<Id>, (client, clock, len): (u64, u64, u64)) -> bool {
        let (Ok(start), Ok(len)) = (u32::try_from(clock), u32::try_from(len)) else {
            return false;
        };
        let prev = match left {
            None => None,
            Some(id) => {
                let Some(unit) = self.locate(id) else {
                    return false;
                };
                self.split_after(unit);
                Some(unit.node)
            }
        };
        if len > 0 {
            self.link(client, start, len, prev);
        }
        true
    }

    /// Forgets the changes journaled since the last [`ItemList::keep`].
    pub fn rollback(&mut self) {
        while let Some(change) = self.journal.pop() {
            match change {
                Change::Inserted(node) => self.unlink(node),
                Change::Split { of, rest } => {
                    self.unlink(rest);
                    self.nodes[of as usize].len += self.nodes[rest as usize].len;
                }
            }
        }
    }

    /// Keeps the changes made so far (they can no longer be rolled back).
    pub fn keep(&mut self) {
        self.journal.clear();
    }

    /// Every run in order (for tests that compare with yrs's own order).
    #[cfg(test)]
    pub fn runs(&self) -> Vec<(u64, u64, u64)> {
        self.between(None, None).unwrap_or_default()
    }

    fn split_after(&mut self, unit: Unit) {
        let node = self.nodes[unit.node as usize];
        let cut = unit.off + 1;
        if cut >= node.len {
            return;
        }
        self.nodes[unit.node as usize].len = cut;
        let rest = self.link(node.client, node.start + cut, node.len - cut, Some(unit.node));
        self.journal.pop();
        self.journal.push(Change::Split {
            of: unit.node,
            rest,
        });
    }

    /// Adds a node after `prev` (`None`: first), indexes and journals it.
    fn link(&mut self, client: u64, start: u32, len: u32, prev: Option<u32>) -> u32 {
        let next = match prev {
            None => self.head,
            Some(p) => self.nodes[p as usize].next,
        };
        let at = self.nodes.len() as u32;
        self.nodes.push(Node {
            client,
            start,
            len,
            prev,
            next,
        });
        match prev {
            None => self.head = Some(at),
            Some(p) => self.nodes[p as usize].next = Some(at),
        }
        if let Some(n) = next {
            self.nodes[n as usize].prev = Some(at);
        }
        self.index.entry(client).or_default().insert(start, at);
        self.journal.push(Change::Inserted(at));
        at
    }

    fn unlink(&mut self, at: u32) {
        let node = self.nodes[at as usize];
        match node.prev {
            None => self.head = node.next,
            Some(p) => self.nodes[p as usize].next = node.next,
        }
        if let Some(n) = node.next {
            self.nodes[n as usize].prev = node.prev;
        }
        if let Some(runs) = self.index.get_mut(&node.client) {
            runs.remove(&node.start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_split_runs_and_a_rollback_restores_the_order() {
        // 1#0..3 then 2#0..2: "abc" "XY".
        let mut list = ItemList::of_runs([(1, 0, 3), (2, 0, 2)]);
        assert_eq!(list.runs(), vec![(1, 0, 3), (2, 0, 2)]);
        let b = list.locate((1, 1));
        assert_eq!(list.next(b), list.locate((1, 2)));
        assert!(list.insert_after(Some((1, 1)), (3, 0, 1)));
        assert!(list.insert_after(Some((3, 0)), (3, 1, 2)));
        assert!(list.insert_after(Some((3, 1)), (4, 0, 1)));
        assert_eq!(
            list.runs(),
            vec![
                (1, 0, 2),
                (3, 0, 1),
                (3, 1, 1),
                (4, 0, 1),
                (3, 2, 1),
                (1, 2, 1),
                (2, 0, 2)
            ]
        );
        let (x, y) = (list.locate((1, 0)), list.locate((2, 1)));
        assert_eq!(
            list.between(x, list.locate((1, 2))),
            Some(vec![(1, 1, 1), (3, 0, 1), (3, 1, 1), (4, 0, 1), (3, 2, 1)])
        );
        assert_eq!(list.between(y, x), None, "the right one is before the left one");
        assert_eq!(list.between(list.locate((2, 0)), y), Some(vec![]));
        list.rollback();
        assert_eq!(list.runs(), vec![(1, 0, 3), (2, 0, 2)]);
        assert_eq!(list.locate((3, 0)), None);
        assert!(!list.insert_after(Some((9, 9)), (5, 0, 1)));
    }
}
