//! The room core driven directly: what each input makes the room send, close, append and
//! read, with no Redis, no sockets and no runtime.

use std::sync::Arc;

use bytes::Bytes;
use collab_protocol::envelope::{Envelope, Kind};
use collab_protocol::message::decode_awareness;
use collab_protocol::{Extension, Message, close};
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, SyncMessage};
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc, Text, Transact};

use crate::access::{Access, Principal};
use crate::engine::log::{LogEntry, Tail};
use crate::ext::OptIns;
use crate::pending::PendingAppends;

use super::catch_up::Fetched;
use super::core::{RoomCore, Settings};
use super::effect::{Effect, Effects, LogRead};

const GATEWAY: &str = "gw-self";

fn room_with(max_doc_bytes: usize, pending_bytes: usize) -> RoomCore {
    let settings = Settings {
        text_name: "monaco".into(),
        max_doc_bytes,
        gateway_id: Arc::from(GATEWAY),
    };
    RoomCore::new(settings, Arc::new(PendingAppends::new(pending_bytes)))
}

fn room() -> RoomCore {
    room_with(1 << 20, 1 << 20)
}

fn user(id: &str, access: Access) -> Principal {
    Principal {
        user: Arc::from(id),
        name: None,
        color: None,
        access,
    }
}

/// Joins `conn` as `principal` and returns what the join sent.
fn join(room: &mut RoomCore, conn: u64, principal: Principal) -> Vec<Effect> {
    let mut fx = Effects::new();
    room.on_join(conn, principal, OptIns::default(), &mut fx);
    fx.drain().collect()
}

fn client(room: &mut RoomCore, conn: u64, msg: Message) -> Vec<Effect> {
    let mut fx = Effects::new();
    room.on_client(conn, msg, &mut fx);
    fx.drain().collect()
}

fn remote(room: &mut RoomCore, origin: &str, kind: Kind, payload: Vec<u8>) -> Vec<Effect> {
    let mut fx = Effects::new();
    room.on_remote(Envelope::new(origin, kind, payload), &mut fx);
    fx.drain().collect()
}

fn fetched(room: &mut RoomCore, result: Fetched) -> Vec<Effect> {
    let mut fx = Effects::new();
    room.on_fetched(result, &mut fx);
    fx.drain().collect()
}

/// A writer's doc: each call to `type_text` is one update.
struct Writer {
    doc: Doc,
}

impl Writer {
    fn new(client_id: u64) -> Self {
        Writer {
            doc: Doc::with_client_id(client_id),
        }
    }

    fn type_text(&self, text: &str) -> Vec<u8> {
        let t = self.doc.get_or_insert_text("monaco");
        let mut txn = self.doc.transact_mut();
        let end = t.len(&txn);
        t.insert(&mut txn, end, text);
        txn.encode_update_v1()
    }
}

fn update(bytes: Vec<u8>) -> Message {
    Message::Sync(SyncMessage::Update(bytes))
}

fn cursor(client: u64, clock: u32, json: &str) -> Message {
    let entry = AwarenessUpdateEntry {
        clock,
        json: json.into(),
    };
    Message::Awareness(AwarenessUpdate {
        clients: [(ClientID::new(client), entry)].into_iter().collect(),
    })
}

fn entry(pos: u64, update: Vec<u8>) -> LogEntry {
    LogEntry {
        pos,
        origin: "gw-other".into(),
        update,
    }
}

/// The message a frame carries.
fn decoded(frame: &Bytes) -> Message {
    Message::decode(frame).expect("the room sends frames peers can decode")
}

/// The extension error a connection was sent, if any.
fn errors_sent(effects: &[Effect], to: u64) -> Vec<(u16, String)> {
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

fn closes(effects: &[Effect]) -> Vec<(u64, u16, &'static str)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Close { conn, reason } => Some((*conn, reason.code, reason.reason)),
            _ => None,
        })
        .collect()
}

fn appends(effects: &[Effect]) -> Vec<(Option<String>, &[u8])> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Append { author, update } => {
                Some((author.as_deref().map(str::to_owned), update.as_slice()))
            }
            _ => None,
        })
        .collect()
}

fn reads(effects: &[Effect]) -> Vec<LogRead> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ReadLog(read) => Some(*read),
            _ => None,
        })
        .collect()
}

