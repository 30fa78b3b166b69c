//! A room's copy of a file: a yrs doc and the rule for what an applied update means.
//!
//! Sans-IO: it takes bytes, returns bytes, and knows nothing of sockets or Redis, so its
//! behaviour is unit-tested directly.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::item_order::ItemOrder;
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
    /// An item whose origins stand the other way round in the document (see
    /// [`crate::origin_order`]): refused before integration, nothing was applied.
    #[error("the update's origins cross: {0}")]
    Crossed(String),
    /// The same, found only once integrated: the replica must be rebuilt.
    #[error("the update's origins cross: {0}; the replica must be rebuilt")]
    Diverged(String),
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
}

/// Updates up to this size are relayed unchanged.
const RELAY_AS_IS_BYTES: usize = 16 << 10;

pub struct Replica {
    doc: Doc,
    text_name: String,
    /// Counts applied updates that may have changed the doc, so that an answer computed
    /// from it can tell whether it is still current.
    version: Cell<u64>,
    /// Items known to lie between their origins (spares the order check while typing).
    facts: RefCell<crate::origin_order::Facts>,
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
            facts: RefCell::default(),
        }
    }

    /// Applies a client's v1 update, only when this replica holds everything it builds on
    /// (else [`ApplyError::Early`]; yrs would park it, and merging parked updates has
    /// crashed yrs). Returns what [`Replica::apply`] returns.
    pub fn apply_from_client(&self, update: &[u8]) -> Result<Option<Vec<u8>>, ApplyError> {
        Ok(self.apply_edit(update)?.map(|edit| edit.relay))
    }

    /// [`Replica::apply_from_client`], with what the update inserted and deleted.
    pub fn apply_edit(&self, update: &[u8]) -> Result<Option<Edit>, ApplyError> {
        let shape =
            crate::update_check::check(update).map_err(|e| ApplyError::Decode(e.to_string()))?;
        if let Some(missing) = shape.missing_from(&self.state_vector()) {
            return Err(ApplyError::Early(missing));
        }
        let plan =
            crate::origin_order::before(&self.doc.transact(), &self.facts.borrow(), &shape.between)
                .map_err(ApplyError::Crossed)?;
        let plan = if plan.unsure.is_empty() {
            plan
        } else {
            let order = self.item_order();
            crate::origin_order::settle(&order, plan).map_err(ApplyError::Crossed)?
        };
        let edit = self.apply_checked(update, &plan.unsure)?;
        let accepted = plan.ordered.into_iter().chain(plan.unsure);
        self.facts.borrow_mut().remember(accepted);
        Ok(edit)
    }

    /// Applies a v1 update from the log or another gateway (in log order, so its
    /// predecessors are in). Returns the update to relay to others: `None` when it changed
    /// nothing (already known); the update itself when it is small or part of it waits for
    /// missing predecessors (so that part is not lost to others); else the changes it made.
    pub fn apply(&self, update: &[u8]) -> Result<Option<Vec<u8>>, ApplyError> {
        crate::update_check::check(update).map_err(|e| ApplyError::Decode(e.to_string()))?;
        Ok(self.apply_checked(update, &[])?.map(|edit| edit.relay))
    }

    /// Applies a checked update; `unsure`: its items whose origins are ordered only once
    /// integrated ([`crate::origin_order::after`]).
    fn apply_checked(
        &self,
        update: &[u8],
        unsure: &[crate::origin_order::Between],
    ) -> Result<Option<Edit>, ApplyError> {
        // yrs debug builds assert on some malformed input; a panic while decoding leaves
        // the doc untouched, so it is just a bad update.
        let decoded = catch_unwind(|| Update::decode_v1(update))
            .map_err(|_| ApplyError::Decode("the update's encoding is invalid".into()))?
            .map_err(|e| ApplyError::Decode(e.to_string()))?;
        // Whatever the outcome, yrs may have integrated part of the update.
        self.version.set(self.version.get() + 1);
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut txn = self.doc.transact_mut();
            txn.apply_update(decoded)
                .map_err(|e| ApplyError::Apply(e.to_string()))?;
            for between in unsure {
                crate::origin_order::after(&txn, between).map_err(ApplyError::Diverged)?;
            }
            if !unsure.is_empty() {
                let order = match txn.get_text(self.text_name.as_str()) {
                    Some(text) => ItemOrder::of(&mut txn, &text),
                    None => ItemOrder::default(),
                };
                for between in unsure {
                    crate::origin_order::after_exact(&order, between)
                        .map_err(ApplyError::Diverged)?;
                }
            }
            let edit = |relay| Edit {
                relay,
                insertions: txn.insert_set().clone(),
                deletions: txn.delete_set().clone(),
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

    /// The exact order of the text's string items ([`ItemOrder`]; O(document)).
    fn item_order(&self) -> ItemOrder {
        let mut txn = self.doc.transact_mut();
        match txn.get_text(self.text_name.as_str()) {
            Some(text) => ItemOrder::of(&mut txn, &text),
            None => ItemOrder::default(),
        }
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

    /// Notes a change made to the doc directly (server-side undo), so cached answers
    /// computed before it are not reused.
    pub fn touched(&self) {
        self.version.set(self.version.get() + 1);
    }

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
