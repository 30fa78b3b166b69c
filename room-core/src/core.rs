//! The room core: one open file's state and the rule for every input, without IO.
//!
//! It holds the replica, the presence (cursors), the connections with the principal each
//! acts for, the log position and the cached sync answer. Each input (a client message, a
//! channel envelope, a finished log read, a tick) appends [`Effects`]: frames for one
//! connection or all, closes, authored appends, publishes, log reads. The actor shell (in
//! the gateway, `collab_server::room::actor`) owns sockets' queues, channels, timers and
//! the clock and runs those effects; unit tests and the room fuzz target drive this same
//! code with no Redis and no runtime. The extensions' inputs sit in their homes
//! ([`crate::ext::undo`], [`crate::ext::diagnostics`]); the log's in `core/log_inputs.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use collab_protocol::envelope::{Envelope, Kind};
use collab_protocol::message::{decode_awareness, encode_awareness, encode_update};
use collab_protocol::{Extension, FileId, Message, close};
use yrs::sync::SyncMessage;

use crate::budget::PendingBudget;
use crate::close::CloseReason;
use crate::ext::undo::UndoRecord;
use crate::ext::{self, Feature, OptIns, Reply};
use crate::presence::{ConnId, Presence, REMOTE_STATE_TTL};
use crate::principal::{Access, Principal};
use crate::replica::{ApplyError, Replica};
use crate::tail::{EntryMark, Tail};

mod cursor_inputs;
mod log_inputs;

use crate::answer::AnswerCache;
use crate::apply::{self, Origin};
use crate::catch_up::CatchUp;
use crate::effect::{Effect, Effects};
use crate::ext::diagnostics::desk::DiagDesk;
use crate::ext::files::notice::FileNotices;
use crate::ext::undo::desk::{self as undo, UndoDesk};
use crate::member::Member;

/// What a room core is told when it is made.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The root `Y.Text` of a file.
    pub text_name: String,
    /// Largest document accepted, in bytes of accepted updates.
    pub max_doc_bytes: usize,
    /// Largest awareness state accepted, in bytes of its JSON (`--max-awareness-bytes`).
    pub max_awareness_bytes: usize,
    /// This gateway's id on the bus: its own envelopes come back on the channel.
    pub gateway_id: Arc<str>,
    /// The file (its extension picks the syntax checker).
    pub file: FileId,
    pub diagnostics: crate::ext::diagnostics::Settings,
    /// How each apply of an update runs ([`apply::inline`] without a shell).
    pub run_apply: apply::RunApply,
    /// Milliseconds on a monotonic clock, for the ages of cursors (the core reads none).
    pub clock: fn() -> u64,
}

/// The sizes of one room's tables ([`RoomCore::sizes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sizes {
    pub members: usize,
    pub awareness_states: usize,
    pub cursor_owners: usize,
    /// States waiting for the engine's claim.
    pub held_cursors: usize,
}

pub struct RoomCore {
    pub(crate) settings: Settings,
    pub(crate) pending: Arc<PendingBudget>,
    pub(crate) replica: Replica,
    pub(crate) presence: Presence,
    pub(crate) members: HashMap<ConnId, Member>,
    pub(crate) log: CatchUp,
    /// Rough size of the document: loaded state plus accepted updates.
    pub(crate) doc_bytes: usize,
    /// Updates were refused a place in the pending budget: once Redis answers again, this
    /// replica's whole state goes to the log.
    pub(crate) overflowed: bool,
    pub(crate) answers: AnswerCache,
    /// Popped undo items whose content the replica lacks, until the log read brings it.
    pub(crate) undos: UndoDesk,
    /// When the text is checked and which markers each watcher has.
    pub(crate) diag: DiagDesk,
    /// The file's last `file-state` (files on): for joiners and the other gateways.
    pub(crate) file_notices: FileNotices,
}

impl RoomCore {
    /// An empty room; `pending` is the gateway-wide budget of updates not yet stored.
    pub fn new(settings: Settings, pending: Arc<PendingBudget>) -> Self {
        let replica = Replica::new(&settings.text_name);
        let presence = Presence::new(replica.doc().clone(), settings.clock);
        let diag = DiagDesk::new(settings.diagnostics, &settings.file);
        RoomCore {
            settings,
            pending,
            replica,
            presence,
            members: HashMap::new(),
            log: CatchUp::default(),
            doc_bytes: 0,
            overflowed: false,
            answers: AnswerCache::default(),
            undos: UndoDesk::default(),
            diag,
            file_notices: FileNotices::default(),
        }
    }

    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// The log position the replica holds.
    pub fn applied(&self) -> u64 {
        self.log.applied()
    }