/// Document updates broadcast, with the connection left out.
fn relayed_updates(effects: &[Effect]) -> Vec<(Option<u64>, Vec<u8>)> {
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

#[test]
fn a_joiner_gets_the_state_vector_then_every_cursor() {
    let mut room = room();
    join(&mut room, 1, Principal::anonymous());
    client(&mut room, 1, cursor(10, 1, r#"{"cursor":1}"#));
    let sent = join(&mut room, 2, Principal::anonymous());
    let kinds: Vec<Message> = sent
        .iter()
        .map(|e| match e {
            Effect::Send { to: 2, frame } => decoded(frame),
            other => panic!("a join only sends to the joiner, got {other:?}"),
        })
        .collect();
    assert!(matches!(kinds[0], Message::Sync(SyncMessage::SyncStep1(_))));
    match &kinds[1] {
        Message::Awareness(states) => assert!(states.clients.contains_key(&ClientID::new(10))),
        other => panic!("expected the cursors, got {other:?}"),
    }
}

#[test]
fn an_edit_is_relayed_to_the_others_and_appended_with_its_author() {
    let mut room = room();
    join(&mut room, 1, user("ann", Access::ReadWrite));
    join(&mut room, 2, user("bob", Access::ReadWrite));
    let edit = Writer::new(7).type_text("hello");
    let fx = client(&mut room, 1, update(edit.clone()));
    assert_eq!(relayed_updates(&fx), vec![(Some(1), edit.clone())]);
    assert_eq!(
        appends(&fx),
        vec![(Some("ann".to_owned()), edit.as_slice())]
    );
    assert_eq!(room.replica().text(), "hello");
    // The same update again changes nothing: nothing relayed, nothing appended.
    assert!(client(&mut room, 2, update(edit)).is_empty());
}

#[test]
fn a_read_only_member_is_told_once_and_its_edits_go_nowhere() {
    let mut room = room();
    join(&mut room, 1, user("ann", Access::ReadWrite));
    join(&mut room, 2, user("ro", Access::ReadOnly));
    let writer = Writer::new(9);
    // The empty step 2 a stock client sends on connect is no edit: no error.
    let empty = Message::Sync(SyncMessage::SyncStep2(yrs::Update::EMPTY_V1.to_vec()));
    assert!(client(&mut room, 2, empty).is_empty());

    let first = client(&mut room, 2, update(writer.type_text("nope")));
    assert_eq!(
        errors_sent(&first, 2),
        vec![(close::FORBIDDEN, "read-only".into())]
    );
    assert!(relayed_updates(&first).is_empty() && appends(&first).is_empty());
    let second = client(&mut room, 2, update(writer.type_text("again")));
    assert!(second.is_empty(), "told once: {second:?}");
    assert_eq!(room.replica().text(), "");

    // It still sees others' edits and stays connected.
    let edit = Writer::new(7).type_text("shared");
    let fx = client(&mut room, 1, update(edit.clone()));
    assert_eq!(relayed_updates(&fx), vec![(Some(1), edit)]);
    assert!(closes(&fx).is_empty());
}

#[test]
fn a_bad_update_closes_its_sender_with_1007_and_the_others_go_on() {
    let mut room = room();
    join(&mut room, 1, Principal::anonymous());
    join(&mut room, 2, Principal::anonymous());
    client(&mut room, 1, cursor(11, 1, "{}"));
    let fx = client(&mut room, 1, update(vec![0xff, 0xff, 0xff]));
    assert_eq!(
        closes(&fx),
        vec![(1, close::INVALID_PAYLOAD, "invalid-update")]
    );
    // Its cursor goes, here and on other gateways.
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Publish {
            kind: Kind::Awareness,
            ..
        }
    )));
    // A closed connection is forgotten: what it still sent does nothing.
    assert!(client(&mut room, 1, update(Writer::new(3).type_text("late"))).is_empty());
    let edit = Writer::new(4).type_text("fine");
    assert_eq!(
        relayed_updates(&client(&mut room, 2, update(edit.clone()))),
        vec![(Some(2), edit)]
    );
}

#[test]
fn an_update_past_the_document_limit_closes_with_1009() {
    let mut room = room_with(16, 1 << 20);
    join(&mut room, 1, Principal::anonymous());
    let fx = client(
        &mut room,
        1,
        update(Writer::new(5).type_text(&"x".repeat(64))),
    );
    assert_eq!(closes(&fx), vec![(1, close::TOO_BIG, "document-too-big")]);
    assert_eq!(room.replica().text(), "");
}

