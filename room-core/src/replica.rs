//! A room's copy of a file: a yrs doc and the rule for what an applied update means.
//!
//! Sans-IO: it takes bytes, returns bytes, and knows nothing of sockets or Redis, so its
//! behaviour is unit-tested directly.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::list_keeper::ListKeeper;
use crate::origin_order::{self, Authors, Checked, Refusal, Scene};
use crate::update_check::{Placed, Shape};
use thiserror::Error;
use yrs::updates::decoder::Decode;
use yrs::{
    Doc, GetString, IdSet, OffsetKind, Options, ReadTxn, StateVector, TextRef, Transact, Update,
};

#[derive(Debug, Error)]
pub enum ApplyError {
    #[error("update does not decode: {0}")]
    Decode(String),
    #[error("update does not apply: {0}")]
    Apply(String),
    #[error("applying the update panicked; the replica must be rebuilt")]
    Panicked,
    /// A client's update that builds on edits this replica lacks: nothing was applied.
    /// A y-websocket client sends such an update only while it resyncs, and its sync
    /// step 2, which follows, carries the update's content too.
    #[error("the update builds on edits the document lacks: {0}")]
    Early(String),
    /// An item whose origins its author could not have seen side by side (see
    /// [`crate::origin_order`]): refused before integration, nothing was applied.
    #[error("the update's origins cross or skip known text: {0}")]
    Crossed(String),
    /// The same, found only once integrated: the replica must be rebuilt.
    #[error("the update's origins cross or skip known text: {0}; the replica must be rebuilt")]
    Diverged(String),
    /// Checking the update's origins took more work (items that neither continue their
    /// author's typing nor sit between neighbours: O(document) each at worst) than the
    /// sender may still use: refused before integration, nothing was applied.
    #[error(
        "the update's slow origin checks ({0} items that neither continue their author's \
         typing nor sit between neighbours) need more work than this connection may use now"
    )]
    TooCostly(u32),
}

impl ApplyError {
    /// Whether the replica took in something it must not keep (rebuild it).
    pub fn needs_rebuild(&self) -> bool {
        matches!(self, ApplyError::Panicked | ApplyError::Diverged(_))
    }
}

/// A client's update as the replica applied it.
#[derive(Debug)]
pub struct Edit {
    /// What to relay to others (see [`Replica::apply`]).
    pub relay: Vec<u8>,
    /// The ids of the content the update inserted and of what it deleted: the
    /// author's undo item.
    pub insertions: IdSet,
    pub deletions: IdSet,
    /// How many of its items took the slow origin check ([`Checked::slow`]).
    pub slow_checks: u32,
    /// The work they took ([`Checked::work`]), charged to the sender's budget.
    pub check_work: u64,
}

/// How an update's items were placed on the room's item list before integration.
enum Placement {
    /// A client's update, checked ([`origin_order::before`]).
    Checked(Checked),
    /// An update from the log; `true`: the list followed it.
    Followed(bool),
}

/// Updates up to this size are relayed unchanged.
const RELAY_AS_IS_BYTES: usize = 16 << 10;

pub struct Replica {
    doc: Doc,
    text_name: String,
    /// Counts applied updates that may have changed the doc, so that an answer computed
    /// from it can tell whether it is still current.
    version: Cell<u64>,
    /// Each author's last item (spares the origin check while typing).
    authors: RefCell<Authors>,
    /// Whether the doc holds content a text render does not show with its id (then the
    /// item order comes from a scratch copy, see [`crate::item_order::ItemOrder::rebuilt`]).
    opaque: Cell<bool>,
    /// The text's item list, kept in step with the doc for the origin check.
    list: RefCell<ListKeeper>,
}

impl Replica {
    /// An empty replica: UTF-16 offsets like Monaco and Yjs, and GC off so server-side undo
    /// can restore deleted text.
    pub fn new(text_name: &str) -> Self {
        let doc = Doc::with_options(Options {
            offset_kind: OffsetKind::Utf16,
            skip_gc: true,
            ..Options::default()
        });
        Replica {
            doc,
            text_name: text_name.to_owned(),
            version: Cell::new(0),
            authors: RefCell::default(),
            opaque: Cell::new(false),
            list: RefCell::default(),
        }
    }

