//! What an editor does in the edit phase: it types one character at a random position or
//! deletes one, at its rate with a random phase, and moves its cursor (awareness in
//! y-monaco's format); each returns the frame to send.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use collab_protocol::message::{encode_awareness, encode_update};
use rand::Rng;
use tokio::time::{Interval, MissedTickBehavior};
use yrs::sync::AwarenessUpdate;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Assoc, ClientID, IndexedSequence, Text, Transact, Update};

use super::Editor;
use crate::shared::Shared;
use crate::stats::Stats;

/// Characters an editor types: letters, spaces and the odd newline, all one UTF-16 unit.
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz     \n";

impl Editor {
    /// A ticker at `rate` per second with a random phase, so editors do not tick in step.
    pub(super) fn timer(&mut self, rate: f64) -> Interval {
        let period = Duration::from_secs_f64(1.0 / rate.max(1e-6));
        let offset = period.mul_f64(self.rng.random::<f64>());
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
        t.set_missed_tick_behavior(MissedTickBehavior::Delay);
        t
    }

    pub(super) fn finish_editing(&mut self, shared: &Shared) {
        if !self.finished_editing {
            self.finished_editing = true;
            Stats::add(&shared.stats.done_editing, 1);
        }
    }

    /// Makes one edit; returns the frame to send.
    pub(super) fn edit(&mut self, shared: &Shared) -> Option<Vec<u8>> {
        let slot = self.slot?;
        let bytes = {
            let mut txn = self.doc.transact_mut();
            let len = self.text.len(&txn);
            if len > 0
                && self
                    .rng
                    .random_bool(self.plan.behaviour.delete_ratio.clamp(0.0, 1.0))
            {
                let at = self.rng.random_range(0..len);
                self.text.remove_range(&mut txn, at, 1);
            } else {
                let at = self.rng.random_range(0..=len);
                let c = ALPHABET[self.rng.random_range(0..ALPHABET.len())];
                let mut buf = [0u8; 4];
                self.text
                    .insert(&mut txn, at, char::from(c).encode_utf8(&mut buf));
            }
            txn.encode_update_v1()
        };
        match Update::decode_v1(&bytes) {
            Ok(update) => shared
                .tracker
                .sent(self.plan.file, slot, &update, Instant::now()),
            Err(e) => shared
                .stats
                .error(format!("own update did not decode: {e}")),
        }
        self.edits += 1;
        if self
            .plan
            .behaviour
            .edit_limit
            .is_some_and(|limit| self.edits >= limit)
        {
            self.edit_timer = None;
            self.finish_editing(shared);
        }
        Some(self.wrap(shared, encode_update(&bytes)))
    }

    /// Moves the cursor to a random position; returns the awareness frame to send.
    pub(super) fn cursor(&mut self, shared: &Shared) -> Option<Vec<u8>> {
        let slot = self.slot?;
        let client = u64::from(self.plan.client_id);
        let selection = {
            let txn = self.doc.transact();
            let len = self.text.len(&txn);
            let at = self.rng.random_range(0..=len);
            self.text
                .sticky_index(&txn, at, Assoc::After)
                .map(|pos| serde_json::json!({ "anchor": pos, "head": pos }))
        };
        let state = serde_json::json!({
            "user": { "name": format!("load-{client}"), "color": "#30bced" },
            "selection": selection,
        });
        self.cursor_clock += 1;
        let mut clients = HashMap::new();
        clients.insert(
            ClientID::new(client),
            AwarenessUpdateEntry {
                clock: self.cursor_clock,
                json: state.to_string().into(),
            },
        );
        let frame = self.wrap(
            shared,
            encode_awareness(&AwarenessUpdate { clients }.encode_v1()),
        );
        shared.tracker.cursor_sent(
            self.plan.file,
            slot,
            client,
            self.cursor_clock,
            Instant::now(),
        );
        self.last_cursor = Some(frame.clone());
        Some(frame)
    }
}