    pub fn has_members(&self) -> bool {
        !self.members.is_empty()
    }

    /// How many entries the room's tables hold now (the gateway's census sums them).
    pub fn sizes(&self) -> Sizes {
        let (states, owners) = self.presence.sizes();
        Sizes {
            members: self.members.len(),
            awareness_states: states,
            cursor_owners: owners,
            held_cursors: self.presence.held(),
        }
    }

    /// The file as stored when the room opens (subscribed first, so nothing falls between);
    /// asks the other gateways for their cursors.
    pub fn on_opened(&mut self, tail: Tail, fx: &mut Effects) {
        self.apply_tail(tail, false, fx);
        tracing::debug!(pos = self.applied(), "room opened");
        fx.publish(Kind::QueryAwareness, Vec::new());
        fx.push(Effect::LoadDiagnostics);
    }

    /// A connection joins: it gets the room's state vector and every cursor.
    pub fn on_join(
        &mut self,
        conn: ConnId,
        principal: Principal,
        opt_ins: OptIns,
        fx: &mut Effects,
    ) {
        let step1 = Message::Sync(SyncMessage::SyncStep1(self.replica.state_vector()));
        fx.send(conn, Bytes::from(step1.encode()));
        if let Some(states) = self.presence.all_states() {
            fx.send(conn, Bytes::from(encode_awareness(&states)));
        }
        if opt_ins.wants(Feature::Undo) {
            let user = principal.user.clone();
            fx.push(Effect::ReadUndoCounts { conn, user });
        }
        self.diag.on_join(opt_ins);
        self.file_notices.on_join(conn, opt_ins, fx);
        self.members.insert(conn, Member::new(principal, opt_ins));
    }

    /// A member's grant was re-read and changed (`rw` <-> `ro`): its later edits follow
    /// the new access; it stays connected.
    pub fn on_access_changed(&mut self, conn: ConnId, access: Access) {
        if let Some(member) = self.members.get_mut(&conn) {
            member.set_access(access);
        }
    }

    /// A connection left or was found gone: it is forgotten and its cursors removed
    /// everywhere.
    pub fn on_leave(&mut self, conn: ConnId, fx: &mut Effects) {
        let Some(member) = self.members.remove(&conn) else {
            return;
        };
        self.diag.on_leave(member.opt_ins);
        if let Some(removal) = self.presence.remove_conn(conn) {
            fx.broadcast(Bytes::from(encode_awareness(&removal)), None);
            fx.publish(Kind::Awareness, removal);
        }
    }

