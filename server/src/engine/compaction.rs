//! Merging a snapshot and log entries into one state: what every engine's compaction
//! writes back as the new snapshot. Pure and blocking, so callers run it off the runtime.

use yrs::updates::decoder::Decode;
use yrs::{Doc, Options, ReadTxn, StateVector, Transact, Update};

use super::error::EngineError;
use collab_room_core::tail::Tail;

/// Applies the snapshot and every entry to a fresh doc (GC off, so deleted content that
/// server-side undo may restore survives) and encodes its whole state.
pub fn merge(tail: Tail) -> Result<Vec<u8>, EngineError> {
    let doc = Doc::with_options(Options {
        skip_gc: true,
        ..Options::default()
    });
    let mut txn = doc.transact_mut();
    let snapshot = tail.snapshot.into_iter().map(|(_, state)| state);
    for update in snapshot.chain(tail.entries.into_iter().map(|e| e.update)) {
        if update.is_empty() {
            continue;
        }
        let update = Update::decode_v1(&update).map_err(|e| EngineError::Corrupt(e.to_string()))?;
        txn.apply_update(update)
            .map_err(|e| EngineError::Corrupt(e.to_string()))?;
    }
    Ok(txn.encode_state_as_update_v1(&StateVector::default()))
}
