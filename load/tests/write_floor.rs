//! The write-floor: two instances on one test-started redis-server. Clients of one file get
//! each other's frames byte for byte, on the same instance and across the two through
//! Redis, and nothing else (no echo, nothing from another file); a sync step 1 gets the
//! relay floor's answer; a close is answered; a wrong path is refused. Then a tiny
//! edit-storm and fan-out run through the pair in full, as through the relay floor.

mod support;

use std::time::Duration;

use collab_load::write_floor::WriteFloor;
use collab_tests::RedisServer;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use support::assert_pair_relays_storm_and_fan_out;

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long any one expected frame may take.
const DEADLINE: Duration = Duration::from_secs(10);

/// Two write-floors serving on their own threads; returns their `ws://ADDR/doc` targets.
async fn start_pair(redis: &RedisServer) -> Vec<String> {
    let mut targets = Vec::new();
    for _ in 0..2 {
        let url = redis.url();
        let floor =
            tokio::task::spawn_blocking(move || WriteFloor::bind(([127, 0, 0, 1], 0).into(), &url))
                .await
                .expect("the bind task")
                .expect("starting a write-floor");
        targets.push(format!("ws://{}/doc", floor.local_addr()));
        std::thread::spawn(move || {
            if let Err(e) = floor.serve() {
                eprintln!("write-floor stopped: {e:#}");
            }
        });
    }
    targets
}

async fn connect(target: &str, file: &str) -> Client {
    let (ws, _) = connect_async(format!("{target}/{file}"))
        .await
        .unwrap_or_else(|e| panic!("connecting to {target}/{file}: {e}"));
    ws
}

/// The next data or close message of `ws`, within the deadline.
async fn next(ws: &mut Client) -> Message {
    loop {
        let message = tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("a message within the deadline")
            .expect("the stream still open")
            .expect("a valid message");
        if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
            return message;
        }
    }
}

async fn send(ws: &mut Client, bytes: &[u8]) {
    ws.send(Message::Binary(bytes.to_vec().into()))
        .await
        .expect("sending a frame");
}

fn binary(bytes: &[u8]) -> Message {
    Message::Binary(bytes.to_vec().into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_a_file_get_each_others_frames_and_nothing_else() {
    let redis = RedisServer::start().await.expect("starting redis-server");
    let targets = start_pair(&redis).await;
    let (one, two) = (&targets[0], &targets[1]);

    let mut a = connect(one, "shared/1").await;
    let mut b = connect(one, "shared/1").await;
    let mut c = connect(two, "shared/1").await;
    let mut d = connect(one, "other").await;
    let mut e = connect(two, "other").await;

    // Sync step 1 (any state vector): an empty step 2, then an empty step 1.
    send(&mut a, &[0, 0, 3, 1, 2, 3]).await;
    assert_eq!(next(&mut a).await, binary(&[0, 1, 2, 0, 0]));
    assert_eq!(next(&mut a).await, binary(&[0, 0, 1, 0]));

    // An update from A: to B on its instance and to C across Redis, byte for byte.
    let update = [0u8, 2, 5, 1, 1, 9, 9, 9];
    send(&mut a, &update).await;
    assert_eq!(next(&mut b).await, binary(&update));
    assert_eq!(next(&mut c).await, binary(&update));

    // A large frame from C (a 64-bit length, several reads): to A and B across Redis.
    let large: Vec<u8> = std::iter::once(1u8)
        .chain((0..100_000u32).map(|k| (k % 253) as u8))
        .collect();
    send(&mut c, &large).await;
    // A's next frame is C's, so A never got its own update back.
    assert_eq!(next(&mut a).await, binary(&large));
    assert_eq!(next(&mut b).await, binary(&large));

    // The other file's clients got none of that: D's next frame is E's.
    send(&mut e, &[1, 7]).await;
    assert_eq!(next(&mut d).await, binary(&[1, 7]));

    // A close is answered with the same code.
    a.send(Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    })))
    .await
    .expect("sending a close");
    match next(&mut a).await {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Normal),
        other => panic!("expected a close, got {other:?}"),
    }
    // B is still served after A left.
    send(&mut c, &[1, 8]).await;
    assert_eq!(next(&mut b).await, binary(&[1, 8]));

    // Not /doc/{file}: refused before any WebSocket.
    let host = one.trim_start_matches("ws://").trim_end_matches("/doc");
    let refused = connect_async(format!("ws://{host}/elsewhere")).await;
    assert!(
        matches!(&refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 404),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_floor_pair_relays_every_edit_across_instances() {
    let redis = RedisServer::start().await.expect("starting redis-server");
    let targets = start_pair(&redis).await;
    let mut args = Vec::new();
    for t in &targets {
        args.push("--target".to_owned());
        args.push(t.clone());
    }
    let (storm, _) = assert_pair_relays_storm_and_fan_out(&args).await;
    assert!(storm.propagation_same_target_ms.count > 0);
}
