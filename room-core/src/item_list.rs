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
    /// The origins of the run's first unit (the others have the unit before as left).
    origin: Option<Id>,
    right_origin: Option<Id>,
    prev: Option<u32>,
    next: Option<u32>,
}

/// A run and its first unit's origins: `((client, clock, len), left, right)`.
pub type Run = ((u64, u64, u64), Option<Id>, Option<Id>);

/// A change to take back on [`ItemList::rollback`].
#[derive(Debug, Clone, Copy)]
enum Change {
    Inserted(u32),
    /// A run of the same author continuing `node` was added to it (`by` units).
    Extended {
        node: u32,
        by: u32,
    },
    /// `rest` was cut off the end of `of`.
    Split {
        of: u32,
        rest: u32,
    },
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
    /// How many runs the list holds (its size, for the cost of rendering it).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the list holds nothing.
    pub fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// A list holding `runs` in this order.
    pub fn of_runs(runs: impl IntoIterator<Item = Run>) -> ItemList {
        let mut list = ItemList::default();
        let mut last = None;
        for run in runs {
            if let Some(node) = list.link(run, last) {
                last = Some(node);
            }
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

    /// Puts `run` right after the unit `left` (`None`: first). False (nothing changed)
    /// when `left` is not in the list.
    pub fn insert_after(&mut self, left: Option<Id>, run: Run) -> bool {
        let unit = match left {
            None => None,
            Some(id) => match self.locate(id) {
                Some(unit) => Some(unit),
                None => return false,
            },
        };
        self.put_after(unit, run);
        true
    }

    /// Places `run` as YATA (yrs's `Item::integrate`) does when other runs lie between its
    /// origins: scanning them, it passes runs that share its left origin and come from a
    /// lower client id, and runs whose left origin it passed; it stops at the first other
    /// one. O(runs between the origins). False (nothing changed) when an origin is not in
    /// the list or the right one does not come after the left one.
    pub fn integrate(&mut self, run: Run) -> bool {
        let ((client, _, _), origin, right_origin) = run;
        let locate = |id: Option<Id>| match id {
            None => Some(None),
            Some(id) => self.locate(id).map(Some),
        };
        let (Some(l), Some(r)) = (locate(origin), locate(right_origin)) else {
            return false;
        };
        // Scanned runs by node: (first offset, end offset, order of the scan).
        let mut scanned: HashMap<u32, (u32, u32, usize)> = HashMap::new();
        let (mut left, mut left_seq) = (l, None::<usize>);
        let mut at = self.next(l);
        for seq in 0.. {
            if at == r {
                break;
            }
            let Some(u) = at else {
                return false;
            };
            let node = self.nodes[u.node as usize];
            let end = match r {
                Some(r) if r.node == u.node && r.off > u.off => r.off,
                _ => node.len,
            };
            scanned.insert(u.node, (u.off, end, seq));
            let last = Some(Unit {
                node: u.node,
                off: end - 1,
            });
            let its_origin = match u.off {
                0 => node.origin,
                off => Some((node.client, u64::from(node.start + off - 1))),
            };
            if its_origin == origin {
                if node.client < client {
                    (left, left_seq) = (last, Some(seq));
                } else if right_origin == node.right_origin {
                    break;
                }
            } else {
                let seen = its_origin.and_then(|id| self.locate(id)).and_then(|o| {
                    let (from, to, seq) = scanned.get(&o.node)?;
                    (*from <= o.off && o.off < *to).then_some(*seq)
                });
                match seen {
                    // Its origin lies before the conflicting runs: it goes first.
                    Some(s) if left_seq.is_some_and(|ls| s <= ls) => {
                        (left, left_seq) = (last, Some(seq))
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            at = self.next(last);
        }
        self.put_after(left, run);
        true
    }

    /// Forgets the changes journaled since the last [`ItemList::keep`].
    pub fn rollback(&mut self) {
        while let Some(change) = self.journal.pop() {
            match change {
                Change::Inserted(node) => self.unlink(node),
                Change::Extended { node, by } => self.nodes[node as usize].len -= by,
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

    /// Puts `run` after `unit` (`None`: first), splitting its run there; a run that
    /// continues the one it follows (the next keystroke: same author, next clock, left
    /// origin its last unit, same right origin) is added to it, as yrs squashes them.
    fn put_after(&mut self, unit: Option<Unit>, run: Run) {
        let ((client, clock, len), origin, right_origin) = run;
        if let Some(unit) = unit {
            let node = self.nodes[unit.node as usize];
            let last = u64::from(node.start + unit.off);
            let continues = unit.off + 1 == node.len
                && node.client == client
                && last + 1 == clock
                && origin == Some((client, last))
                && node.right_origin == right_origin;
            let by = u32::try_from(len)
                .ok()
                .filter(|by| node.len.checked_add(*by).is_some());
            if let (true, Some(by)) = (continues, by) {
                self.nodes[unit.node as usize].len += by;
                self.journal.push(Change::Extended {
                    node: unit.node,
                    by,
                });
                return;
            }
            self.split_after(unit);
        }
        self.link(run, unit.map(|u| u.node));
    }

    fn split_after(&mut self, unit: Unit) {
        let node = self.nodes[unit.node as usize];
        let cut = unit.off + 1;
        if cut >= node.len {
            return;
        }
        self.nodes[unit.node as usize].len = cut;
        let rest = (
            (
                node.client,
                u64::from(node.start + cut),
                u64::from(node.len - cut),
            ),
            Some((node.client, u64::from(node.start + unit.off))),
            node.right_origin,
        );
        if let Some(rest) = self.link(rest, Some(unit.node)) {
            self.journal.pop();
            self.journal.push(Change::Split {
                of: unit.node,
                rest,
            });
        }
    }

    /// Adds a node for `run` after `prev` (`None`: first), indexes and journals it; `None`
    /// for an empty run or one whose clocks do not fit u32.
    fn link(
        &mut self,
        ((client, clock, len), origin, right_origin): Run,
        prev: Option<u32>,
    ) -> Option<u32> {
        let (Ok(start), Ok(len)) = (u32::try_from(clock), u32::try_from(len)) else {
            return None;
        };
        if len == 0 || start.checked_add(len).is_none() {
            return None;
        }
        let next = match prev {
            None => self.head,
            Some(p) => self.nodes[p as usize].next,
        };
        let at = self.nodes.len() as u32;
        self.nodes.push(Node {
            client,
            start,
            len,
            origin,
            right_origin,
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
        Some(at)
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

    fn run(client: u64, clock: u64, len: u64) -> Run {
        ((client, clock, len), None, None)
    }

    #[test]
    fn inserts_split_runs_and_a_rollback_restores_the_order() {
        // 1#0..3 then 2#0..2: "abc" "XY".
        let mut list = ItemList::of_runs([run(1, 0, 3), run(2, 0, 2)]);
        assert_eq!(list.runs(), vec![(1, 0, 3), (2, 0, 2)]);
        let b = list.locate((1, 1));
        assert_eq!(list.next(b), list.locate((1, 2)));
        assert!(list.insert_after(Some((1, 1)), run(3, 0, 1)));
        assert!(list.insert_after(Some((3, 0)), run(3, 1, 2)));
        assert!(list.insert_after(Some((3, 1)), run(4, 0, 1)));
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
        assert_eq!(
            list.between(y, x),
            None,
            "the right one is before the left one"
        );
        assert_eq!(list.between(list.locate((2, 0)), y), Some(vec![]));
        list.rollback();
        assert_eq!(list.runs(), vec![(1, 0, 3), (2, 0, 2)]);
        assert_eq!(list.locate((3, 0)), None);
        assert!(!list.insert_after(Some((9, 9)), run(5, 0, 1)));
    }

    #[test]
    fn concurrent_items_at_one_place_go_in_client_order_like_yrs() {
        // "ab" by 1; 3, then 2, insert between a and b, neither knowing the other.
        let mut list = ItemList::of_runs([run(1, 0, 2)]);
        let between = |client| ((client, 0, 1), Some((1, 0)), Some((1, 1)));
        assert!(list.insert_after(Some((1, 0)), between(3)));
        assert!(list.integrate(between(2)));
        assert_eq!(
            list.runs(),
            vec![(1, 0, 1), (2, 0, 1), (3, 0, 1), (1, 1, 1)]
        );
        // 4 typed after 3's item, knowing it: it stays right after it.
        assert!(list.integrate(((4, 0, 1), Some((3, 0)), Some((1, 1)))));
        assert_eq!(
            list.runs(),
            vec![(1, 0, 1), (2, 0, 1), (3, 0, 1), (4, 0, 1), (1, 1, 1)]
        );
        assert!(
            !list.integrate(((5, 0, 1), Some((1, 1)), Some((1, 0)))),
            "crossed"
        );
    }
}
