//! Fuzz harness for a room fed arbitrary client messages: it drives the gateway's own room
//! core (`collab_room_core::core::RoomCore`), the code the room task runs, with no Redis.
//!
//! A fuzz input is a sequence of frames from up to four connections (see [`Record`]);
//! connection 3 is a read-only member, the others writers. A connection joins the room
//! with its first frame; an undecodable frame ends it (the session closes it), and so does
//! a close the room decides; its next frame joins it again, as a reconnect would. Every
//! effect the core returns is checked the way its receiver would take it.
//!
//! Checked on every input, besides "never panics" (a replica rebuild after a panic inside
//! yrs counts, although the room would contain it):
//! - every frame sent or broadcast decodes with the strict decoder clients and tests use,
//!   and every published awareness change decodes as the bus does;
//! - a peer that applied only what the room broadcast holds the room's text, and so does a
//!   replica fed only what the room appended to the log;
//! - the room's whole state (`diff` against the empty state vector) rebuilds a fresh replica
//!   with the same text and state vector, as a joining client or a snapshot would.
//!
//! Shared by `fuzz/fuzz_targets/room.rs` and the corpus replay test
//! `server/tests/fuzz_corpus.rs`, both of which include this file with `#[path]`.

use std::sync::Arc;

use collab_protocol::Message;
use collab_protocol::envelope::Kind;
use collab_protocol::message::decode_awareness;
use collab_room_core::budget::PendingBudget;
use collab_room_core::core::{RoomCore, Settings};
use collab_room_core::effect::{Effect, Effects};
use collab_room_core::ext::OptIns;
use collab_room_core::presence::ConnId;
use collab_room_core::principal::{Access, Principal};
use collab_room_core::replica::Replica;
use yrs::StateVector;
use yrs::Update;
use yrs::sync::SyncMessage;
use yrs::updates::decoder::Decode;

/// The name of the text the gateway's replicas hold.
pub const TEXT: &str = "monaco";

/// Connections per input: enough for cursors to change owner and for one to leave while
/// others stay.
pub const CONNS: u8 = 4;

/// The connection that may only read.
const READ_ONLY: ConnId = 3;

/// One step of an input.
///
/// ```text
/// input  := record*
/// record := op:u8 frame        op & 0x80 == 0: connection op % 4 sends a frame of
///           len:u16le bytes    len bytes (fewer if the input ends first)
///         | op:u8              op & 0x80 != 0: connection op % 4 leaves
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    Frame(ConnId, &'a [u8]),
    Leave(ConnId),
}

/// Splits an input into records; never fails (a short tail is a short frame).
pub fn records(mut data: &[u8]) -> Vec<Record<'_>> {
    let mut out = Vec::new();
    while let Some((&op, rest)) = data.split_first() {
        let conn = ConnId::from(op % CONNS);
        if op & 0x80 != 0 {
            out.push(Record::Leave(conn));
            data = rest;
            continue;
        }
        let len = match rest {
            [lo, hi, ..] => usize::from(u16::from_le_bytes([*lo, *hi])),
            _ => 0,
        };
        let rest = rest.get(2..).unwrap_or_default();
        let (frame, tail) = rest.split_at(len.min(rest.len()));
        out.push(Record::Frame(conn, frame));
        data = tail;
    }
    out
}