    /// One decoded message from a member (messages of connections that left are ignored).
    pub fn on_client(&mut self, conn: ConnId, msg: Message, fx: &mut Effects) {
        if !self.members.contains_key(&conn) {
            return;
        }
        match msg {
            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                match self.answers.answer(&self.replica, sv) {
                    Ok(frame) => fx.send(conn, frame),
                    Err(error) => {
                        tracing::error!(%error, "encoding a diff failed");
                        self.reload(fx);
                    }
                }
                if let Some(member) = self.members.get_mut(&conn)
                    && member.first_answer()
                {
                    self.diag.on_synced(conn, member.opt_ins, fx);
                }
            }
            Message::Sync(SyncMessage::SyncStep2(update) | SyncMessage::Update(update)) => {
                self.accept_update(conn, &update, fx)
            }
            Message::Awareness(mut update) => {
                let Some(member) = self.members.get(&conn) else {
                    return;
                };
                let max = self.settings.max_awareness_bytes;
                if let Some(error) = crate::awareness_rules::screen(&mut update, max) {
                    fx.send(conn, error);
                }
                crate::stamp::stamp(&mut update, &member.principal);
                let user = member.principal.cursor_owner();
                let local = self.presence.apply_local(conn, user, update);
                if let Some(changes) = local.changes {
                    fx.broadcast_states(&changes, Some(conn));
                    fx.publish(Kind::Awareness, changes.encoded);
                }
                if !local.claim.is_empty() {
                    let user = Arc::from(user);
                    fx.push(Effect::ClaimCursors {
                        user,
                        ids: local.claim,
                    });
                }
            }
            Message::QueryAwareness => {
                if let Some(states) = self.presence.all_states() {
                    fx.send(conn, Bytes::from(encode_awareness(&states)));
                }
            }
            Message::Extension(message) => self.on_extension(conn, message, fx),
            // Auth messages go from gateway to client only.
            Message::Auth(_) => {}
        }
    }

    fn on_extension(&mut self, conn: ConnId, message: Extension, fx: &mut Effects) {
        let Some(member) = self.members.get(&conn) else {
            return;
        };
        let cx = ext::Context {
            principal: &member.principal,
        };
        for reply in ext::dispatch(message, cx) {
            match reply {
                Reply::ToSender(answer) => {
                    fx.send(conn, Bytes::from(Message::Extension(answer).encode()))
                }
                Reply::Undo(op) => undo::request(&member.principal, conn, op, fx),
            }
        }
    }

    /// Validates a client's update by applying it; relays and appends what it changed.
    fn accept_update(&mut self, conn: ConnId, update: &[u8], fx: &mut Effects) {
        let Some(member) = self.members.get_mut(&conn) else {
            return;
        };
        if !member.principal.may_write() {
            // A stock client's empty step 2 on connect is not an edit.
            if !crate::replica::is_empty_update(update) {
                crate::metrics::rejected("read-only");
                if let Some(notice) = member.read_only_notice() {
                    fx.send(conn, notice);
                }
            }
            return;
        }
        let user = member.principal.user.clone();
        let max = self.settings.max_doc_bytes;
        if self.doc_bytes.saturating_add(update.len()) > max {
            let message = format!("the document would exceed {max} bytes");
            let reason = CloseReason::error(close::TOO_BIG, "document-too-big", message);
            self.close(conn, reason, fx);
            return;
        }
        let allowance = member.slow_checks.allowance((self.settings.clock)());
        match apply::timed_edit(self.settings.run_apply, &self.replica, update, allowance) {
            Ok(None) => {}
            Ok(Some(edit)) => {
                if let Some(member) = self.members.get_mut(&conn) {
                    member.slow_checks.spend(edit.check_work);
                }
                self.doc_bytes += edit.relay.len();
                fx.broadcast(Bytes::from(encode_update(&edit.relay)), Some(conn));
                let record = undo::capture(edit.insertions, edit.deletions);
                self.append(conn, user, edit.relay, record, fx);
            }
            Err(ApplyError::Early(missing)) => {
                // Not a fault: a resyncing client's step 2 brings this content again.
                crate::metrics::rejected("early-update");
                tracing::debug!(conn, %missing, "ignored an update that came before its predecessors");
            }
            Err(error) => {
                tracing::info!(conn, %error, "rejected an update");
                self.close(conn, CloseReason::refused_update(&error), fx);
                if error.needs_rebuild() {
                    self.reload(fx);
                }
            }
        }
    }

    /// Hands an accepted update to the log within the pending budget; past it, closes the
    /// writer with 1013 and remembers to store the whole state once Redis answers.
    pub(crate) fn append(
        &mut self,
        writer: ConnId,
        user: Arc<str>,
        update: Vec<u8>,
        undo: Option<UndoRecord>,
        fx: &mut Effects,
    ) {
        if self.pending.try_reserve(update.len()) {
            fx.push(Effect::Append {
                author: Some(user),
                update,
                undo,
            });
            return;
        }
        self.overflowed = true;
        let reason = CloseReason::error(
            close::OVERLOADED,
            "store-unavailable",
            "the document store is unreachable and this gateway holds all it can; reconnect later",
        );
        self.close(writer, reason, fx);
    }

    /// Queues this replica's whole state for the log (restoring what Redis lacks). It is
    /// nobody's edit, so it has no author.
    fn append_whole_state(&mut self, fx: &mut Effects) {
        match self.replica.diff(&yrs::StateVector::default()) {
            Ok(whole) => {
                self.pending.force_reserve(whole.len());
                fx.push(Effect::Append {
                    author: None,
                    update: whole,
                    undo: None,
                });
            }
            Err(error) => tracing::error!(%error, "encoding the whole state failed"),
        }
    }

    /// Closes a connection for breaking a rule (counted by reason) and forgets it.
    fn close(&mut self, conn: ConnId, reason: CloseReason, fx: &mut Effects) {
        crate::metrics::rejected(reason.reason);
        fx.close(conn, reason);
        self.on_leave(conn, fx);
    }

    /// A message on the file's channel: updates in log order, other gateways' cursors.
    pub fn on_remote(&mut self, envelope: Envelope, fx: &mut Effects) {
        let own = envelope.origin == *self.settings.gateway_id;
        match envelope.kind {
            Kind::Update { pos } if pos <= self.applied() => {}
            Kind::Update { pos } if pos == self.applied() + 1 => {
                let entry = EntryMark::of(&envelope.origin, &envelope.payload);
                if self.log.rewritten(pos, Some(&entry)) {
                    return self.restore_lost_log(fx);
                }
                self.apply_remote(&envelope.payload, fx);
                self.log.reached(pos, Some(entry));
            }
            Kind::Update { .. } => self.catch_up(fx),
            Kind::Awareness if !own => match decode_awareness(&envelope.payload) {
                Ok(update) => {
                    if let Some(changes) = self.presence.apply_remote(&envelope.origin, update) {
                        fx.broadcast_states(&changes, None);
                    }
                }
                Err(error) => tracing::warn!(%error, "bad awareness from the bus"),
            },
            Kind::UndoCounts => undo::tell_notice(&self.members, &envelope.payload, fx),
            Kind::Diagnostics => self.diag.on_remote(&envelope.payload, &self.members, fx),
            Kind::FileState if !own => {
                self.file_notices
                    .on_remote(&envelope.payload, &self.members, fx)
            }
            Kind::QueryAwareness if !own => {
                if let Some(states) = self.presence.local_states() {
                    fx.publish(Kind::Awareness, states);
                }
                self.file_notices.on_room_opened_elsewhere(fx);
            }
            _ => {}
        }
    }

    /// Another gateway died or left: its clients' cursors go.
    pub fn on_gateway_gone(&mut self, gateway: &str, fx: &mut Effects) {
        if let Some(removal) = self.presence.remove_gateway(gateway) {
            fx.broadcast(Bytes::from(encode_awareness(&removal)), None);
        }
    }

    /// The periodic safety net under pub/sub and the room's housekeeping.
    pub fn on_tick(&mut self, fx: &mut Effects) {
        self.answers.forget();
        self.check_head(fx);
        self.sweep_stale_cursors(fx);
        self.renew_cursor_claims(fx);
    }

    /// Expires other gateways' cursors whose removal pub/sub may have dropped.
    fn sweep_stale_cursors(&mut self, fx: &mut Effects) {
        if let Some(removal) = self.presence.sweep_remote(REMOTE_STATE_TTL) {
            fx.broadcast(Bytes::from(encode_awareness(&removal)), None);
        }
    }

    /// Replaces a replica that panicked with an empty one; the actor reloads the file
    /// ([`Effect::Reload`]) and hands it to [`RoomCore::on_reloaded`].
    pub(crate) fn reload(&mut self, fx: &mut Effects) {
        tracing::error!("rebuilding the room's replica after a panic");
        self.replica = Replica::new(&self.settings.text_name);
        self.answers.forget();
        self.log.forget();
        self.doc_bytes = 0;
        self.diag.on_reloaded();
        fx.push(Effect::Reload);
    }

    /// The whole file, read for a replica rebuilt after a panic: every client is asked
    /// for what the new replica lacks.
    pub fn on_reloaded(&mut self, loaded: Result<Tail, String>, fx: &mut Effects) {
        match loaded {
            Ok(tail) => self.apply_tail(tail, false, fx),
            Err(error) => tracing::warn!(%error, "reloading the room failed; clients resync"),
        }
        let sv = self.replica.state_vector();
        let step1 = Bytes::from(Message::Sync(SyncMessage::SyncStep1(sv)).encode());
        fx.broadcast(step1, None);
    }

    /// Applies a snapshot and log entries; `relay`: sends what they changed to the clients.
    fn apply_tail(&mut self, tail: Tail, relay: bool, fx: &mut Effects) {
        let head = tail.head(self.applied());
        let last = tail.entries.last();
        let head_entry = last
            .filter(|e| e.pos == head)
            .map(|e| EntryMark::of(&e.origin, &e.update));
        let updates = tail
            .snapshot
            .into_iter()
            .map(|(_, state)| state)
            .chain(tail.entries.into_iter().map(|e| e.update));
        for update in updates {
            if relay {
                self.apply_remote(&update, fx);
            } else {
                self.doc_bytes += update.len();
                if let Err(error) = self.replica.apply(&update) {
                    tracing::error!(%error, "a stored update does not apply");
                }
            }
        }
        self.log.reached(head, head_entry);
    }

    /// Applies an update from the log or channel and relays what it changed.
    fn apply_remote(&mut self, update: &[u8], fx: &mut Effects) {
        match apply::timed(self.settings.run_apply, &self.replica, update, Origin::Log) {
            Ok(Some(changes)) => {
                self.doc_bytes += changes.len();
                fx.broadcast(Bytes::from(encode_update(&changes)), None);
            }
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "an update from the log does not apply"),
        }
    }
}
