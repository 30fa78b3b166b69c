//! A room's file keeper: the IO beside the room's actor that keeps the document and its
//! file in step, one job at a time.
//!
//! Two jobs, never both at once: a write (the latest text, conditional on the ETag last
//! synced, under the file's write lease) when the [`Schedule`] says so, and a check of the
//! source (read the file; if it is not the version last synced, hand base and file to the
//! room core, which merges) when the change feed announces a version nobody synced, a
//! write met a conflict, or the room just opened. A version nobody synced is merged only
//! once it has settled (two reads apart agree, [`super::settle`]): a file caught in the
//! middle of a save is never merged. Only the lease holder writes and merges; the others
//! hear the result as ordinary updates, and retry after a lease's life in case the holder
//! died. What the gateways last synced lives in the engine's
//! [`FileState`](crate::engine::FileState), so any gateway taking over starts from it. The
//! jobs themselves are in [`super::job`].

use std::time::Instant;

use collab_protocol::{Extension, FileId, FileSyncState};
use tokio::sync::{broadcast, mpsc, oneshot};

use collab_room_core::core::RoomCore;
use collab_room_core::effect::Effects;
use collab_room_core::ext::files::{DIFF_BUDGET, Schedule};

mod status;

use super::job::{Done, Job};
use super::settle;
use super::source::{Etag, SourceChange, Watch};
use super::{Files, metrics};

/// What wakes the keeper.
pub enum Input {
    Done(Done),
    Change(Result<SourceChange, broadcast::error::RecvError>),
    Due,
}

pub struct Keeper {
    file: FileId,
    files: Files,
    schedule: Schedule,
    /// The replica version last looked at (a change means an edit).
    seen_version: Option<u64>,
    /// The text and ETag this gateway last synced (read, merged or written).
    synced: Option<String>,
    etag: Option<Etag>,
    /// A check of the source is wanted, at this time.
    check_at: Option<Instant>,
    busy: bool,
    /// When the first edit of the write in flight was made (for the write lag).
    dirty_since: Option<Instant>,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    watch: Watch,
    /// The watch's feed still runs (false once it closed: the gateway stops).
    feed_open: bool,
    /// The last job failed and the members were told so: the next success says `saved`.
    failed: bool,
    /// This gateway's last job found it holding the write lease: its writes are the file's,
    /// so it says `saving` (a gateway that does not write says nothing: the holder's states
    /// reach its members through the file's channel).
    holder: bool,
    flushes: Vec<oneshot::Sender<()>>,
    /// When this keeper last wrote the file (for the status page).
    last_write: Option<Instant>,
}

impl Keeper {
    /// A keeper for a room that just opened: it checks the source first (the file may have
    /// changed while nobody had it open).
    pub fn new(file: FileId, files: Files) -> Keeper {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let schedule = Schedule::new(files.settings.write_back, files.settings.write_back_max);
        Keeper {
            watch: files.source.watch(&file),
            feed_open: true,
            failed: false,
            holder: false,
            file,
            files,
            schedule,
            seen_version: None,
            synced: None,
            etag: None,
            check_at: Some(Instant::now()),
            busy: false,
            dirty_since: None,
            done_tx,
            done_rx,
            flushes: Vec::new(),
            last_write: None,
        }
    }

