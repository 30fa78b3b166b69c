//! The room core of the collab gateway: one open file's state and the rule for every
//! input, without IO. The gateway (`collab-server`) runs it inside a room's actor task.
//!
//! The compiler keeps it sans-IO: this crate depends on yrs, the wire codecs and the
//! syntax checker, never on a runtime or Redis. Time comes in as an input (`now`, and a
//! clock the shell gives for cursors' ages), answers go out as [`effect`]s, and the shell
//! decides how blocking work runs ([`apply::RunApply`]).
//!
//! A tour, following one edit:
//! - [`core`]: [`core::RoomCore`], the room's state (replica, presence, members with their
//!   principal, log position, answer cache) and one function per input, each appending
//!   [`effect::Effects`] the shell runs in order: frames, closes, appends, publishes, log
//!   reads. [`core`]'s log inputs (catch-up, finished reads, a log that went backwards) sit
//!   beside it.
//! - The core validates an update by applying it to its [`replica`] (after
//!   [`update_check`], through [`apply`]), checks the member ([`member`], [`principal`])
//!   may write, relays it to local clients at once and asks for its append within the
//!   gateway's pending [`budget`]; a broken rule closes the connection ([`close`]).
//! - [`catch_up`]: how far the replica is level with the log, one read ([`tail`]) at a time.
//! - [`answer`]: the sync step 2 answer shared by joiners that ask alike.
//! - [`presence`]: awareness states (cursors) and which connection or gateway owns each;
//!   [`stamp`] sets the identity a cursor shows from the principal; [`awareness_rules`]
//!   refuses states that are not JSON objects or are too big.
//! - [`ext`]: the extensions (wire type 100), one home each: [`ext::undo`] and
//!   [`ext::diagnostics`] hold their wire messages, their core inputs, their engine
//!   interface ([`ext::undo::UndoStack`], [`ext::diagnostics::DiagnosticsCache`]) and their
//!   logic; [`ext`] dispatches by type and parses the `?ext=` opt-ins.
//! - [`metrics`]: the few metrics the core records itself (through the `metrics` facade).
//!
//! Unit tests and the room fuzz target (`fuzz/harness/room.rs`) drive this same code with
//! no Redis and no runtime.

pub mod answer;
pub mod apply;
pub mod awareness_rules;
pub mod budget;
pub mod catch_up;
pub mod causal_past;
pub mod close;
pub mod core;
pub mod digest;
pub mod effect;
pub mod ext;
pub mod item_list;
pub mod item_order;
pub mod list_keeper;
pub mod member;
pub mod metrics;
pub mod origin_order;
pub mod presence;
pub mod principal;
pub mod replica;
pub mod slow_checks;
pub mod stamp;
pub mod tail;
pub mod update_check;

#[cfg(test)]
mod core_cursor_tests;
#[cfg(test)]
mod core_tests;
#[cfg(test)]
mod test_support;