#[test]
fn past_the_pending_budget_the_writer_is_closed_and_the_whole_state_stored_later() {
    let mut room = room_with(1 << 20, 8);
    join(&mut room, 1, Principal::anonymous());
    let fx = client(
        &mut room,
        1,
        update(Writer::new(5).type_text("more than eight bytes")),
    );
    assert_eq!(
        closes(&fx),
        vec![(1, close::OVERLOADED, "store-unavailable")]
    );
    assert!(appends(&fx).is_empty());
    // Redis answers again: the replica's whole state goes to the log, authored by nobody.
    let mut fx = Effects::new();
    room.on_catch_up_requested(&mut fx);
    let read: Vec<Effect> = fx.drain().collect();
    assert_eq!(reads(&read), vec![LogRead::Since(0)]);
    let tail = Tail::default();
    let after = fetched(&mut room, Fetched::Tail { since: 0, tail });
    let stored = appends(&after);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0, None);
    let fresh = crate::replica::Replica::new("monaco");
    fresh.apply(stored[0].1).expect("the whole state applies");
    assert_eq!(fresh.text(), "more than eight bytes");
}

#[test]
fn channel_updates_apply_in_log_order_and_a_gap_reads_the_log_once() {
    let mut room = room();
    join(&mut room, 1, Principal::anonymous());
    let writer = Writer::new(21);
    let (one, two, three) = (
        writer.type_text("a"),
        writer.type_text("b"),
        writer.type_text("c"),
    );
    let fx = remote(&mut room, "gw-other", Kind::Update { pos: 1 }, one.clone());
    assert_eq!(relayed_updates(&fx), vec![(None, one.clone())]);
    assert!(remote(&mut room, "gw-other", Kind::Update { pos: 1 }, one.clone()).is_empty());
    // Position 2 was dropped by pub/sub: 3 shows the gap.
    let gap = remote(
        &mut room,
        "gw-other",
        Kind::Update { pos: 3 },
        three.clone(),
    );
    assert_eq!(reads(&gap), vec![LogRead::Since(1)]);
    assert!(relayed_updates(&gap).is_empty());
    // A second gap while the read runs asks for one more read, after it.
    assert!(
        reads(&remote(
            &mut room,
            "gw-other",
            Kind::Update { pos: 4 },
            vec![]
        ))
        .is_empty()
    );
    let tail = Tail {
        snapshot: None,
        entries: vec![entry(2, two.clone()), entry(3, three.clone())],
        log_head: 3,
    };
    let fx = fetched(&mut room, Fetched::Tail { since: 1, tail });
    assert_eq!(relayed_updates(&fx), vec![(None, two), (None, three)]);
    assert_eq!(reads(&fx), vec![LogRead::Since(3)]);
    assert_eq!(room.applied(), 3);
    assert_eq!(room.replica().text(), "abc");
}

#[test]
fn a_head_check_that_disagrees_reads_the_tail() {
    let mut room = room();
    let mut fx = Effects::new();
    room.on_tick(&mut fx);
    let tick: Vec<Effect> = fx.drain().collect();
    assert_eq!(reads(&tick), vec![LogRead::Head]);
    assert_eq!(
        reads(&fetched(&mut room, Fetched::Head(5))),
        vec![LogRead::Since(0)]
    );
    assert!(reads(&fetched(&mut room, Fetched::Failed)).is_empty());
    room.on_tick(&mut fx);
    fx.drain().for_each(drop);
    assert!(
        reads(&fetched(&mut room, Fetched::Head(0))).is_empty(),
        "level: no read"
    );
}

#[test]
fn a_log_that_went_backwards_is_restored_from_the_replica() {
    let mut room = room();
    let edit = Writer::new(30).type_text("kept");
    remote(&mut room, "gw-other", Kind::Update { pos: 1 }, edit.clone());
    remote(
        &mut room,
        "gw-other",
        Kind::Update { pos: 2 },
        Writer::new(31).type_text("!"),
    );
    assert_eq!(room.applied(), 2);
    let mut fx = Effects::new();
    room.on_catch_up_requested(&mut fx);
    fx.drain().for_each(drop);
    // Redis restarted without its data: the log is empty.
    let fx = fetched(
        &mut room,
        Fetched::Tail {
            since: 2,
            tail: Tail::default(),
        },
    );
    let stored = appends(&fx);
    assert_eq!(stored.len(), 1, "the whole state goes back to the log");
    let fresh = crate::replica::Replica::new("monaco");
    fresh.apply(stored[0].1).expect("applies");
    assert_eq!(fresh.text(), room.replica().text());
    assert_eq!(reads(&fx), vec![LogRead::Since(0)]);
}

