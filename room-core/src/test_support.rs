//! What the room core's tests share: a core to drive, writers, and readers of effects.

pub(crate) use std::sync::Arc;

pub(crate) use bytes::Bytes;
pub(crate) use collab_protocol::envelope::{Envelope, Kind};
pub(crate) use collab_protocol::message::decode_awareness;
pub(crate) use collab_protocol::{Extension, Message, close};
pub(crate) use yrs::sync::awareness::AwarenessUpdateEntry;
pub(crate) use yrs::sync::{AwarenessUpdate, SyncMessage};
pub(crate) use yrs::updates::encoder::Encode;
pub(crate) use yrs::{ClientID, Doc, Text, Transact};

pub(crate) use crate::budget::PendingBudget;
pub(crate) use crate::ext::OptIns;
pub(crate) use crate::principal::{Access, Principal};
pub(crate) use crate::tail::{EntryMark, LogEntry, LogHead, Tail};

pub(crate) use crate::catch_up::Fetched;
pub(crate) use crate::core::{RoomCore, Settings};
pub(crate) use crate::effect::{Effect, Effects, LogRead};

pub(crate) const GATEWAY: &str = "gw-self";

pub(crate) fn room_with(max_doc_bytes: usize, pending_bytes: usize) -> RoomCore {
    let settings = Settings {
        text_name: "monaco".into(),
        max_doc_bytes,
        max_awareness_bytes: 16 << 10,
        gateway_id: Arc::from(GATEWAY),
        file: collab_protocol::FileId::parse("sb/main.ts").expect("a valid file id"),
        diagnostics: Default::default(),
        run_apply: crate::apply::inline,
        clock: test_clock,
    };
    RoomCore::new(settings, Arc::new(PendingBudget::new(pending_bytes)))
}

/// Milliseconds since the tests' first look (tests may read the clock; the core does not).
fn test_clock() -> u64 {
    static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let elapsed = STARTED.get_or_init(std::time::Instant::now).elapsed();
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn room() -> RoomCore {
    room_with(1 << 20, 1 << 20)
}

pub(crate) fn user(id: &str, access: Access) -> Principal {
    Principal {
        verified: true,
        user: Arc::from(id),
        name: None,
        color: None,
        access,
    }
}

/// Joins `conn` as `principal` and returns what the join sent.
pub(crate) fn join(room: &mut RoomCore, conn: u64, principal: Principal) -> Vec<Effect> {
    let mut fx = Effects::new();
    room.on_join(conn, principal, OptIns::default(), &mut fx);
    fx.drain().collect()
}

pub(crate) fn client(room: &mut RoomCore, conn: u64, msg: Message) -> Vec<Effect> {
    let mut fx = Effects::new();
    room.on_client(conn, msg, &mut fx);
    fx.drain().collect()
}

pub(crate) fn remote(
    room: &mut RoomCore,
    origin: &str,
    kind: Kind,
    payload: Vec<u8>,
) -> Vec<Effect> {
    let mut fx = Effects::new();
    room.on_remote(Envelope::new(origin, kind, payload), &mut fx);
    fx.drain().collect()
}

pub(crate) fn fetched(room: &mut RoomCore, result: Fetched) -> Vec<Effect> {
    let mut fx = Effects::new();
    room.on_fetched(result, &mut fx);
    fx.drain().collect()
}

/// A writer's doc: each call to `type_text` is one update.
pub(super) struct Writer {
    doc: Doc,
}

impl Writer {
    pub(crate) fn new(client_id: u64) -> Self {
        Writer {
            doc: Doc::with_client_id(client_id),
        }
    }

    pub(crate) fn type_text(&self, text: &str) -> Vec<u8> {
        let t = self.doc.get_or_insert_text("monaco");
        let mut txn = self.doc.transact_mut();
        let end = t.len(&txn);
        t.insert(&mut txn, end, text);
        txn.encode_update_v1()
    }
}

pub(crate) fn update(bytes: Vec<u8>) -> Message {
    Message::Sync(SyncMessage::Update(bytes))
}

pub(crate) fn cursor(client: u64, clock: u32, json: &str) -> Message {
    let entry = AwarenessUpdateEntry {
        clock,
        json: json.into(),
    };
    Message::Awareness(AwarenessUpdate {
        clients: [(ClientID::new(client), entry)].into_iter().collect(),
    })
}

pub(crate) fn entry(pos: u64, update: Vec<u8>) -> LogEntry {
    LogEntry {
        pos,
        origin: "gw-other".into(),
        update,
    }
}

/// A head read's answer: `pos`, written by `origin` (`None`: the snapshot's position).
pub(crate) fn head(pos: u64, origin: Option<&str>) -> LogHead {
    LogHead {
        pos,
        last: origin.map(|origin| EntryMark {
            origin: origin.to_owned(),
            digest: None,
        }),
    }
}

/// The message a frame carries.
pub(crate) fn decoded(frame: &Bytes) -> Message {
    Message::decode(frame).expect("the room sends frames peers can decode")
}

/// The extension error a connection was sent, if any.
pub(crate) fn errors_sent(effects: &[Effect], to: u64) -> Vec<(u16, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to: t, frame } if *t == to => match decoded(frame) {
                Message::Extension(Extension::Error { code, reason, .. }) => Some((code, reason)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

pub(crate) fn closes(effects: &[Effect]) -> Vec<(u64, u16, &'static str)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Close { conn, reason } => Some((*conn, reason.code, reason.reason)),
            _ => None,
        })
        .collect()
}

pub(crate) fn appends(effects: &[Effect]) -> Vec<(Option<String>, &[u8])> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Append { author, update, .. } => {
                Some((author.as_deref().map(str::to_owned), update.as_slice()))
            }
            _ => None,
        })
        .collect()
}

pub(crate) fn reads(effects: &[Effect]) -> Vec<LogRead> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ReadLog(read) => Some(*read),
            _ => None,
        })
        .collect()
}

/// Document updates broadcast, with the connection left out.
pub(crate) fn relayed_updates(effects: &[Effect]) -> Vec<(Option<u64>, Vec<u8>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Broadcast { frame, except, .. } => match decoded(frame) {
                Message::Sync(SyncMessage::Update(u)) => Some((*except, u)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}
