//! Which editors keep a full replica (a yrs `Doc` they apply everything into) and which are
//! light (they decode what arrives and time it, and apply nothing).
//!
//! Why: with 1,500 observers on the same 2 cores as the gateways, applying every update into
//! 1,500 docs made the harness, not the gateway, the bottleneck (8.6 CPU-s of harness against
//! 6.3 for both gateways in a fan-out run). The tracker recognises a delivery from the
//! decoded update's ids alone ([`crate::tracker`]), so a light editor still counts every
//! delivery and every miss; only the convergence check needs documents, and a sample of
//! full replicas, several per sampled file, is enough for it.
//!
//! A light editor that types edits its own private doc, which holds only its own edits: its
//! updates reference only items it made, so they are valid for every receiver, and each
//! editor types into a region of its own, as people tend to. Of what it receives it applies
//! one thing: the deletions of its own characters ([`own_deletions`]), so that it never
//! deletes a character someone else deleted long ago (a gateway drops such a deletion as a
//! no-op, and the tracker, which forgets a deletion once everyone has it, would count a
//! miss).

use yrs::encoding::write::Write;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::{Encode, Encoder, EncoderV1};
use yrs::{ClientID, IdSet, Update};

/// Flags choosing the full replicas of a run.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ReplicaArgs {
    /// Editors (observers) that keep a full replica and take part in the convergence
    /// check; the others are light (decode and time arrivals, apply nothing). Spread so
    /// that each sampled file has at least two.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub replicas: usize,

    /// Every editor keeps a full replica (the harness's behaviour before light editors).
    #[arg(long)]
    pub all_replicas: bool,
}

impl ReplicaArgs {
    /// Whether the `k`-th editor (0-based, within its file) of file `file` out of `files`
    /// keeps a full replica.
    pub fn is_replica(&self, file: usize, k: usize, files: usize) -> bool {
        if self.all_replicas {
            return true;
        }
        if self.replicas == 0 {
            return false;
        }
        let per_file = self.replicas.div_ceil(files.max(1)).max(2);
        let sampled_files = self.replicas.div_ceil(per_file);
        file < sampled_files && k < per_file
    }

    /// The settings a report shows.
    pub fn shown(&self) -> serde_json::Value {
        if self.all_replicas {
            serde_json::json!("all")
        } else {
            serde_json::json!(self.replicas)
        }
    }
}

/// The deletions of `client`'s items in `update`, as an update of their own (no blocks to
/// integrate), or `None` when it deletes none of them.
pub fn own_deletions(update: &Update, client: ClientID) -> Option<Update> {
    let ranges = update.delete_set().get(&client)?;
    let mut ds = IdSet::new();
    ds.insert_range(client, ranges.clone());
    // A v1 update is its blocks (none here: a zero count) followed by its delete set.
    let mut encoder = EncoderV1::new();
    encoder.write_var(0u32);
    ds.encode(&mut encoder);
    Update::decode_v1(&encoder.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::new_doc;
    use yrs::{GetString, ReadTxn, StateVector, Text, Transact};

    #[test]
    fn a_light_editor_learns_only_the_deletions_of_its_own_characters() {
        let (light, ltext) = new_doc(1);
        ltext.insert(&mut light.transact_mut(), 0, "abc");
        // A full replica has the light editor's text, types, and deletes "b".
        let (full, ftext) = new_doc(2);
        let mine = light
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        full.transact_mut()
            .apply_update(Update::decode_v1(&mine).expect("decodes"))
            .expect("applies");
        let typed = {
            let mut txn = full.transact_mut();
            ftext.insert(&mut txn, 3, "xyz");
            ftext.remove_range(&mut txn, 1, 1);
            ftext.remove_range(&mut txn, 2, 1);
            txn.encode_update_v1()
        };
        let update = Update::decode_v1(&typed).expect("decodes");
        let own = own_deletions(&update, ClientID::new(1)).expect("deletes one of ours");
        light.transact_mut().apply_update(own).expect("applies");
        let txn = light.transact();
        // "b" is gone; "xyz" (and the deletion of "x") never arrived; nothing pending.
        assert_eq!(ltext.get_string(&txn), "ac");
        assert!(!txn.has_missing_updates());
        assert!(own_deletions(&update, ClientID::new(3)).is_none());
    }

    fn args(replicas: usize, all: bool) -> ReplicaArgs {
        ReplicaArgs {
            replicas,
            all_replicas: all,
        }
    }

    fn count(a: ReplicaArgs, files: usize, per_file: usize) -> (usize, usize) {
        let mut total = 0;
        let mut files_with_two = 0;
        for file in 0..files {
            let n = (0..per_file)
                .filter(|k| a.is_replica(file, *k, files))
                .count();
            total += n;
            files_with_two += usize::from(n >= 2);
        }
        (total, files_with_two)
    }

    #[test]
    fn a_sample_spans_files_with_two_replicas_each() {
        // edit-storm: 100 files of 10 editors, 20 replicas in 10 files.
        assert_eq!(count(args(20, false), 100, 10), (20, 10));
        // fan-out: one file, the first 20 (the writer and 19 observers).
        assert_eq!(count(args(20, false), 1, 1501), (20, 1));
        assert_eq!(count(args(0, false), 1, 50), (0, 0));
        assert_eq!(count(args(0, true), 3, 4), (12, 3));
        // More replicas than editors: everyone.
        assert_eq!(count(args(20, false), 2, 2), (4, 2));
    }
}