#[test]
fn cursors_cross_gateways_and_leave_with_their_connection_or_gateway() {
    let mut room = room();
    join(&mut room, 1, Principal::anonymous());
    join(&mut room, 2, Principal::anonymous());
    let moved = client(&mut room, 1, cursor(40, 1, r#"{"at":1}"#));
    assert!(moved.iter().any(|e| matches!(
        e,
        Effect::Broadcast {
            except: Some(1),
            cursor: Some(40),
            ..
        }
    )));
    assert!(moved.iter().any(|e| matches!(
        e,
        Effect::Publish {
            kind: Kind::Awareness,
            ..
        }
    )));

    let Message::Awareness(theirs) = cursor(50, 1, "{}") else {
        unreachable!("cursor() builds awareness")
    };
    let payload = theirs.encode_v1();
    decode_awareness(&payload).expect("a bus payload");
    let relayed = remote(&mut room, "gw-other", Kind::Awareness, payload.clone());
    assert!(
        relayed
            .iter()
            .any(|e| matches!(e, Effect::Broadcast { except: None, .. }))
    );
    // Our own envelope coming back is not news.
    assert!(remote(&mut room, GATEWAY, Kind::Awareness, payload).is_empty());

    let mut fx = Effects::new();
    room.on_gateway_gone("gw-other", &mut fx);
    assert_eq!(fx.drain().count(), 1, "their cursor's removal is broadcast");
    room.on_leave(1, &mut fx);
    let left: Vec<Effect> = fx.drain().collect();
    assert!(left.iter().any(|e| matches!(
        e,
        Effect::Publish {
            kind: Kind::Awareness,
            ..
        }
    )));
    assert!(room.has_members());
    room.on_leave(2, &mut fx);
    assert!(!room.has_members());
}

#[test]
fn unknown_extension_messages_are_ignored_and_the_sender_stays() {
    let mut room = room();
    join(&mut room, 1, Principal::anonymous());
    let json = r#"{"type":"from-the-future","x":1}"#;
    let mut frame = vec![100, json.len() as u8];
    frame.extend_from_slice(json.as_bytes());
    let from_client = Message::decode(&frame).expect("an unknown type decodes");
    assert!(matches!(
        from_client,
        Message::Extension(Extension::Unknown)
    ));
    assert!(client(&mut room, 1, from_client).is_empty());
    let echoed = Message::Extension(Extension::error(1007, "x", "a client sent an error"));
    assert!(client(&mut room, 1, echoed).is_empty());
    assert!(room.has_members());
}

#[test]
fn a_cursor_shows_the_principal_not_what_the_client_claims() {
    let mut room = room();
    let ann = Principal {
        user: Arc::from("u-ann"),
        name: Some(Arc::from("Ann")),
        color: Some(Arc::from("#e91e63")),
        access: Access::ReadWrite,
    };
    join(&mut room, 1, ann);
    join(&mut room, 2, user("u-bob", Access::ReadWrite));
    let forged = cursor(60, 1, r#"{"user":{"id":"u-bob","name":"Bob"},"cursor":1}"#);
    let fx = client(&mut room, 1, forged);
    let shown: Vec<serde_json::Value> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Broadcast { frame, .. } => match decoded(frame) {
                Message::Awareness(update) => update
                    .clients
                    .get(&ClientID::new(60))
                    .map(|entry| serde_json::from_str(&entry.json).expect("json")),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(shown.len(), 1, "{fx:?}");
    assert_eq!(shown[0]["user"]["id"], "u-ann");
    assert_eq!(shown[0]["user"]["name"], "Ann");
    // Bob's connection cannot move Ann's cursor.
    let moved = client(&mut room, 2, cursor(60, 2, r#"{"cursor":99}"#));
    assert!(moved.is_empty(), "{moved:?}");
}