    /// Applies a client's v1 update, only when this replica holds everything it builds on
    /// (else [`ApplyError::Early`]; yrs would park it, and merging parked updates has
    /// crashed yrs). Returns what [`Replica::apply`] returns.
    pub fn apply_from_client(&self, update: &[u8]) -> Result<Option<Vec<u8>>, ApplyError> {
        Ok(self.apply_edit(update)?.map(|edit| edit.relay))
    }

    /// [`Replica::apply_from_client`], with what the update inserted and deleted; any
    /// number of slow origin checks (server-side undo, tests).
    pub fn apply_edit(&self, update: &[u8]) -> Result<Option<Edit>, ApplyError> {
        self.apply_edit_within(update, u64::MAX)
    }

    /// [`Replica::apply_edit`] with at most `allowance` work for slow origin checks (else
    /// [`ApplyError::TooCostly`] and nothing applied); the edit says what they took.
    pub fn apply_edit_within(
        &self,
        update: &[u8],
        allowance: u64,
    ) -> Result<Option<Edit>, ApplyError> {
        let shape =
            crate::update_check::check(update).map_err(|e| ApplyError::Decode(e.to_string()))?;
        let sv = self.state_vector();
        if let Some(missing) = shape.missing_from(&sv) {
            return Err(ApplyError::Early(missing));
        }
        let items = shape.items_beyond(&sv);
        let text = self.text_name.as_str();
        let mut keeper = self.list.borrow_mut();
        let mut rendered = false;
        let checked = loop {
            if !keeper.in_step(self.version.get()) {
                // A transaction (and its commit) only to render the list afresh.
                let mut txn = self.doc.transact_mut();
                keeper.fresh(&mut txn, self.version.get(), text, self.opaque.get());
                rendered = true;
            }
            let (list, pasts) = keeper.parts();
            let mut scene = Scene::new(list, pasts, Some(&shape));
            let authors = self.authors.borrow();
            let checked = origin_order::before(&authors, &mut scene, &sv, text, &items, allowance);
            drop(scene);
            match checked {
                Ok(checked) => break checked,
                Err(refusal) => {
                    keeper.refused();
                    if let Refusal::Breaks(_) = refusal
                        && !rendered
                    {
                        // A refusal stands only on a list rendered from the doc: a kept
                        // list out of step costs a render, never an honest edit.
                        tracing::warn!(
                            "the origin check's kept item list refused an update; checking again \
                             on a fresh render"
                        );
                        keeper.out_of_step();
                        continue;
                    }
                    return Err(match refusal {
                        Refusal::Breaks(why) => ApplyError::Crossed(why),
                        Refusal::OverBudget(n) => ApplyError::TooCostly(n),
                    });
                }
            }
        };
        drop(keeper);
        self.apply_checked(update, &shape, &items, Placement::Checked(checked))
    }

    /// Applies a v1 update from the log or another gateway (in log order, so its
    /// predecessors are in). Returns the update to relay to others: `None` when it changed
    /// nothing (already known); the update itself when it is small or part of it waits for
    /// missing predecessors (so that part is not lost to others); else the changes it made.
    pub fn apply(&self, update: &[u8]) -> Result<Option<Vec<u8>>, ApplyError> {
        let shape =
            crate::update_check::check(update).map_err(|e| ApplyError::Decode(e.to_string()))?;
        let sv = self.state_vector();
        let items = shape.items_beyond(&sv);
        let followed = {
            let mut keeper = self.list.borrow_mut();
            keeper.in_step(self.version.get())
                && shape.missing_from(&sv).is_none()
                && origin_order::follow(keeper.parts().0, &sv, &self.text_name, &items)
        };
        Ok(self
            .apply_checked(update, &shape, &items, Placement::Followed(followed))?
            .map(|edit| edit.relay))
    }

