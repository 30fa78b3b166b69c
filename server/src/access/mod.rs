//! Who a connection acts for: the principal a session brings into a room, and how a
//! session gets one from the token its client presented.
//!
//! The room core decides with the principal what a connection may do (write or only read)
//! and whose edits an update is (per-user undo records the author).
//!
//! - [`authority`]: the one entry point, [`Authority::authorize`]: a token and a file in,
//!   a [`Grant`] (principal, and a JWT's expiry) or a [`Refusal`] (4401 / 4403 with a
//!   machine reason) out, by the `--auth` mode.
//! - [`grant`]: those types, and [`Token`], which keeps a token out of logs.
//! - [`sandbox`]: which sandbox a file belongs to (`{sandbox_id}/{path}`).
//! - [`redis`]: `--auth redis`: a session token resolved through the engine's
//!   [`Directory`](crate::engine::Directory) (the platform's records).
//! - [`jwt`]: `--auth jwt`: a signed token checked with the configured key.
//! - [`revocation`]: `--auth redis` grants of live connections, re-read when the engine
//!   announces a change to a record they read, and every `--revalidate-ms`: revoked ones
//!   are closed (4401 / 4403), changed ones switch access.
//!
//! Under `--auth none` every connection is [`Principal::anonymous`], or the writer named by
//! its `?user=` ([`Principal::open_user`]), which only says whose undo stack its edits go on.

pub mod authority;
pub mod grant;
pub mod jwt;
pub mod redis;
pub mod revocation;
pub mod sandbox;

pub use authority::Authority;
pub use grant::{Forbidden, Grant, Refusal, Token, Unauthenticated};

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
