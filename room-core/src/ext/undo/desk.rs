//! The room's side of server-side undo: capturing a writer's edit as an item part,
//! asking the engine for the user's top item, applying it to the replica, and telling the
//! user's opted-in connections their counts. Sans-IO like the core, which owns the log
//! budget and acts on the [`Outcome`].
//!
//! An item popped from Redis may name content this replica has not seen yet (the edit
//! came through another gateway and its publication is still on the way): it waits for
//! one log read, which brings everything the item's append stored with it.

use std::collections::HashMap;

use bytes::Bytes;
use collab_protocol::message::encode_update;
use collab_protocol::{Extension, Message, UndoOp, close};
use yrs::IdSet;

use crate::ext::Feature;
use crate::ext::undo::{self as items, UndoItem};
use crate::ext::undo::{Popped, UndoCounts, UndoRecord};
use crate::presence::ConnId;
use crate::principal::Principal;
use crate::replica::{ApplyError, Replica};

use crate::effect::{Effect, Effects, PopRequest};
use crate::member::Member;

/// Items of one request that changed nothing (their content is gone) are skipped, like
/// `Y.UndoManager` does, up to this many before the request is answered "not applied".
const MAX_SKIPPED: u32 = 16;

/// What the core does after an undo step.
#[derive(Debug)]
pub enum Outcome {
    /// Answered (or waiting): nothing more.
    Done,
    /// The item waits for the log read that brings its content.
    CatchUp,
    /// The item changed the replica (already relayed and answered): the result goes to
    /// the log like an edit, with the inverse for the other stack.
    Applied {
        update: Vec<u8>,
        record: Option<UndoRecord>,
    },
    /// yrs panicked applying it: the replica must be rebuilt.
    Reload,
}

/// A popped item waiting for the log read that brings its content.
#[derive(Debug)]
struct Waiting {
    request: PopRequest,
    item: UndoItem,
    counts: UndoCounts,
}

/// The undo requests of a room in flight.
#[derive(Debug, Default)]
pub struct UndoDesk {
    waiting: Vec<Waiting>,
}

/// The undo record of a writer's accepted edit (`None` when it inserted and deleted
/// nothing, such as a resent update).
pub fn capture(insertions: IdSet, deletions: IdSet) -> Option<UndoRecord> {
    let item = UndoItem::new(insertions, deletions);
    (!item.is_empty()).then(|| UndoRecord::Edit(item.encode()))
}

/// A writer asked to undo or redo its user's last change: the engine pops it, after the
/// appends queued before.
pub fn request(principal: &Principal, conn: ConnId, op: UndoOp, fx: &mut Effects) {
    fx.push(Effect::PopUndo(PopRequest {
        conn,
        user: principal.user.clone(),
        op,
        skipped: 0,
    }));
}

impl UndoDesk {
    /// The engine popped (or failed to pop) the item `request` asked for.
    pub fn on_popped(
        &mut self,
        request: &PopRequest,
        popped: Result<Popped, String>,
        replica: &Replica,
        members: &HashMap<ConnId, Member>,
        fx: &mut Effects,
    ) -> Outcome {
        let Popped { item, counts } = match popped {
            Ok(popped) => popped,
            Err(error) => {
                tracing::warn!(%error, op = request.op.name(), "popping an undo item failed");
                let error = Extension::error(
                    close::OVERLOADED,
                    "undo-unavailable",
                    "the undo history could not be read; try again",
                );
                fx.send(
                    request.conn,
                    Bytes::from(Message::Extension(error).encode()),
                );
                return Outcome::Done;
            }
        };
        let Some(stored) = item else {
            answer(request, false, counts, members, fx);
            return Outcome::Done;
        };
        match UndoItem::decode(&stored) {
            Ok(item) if item.beyond(&replica.state_vector()) => {
                let request = request.clone();
                self.waiting.push(Waiting {
                    request,
                    item,
                    counts,
                });
                Outcome::CatchUp
            }
            Ok(item) => apply(request, item, counts, replica, members, fx),
            Err(error) => {
                tracing::warn!(%error, "skipped an undo item that does not decode");
                skip(request, counts, members, fx)
            }
        }
    }