    /// The next thing to act on.
    pub async fn next(&mut self) -> Input {
        let due = if self.busy {
            None
        } else {
            match (self.check_at, self.schedule.due()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };
        tokio::select! {
            Some(done) = self.done_rx.recv() => Input::Done(done),
            change = self.watch.changes.recv(), if self.feed_open => Input::Change(change),
            () = sleep_until(due) => Input::Due,
        }
    }

    /// After any input of the room: an edit (the replica's version moved) is scheduled.
    pub fn after_input(&mut self, core: &RoomCore) {
        let version = core.replica().version();
        if self.seen_version.is_some_and(|seen| seen != version) {
            let now = Instant::now();
            self.schedule.on_edit(now);
            self.dirty_since.get_or_insert(now);
        }
        self.seen_version = Some(version);
    }

    /// Writes whatever is dirty as soon as no job runs; `reply` when nothing is left.
    pub fn flush(&mut self, core: &RoomCore, reply: oneshot::Sender<()>) {
        self.after_input(core);
        if self.is_settled(core) {
            let _ = reply.send(());
            return;
        }
        self.schedule.flush();
        self.flushes.push(reply);
    }

    /// Nothing to write and nothing in flight.
    fn is_settled(&self, core: &RoomCore) -> bool {
        !self.busy
            && !self.schedule.is_dirty()
            && (self.synced.is_none() && core.replica().text().is_empty()
                || self.synced.as_deref() == Some(core.replica().text().as_str()))
    }

    pub fn handle(&mut self, input: Input, core: &mut RoomCore, fx: &mut Effects) {
        let now = Instant::now();
        match input {
            Input::Change(Ok(change)) if change.file == self.file => {
                if change.etag.is_none() || change.etag != self.etag {
                    self.check_at.get_or_insert(now);
                }
            }
            Input::Change(Ok(_)) => {}
            Input::Change(Err(broadcast::error::RecvError::Lagged(_))) => {
                self.check_at.get_or_insert(now);
            }
            // The source's feed ended (the gateway stops): nothing more comes.
            Input::Change(Err(broadcast::error::RecvError::Closed)) => {
                self.feed_open = false;
            }
            Input::Done(done) => self.finished(done, core, fx, now),
            Input::Due => {}
        }
        self.start_next(core, fx, now);
        if self.is_settled(core) {
            for reply in self.flushes.drain(..) {
                let _ = reply.send(());
            }
        }
    }

    fn finished(&mut self, done: Done, core: &mut RoomCore, fx: &mut Effects, now: Instant) {
        self.busy = false;
        let lease_life = self.files.settings.lease_ttl();
        let recovered = std::mem::replace(&mut self.failed, matches!(done, Done::Failed(_)));
        self.holder = matches!(
            done,
            Done::Written { .. }
                | Done::Outside { .. }
                | Done::Same { .. }
                | Done::Conflict
                | Done::Unsettled
        );
        match done {
            Done::Written { etag, text } => {
                metrics::write("written");
                self.last_write = Some(now);
                if let Some(since) = self.dirty_since.take() {
                    metrics::write_lag(now.saturating_duration_since(since));
                }
                self.schedule.on_written(None);
                core.tell_file_state(state(FileSyncState::Saved, Some(&etag), None), fx);
                self.synced = Some(text);
                self.etag = Some(etag);
            }
            Done::Clean => {
                self.schedule.on_written(None);
                self.dirty_since = None;
            }
            Done::NotHolder => self.schedule.on_written(Some(now + lease_life / 2)),
            Done::Conflict => {
                metrics::write("conflict");
                // The next write follows the check (before it, it would meet 412 again).
                let check = *self.check_at.get_or_insert(now);
                self.schedule.on_written(Some(check));
            }
            Done::Failed(reason) => {
                metrics::write("failed");
                tracing::warn!(%reason, "writing or reading the file failed; retrying");
                let retry = now + self.files.settings.write_back_max;
                if self.schedule.in_flight() {
                    self.schedule.on_written(Some(retry));
                } else {
                    self.check_at = Some(retry);
                }
                core.tell_file_state(state(FileSyncState::Failed, None, Some(&reason)), fx);
            }
            Done::Outside { base, theirs, etag } => {
                if core.on_outside_change(&base, &theirs, Instant::now() + DIFF_BUDGET, fx) {
                    metrics::outside_merge();
                    core.tell_file_state(state(FileSyncState::Merged, Some(&etag), None), fx);
                }
                self.synced = Some(theirs);
                self.etag = Some(etag);
            }
            Done::Same { etag, base } => {
                // After a failure, or the first check of a room no gateway told a state
                // yet while the document is the file's text: say so (joiners get it too).
                let in_step =
                    etag.is_some() && base.as_deref() == Some(core.replica().text().as_str());
                if recovered || (in_step && !core.knows_file_state()) {
                    core.tell_file_state(state(FileSyncState::Saved, etag.as_ref(), None), fx);
                }
                if etag.is_some() {
                    self.etag = etag;
                    self.synced = base;
                }
            }
            Done::Deleted => {
                self.synced = None;
                self.etag = None;
                core.tell_file_state(state(FileSyncState::Deleted, None, None), fx);
            }
            Done::Unsettled => {
                tracing::debug!("the file kept changing while it was read; reading it later");
                self.check_at = Some(now + settle::RETRY);
            }
            Done::CheckNotHolder => self.check_at = Some(now + lease_life),
        }
    }

    /// Starts the next job if none runs: a due check first, then a due write.
    fn start_next(&mut self, core: &mut RoomCore, fx: &mut Effects, now: Instant) {
        if self.busy {
            return;
        }
        if self.check_at.is_some_and(|at| at <= now) {
            // Taken now: a change announced while the check runs asks for another one.
            self.check_at = None;
            self.busy = true;
            Job::new(&self.file, &self.files, &self.done_tx).spawn_check();
            return;
        }
        if !self.schedule.poll(now) {
            return;
        }
        let text = core.replica().text();
        if self.synced.as_deref() == Some(text.as_str())
            || (self.synced.is_none() && self.etag.is_none() && text.is_empty())
        {
            self.schedule.on_written(None);
            self.dirty_since = None;
            return;
        }
        self.busy = true;
        if self.holder {
            core.tell_file_state(state(FileSyncState::Saving, None, None), fx);
        }
        Job::new(&self.file, &self.files, &self.done_tx).spawn_write(text);
    }

    /// The room closes: the last write (waiting for one in flight first), then the lease
    /// goes back. Bounded by the caller's deadline.
    pub async fn close(&mut self, core: &mut RoomCore, fx: &mut Effects) {
        self.after_input(core);
        self.schedule.flush();
        self.check_at = None;
        loop {
            if self.busy {
                match self.done_rx.recv().await {
                    Some(done) => self.finished(done, core, fx, Instant::now()),
                    None => break,
                }
                continue;
            }
            self.start_next(core, fx, Instant::now());
            if !self.busy {
                break;
            }
        }
        if let Err(error) = self.files.state.release(&self.file).await {
            tracing::debug!(%error, "releasing the file's lease failed; it expires");
        }
        for reply in self.flushes.drain(..) {
            let _ = reply.send(());
        }
    }
}

fn state(state: FileSyncState, etag: Option<&Etag>, reason: Option<&str>) -> Extension {
    Extension::FileState {
        state,
        etag: etag.map(|e| e.0.clone()),
        reason: reason.map(str::to_owned),
    }
}

/// The next input of a room's keeper; never, for a room without one.
pub async fn next_input(keeper: &mut Option<Keeper>) -> Input {
    match keeper {
        Some(keeper) => keeper.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
