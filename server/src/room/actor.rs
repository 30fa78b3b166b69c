//! The room's task: the thin shell around [`RoomCore`] that owns channels, timers and the
//! connections' send queues, and runs the effects the core returns.
//!
//! Everything that changes a room happens on this task, in order: client commands arrive
//! through a bounded queue (a flooding client waits, nobody else does), channel messages
//! through the bus, log reads come back from tasks beside the room, and frames leave
//! through each connection's [`Outbox`] without waiting. However the task ends (retired
//! after its grace period, refused by Redis at open, or a panic) it leaves the registry
//! and the channel, so the next joiner of the file gets a fresh room.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use collab_protocol::envelope::Envelope;
use collab_protocol::{FileId, close};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::engine::inbox::{RoomSignals, RoomSink};
use crate::engine::log::Authored;
use crate::outbox::{Outbox, Queued, Straight};
use collab_room_core::close::CloseReason;
use collab_room_core::core::{RoomCore, Settings};
use collab_room_core::effect::{Effect, Effects};
use collab_room_core::ext::diagnostics::post::{PostAnswer, PostCheck};
use collab_room_core::presence::ConnId;

use super::appender::{self, Job};
use super::beside::{Beside, Results};
use super::handle::{JoinError, Joining, RoomCmd, RoomContext, RoomHandle};
use super::published::Published;

mod cursor_claims;
mod files;
mod reads;
mod sizes;
mod test_panic;

/// Attempts to open a room (100 ms doubling: about 3 s in all) before refusing joiners.
const OPEN_ATTEMPTS: u32 = 5;
/// Capacity of a room's queue of client messages.
const CLIENT_QUEUE: usize = 256;
/// Capacity of a room's queue of channel messages (overflow falls back to the log).
const REMOTE_QUEUE: usize = 1024;

struct Actor {
    id: u64,
    file: FileId,
    ctx: Arc<RoomContext>,
    core: RoomCore,
    fx: Effects,
    outboxes: HashMap<ConnId, Outbox>,
    commands: mpsc::Receiver<RoomCmd>,
    /// The room's appender task: accepted updates, in order, to the log, and undo pops.
    /// Started by the first of them ([`Actor::append`]).
    appender: Option<mpsc::UnboundedSender<Job>>,
    /// Where tasks beside the room (log and undo-count reads, cursor claims, diagnostics)
    /// send their results: the room keeps relaying between local clients while Redis is
    /// slow or down.
    results: Results,
    signals: Arc<RoomSignals>,
    empty_since: Option<Instant>,
    /// External posts waiting for the core's answer, by the id the core knows them by.
    posts: HashMap<u64, oneshot::Sender<PostAnswer>>,
    next_post: u64,
    retired: bool,
    /// Keeps the file in step with its source (`--files dir|sandbox`).
    files: Option<crate::ext::files::keeper::Keeper>,
    /// People, edits and file state, for the status page.
    published: Arc<Published>,
    /// This room's share of the census's room totals (taken back when the actor drops).
    tally: super::tally::RoomTally,
    /// When the room last reported its sizes to the census.
    sizes_reported: Option<Instant>,
}

/// Starts the task of a new room for `file` and returns its handle.
pub fn spawn(id: u64, file: FileId, ctx: Arc<RoomContext>) -> RoomHandle {
    let (tx, commands) = mpsc::channel(CLIENT_QUEUE);
    let (remote_tx, remote_rx) = mpsc::channel(REMOTE_QUEUE);
    let (results, beside) = Results::channel();
    let signals = Arc::new(RoomSignals::default());
    let settings = Settings {
        text_name: ctx.config.text_name.clone(),
        max_doc_bytes: ctx.config.max_doc_bytes,
        max_awareness_bytes: ctx.config.max_awareness_bytes,
        gateway_id: Arc::from(ctx.bus.gateway_id()),
        file: file.clone(),
        diagnostics: ctx.checking.settings,
        run_apply: super::runtime::run_apply,
        clock: super::runtime::millis,
    };
    let actor = Actor {
        id,
        core: RoomCore::new(settings, ctx.pending.budget()),
        fx: Effects::new(),
        outboxes: HashMap::new(),
        commands,
        appender: None,
        results,
        signals: signals.clone(),
        empty_since: Some(Instant::now()),
        posts: HashMap::new(),
        next_post: 0,
        retired: false,
        files: None,
        published: Arc::default(),
        tally: super::tally::RoomTally::new(ctx.totals.clone()),
        sizes_reported: None,
        file,
        ctx,
    };
    let published = actor.published.clone();
    let sink = RoomSink {
        room_id: id,
        tx: remote_tx,
        signals,
    };
    crate::metrics::rooms(1.0);
    let span = tracing::info_span!("room", file = %actor.file);
    let inputs = Inputs {
        remote: remote_rx,
        beside,
    };
    tokio::spawn(actor.run(inputs, sink).instrument(span));
    RoomHandle { id, tx, published }
}

