//! Who a connection acts for: the principal a session brings into a room, and how a
//! session gets one from the token its client presented.
//!
//! The room core decides with the principal what a connection may do (write or only read)
//! and whose edits an update is (per-user undo records the author); [`Principal`] and
//! [`Access`] are the room core's types (`collab_room_core::principal`), named here too
//! because this module is where sessions get them.
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

pub use collab_room_core::principal::{ANONYMOUS, Access, Principal};
