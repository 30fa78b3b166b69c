//! Who a connection acts for, as its room sees it: the user, how its cursor is shown, and
//! whether it may write. Sessions resolve a principal from a token (`collab_server::access`); the room core decides with it what a connection may do and whose edits an
//! update is (per-user undo records the author).

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
    /// The identity comes from the platform's records or a signed token, so cursors are
    /// stamped with it; `false` under `--auth none`, where a `?user=` is only a claim.
    pub verified: bool,
}

/// The user id of connections that carry no identity.
pub const ANONYMOUS: &str = "anonymous";

impl Principal {
    /// A writer without identity: what every connection is under `--auth none`.
    pub fn anonymous() -> Self {
        Principal {
            verified: false,
            user: Arc::from(ANONYMOUS),
            name: None,
            color: None,
            access: Access::ReadWrite,
        }
    }

    /// A writer under `--auth none` that named itself with `?user=` (so its edits have
    /// their own undo stack); a name that is not a plausible user id (1 to 64 of
    /// `A-Z a-z 0-9 . _ @ -`) is [`Principal::anonymous`].
    pub fn open_user(user: &str) -> Self {
        let plausible = (1..=64).contains(&user.len())
            && user
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
        if !plausible {
            return Principal::anonymous();
        }
        Principal {
            user: Arc::from(user),
            ..Principal::anonymous()
        }
    }

    /// Whom this principal's cursors belong to: its user when verified, else
    /// [`ANONYMOUS`] (an unverified `?user=` is no identity to own cursors by).
    pub fn cursor_owner(&self) -> &str {
        if self.verified { &self.user } else { ANONYMOUS }
    }

    /// Whether this principal's document updates may change the file.
    pub fn may_write(&self) -> bool {
        self.access == Access::ReadWrite
    }
}