/// Encodes records into an input (for seeds).
pub fn encode(records: &[Record<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for record in records {
        match record {
            Record::Frame(conn, frame) => {
                let len = u16::try_from(frame.len()).expect("a seed frame fits in 64 KiB");
                out.push(conn_byte(*conn));
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(frame);
            }
            Record::Leave(conn) => out.push(0x80 | conn_byte(*conn)),
        }
    }
    out
}

fn conn_byte(conn: ConnId) -> u8 {
    u8::try_from(conn % u64::from(CONNS)).unwrap_or(0)
}

/// Runs one input through a fresh room and checks the invariants.
pub fn run(data: &[u8]) {
    let settings = Settings {
        text_name: TEXT.into(),
        max_doc_bytes: 64 << 20,
        max_awareness_bytes: 16 << 10,
        gateway_id: Arc::from("gw-fuzz"),
        file: collab_protocol::FileId::parse("sb/fuzz.ts").expect("a valid file id"),
        diagnostics: Default::default(),
        run_apply: collab_room_core::apply::inline,
        // Cursors never age within one input.
        clock: || 0,
    };
    let mut room = RoomCore::new(settings, Arc::new(PendingBudget::new(usize::MAX)));
    let mut receivers = Receivers {
        peer: Replica::new(TEXT),
        log: Replica::new(TEXT),
        joined: [false; CONNS as usize],
    };
    let mut fx = Effects::new();
    for record in records(data) {
        match record {
            Record::Leave(conn) => {
                room.on_leave(conn, &mut fx);
                receivers.joined[slot(conn)] = false;
            }
            Record::Frame(conn, frame) => {
                if !receivers.joined[slot(conn)] {
                    room.on_join(conn, principal(conn), OptIns::default(), &mut fx);
                    receivers.joined[slot(conn)] = true;
                }
                match Message::decode(frame) {
                    Ok(msg) => room.on_client(conn, msg, &mut fx),
                    // The session closes the connection; the room forgets it.
                    Err(_) => {
                        room.on_leave(conn, &mut fx);
                        receivers.joined[slot(conn)] = false;
                    }
                }
            }
        }
        receivers.take(&mut fx);
    }
    check_state(room.replica(), &receivers);
}

fn slot(conn: ConnId) -> usize {
    usize::try_from(conn % u64::from(CONNS)).unwrap_or(0)
}

fn principal(conn: ConnId) -> Principal {
    Principal {
        verified: true,
        user: Arc::from(format!("user-{conn}")),
        name: None,
        color: None,
        access: if conn == READ_ONLY {
            Access::ReadOnly
        } else {
            Access::ReadWrite
        },
    }
}

/// What is on the other end of the room's effects.
struct Receivers {
    /// A client that applies every update the room broadcasts.
    peer: Replica,
    /// The log: every update the room appends.
    log: Replica,
    joined: [bool; CONNS as usize],
}

impl Receivers {
    /// Takes the effects as their receivers would, and checks them.
    fn take(&mut self, fx: &mut Effects) {
        for effect in fx.drain() {
            match effect {
                Effect::Send { frame, .. } => {
                    if let Message::Sync(SyncMessage::SyncStep2(diff)) = strict(&frame) {
                        assert!(
                            Update::decode_v1(&diff).is_ok(),
                            "the step-2 answer does not decode"
                        );
                    }
                }
                Effect::Broadcast { frame, .. } => {
                    if let Message::Sync(SyncMessage::Update(update)) = strict(&frame)
                        && let Err(error) = self.peer.apply(&update)
                    {
                        panic!("a relayed update does not apply on a peer: {error}");
                    }
                }
                Effect::Close { conn, .. } => self.joined[slot(conn)] = false,
                Effect::Append { update, .. } => {
                    if let Err(error) = self.log.apply(&update) {
                        panic!("an appended update does not apply from the log: {error}");
                    }
                }
                Effect::Publish { kind, payload } => {
                    if kind == Kind::Awareness
                        && let Err(error) = decode_awareness(&payload)
                    {
                        panic!("a published awareness update does not decode: {error}");
                    }
                }
                // No engine here: undo requests find empty stacks, joiners' counts are
                // never read (the undo path itself has its own end-to-end tests).
                Effect::PopUndo(_) | Effect::ReadUndoCounts { .. } => {}
                // Claims of cursor client ids go to the engine; unanswered, held states
                // are never shown (the fuzzed connections are anonymous anyway).
                Effect::ClaimCursors { .. } => {}
                // Diagnostics run beside the room; their inputs are not fuzzed here.
                Effect::Check(_) | Effect::LoadDiagnostics | Effect::AnswerPost { .. } => {}
                // Client messages never ask for log reads.
                Effect::ReadLog(read) => panic!("a client message asked for a log read: {read:?}"),
                Effect::Reload => panic!("yrs panicked: the room rebuilds its replica"),
            }
        }
    }
}

/// Clients and tests decode every frame strictly.
fn strict(frame: &[u8]) -> Message {
    match Message::decode(frame) {
        Ok(msg) => msg,
        Err(error) => panic!("the room sent a frame that does not decode: {error}"),
    }
}

fn check_state(replica: &Replica, receivers: &Receivers) {
    let text = replica.text();
    assert_eq!(
        receivers.peer.text(),
        text,
        "a peer fed the relayed updates diverged"
    );
    assert_eq!(receivers.log.text(), text, "a replica fed the log diverged");
    let fresh = Replica::new(TEXT);
    let state = replica
        .diff(&StateVector::default())
        .expect("yrs panicked encoding the room's state");
    if let Err(error) = fresh.apply(&state) {
        panic!("the room's state does not apply to a fresh replica: {error}");
    }
    assert_eq!(
        fresh.text(),
        text,
        "the room's state rebuilds a different text"
    );
    assert_eq!(
        fresh.state_vector(),
        replica.state_vector(),
        "the room's state rebuilds a different state vector"
    );
}
