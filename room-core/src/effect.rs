//! What the room core asks its shell to do: the core decides, the actor acts.
//!
//! Every input of [`RoomCore`](crate::core::RoomCore) appends effects to one [`Effects`]
//! queue; the actor runs them in order (frames reach each connection in the order the core
//! produced them) and feeds what they cause (a connection found gone, a log read finished)
//! back in as new inputs.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use collab_protocol::UndoOp;
use collab_protocol::envelope::Kind;

use crate::close::CloseReason;
use crate::ext::undo::UndoRecord;
use crate::presence::{Changes, ConnId};

/// A read of the file's log to run beside the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogRead {
    /// Everything after this position (0: the whole file).
    Since(u64),
    /// Only the head position, to compare with the replica's.
    Head,
}

#[derive(Debug)]
pub enum Effect {
    /// A frame for one connection.
    Send { to: ConnId, frame: Bytes },
    /// A frame for every connection but `except`. `cursor` names the one awareness client
    /// whose state the frame carries, when it carries exactly one: such a frame may replace
    /// an older state of that client still queued for a connection.
    Broadcast {
        frame: Bytes,
        except: Option<ConnId>,
        cursor: Option<u64>,
    },
    /// Close a connection; the core has already forgotten it.
    Close { conn: ConnId, reason: CloseReason },
    /// An accepted update for the log, with the user who wrote it (`None`: the gateway's
    /// own restore of a whole state, nobody's edit). Its bytes are already reserved in the
    /// gateway's pending budget.
    Append {
        author: Option<Arc<str>>,
        update: Vec<u8>,
        /// What it means for the author's undo and redo lists.
        undo: Option<UndoRecord>,
    },
    /// Pop `user`'s top undo (or redo) item, after the appends queued before it are
    /// stored, and hand it to `RoomCore::on_popped`.
    PopUndo(PopRequest),
    /// Read `user`'s undo and redo counts for `conn` (a joiner that opted into undo) and
    /// hand them to `RoomCore::on_undo_counts`.
    ReadUndoCounts { conn: ConnId, user: Arc<str> },
    /// Claim client ids for `user` in the engine (`collab:{F}:cursor:{id}`), or renew the
    /// claims it holds, for [`crate::presence::CURSOR_CLAIM_TTL`]; hand the answer (per id,
    /// whether it is `user`'s) to `RoomCore::on_cursors_claimed`.
    ClaimCursors {
        user: Arc<str>,
        ids: Vec<yrs::ClientID>,
    },
    /// Awareness or control for the file's channel (not updates: they go out with their
    /// log entry).
    Publish { kind: Kind, payload: Vec<u8> },
    /// Read the log and hand the result to `RoomCore::on_fetched`.
    ReadLog(LogRead),
    /// Version the text (and check its syntax) beside the room; hand the result to
    /// `RoomCore::on_checked`.
    Check(crate::ext::diagnostics::CheckJob),
    /// Answer the external post `id` (see `RoomCore::on_post`).
    AnswerPost {
        id: u64,
        answer: crate::ext::diagnostics::post::PostAnswer,
    },
    /// Read the newest stored markers of every source and hand them to
    /// `RoomCore::on_diagnostics_loaded`.
    LoadDiagnostics,
    /// The replica was replaced by an empty one after a panic: read the whole file and hand
    /// it to `RoomCore::on_reloaded` before any other input.
    Reload,
}

/// An undo or redo request on its way to the engine and back.
#[derive(Debug, Clone)]
pub struct PopRequest {
    /// Who asked (answered if still connected).
    pub conn: ConnId,
    pub user: Arc<str>,
    pub op: UndoOp,
    /// Items popped before this one for the same request that changed nothing.
    pub skipped: u32,
}

/// The queue of effects the core produced and the actor has not run yet.
#[derive(Debug, Default)]
pub struct Effects(VecDeque<Effect>);

impl Effects {
    pub fn new() -> Self {
        Effects::default()
    }

    pub fn push(&mut self, effect: Effect) {
        self.0.push_back(effect);
    }

    /// The oldest effect not yet run.
    pub fn pop(&mut self) -> Option<Effect> {
        self.0.pop_front()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Takes every queued effect, oldest first.
    pub fn drain(&mut self) -> impl Iterator<Item = Effect> + '_ {
        self.0.drain(..)
    }

    pub fn send(&mut self, to: ConnId, frame: Bytes) {
        self.push(Effect::Send { to, frame });
    }

    pub fn broadcast(&mut self, frame: Bytes, except: Option<ConnId>) {
        self.push(Effect::Broadcast {
            frame,
            except,
            cursor: None,
        });
    }

    /// Changed awareness states for every connection but `except`; a single cursor's state
    /// may replace an older one still queued (see [`crate::outbox::Outbox`]).
    pub fn broadcast_states(&mut self, changes: &Changes, except: Option<ConnId>) {
        self.push(Effect::Broadcast {
            frame: Bytes::from(collab_protocol::message::encode_awareness(&changes.encoded)),
            except,
            cursor: changes.only.map(|client| client.get()),
        });
    }

    pub fn close(&mut self, conn: ConnId, reason: CloseReason) {
        self.push(Effect::Close { conn, reason });
    }

    pub fn publish(&mut self, kind: Kind, payload: Vec<u8>) {
        self.push(Effect::Publish { kind, payload });
    }
}
