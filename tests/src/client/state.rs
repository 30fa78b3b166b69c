//! What a test client knows about its connection, shared between the [`super::Client`]
//! and the task that reads the socket: synced or not, remote awareness, extension messages
//! and errors, the close code, and a change counter that wakes `Client::wait_for`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use collab_protocol::Extension;
use serde_json::Value;
use tokio::sync::watch;

/// An `{"type":"error",...}` extension message the gateway sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorNotice {
    pub code: u16,
    pub reason: String,
    pub message: String,
}

pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// Bumped on every change; [`Client::wait_for`] waits on it.
    pub(super) changed: watch::Sender<u64>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) synced: bool,
    /// Remote awareness: client id -> (clock, state; `None` once removed).
    pub(super) awareness: HashMap<u64, (u32, Option<Value>)>,
    /// Our own awareness state and its clock.
    pub(super) own_awareness: Option<(u32, String)>,
    pub(super) errors: Vec<ErrorNotice>,
    /// Other extension messages received (undo states, ...), in order.
    pub(super) extensions: Vec<Extension>,
    /// Extension errors that had arrived when the close frame did.
    pub(super) errors_before_close: usize,
    pub(super) close: Option<u16>,
    pub(super) close_reason: String,
    pub(super) protocol_errors: Vec<String>,
    pub(super) frames_received: u64,
    /// Whether to keep every frame's bytes ([`Client::connect_recording`]).
    pub(super) recording: bool,
    /// Every binary and text frame received, and close frame reasons, when recording.
    pub(super) recorded: Vec<Vec<u8>>,
}

impl Shared {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn notify(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    pub(super) fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = f(&mut self.state());
        self.notify();
        r
    }
}
