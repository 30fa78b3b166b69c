//! Wire contracts of the collab gateway, pure and IO-free.
//!
//! - [`message`]: the y-websocket messages a client and a gateway exchange (types 0-3, lib0
//!   encoded, built on `yrs::sync`) plus our extension message (type 100, JSON). Decoding is
//!   strict: any byte string yields a message or a [`DecodeError`], never a panic.
//! - [`extension`]: the JSON bodies of extension messages (errors, undo and redo,
//!   diagnostics with Monaco markers), mirrored in `client-js`.
//! - [`envelope`]: what gateways publish on a file's Redis channel: origin gateway, log
//!   position, kind and payload.
//! - [`keys`]: file ids and the Redis key and channel names listed in the README ("Redis layout").
//! - [`close`]: WebSocket close codes.
//!
//! The server crate wires these to sockets and Redis; tests and the load harness use the
//! same codecs, so all speak exactly one dialect.

pub mod close;
pub mod envelope;
pub mod extension;
pub mod keys;
pub mod message;

pub use envelope::{Envelope, EnvelopeError};
pub use extension::{Extension, FileSyncState, Marker, UndoOp};
pub use keys::{FileId, FileIdError, Keys};
pub use message::{DecodeError, Message};
