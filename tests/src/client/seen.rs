//! What a test client has seen, for assertions: sync, the close code and reason, extension
//! messages (errors, undo states, diagnostics), protocol errors and the frames received.

use collab_protocol::Extension;

use super::Client;
use super::UndoState;
use super::state::ErrorNotice;

impl Client {
    /// True once the gateway's sync step 2 arrived on the current connection.
    pub fn is_synced(&self) -> bool {
        self.shared.state().synced
    }

    /// `None` while connected; then the close code received (1005 when the close frame had
    /// none, 1006 when the connection ended without a close frame).
    pub fn closed_with(&self) -> Option<u16> {
        self.shared.state().close
    }

    /// The reason text of the close frame, if any.
    pub fn close_reason(&self) -> String {
        self.shared.state().close_reason.clone()
    }

    /// Extension error messages received, in order.
    pub fn errors(&self) -> Vec<ErrorNotice> {
        self.shared.state().errors.clone()
    }

    /// Extension messages other than errors (such as `undo-state`), in order.
    pub fn extensions(&self) -> Vec<Extension> {
        self.shared.state().extensions.clone()
    }

    /// The `undo-state` messages received, in order, as `(op, applied, undo, redo)`.
    pub fn undo_states(&self) -> Vec<UndoState> {
        self.extensions()
            .into_iter()
            .filter_map(|e| match e {
                Extension::UndoState {
                    op,
                    applied,
                    undo,
                    redo,
                } => Some(UndoState {
                    op,
                    applied,
                    undo,
                    redo,
                }),
                _ => None,
            })
            .collect()
    }

    /// The last `diagnostics` message of `source` received: its version and markers.
    pub fn diagnostics(&self, source: &str) -> Option<(String, Vec<collab_protocol::Marker>)> {
        self.extensions().into_iter().rev().find_map(|e| match e {
            Extension::Diagnostics {
                source: from,
                version,
                markers,
            } if from == source => Some((version, markers)),
            _ => None,
        })
    }

    /// How many `diagnostics` messages (of any source) were received.
    pub fn diagnostics_received(&self) -> usize {
        self.extensions()
            .iter()
            .filter(|e| matches!(e, Extension::Diagnostics { .. }))
            .count()
    }

    /// Extension error messages that had arrived before the close frame.
    pub fn errors_before_close(&self) -> Vec<ErrorNotice> {
        let s = self.shared.state();
        s.errors[..s.errors_before_close.min(s.errors.len())].to_vec()
    }

    /// Frames from the gateway this client could not decode or apply.
    pub fn protocol_errors(&self) -> Vec<String> {
        self.shared.state().protocol_errors.clone()
    }

    /// The bytes of every frame (and close reason) received so far, on all connections,
    /// when the client was connected with [`Client::connect_recording`]; else empty.
    pub fn received_frames(&self) -> Vec<Vec<u8>> {
        self.shared.state().recorded.clone()
    }

    /// How many frames arrived from the gateway on all connections.
    pub fn frames_received(&self) -> u64 {
        self.shared.state().frames_received
    }
}
