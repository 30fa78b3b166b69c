//! The room's straight write into a socket ([`DirectSink`]) over real loopback sockets.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{FutureExt as _, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::Role;

use super::writer::DirectSink;
use crate::outbox::{Direct, Outbox, Queued, Tried};

/// `n` server-side WebSocket sinks with their clients' streams, over loopback TCP.
async fn sockets(
    n: usize,
) -> Vec<(
    futures_util::stream::SplitSink<WebSocketStream<TcpStream>, tungstenite::Message>,
    WebSocketStream<TcpStream>,
)> {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let mut pairs = Vec::with_capacity(n);
    for _ in 0..n {
        let client = TcpStream::connect(addr).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let server = WebSocketStream::from_raw_socket(server, Role::Server, None).await;
        let client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        pairs.push((server.split().0, client));
    }
    pairs
}

/// A room fans one update out to hundreds of connections in one poll of its task. Each
/// socket write is charged to tokio's cooperative budget (128 per poll): once it ran out,
/// every later write came back pending, "buffered" for the writer task to flush, so the
/// direct path saved nothing past the 128th connection.
#[tokio::test]
async fn one_poll_writes_a_frame_into_hundreds_of_sockets() {
    const CONNECTIONS: usize = 300;
    let (sinks, mut clients): (Vec<_>, Vec<_>) = sockets(CONNECTIONS).await.into_iter().unzip();
    let directs: Vec<Arc<DirectSink>> = sinks
        .into_iter()
        .map(|sink| Arc::new(DirectSink::new(sink)))
        .collect();
    let frame = Bytes::from_static(b"\x00\x02\x05update");
    // A fresh budget, then every write in this one poll: no await in between.
    tokio::task::yield_now().await;
    let tried: Vec<Tried> = directs.iter().map(|d| d.try_write(&frame)).collect();
    let written = tried.iter().filter(|t| **t == Tried::Written).count();
    assert_eq!(written, CONNECTIONS, "outcomes: {tried:?}");
    for client in &mut clients {
        let got = client.next().await.expect("a message").expect("readable");
        assert_eq!(got.into_data(), frame);
    }
}

/// Through an outbox: every frame goes straight in, nothing is queued for a writer.
#[tokio::test]
async fn a_broadcast_through_outboxes_queues_nothing() {
    const CONNECTIONS: usize = 200;
    let (sinks, mut clients): (Vec<_>, Vec<_>) = sockets(CONNECTIONS).await.into_iter().unzip();
    let outboxes: Vec<Outbox> = sinks
        .into_iter()
        .map(|sink| {
            let outbox = Outbox::new(8);
            outbox.attach(Arc::new(DirectSink::new(sink)));
            outbox
        })
        .collect();
    tokio::task::yield_now().await;
    for outbox in &outboxes {
        assert_eq!(outbox.send(Bytes::from_static(b"one")), Queued::Yes);
    }
    for outbox in &outboxes {
        let writer_woken = outbox.ready().now_or_never().is_some();
        assert!(!writer_woken, "a frame waited for the writer task");
    }
    for client in &mut clients {
        let got = client.next().await.expect("a message").expect("readable");
        assert_eq!(&got.into_data()[..], b"one");
    }
}

/// While the writer has the socket out for a batch, the room's try does not write (the
/// frame queues behind the batch); once it is back, the next try goes straight in.
#[tokio::test]
async fn no_frame_goes_straight_in_while_the_writer_has_the_socket() {
    let (sink, mut client) = sockets(1).await.pop().expect("a socket");
    let direct = DirectSink::new(sink);
    let taken = direct.claim().expect("the writer takes the socket");
    assert_eq!(direct.try_write(&Bytes::from_static(b"late")), Tried::Busy);
    direct.put_back(taken);
    assert_eq!(
        direct.try_write(&Bytes::from_static(b"now")),
        Tried::Written
    );
    let got = client.next().await.expect("a message").expect("readable");
    assert_eq!(&got.into_data()[..], b"now");
}
