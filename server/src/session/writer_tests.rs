//! The writer task started on demand, over real loopback sockets: it exists only while
//! frames wait for the socket, keeps their order, ends when they are out, says the goodbye
//! of a connection that had none, and finds a peer that went away.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use collab_protocol::{Message, close};
use futures_util::StreamExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tungstenite::Message as WsMessage;
use tungstenite::protocol::Role;

use super::writer::{DirectSink, Sink};
use crate::outbox::{Outbox, Queued};
use collab_room_core::close::CloseReason;

const DEADLINE: Duration = Duration::from_secs(10);

/// A server-side sink in an outbox, with the client's stream and TCP socket.
async fn connection(capacity: usize) -> (Outbox, Arc<DirectSink>, WebSocketStream<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("address"))
        .await
        .expect("connect");
    let (server, _) = listener.accept().await.expect("accept");
    let server = WebSocketStream::from_raw_socket(server, Role::Server, None).await;
    let client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
    let sink: Sink = server.split().0;
    let direct = Arc::new(DirectSink::new(sink));
    let outbox = Outbox::new(capacity);
    outbox.attach(direct.clone());
    (outbox, direct, client)
}

/// Waits (with a deadline) until no writer task has the socket.
async fn writer_ended(direct: &DirectSink) {
    tokio::time::timeout(DEADLINE, async {
        while !direct.is_idle() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the writer gives the socket back once the queue is drained");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_socket_s_frames_arrive_in_order_and_the_writer_then_ends() {
    let (outbox, direct, mut client) = connection(4096).await;
    // The client reads nothing until the kernel's buffers are full and frames queue.
    let mut sent = 0u32;
    while !outbox.pending() {
        let mut frame = vec![0u8; 32 << 10];
        frame[..4].copy_from_slice(&sent.to_be_bytes());
        assert_eq!(outbox.send(Bytes::from(frame)), Queued::Yes);
        sent += 1;
        assert!(sent < 4096, "the socket never blocked");
    }
    assert!(
        !direct.is_idle(),
        "a writer was started for the queued frames"
    );
    for more in 0..10 {
        let mut frame = vec![1u8; 16];
        frame[..4].copy_from_slice(&(sent + more).to_be_bytes());
        outbox.send(Bytes::from(frame));
    }
    let total = sent + 10;
    for expected in 0..total {
        let got = tokio::time::timeout(DEADLINE, client.next())
            .await
            .expect("in time")
            .expect("a message")
            .expect("readable")
            .into_data();
        assert_eq!(
            got[..4],
            expected.to_be_bytes(),
            "frame {expected} in order"
        );
    }
    writer_ended(&direct).await;
    // The socket is the room's again: the next frame goes straight in.
    let mut straight = crate::outbox::Straight::default();
    outbox.offer(&Bytes::from_static(b"after"), None, &mut straight);
    assert_eq!(straight.count(), 1, "written straight, no writer needed");
    assert!(!outbox.pending());
}

#[tokio::test]
async fn a_connection_without_a_writer_still_says_its_goodbye() {
    let (outbox, direct, mut client) = connection(8).await;
    assert!(direct.is_idle(), "an idle connection has no writer");
    outbox.close(CloseReason::error(
        close::RESTARTING,
        "gateway-restarting",
        "reconnect",
    ));
    let sink = tokio::time::timeout(DEADLINE, Arc::clone(&direct).said_goodbye(&outbox))
        .await
        .expect("goodbye in time");
    assert!(sink.is_some(), "the socket is left for lingering");
    let error = client.next().await.expect("a message").expect("readable");
    let decoded = Message::decode(&error.into_data()).expect("a y-websocket message");
    assert!(
        matches!(decoded, Message::Extension(_)),
        "the extension error comes first: {decoded:?}"
    );
    match client.next().await.expect("a message").expect("readable") {
        WsMessage::Close(Some(frame)) => assert_eq!(u16::from(frame.code), close::RESTARTING),
        other => panic!("expected the close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn a_keepalive_to_a_peer_that_went_away_closes_the_connection() {
    let (outbox, direct, client) = connection(8).await;
    // The peer's end goes away with a reset, as a crashed client's would.
    let tcp = client.into_inner();
    tcp.set_zero_linger().expect("linger 0");
    drop(tcp);
    let found = tokio::time::timeout(DEADLINE, async {
        loop {
            outbox.keepalive(Duration::ZERO);
            let closed = tokio::time::timeout(Duration::from_millis(100), outbox.closed());
            if let Ok(reason) = closed.await {
                return reason;
            }
        }
    })
    .await
    .expect("the failed write closes the connection");
    assert_eq!(found.code, close::NORMAL);
    let sink = tokio::time::timeout(DEADLINE, Arc::clone(&direct).said_goodbye(&outbox))
        .await
        .expect("the writer ends");
    drop(sink);
}
