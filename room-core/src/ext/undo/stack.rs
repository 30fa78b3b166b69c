//! The engine's side of per-user undo and redo stacks: the [`UndoStack`] an engine
//! implements (pop an item, read the counts), what an authored append records on them,
//! what a pop returns, and the limits every engine applies.
//!
//! Items are opaque bytes here (their meaning is [`crate::ext::undo`]'s): a stored item is a
//! concatenation of parts, so an engine extends the top item by appending bytes. Records
//! are pushed by the engine's append, in the same atomic step as the log entry.

use std::time::Duration;

use collab_protocol::{FileId, UndoOp};
use futures_util::future::BoxFuture;

/// Most bytes of one stored item (its stamp line included): past it, the next edit starts
/// a new item even within the capture window. A growing item is kept as one list element
/// per edit and folded into one when it is done (`engine/redis/scripts.rs`), so its size no
/// longer sets what a keystroke costs Redis; it bounds what one undo reverts and what a fold
/// or a pop copies. At 8 KiB an item holds a few hundred keystrokes.
pub const MAX_ITEM_BYTES: usize = 8 << 10;

/// A file's per-user undo and redo lists in an engine.
pub trait UndoStack: Send + Sync + 'static {
    /// What goes wrong behind the engine (only logged).
    type Error: std::fmt::Display + Send + 'static;

    /// Pops the top item of `user`'s undo list (`UndoOp::Undo`) or redo list for the
    /// file, atomically: two gateways popping at once never get the same item.
    fn pop<'a>(
        &'a self,
        file: &'a FileId,
        user: &'a str,
        op: UndoOp,
    ) -> BoxFuture<'a, Result<Popped, Self::Error>>;

    /// How many items `user`'s undo and redo lists for the file hold.
    fn counts<'a>(
        &'a self,
        file: &'a FileId,
        user: &'a str,
    ) -> BoxFuture<'a, Result<UndoCounts, Self::Error>>;
}

/// What an authored update means for its author's stacks. Each is pushed in the same
/// atomic step as the update's log append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UndoRecord {
    /// A new edit: this part joins the top undo item while the author keeps typing within
    /// the capture window, or starts a new item; the author's redo list is cleared.
    Edit(Vec<u8>),
    /// An undo's result: its inverse goes on the redo list.
    Undone(Vec<u8>),
    /// A redo's result: its inverse goes on the undo list (the redo list stays).
    Redone(Vec<u8>),
}

/// How many items a user's two lists for one file hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UndoCounts {
    pub undo: u64,
    pub redo: u64,
}

/// The result of popping a user's undo (or redo) list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Popped {
    /// The stored item, `None` when the list was empty.
    pub item: Option<Vec<u8>>,
    /// Both counts after the pop.
    pub counts: UndoCounts,
}

/// Limits of the stacks (`--undo-capture-ms`, `--undo-depth`, `--undo-ttl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UndoPolicy {
    /// Edits of one user closer than this in time form one item.
    pub capture: Duration,
    /// Most items a list keeps; older ones fall off. 0: server-side undo is off.
    pub depth: u32,
    /// A list expires this long after its last push.
    pub ttl: Duration,
}

impl UndoPolicy {
    /// `--undo-depth 0` turns server-side undo off: nothing is recorded.
    pub fn enabled(&self) -> bool {
        self.depth > 0
    }
}

impl Default for UndoPolicy {
    fn default() -> Self {
        UndoPolicy {
            capture: Duration::from_millis(500),
            depth: 200,
            ttl: Duration::from_secs(24 * 3600),
        }
    }
}