    /// Applies a checked update; `items`: the items it brings (as yrs takes them in),
    /// `placed`: what placing them on the item list found.
    fn apply_checked(
        &self,
        update: &[u8],
        shape: &Shape,
        items: &[Placed],
        placed: Placement,
    ) -> Result<Option<Edit>, ApplyError> {
        let (in_step, deferred, slow_checks, check_work) = match placed {
            Placement::Checked(c) => (
                c.in_step && c.deferred.is_empty(),
                c.deferred,
                c.slow,
                c.work,
            ),
            Placement::Followed(followed) => (followed, Vec::new(), 0, 0),
        };
        // yrs debug builds assert on some malformed input; a panic while decoding leaves
        // the doc untouched, so it is just a bad update.
        let decoded = catch_unwind(|| Update::decode_v1(update));
        let decoded = match decoded {
            Ok(Ok(decoded)) => decoded,
            failed => {
                self.list.borrow_mut().refused();
                return Err(ApplyError::Decode(match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "the update's encoding is invalid".into(),
                }));
            }
        };
        // Whatever the outcome, yrs may have integrated part of the update.
        self.version.set(self.version.get() + 1);
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut txn = self.doc.transact_mut();
            // An update yrs parked earlier may be integrated by this one: the list did not
            // follow its items.
            let parked = txn.store().pending_update().is_some();
            let applied = txn.apply_update(decoded);
            // Noted whatever the outcome: yrs may have integrated part of it.
            self.authors.borrow_mut().remember(items);
            if !shape.opaque.is_empty() {
                self.opaque.set(true);
            }
            let mut keeper = self.list.borrow_mut();
            let followed = in_step && !parked && applied.is_ok() && !txn.has_missing_updates();
            if followed {
                keeper.took(items, &shape.garbage);
            }
            keeper.settle(followed.then(|| self.version.get()));
            applied.map_err(|e| ApplyError::Apply(e.to_string()))?;
            if !deferred.is_empty() {
                // What lies between an item's origins now and that its author knew lay
                // there when it was integrated too (an item's past is integrated first).
                let text = self.text_name.as_str();
                keeper.fresh(&mut txn, self.version.get(), text, self.opaque.get());
                let (list, pasts) = keeper.parts();
                let mut scene = Scene::new(list, pasts, None);
                for placed in &deferred {
                    origin_order::exact(&mut scene, text, placed).map_err(ApplyError::Diverged)?;
                }
            }
            drop(keeper);
            let edit = |relay| Edit {
                relay,
                insertions: txn.insert_set().clone(),
                deletions: txn.delete_set().clone(),
                slow_checks,
                check_work,
            };
            if txn.has_missing_updates() {
                return Ok(Some(edit(update.to_vec())));
            }
            if txn.insert_set().is_empty() && txn.delete_set().is_empty() {
                return Ok(None);
            }
            // An edit is relayed as it came: peers then apply exactly what this replica
            // applied (re-encoding can drop what yrs integrated from odd input). A large
            // update, such as a reconnecting client's whole state, is cut to what was new.
            if update.len() <= RELAY_AS_IS_BYTES {
                return Ok(Some(edit(update.to_vec())));
            }
            let relay = txn.encode_update_v1();
            Ok(Some(edit(relay)))
        }));
        result.unwrap_or(Err(ApplyError::Panicked))
    }

    /// How often the origin check rendered the text's item list from the doc (O(document)):
    /// once, then only after changes the list could not follow.
    pub fn order_renders(&self) -> u64 {
        self.list.borrow().renders()
    }

    /// `Err` when the kept item list is in step with the doc but not its order.
    #[cfg(test)]
    pub fn list_agrees(&self) -> Result<(), String> {
        let mut txn = self.doc.transact_mut();
        let keeper = self.list.borrow();
        keeper.agrees(
            &mut txn,
            self.version.get(),
            &self.text_name,
            self.opaque.get(),
        )
    }

    /// Changes when the doc may have changed (never goes back within one replica).
    pub fn version(&self) -> u64 {
        self.version.get()
    }

    pub fn state_vector(&self) -> StateVector {
        self.doc.transact().state_vector()
    }

    /// What a peer at `sv` lacks (sync step 2). yrs can panic encoding a doc that a
    /// malformed update corrupted; then the replica must be rebuilt.
    pub fn diff(&self, sv: &StateVector) -> Result<Vec<u8>, ApplyError> {
        catch_unwind(AssertUnwindSafe(|| self.doc.transact().encode_diff_v1(sv)))
            .map_err(|_| ApplyError::Panicked)
    }

    /// The file's text.
    pub fn text(&self) -> String {
        self.text_ref().get_string(&self.doc.transact())
    }

    /// The root `Y.Text` that holds the file.
    pub fn text_ref(&self) -> TextRef {
        self.doc.get_or_insert_text(self.text_name.as_str())
    }

    /// Notes a change made to the doc directly (server-side undo, a merged file change), so
    /// cached answers and the origin check's item list made before it are not reused.
    pub fn touched(&self) {
        self.version.set(self.version.get() + 1);
    }

    /// The doc itself: whoever writes to it directly calls [`Replica::touched`] after.
    pub fn doc(&self) -> &Doc {
        &self.doc
    }
}

