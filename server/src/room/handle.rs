//! A room's address, the commands its connections send it, and what every room of a
//! gateway shares.

use std::sync::Arc;

use collab_protocol::{FileId, Message};
use dashmap::DashMap;
use tokio::sync::{mpsc, oneshot};

use crate::access::{Access, Principal};
use crate::config::Config;
use crate::engine::{Bus, EngineError, Store};
use crate::outbox::Outbox;
use crate::pending::PendingAppends;
use crate::room::published::Published;
use collab_room_core::ext::OptIns;
use collab_room_core::ext::undo::UndoStack;
use collab_room_core::presence::ConnId;

/// Why a connection could not join.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The room was closing; open a new one.
    #[error("room retired")]
    Retired,
    #[error("document unavailable: {0}")]
    Unavailable(String),
    /// The file cannot be opened from its source (path, size, encoding): close 4400.
    #[error("the file cannot be opened: {0}")]
    Invalid(String),
}

/// What a room's connections (and the gateway) ask of it.
///
/// At most 32 B: the room's command channel allocates its first block of 32 commands when
/// the room opens and keeps it for the room's life, so every byte here is 32 in every open
/// room (issue 23). Larger payloads are boxed: a client message (72 B) costs an allocation
/// as it enters the room, next to its decoding's.
pub enum RoomCmd {
    Join(Box<Joining>),
    Leave {
        conn: ConnId,
    },
    Client {
        conn: ConnId,
        msg: Box<Message>,
    },
    /// The connection's grant was re-read and its access changed (revocation).
    SetAccess {
        conn: ConnId,
        access: Access,
    },
    /// An external tool posts or removes markers: the room answers whether the version
    /// (`None`: a removal, any version goes) is its text's.
    CheckPost {
        version: Option<String>,
        reply: oneshot::Sender<collab_room_core::ext::diagnostics::post::PostAnswer>,
    },
    /// Write the file back now if it is dirty (the gateway stops); answered when done.
    FlushFiles(oneshot::Sender<()>),
}

/// A connection joining a room.
pub struct Joining {
    pub conn: ConnId,
    /// Who the connection acts for.
    pub principal: Principal,
    /// The unsolicited extension messages it asked for.
    pub opt_ins: OptIns,
    pub outbox: Outbox,
    pub reply: oneshot::Sender<Result<(), JoinError>>,
}

/// The address of a room task.
#[derive(Clone)]
pub struct RoomHandle {
    pub id: u64,
    pub tx: mpsc::Sender<RoomCmd>,
    /// What the room shows without being asked (the status page reads it).
    pub published: Arc<Published>,
}

/// What every room of a gateway shares.
pub struct RoomContext {
    pub config: Arc<Config>,
    pub pending: Arc<PendingAppends>,
    pub store: Arc<dyn Store>,
    /// The per-user undo and redo lists.
    pub undo: Arc<dyn UndoStack<Error = EngineError>>,
    pub bus: Arc<dyn Bus>,
    pub registry: Arc<DashMap<FileId, RoomHandle>>,
    /// The open rooms' table sizes, summed for the census.
    pub totals: Arc<super::tally::RoomTotals>,
    /// The diagnostics cache, the parse pool and its settings.
    pub checking: crate::ext::diagnostics::check::Checking,
    /// Where files live besides Redis (`None`: `--files none`).
    pub files: Option<crate::ext::files::Files>,
}
