//! Bad input gets a clear error and a close code, and nobody else notices: the room and
//! its other clients (on the same gateway and on another one) go on editing and syncing.
//!
//! Each case runs against its own Redis and gateways (`--max-frame-bytes 4096`), with two
//! good editors already in the file.

use collab_protocol::Message;
use collab_protocol::close::{INVALID_PAYLOAD, INVALID_REQUEST, TOO_BIG};
use collab_protocol::message::{encode_awareness, encode_step2, encode_update};
use collab_tests::{Client, DEADLINE, Gateway, RedisServer, converge};
use yrs::encoding::write::Write;
use yrs::updates::encoder::{Encoder, EncoderV1};
use yrs::{Doc, Text, Transact};

const FILE: &str = "sandbox-10/src/victim.rs";
const MAX_FRAME: usize = 4096;

/// A file with two good editors on two gateways.
struct Room {
    _redis: RedisServer,
    gw1: Gateway,
    gw2: Gateway,
    ann: Client,
    bob: Client,
}

impl Room {
    async fn open() -> Room {
        let redis = RedisServer::start().await.expect("redis-server starts");
        let max = MAX_FRAME.to_string();
        let flags = ["--max-frame-bytes", max.as_str()];
        let gw1 = Gateway::start(&redis.url(), &flags).await.expect("gw 1");
        let gw2 = Gateway::start(&redis.url(), &flags).await.expect("gw 2");
        let ann = Client::connect_synced(&gw1.ws_url(FILE), DEADLINE)
            .await
            .expect("ann joins on gw 1");
        let bob = Client::connect_synced(&gw2.ws_url(FILE), DEADLINE)
            .await
            .expect("bob joins on gw 2");
        ann.push("fn main() {\n").expect("ann types");
        bob.push("}\n").expect("bob types");
        converge(&[&ann, &bob], DEADLINE)
            .await
            .expect("ann and bob converge");
        Room {
            _redis: redis,
            gw1,
            gw2,
            ann,
            bob,
        }
    }

    /// A third client in the file, on gateway 1 like ann, synced.
    async fn intruder(&self) -> Client {
        Client::connect_synced(&self.gw1.ws_url(FILE), DEADLINE)
            .await
            .expect("the misbehaving client joins")
    }

    /// Awaits the refusal: an error message with `code`, then the close with `code`.
    async fn assert_refused(&self, client: &Client, code: u16, what: &str) {
        let closed = client.wait_closed(DEADLINE).await;
        assert_eq!(
            closed.ok(),
            Some(code),
            "{what}: expected close code {code}, got {:?} (reason {:?}, errors {:?})",
            client.closed_with(),
            client.close_reason(),
            client.errors(),
        );
        let notices = client.errors_before_close();
        assert!(
            notices
                .iter()
                .any(|n| n.code == code && !n.message.is_empty()),
            "{what}: no error message with code {code} before the close (got {notices:?})"
        );
    }

    /// Ann and bob are still connected, still edit across gateways, and a newcomer syncs.
    async fn assert_carries_on(&self, what: &str) {
        for (name, c) in [("ann", &self.ann), ("bob", &self.bob)] {
            assert_eq!(c.closed_with(), None, "{what}: {name} was disconnected too");
        }
        self.ann.push("    let ann = 1;\n").expect("ann types");
        self.bob
            .wait_for(|c| c.text().contains("let ann = 1;"), DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("{what}: bob no longer gets ann's edits: {e:#}"));
        self.bob.insert(0, "// bob was here\n").expect("bob types");
        self.ann
            .wait_for(|c| c.text().contains("// bob was here"), DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("{what}: ann no longer gets bob's edits: {e:#}"));
        let cat = Client::connect_synced(&self.gw1.ws_url(FILE), DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("{what}: a newcomer cannot join: {e:#}"));
        let text = converge(&[&self.ann, &self.bob, &cat], DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("{what}: the room no longer converges: {e:#}"));
        assert!(text.contains("fn main() {\n") && text.contains("let ann = 1;"));
        for c in [&self.ann, &self.bob, &cat] {
            assert!(c.protocol_errors().is_empty(), "{:?}", c.protocol_errors());
        }
    }

    /// Sends `frame` from a third client and checks the refusal and that the room goes on.
    async fn refuses_frame(&self, frame: Vec<u8>, code: u16, what: &str) {
        let intruder = self.intruder().await;
        intruder.send_frame(frame);
        self.assert_refused(&intruder, code, what).await;
        self.assert_carries_on(what).await;
    }

    /// Connects to a bad file id and checks the refusal and that the room goes on.
    async fn refuses_file_id(&self, path: &str, what: &str) {
        let url = format!("ws://{}/doc/{path}", self.gw1.addr());
        let client = Client::connect(&url).await.unwrap_or_else(|e| {
            panic!(
                "{what}: the WebSocket upgrade itself failed ({e:#}); the contract wants an \
                 error message and close code {INVALID_REQUEST}"
            )
        });
        self.assert_refused(&client, INVALID_REQUEST, what).await;
        assert!(
            !client.is_synced(),
            "{what}: the refused client got a document"
        );
        self.assert_carries_on(what).await;
    }
}

