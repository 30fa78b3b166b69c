//! Server-side undo and redo per user, in one home: the requests, what one undo item is,
//! how it is stored, how it is applied to a room's replica, and what the engine keeps.
//! Sans-IO: the engine keeps the stacks (in Redis, its scripts), the room core decides
//! when to capture and when to apply.
//!
//! - [`request`]: `{"type":"undo"}` / `{"type":"redo"}` from a connection (writers only).
//! - [`desk`]: the room's side: capturing an edit, asking the engine for the top item,
//!   applying it (or waiting for the log read that brings its content), telling counts;
//!   its inputs to [`RoomCore`](crate::core::RoomCore) (a popped item, a joiner's counts)
//!   sit beside it.
//! - [`stack`]: the engine's interface, [`UndoStack`] (pop, counts), and what an authored
//!   append records ([`UndoRecord`]); the Redis implementation is the gateway's.
//! - [`item`]: an item (what a user's edits inserted and deleted, two yrs `IdSet`s) and
//!   its stored form, several captured parts that the capture window merged in Redis.
//! - [`apply`](mod@apply): undoing or redoing one item on a replica through a transient yrs
//!   `UndoManager`, giving the update to relay and the inverse item for the other stack.
//!
//! The flow: a user's accepted update is captured as an item part and pushed, in the same
//! atomic script as its log append, onto `collab:{F}:undo:{user}` (merged into the top
//! item while the user keeps typing within `--undo-capture-ms`), and the user's redo list
//! is cleared. An undo request pops the top item atomically (two gateways asked at once
//! never pop the same item), the room applies it, and the result is an ordinary authored
//! update whose append pushes the inverse item onto the redo list (and a redo's onto the
//! undo list).

pub mod apply;
pub mod desk;
mod inputs;
pub mod item;
pub mod request;
pub mod stack;

#[cfg(test)]
mod core_tests;

pub use apply::{Undone, apply};
pub use item::{ItemError, UndoItem};
pub use request::request;
pub use stack::{MAX_ITEM_BYTES, Popped, UndoCounts, UndoPolicy, UndoRecord, UndoStack};
