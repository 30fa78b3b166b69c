//! The registry of open rooms: one per file with local clients, found through a
//! concurrent map. Joiners of a file that is not open yet create its room; everyone who
//! joins while it loads waits for that one load.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use collab_protocol::{FileId, Message};
use dashmap::DashMap;
use futures_util::future::{BoxFuture, Either, Ready, ready};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

use crate::access::{Access, Principal};
use crate::outbox::Outbox;
use crate::room::published::Published;
use crate::room::{self, JoinError, Joining, RoomCmd, RoomContext, RoomHandle};
use collab_room_core::ext::OptIns;
use collab_room_core::ext::diagnostics::post::PostAnswer;
use collab_room_core::presence::ConnId;

pub struct Rooms {
    ctx: Arc<RoomContext>,
    next_room: AtomicU64,
    next_conn: AtomicU64,
}

/// A connection's membership in a room.
pub struct Membership {
    pub conn: ConnId,
    tx: mpsc::Sender<RoomCmd>,
}

impl Membership {
    /// Hands a client message to the room, waiting while its queue is full (a client
    /// that floods its room is slowed down, not anyone else). False if the room is gone.
    ///
    /// Only the wait is a future of its own, and boxed: it holds the command and a place
    /// in the queue's wait list (416 B inline), which the reader of every idle connection
    /// would otherwise carry for rare moments of a full queue (`footprint_tests`).
    pub fn send(&self, msg: Message) -> Either<Ready<bool>, BoxFuture<'_, bool>> {
        let conn = self.conn;
        let msg = Box::new(msg);
        match self.tx.try_send(RoomCmd::Client { conn, msg }) {
            Ok(()) => Either::Left(ready(true)),
            Err(TrySendError::Closed(_)) => Either::Left(ready(false)),
            Err(TrySendError::Full(cmd)) => {
                Either::Right(Box::pin(async move { self.tx.send(cmd).await.is_ok() }))
            }
        }
    }

    pub async fn leave(self) {
        let _ = self.tx.send(RoomCmd::Leave { conn: self.conn }).await;
    }

    /// A handle that changes this connection's access in its room, for whoever re-reads
    /// its grant ([`crate::access::revocation`]).
    pub fn access_switch(&self) -> AccessSwitch {
        AccessSwitch {
            conn: self.conn,
            tx: self.tx.clone(),
        }
    }
}

/// Changes one connection's access in its room (`rw` <-> `ro`) without closing it.
#[derive(Clone)]
pub struct AccessSwitch {
    conn: ConnId,
    tx: mpsc::Sender<RoomCmd>,
}

impl AccessSwitch {
    /// A switch for `conn` on a room queue a test holds the other end of.
    #[cfg(test)]
    pub fn for_test(conn: ConnId, tx: mpsc::Sender<RoomCmd>) -> Self {
        AccessSwitch { conn, tx }
    }

    /// Queues the change; never waits (a full room queue gets it from a task of its own).
    pub fn set(&self, access: Access) {
        let cmd = RoomCmd::SetAccess {
            conn: self.conn,
            access,
        };
        if let Err(TrySendError::Full(cmd)) = self.tx.try_send(cmd) {
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(cmd).await;
            });
        }
    }
}

impl Rooms {
    pub fn new(ctx: Arc<RoomContext>) -> Self {
        Rooms {
            ctx,
            next_room: AtomicU64::new(1),
            next_conn: AtomicU64::new(1),
        }
    }

    fn registry(&self) -> &Arc<DashMap<FileId, RoomHandle>> {
        &self.ctx.registry
    }

    /// Joins `file`'s room for `principal`, opening it if needed.
    pub async fn join(
        &self,
        file: &FileId,
        principal: Principal,
        opt_ins: OptIns,
        outbox: Outbox,
    ) -> Result<Membership, JoinError> {
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        // A room may retire between the look-up and the join: then open a fresh one.
        for _ in 0..8 {
            let handle = self.get_or_open(file);
            let (reply, answer) = oneshot::channel();
            let join = RoomCmd::Join(Box::new(Joining {
                conn,
                principal: principal.clone(),
                opt_ins,
                outbox: outbox.clone(),
                reply,
            }));
            if handle.tx.send(join).await.is_err() {
                // A room task that ended drops its own entry; never retry a dead one.
                self.registry()
                    .remove_if(file, |_, open| open.id == handle.id);
                continue;
            }
            match answer.await {
                Ok(Ok(())) => {
                    return Ok(Membership {
                        conn,
                        tx: handle.tx,
                    });
                }
                Ok(Err(JoinError::Retired)) | Err(_) => continue,
                Ok(Err(error)) => return Err(error),
            }
        }
        Err(JoinError::Unavailable("the room kept closing".into()))
    }

    /// Asks `file`'s room (opening it if needed: it stays for its grace period) whether
    /// an external post's version is its text's.
    pub async fn check_post(
        &self,
        file: &FileId,
        version: Option<String>,
    ) -> Result<PostAnswer, JoinError> {
        for _ in 0..8 {
            let handle = self.get_or_open(file);
            let (reply, answer) = oneshot::channel();
            let version = version.clone();
            let cmd = RoomCmd::CheckPost { version, reply };
            if handle.tx.send(cmd).await.is_err() {
                self.registry()
                    .remove_if(file, |_, open| open.id == handle.id);
                continue;
            }
            // A room that retires before answering drops the reply: ask the next one.
            if let Ok(answer) = answer.await {
                return Ok(answer);
            }
        }
        Err(JoinError::Unavailable("the room kept closing".into()))
    }

    /// Every open room's file, id and published facts ([`crate::room::published`]), read
    /// from the registry without asking any room.
    pub fn published(&self) -> Vec<(FileId, u64, Arc<Published>)> {
        self.registry()
            .iter()
            .map(|room| (room.key().clone(), room.id, room.published.clone()))
            .collect()
    }

    /// What the rooms share for files (`--files`), if anything.
    pub fn files(&self) -> Option<&crate::ext::files::Files> {
        self.ctx.files.as_ref()
    }

    /// Asks every open room to write its file back now (the gateway stops); returns when
    /// all answered.
    pub async fn flush_files(&self) {
        let handles: Vec<RoomHandle> = self.registry().iter().map(|r| r.value().clone()).collect();
        let mut answers = Vec::with_capacity(handles.len());
        for handle in handles {
            let (reply, answer) = oneshot::channel();
            if handle.tx.send(RoomCmd::FlushFiles(reply)).await.is_ok() {
                answers.push(answer);
            }
        }
        for answer in answers {
            let _ = answer.await;
        }
    }

    fn get_or_open(&self, file: &FileId) -> RoomHandle {
        self.registry()
            .entry(file.clone())
            .or_insert_with(|| {
                let id = self.next_room.fetch_add(1, Ordering::Relaxed);
                room::spawn(id, file.clone(), self.ctx.clone())
            })
            .clone()
    }
}
