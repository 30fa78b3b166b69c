//! Fuzz harness for a room fed arbitrary client messages.
//!
//! The room actor needs Redis, so this drives the two sans-IO parts it dispatches every
//! client message to, the way `server/src/room.rs` does: sync step 1 is answered from the
//! [`Replica`] (`diff`), step 2 and updates are applied to it, awareness goes to
//! [`Presence`], and a connection that sends an undecodable frame or a rejected update is
//! closed, which removes its cursors. A fuzz input is a sequence of frames from up to four
//! connections (see [`Record`]).
//!
//! Checked on every input, besides "never panics" (a panic inside yrs counts, although the
//! room would contain it, rebuild its replica and close the sender):
//! - every relayed update and awareness change decodes with the strict decoders peers use;
//! - a peer that applied only what the room relayed holds the room's text;
//! - the room's whole state (`diff` against the empty state vector) rebuilds a fresh replica
//!   with the same text and state vector, as a joining client or a snapshot would.
//!
//! Shared by `fuzz/fuzz_targets/room.rs` and the corpus replay test
//! `server/tests/fuzz_corpus.rs`, both of which include this file with `#[path]`.

use collab_protocol::Message;
use collab_protocol::message::decode_awareness;
use collab_server::presence::{ConnId, Presence};
use collab_server::replica::{ApplyError, Replica};
use yrs::StateVector;
use yrs::Update;
use yrs::sync::SyncMessage;
use yrs::updates::decoder::Decode;

/// The name of the text the gateway's replicas hold.
pub const TEXT: &str = "monaco";

/// Connections per input: enough for cursors to change owner and for one to leave while
/// others stay.
pub const CONNS: u8 = 4;

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
    let replica = Replica::new(TEXT);
    let mut presence = Presence::new(replica.doc().clone());
    let peer = Replica::new(TEXT);
    for record in records(data) {
        match record {
            Record::Leave(conn) => leave(&mut presence, conn),
            Record::Frame(conn, frame) => match Message::decode(frame) {
                // The session closes the connection; the room forgets it.
                Err(_) => leave(&mut presence, conn),
                Ok(msg) => on_client(&replica, &mut presence, &peer, conn, msg),
            },
        }
    }
    check_state(&replica, &peer);
}

/// What `Room::on_client` does with one decoded message.
fn on_client(
    replica: &Replica,
    presence: &mut Presence,
    peer: &Replica,
    conn: ConnId,
    msg: Message,
) {
    match msg {
        Message::Sync(SyncMessage::SyncStep1(sv)) => {
            let diff = replica.diff(&sv).expect("yrs panicked encoding a diff");
            assert!(
                Update::decode_v1(&diff).is_ok(),
                "the step-2 answer does not decode"
            );
        }
        Message::Sync(SyncMessage::SyncStep2(update) | SyncMessage::Update(update)) => {
            match replica.apply_from_client(&update) {
                Ok(None) => {}
                Ok(Some(changes)) => relay_update(peer, &changes),
                Err(ApplyError::Panicked) => panic!("yrs panicked applying an update"),
                // The room ignores it; the client stays.
                Err(ApplyError::Early(_)) => {}
                // The room closes the sender (1007 invalid-update).
                Err(_) => leave(presence, conn),
            }
        }
        Message::Awareness(update) => {
            relay_awareness(presence.apply_local(conn, update).map(|c| c.encoded))
        }
        Message::QueryAwareness => relay_awareness(presence.all_states()),
        Message::Extension(_) | Message::Auth(_) => {}
    }
}

fn leave(presence: &mut Presence, conn: ConnId) {
    relay_awareness(presence.remove_conn(conn));
}

/// Other clients and gateways receive `changes`: they must be able to apply it.
fn relay_update(peer: &Replica, changes: &[u8]) {
    if let Err(error) = peer.apply(changes) {
        panic!("a relayed update does not apply on a peer: {error}");
    }
}

/// Other clients and gateways receive `changes`: the bus decodes it strictly.
fn relay_awareness(changes: Option<Vec<u8>>) {
    if let Some(changes) = changes
        && let Err(error) = decode_awareness(&changes)
    {
        panic!("a relayed awareness update does not decode: {error}");
    }
}

fn check_state(replica: &Replica, peer: &Replica) {
    let text = replica.text();
    assert_eq!(peer.text(), text, "a peer fed the relayed updates diverged");
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