/// Whether a client's update carries nothing at all, like the sync step 2 a stock client
/// sends on connect when it has nothing new (invalid bytes count as not empty).
pub fn is_empty_update(update: &[u8]) -> bool {
    update == Update::EMPTY_V1
        || (crate::update_check::check(update).is_ok()
            && catch_unwind(|| Update::decode_v1(update))
                .is_ok_and(|u| u.is_ok_and(|u| u.is_empty())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::Text;

    fn edit(text: &str) -> Vec<u8> {
        let doc = Doc::new();
        let t = doc.get_or_insert_text("monaco");
        let mut txn = doc.transact_mut();
        t.insert(&mut txn, 0, text);
        txn.encode_update_v1()
    }

    #[test]
    fn relays_new_changes_and_skips_known_ones() {
        let replica = Replica::new("monaco");
        let update = edit("hello");
        assert!(replica.apply(&update).expect("applies").is_some());
        assert_eq!(replica.apply(&update).expect("applies again"), None);
        assert_eq!(replica.text(), "hello");
    }

    #[test]
    fn refuses_a_tiny_update_that_claims_huge_counts() {
        let replica = Replica::new("monaco");
        // From the fuzzer: 2^28 client groups in 5 bytes.
        assert!(matches!(
            replica.apply(&[0x80, 0x80, 0x80, 0x80, 0x01]),
            Err(ApplyError::Decode(_))
        ));
    }

    #[test]
    fn rejects_garbage() {
        let replica = Replica::new("monaco");
        assert!(replica.apply(&[0xff, 0xff, 0xff]).is_err());
        assert_eq!(replica.text(), "");
    }

    /// Two consecutive edits of one doc, "ab" then "cd" after it.
    fn two_edits() -> (Vec<u8>, Vec<u8>) {
        let doc = Doc::new();
        let t = doc.get_or_insert_text("monaco");
        let first = {
            let mut txn = doc.transact_mut();
            t.insert(&mut txn, 0, "ab");
            txn.encode_update_v1()
        };
        let second = {
            let mut txn = doc.transact_mut();
            t.insert(&mut txn, 2, "cd");
            txn.encode_update_v1()
        };
        (first, second)
    }

    #[test]
    fn log_updates_out_of_order_wait_for_their_predecessors() {
        let (first, second) = two_edits();
        let replica = Replica::new("monaco");
        assert_eq!(
            replica.apply(&second).expect("pending").as_deref(),
            Some(&second[..])
        );
        assert!(replica.apply(&first).expect("applies").is_some());
        assert_eq!(replica.text(), "abcd");
    }

    #[test]
    fn a_client_update_before_its_predecessors_is_refused_untouched() {
        let (first, second) = two_edits();
        let replica = Replica::new("monaco");
        assert!(matches!(
            replica.apply_from_client(&second),
            Err(ApplyError::Early(_))
        ));
        assert_eq!(replica.text(), "");
        assert_eq!(replica.state_vector(), StateVector::default());
        assert!(
            replica
                .apply_from_client(&first)
                .expect("applies")
                .is_some()
        );
        assert!(
            replica
                .apply_from_client(&second)
                .expect("applies")
                .is_some()
        );
        assert_eq!(replica.text(), "abcd");
    }

    #[test]
    fn a_client_update_referring_to_unknown_edits_of_others_is_refused() {
        let theirs = Doc::with_client_id(1);
        let ours = Doc::with_client_id(2);
        let (t1, t2) = (
            theirs.get_or_insert_text("monaco"),
            ours.get_or_insert_text("monaco"),
        );
        let base = {
            let mut txn = theirs.transact_mut();
            t1.insert(&mut txn, 0, "base");
            txn.encode_update_v1()
        };
        ours.transact_mut()
            .apply_update(Update::decode_v1(&base).expect("decodes"))
            .expect("applies");
        let edit = {
            let mut txn = ours.transact_mut();
            t2.insert(&mut txn, 2, "XY");
            txn.encode_update_v1()
        };
        let replica = Replica::new("monaco");
        assert!(matches!(
            replica.apply_from_client(&edit),
            Err(ApplyError::Early(_))
        ));
        replica.apply(&base).expect("the base arrives from the log");
        assert!(replica.apply_from_client(&edit).expect("applies").is_some());
        assert_eq!(replica.text(), "baXYse");
    }
}