/// What reaches a room besides its commands.
struct Inputs {
    remote: mpsc::Receiver<Box<Envelope>>,
    beside: mpsc::UnboundedReceiver<Beside>,
}

impl Actor {
    /// The room's life: open, serve, close.
    ///
    /// Not an `async fn`: an async function keeps its arguments besides the locals they
    /// move into, and the actor (2,112 B) was held twice by every room's task
    /// (`footprint_tests`).
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn would keep its arguments besides the locals they move into"
    )]
    fn run(mut self, mut inputs: Inputs, sink: RoomSink) -> impl Future<Output = ()> + Send {
        async move {
            if let Err(why) = self.open_file().await {
                self.retire(why);
                return;
            }
            if let Err(error) = self.open(sink).await {
                tracing::warn!(%error, "room could not open");
                self.retire(JoinError::Unavailable(error));
                return;
            }
            // The grace period counts from when the room can serve: joiners that queued up
            // during a load longer than it are admitted, not turned away as retired.
            self.empty_since = self.empty_since.map(|_| Instant::now());
            self.run_effects().await;
            let grace = self.ctx.config.room_grace();
            let mut tail_check = tokio::time::interval(self.ctx.config.tail_check());
            tail_check.tick().await;
            let signals = self.signals.clone();
            loop {
                // A room opened for an external post stays until the post is answered.
                let grace_end = self
                    .empty_since
                    .filter(|_| !self.core.posts_waiting())
                    .map(|at| at + grace);
                let check_due = self.core.diagnostics_due(Instant::now());
                tokio::select! {
                    cmd = self.commands.recv() => match cmd {
                        Some(cmd) => self.on_command(cmd),
                        None => break,
                    },
                    Some(envelope) = inputs.remote.recv() => self.core.on_remote(*envelope, &mut self.fx),
                    Some(result) = inputs.beside.recv() => self.on_beside(result),
                    () = sleep_until(check_due), if check_due.is_some() => {
                        self.core.on_diagnostics_due(Instant::now(), &mut self.fx)
                    }
                    () = signals.notified() => self.on_signals(),
                    _ = tail_check.tick() => self.core.on_tick(&mut self.fx),
                    input = crate::ext::files::keeper::next_input(&mut self.files) => self.on_file(input),
                    () = sleep_until(grace_end), if grace_end.is_some() => break,
                }
                self.run_effects().await;
                if let Some(keeper) = self.files.as_mut() {
                    keeper.after_input(&self.core);
                    self.published.file(keeper.status());
                }
                self.report_sizes();
            }
            self.close_file().await;
            self.retire(JoinError::Retired);
        }
    }

    /// Subscribes, then loads snapshot and log: whatever is published after the
    /// subscription is either in the load or arrives (or shows as a gap) later. Retries
    /// for a few seconds: right after Redis restarts, the first command on a connection
    /// may fail while it reconnects, and joiners should wait rather than be refused.
    async fn open(&mut self, sink: RoomSink) -> Result<(), String> {
        let mut backoff = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            match self.try_open(sink.clone()).await {
                Ok(()) => return Ok(()),
                Err(error) if attempt < OPEN_ATTEMPTS => {
                    tracing::info!(%error, attempt, "opening the room failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn try_open(&mut self, sink: RoomSink) -> Result<(), String> {
        self.ctx
            .bus
            .join(&self.file, sink)
            .await
            .map_err(|e| e.to_string())?;
        match self.ctx.store.read_since(&self.file, 0).await {
            Ok(tail) => {
                self.core.on_opened(tail, &mut self.fx);
                Ok(())
            }
            Err(error) => {
                // Leave the channel again, so the next attempt starts clean.
                self.ctx.bus.leave(&self.file, self.id);
                Err(error.to_string())
            }
        }
    }

    fn on_command(&mut self, cmd: RoomCmd) {
        match cmd {
            RoomCmd::Join(joining) => {
                let Joining {
                    conn,
                    principal,
                    opt_ins,
                    outbox,
                    reply,
                } = *joining;
                self.outboxes.insert(conn, outbox);
                self.empty_since = None;
                self.published.joined(conn, &principal);
                self.core.on_join(conn, principal, opt_ins, &mut self.fx);
                let _ = reply.send(Ok(()));
            }
            RoomCmd::Leave { conn } => self.forget(conn),
            RoomCmd::SetAccess { conn, access } => {
                self.published.access_changed(conn, access);
                self.core.on_access_changed(conn, access)
            }
            RoomCmd::CheckPost { version, reply } => {
                let id = self.next_post;
                self.next_post += 1;
                self.posts.insert(id, reply);
                let post = PostCheck { id, version };
                self.core.on_post(post, Instant::now(), &mut self.fx);
            }
            RoomCmd::FlushFiles(reply) => match self.files.as_mut() {
                Some(keeper) => keeper.flush(&self.core, reply),
                None => {
                    let _ = reply.send(());
                }
            },
            RoomCmd::Client { conn, msg } => {
                test_panic::crash_for_test(&self.ctx, &self.file);
                self.core.on_client(conn, *msg, &mut self.fx)
            }
        }
    }

    fn on_beside(&mut self, result: Beside) {
        let fx = &mut self.fx;
        match result {
            Beside::Fetched(fetched) => self.core.on_fetched(*fetched, fx),
            Beside::Popped(popped) => {
                let (request, popped) = *popped;
                self.core.on_popped(request, popped, fx)
            }
            Beside::Counts(conn, counts) => self.core.on_undo_counts(conn, counts, fx),
            Beside::Claims(claims) => self.core.on_cursors_claimed(&claims.0, &claims.1, fx),
            Beside::Checked(done) => {
                self.core
                    .on_checked(done.map(|done| *done), Instant::now(), fx)
            }
            Beside::WentBackwards => self.core.on_log_went_backwards(fx),
            Beside::Stored(pos, digest) => self.core.on_stored(pos, digest, fx),
            Beside::Loaded(loaded) => self.core.on_diagnostics_loaded(loaded, fx),
        }
    }

    fn on_signals(&mut self) {
        for gateway in self.signals.take_gone() {
            self.core.on_gateway_gone(&gateway, &mut self.fx);
        }
        if self.signals.take_catch_up() {
            self.core.on_catch_up_requested(&mut self.fx);
        }
    }

    /// Runs the queued effects in order, and those they cause, until none is left.
    async fn run_effects(&mut self) {
        while let Some(effect) = self.fx.pop() {
            match effect {
                Effect::Send { to, frame } => {
                    if let Some(outbox) = self.outboxes.get(&to)
                        && outbox.send(frame) == Queued::Gone
                    {
                        self.forget(to);
                    }
                }
                Effect::Broadcast {
                    frame,
                    except,
                    cursor,
                } => {
                    let mut straight = Straight::default();
                    let gone: Vec<ConnId> = self
                        .outboxes
                        .iter()
                        .filter(|(id, _)| Some(**id) != except)
                        .filter(|(_, outbox)| {
                            outbox.offer(&frame, cursor, &mut straight) == Queued::Gone
                        })
                        .map(|(id, _)| *id)
                        .collect();
                    straight.record(&frame);
                    for conn in gone {
                        self.forget(conn);
                    }
                }
                Effect::Close { conn, reason } => {
                    if let Some(outbox) = self.outboxes.remove(&conn) {
                        outbox.close(reason);
                    }
                    self.published.left(conn);
                    self.note_if_empty();
                }
                Effect::Append {
                    author,
                    update,
                    undo,
                } => {
                    let undo = undo.filter(|_| self.ctx.config.undo_policy().enabled());
                    let authored = Authored {
                        author,
                        update,
                        undo,
                    };
                    let applied = self.core.applied();
                    self.append(Job::Append(authored, applied));
                    self.published.edited();
                }
                Effect::PopUndo(request) => self.append(Job::Pop(request)),
                Effect::ReadUndoCounts { conn, user } => self.read_undo_counts(conn, user),
                Effect::ClaimCursors { user, ids } => self.claim_cursors(user, ids),
                Effect::Publish { kind, payload } => {
                    let (bus, file) = (self.ctx.bus.clone(), self.file.clone());
                    tokio::spawn(async move {
                        if let Err(error) = bus.publish(&file, kind, payload).await {
                            tracing::debug!(%error, "publish failed");
                        }
                    });
                }
                Effect::ReadLog(read) => self.read_log(read),
                Effect::Check(job) => {
                    let (file, with) = (self.file.clone(), self.ctx.checking.clone());
                    let results = self.results.clone();
                    tokio::spawn(async move {
                        let done = crate::ext::diagnostics::check::run(job, file, with).await;
                        results.send(Beside::Checked(done.map(Box::new)));
                    });
                }
                Effect::LoadDiagnostics => self.load_diagnostics(),
                Effect::AnswerPost { id, answer } => {
                    if let Some(reply) = self.posts.remove(&id) {
                        let _ = reply.send(answer);
                    }
                }
                Effect::Reload => {
                    let loaded = self.ctx.store.read_since(&self.file, 0).await;
                    let loaded = loaded.map_err(|e| e.to_string());
                    self.core.on_reloaded(loaded, &mut self.fx);
                }
            }
        }
    }

    /// Hands `job` to the room's appender, which the room's first job starts: a room whose
    /// clients only read (most of them, most of the time) never holds the appender's task
    /// and channel, ~4 KB (issue 23). The appender lives as long as the room from then on:
    /// a send cannot fail.
    fn append(&mut self, job: Job) {
        let appender = self.appender.get_or_insert_with(|| {
            appender::spawn(self.file.clone(), self.ctx.clone(), self.results.clone())
        });
        let _ = appender.send(job);
    }

    /// A connection left or its queue is gone: drop its outbox and tell the core.
    fn forget(&mut self, conn: ConnId) {
        self.outboxes.remove(&conn);
        self.published.left(conn);
        self.core.on_leave(conn, &mut self.fx);
        self.note_if_empty();
    }

    fn note_if_empty(&mut self) {
        if self.outboxes.is_empty() && self.empty_since.is_none() {
            self.empty_since = Some(Instant::now());
        }
    }

    /// Leaves the registry and the channel; joins still queued are told `why`, and
    /// connections still here (only after a panic) are closed with 1013 so they reconnect
    /// to a fresh room. Runs once, however the task ends.
    fn retire(&mut self, why: JoinError) {
        if std::mem::replace(&mut self.retired, true) {
            return;
        }
        self.ctx
            .registry
            .remove_if(&self.file, |_, handle| handle.id == self.id);
        self.commands.close();
        while let Ok(cmd) = self.commands.try_recv() {
            if let RoomCmd::Join(joining) = cmd {
                let _ = joining.reply.send(Err(why.clone()));
            }
        }
        for (_, outbox) in self.outboxes.drain() {
            outbox.close(CloseReason::error(
                close::OVERLOADED,
                "room-failed",
                "the document's room on this gateway failed; reconnect",
            ));
        }
        self.ctx.bus.leave(&self.file, self.id);
        crate::metrics::rooms(-1.0);
        tracing::debug!("room closed");
    }
}

impl Drop for Actor {
    /// A task that panicked is dropped without having retired: retire now, so the file's
    /// next joiner gets a fresh room instead of this dead one. A runtime shutting down
    /// drops its tasks the same way: that is no fault, and says so only at debug level.
    fn drop(&mut self) {
        if !self.retired {
            if std::thread::panicking() {
                tracing::error!(file = %self.file, "a room task panicked; its room is dropped");
            } else {
                tracing::debug!(file = %self.file, "a room task was dropped (shutting down)");
            }
            self.retire(JoinError::Retired);
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The sizes of a room's actor and of the future its task runs (`footprint_tests`).
#[cfg(test)]
pub fn sizes() -> (usize, usize) {
    fn future_of<A, B, C, F: std::future::Future>(_: impl FnOnce(A, B, C) -> F) -> usize {
        std::mem::size_of::<F>()
    }
    let run = future_of::<Actor, Inputs, RoomSink, _>(Actor::run);
    (std::mem::size_of::<Actor>(), run)
}