/// A valid update inserting `text` into a fresh doc.
fn update_inserting(text: &str) -> Vec<u8> {
    let doc = Doc::new();
    let root = doc.get_or_insert_text("monaco");
    let mut txn = doc.transact_mut();
    root.insert(&mut txn, 0, text);
    txn.encode_update_v1()
}

fn undecodable(frame: &[u8]) -> Vec<u8> {
    assert!(Message::decode(frame).is_err(), "test premise: undecodable");
    frame.to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_bytes_close_with_1007() {
    let room = Room::open().await;
    let frame = undecodable(&[
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 7,
    ]);
    room.refuses_frame(frame, INVALID_PAYLOAD, "garbage bytes")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_message_type_closes_with_1007() {
    let room = Room::open().await;
    let frame = undecodable(&[42, 1, 2, 3]);
    room.refuses_frame(frame, INVALID_PAYLOAD, "message type 42")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_frame_closes_with_1007() {
    let room = Room::open().await;
    room.refuses_frame(undecodable(&[]), INVALID_PAYLOAD, "empty frame")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_frame_closes_with_1007() {
    let room = Room::open().await;
    let whole = encode_update(&update_inserting("SECRET-TRUNCATED"));
    let frame = undecodable(&whole[..whole.len() - 5]);
    room.refuses_frame(frame, INVALID_PAYLOAD, "truncated update frame")
        .await;
    assert!(
        !room.ann.text().contains("SECRET"),
        "part of a truncated frame was applied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_closes_with_1009_and_is_not_applied() {
    let room = Room::open().await;
    // A valid update, only too big: its size alone must refuse it.
    let big = "Z".repeat(MAX_FRAME + 100);
    let frame = encode_update(&update_inserting(&big));
    assert!(frame.len() > MAX_FRAME);
    room.refuses_frame(frame, TOO_BIG, "frame over --max-frame-bytes")
        .await;
    for c in [&room.ann, &room.bob] {
        assert!(
            !c.text().contains("ZZZZ"),
            "the oversized update reached an editor"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_frame_closes_with_1007() {
    let room = Room::open().await;
    let intruder = room.intruder().await;
    intruder.send_text(r#"{"type":"sync","step":1}"#);
    room.assert_refused(&intruder, INVALID_PAYLOAD, "text frame")
        .await;
    room.assert_carries_on("text frame").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_sync_step_closes_with_1007() {
    let room = Room::open().await;
    let frame = undecodable(&[0, 3, 1, 0]);
    room.refuses_frame(frame, INVALID_PAYLOAD, "sync step 3")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_update_payload_closes_with_1007() {
    let room = Room::open().await;
    // A well-formed sync-update frame whose update is not a yrs update.
    let frame = encode_update(b"not an update at all");
    assert!(
        Message::decode(&frame).is_ok(),
        "test premise: the frame decodes"
    );
    room.refuses_frame(frame, INVALID_PAYLOAD, "bad update payload")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sync_step2_payload_closes_with_1007() {
    let room = Room::open().await;
    let frame = encode_step2(&[1, 2, 3, 4, 5]);
    room.refuses_frame(frame, INVALID_PAYLOAD, "bad sync step 2 payload")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awareness_that_is_not_json_closes_with_1007() {
    let room = Room::open().await;
    let mut enc = EncoderV1::new();
    enc.write_var(1u32);
    enc.write_var(12345u32);
    enc.write_var(1u32);
    enc.write_string("{\"user\": not json");
    let frame = undecodable(&encode_awareness(&enc.to_vec()));
    room.refuses_frame(frame, INVALID_PAYLOAD, "awareness that is not JSON")
        .await;
    assert!(
        room.ann.awareness_of(12345).is_none(),
        "the bad awareness state reached ann"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_id_with_dot_dot_segment_closes_with_4400() {
    let room = Room::open().await;
    room.refuses_file_id("sandbox-10/../sandbox-11/secret.rs", "'..' segment")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_id_with_control_character_closes_with_4400() {
    let room = Room::open().await;
    room.refuses_file_id("sandbox-10/bad%0Aname.rs", "control character (%0A)")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_id_over_512_bytes_closes_with_4400() {
    let room = Room::open().await;
    let long = format!("sandbox-10/{}", "x".repeat(520));
    room.refuses_file_id(&long, "file id over 512 bytes").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_file_id_closes_with_4400() {
    let room = Room::open().await;
    room.refuses_file_id("", "empty file id").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn longest_valid_file_id_is_served() {
    // The boundary: exactly 512 bytes is a valid id, so the refusals above are about the
    // limit and not about long ids in general.
    let room = Room::open().await;
    let id = format!("sandbox-10/{}", "y".repeat(512 - "sandbox-10/".len()));
    let a = Client::connect_synced(&room.gw1.ws_url(&id), DEADLINE)
        .await
        .expect("a 512-byte id is served");
    let b = Client::connect_synced(&room.gw2.ws_url(&id), DEADLINE)
        .await
        .expect("on both gateways");
    a.push("long names work").expect("types");
    b.wait_for(|c| c.text() == "long names work", DEADLINE)
        .await
        .expect("edits cross gateways on a 512-byte id");
    assert_eq!(a.closed_with(), None);
}