    /// After a log read: items that waited for it are applied with whatever the replica
    /// holds now, unless another read that may bring their content is due (`reading`).
    pub fn retry(
        &mut self,
        reading: bool,
        replica: &Replica,
        members: &HashMap<ConnId, Member>,
        fx: &mut Effects,
    ) -> Vec<(PopRequest, Outcome)> {
        if reading {
            return Vec::new();
        }
        std::mem::take(&mut self.waiting)
            .into_iter()
            .map(|w| {
                let outcome = apply(&w.request, w.item, w.counts, replica, members, fx);
                (w.request, outcome)
            })
            .collect()
    }
}

fn apply(
    request: &PopRequest,
    item: UndoItem,
    mut counts: UndoCounts,
    replica: &Replica,
    members: &HashMap<ConnId, Member>,
    fx: &mut Effects,
) -> Outcome {
    match items::apply(replica, item, request.op) {
        Ok(Some(undone)) => {
            fx.broadcast(Bytes::from(encode_update(&undone.update)), None);
            let record = undone.inverse.map(|inverse| match request.op {
                UndoOp::Undo => {
                    counts.redo += 1;
                    UndoRecord::Undone(inverse.encode())
                }
                UndoOp::Redo => {
                    counts.undo += 1;
                    UndoRecord::Redone(inverse.encode())
                }
            });
            crate::metrics::undo(request.op.name(), "applied");
            answer(request, true, counts, members, fx);
            Outcome::Applied {
                update: undone.update,
                record,
            }
        }
        Ok(None) => skip(request, counts, members, fx),
        Err(error) => {
            tracing::error!(%error, "applying an undo item failed");
            answer(request, false, counts, members, fx);
            if matches!(error, ApplyError::Panicked) {
                Outcome::Reload
            } else {
                Outcome::Done
            }
        }
    }
}

/// The item changed nothing: the next one is tried, as `Y.UndoManager` does.
fn skip(
    request: &PopRequest,
    counts: UndoCounts,
    members: &HashMap<ConnId, Member>,
    fx: &mut Effects,
) -> Outcome {
    let left = match request.op {
        UndoOp::Undo => counts.undo,
        UndoOp::Redo => counts.redo,
    };
    if left == 0 || request.skipped >= MAX_SKIPPED {
        answer(request, false, counts, members, fx);
    } else {
        fx.push(Effect::PopUndo(PopRequest {
            skipped: request.skipped + 1,
            ..request.clone()
        }));
    }
    Outcome::Done
}

/// Answers the requester, if still connected.
fn answer(
    request: &PopRequest,
    applied: bool,
    counts: UndoCounts,
    members: &HashMap<ConnId, Member>,
    fx: &mut Effects,
) {
    if !applied {
        crate::metrics::undo(request.op.name(), "nothing");
    }
    if members.contains_key(&request.conn) {
        fx.send(
            request.conn,
            state_frame(Some(request.op), Some(applied), counts),
        );
    }
}

/// A joiner that opted into undo gets its user's counts.
pub fn tell_counts(
    members: &HashMap<ConnId, Member>,
    conn: ConnId,
    counts: UndoCounts,
    fx: &mut Effects,
) {
    if members.contains_key(&conn) {
        fx.send(conn, state_frame(None, None, counts));
    }
}

/// The JSON of an `N` envelope, as the undo scripts write it.
#[derive(serde::Deserialize)]
struct CountsNotice {
    user: String,
    undo: u64,
    redo: u64,
}

/// A user's counts moved between zero and non-zero (on any gateway): its opted-in
/// connections here are told.
pub fn tell_notice(members: &HashMap<ConnId, Member>, payload: &[u8], fx: &mut Effects) {
    let notice: CountsNotice = match serde_json::from_slice(payload) {
        Ok(notice) => notice,
        Err(error) => return tracing::warn!(%error, "bad undo counts from the bus"),
    };
    let counts = UndoCounts {
        undo: notice.undo,
        redo: notice.redo,
    };
    let frame = state_frame(None, None, counts);
    for (conn, member) in members {
        if *member.principal.user == *notice.user && member.opt_ins.wants(Feature::Undo) {
            fx.send(*conn, frame.clone());
        }
    }
}

/// The `undo-state` frame.
fn state_frame(op: Option<UndoOp>, applied: Option<bool>, counts: UndoCounts) -> Bytes {
    let state = Extension::UndoState {
        op,
        applied,
        undo: counts.undo,
        redo: counts.redo,
    };
    Bytes::from(Message::Extension(state).encode())
}
