//! Who a connection acts for: the principal a session brings into a room.
//!
//! The room core decides with it what a connection may do (write or only read) and whose
//! edits an update is (per-user undo records the author). Until sessions resolve tokens,
//! every connection is an anonymous writer.

use std::sync::Arc;

/// What a principal may do with a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Sync, show a cursor and edit.
    ReadWrite,
    /// Sync and show a cursor; edits are dropped and answered with a `read-only` error.
    ReadOnly,
}

/// The user behind a connection, as the session resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Stable user id: the author of the connection's edits.
    pub user: Arc<str>,
    /// Display name shown with the user's cursor, when known.
    pub name: Option<Arc<str>>,
    /// Cursor colour (CSS), when known.
    pub color: Option<Arc<str>>,
    pub access: Access,
}

/// The user id of connections that carry no identity.
pub const ANONYMOUS: &str = "anonymous";

impl Principal {
    /// A writer without identity: what every connection is until tokens are checked.
    pub fn anonymous() -> Self {
        Principal {
            user: Arc::from(ANONYMOUS),
            name: None,
            color: None,
            access: Access::ReadWrite,
        }
    }

    /// Whether this principal's document updates may change the file.
    pub fn may_write(&self) -> bool {
        self.access == Access::ReadWrite
    }
}
