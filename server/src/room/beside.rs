//! What tasks running beside a room (its appender, log and undo-count reads, cursor
//! claims, diagnostics checks and loads) hand back to it: one channel, so a room waking up
//! polls one receiver for all of them instead of one per kind (eight receivers polled on
//! every wake-up were 4% of a busy gateway's CPU).

use bytes::Bytes;
use collab_room_core::catch_up::Fetched;
use collab_room_core::effect::PopRequest;
use collab_room_core::ext::diagnostics::CheckDone;
use collab_room_core::ext::undo::{Popped, UndoCounts};
use collab_room_core::presence::ConnId;
use tokio::sync::mpsc;

/// A user and, per cursor client id claimed for it, whether the id is the user's.
pub type ClaimAnswer = (std::sync::Arc<str>, Vec<(yrs::ClientID, bool)>);

/// A pop's outcome.
pub type PopResult = (PopRequest, Result<Popped, String>);

/// One result for the room.
///
/// At most 32 B: the channel allocates its first block of 32 results when the room opens
/// and keeps it for the room's life, so every byte here is 32 in every open room, idle or
/// not (a room's channels were most of what it cost, issue 23). Results larger than that
/// are boxed; they come once per log read, pop, check or claim, not per delivery.
#[derive(Debug)]
pub enum Beside {
    /// A log read's result.
    Fetched(Box<Fetched>),
    /// An undo or redo pop's result.
    Popped(Box<PopResult>),
    /// An append landed at or below a position the room had already applied: the log in
    /// Redis went backwards (a failover to a replica that missed acknowledged appends).
    WentBackwards,
    /// A stored entry's position and the digest of its bytes, so the room recognises its
    /// own entries by content even when their echoes are lost.
    Stored(u64, u64),
    /// A joiner's undo counts.
    Counts(ConnId, UndoCounts),
    /// The engine's answer to a claim of cursor client ids.
    Claims(Box<ClaimAnswer>),
    /// A finished diagnostics check (`None`: it failed).
    Checked(Option<Box<CheckDone>>),
    /// The newest stored diagnostics markers.
    Loaded(Vec<Bytes>),
}

/// Where tasks beside a room send their results (dropped results of a room that ended
/// are nobody's concern).
#[derive(Clone, Debug)]
pub struct Results(mpsc::UnboundedSender<Beside>);

impl Results {
    pub fn channel() -> (Results, mpsc::UnboundedReceiver<Beside>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Results(tx), rx)
    }

    pub fn send(&self, result: Beside) {
        let _ = self.0.send(result);
    }
}
