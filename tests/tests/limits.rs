//! Every limit, one test each: the client that breaks it gets an extension error naming
//! the limit, then the close code the README ("Protocol") gives it; the room goes on (the other editors
//! keep typing and converge, and a newcomer still joins).
//!
//! | limit | flag | close | reason |
//! | --- | --- | --- | --- |
//! | frame size | `--max-frame-bytes` | 1009 | `frame-too-big` |
//! | message rate | `--max-messages-per-sec` | 1008 | `message-rate` |
//! | byte rate | `--max-bytes-per-sec` | 1008 | `byte-rate` |
//! | connections per gateway | `--max-connections` | 1013 | `gateway-full` |
//! | document size | `--max-doc-bytes` | 1009 | `document-too-big` |
//! | send queue | `--send-queue` | 1013 | `slow-consumer` |
//!
//! Before a connection is a session (its upgrade request, with the token, not read yet)
//! there is no WebSocket to close with a code: the gateway drops the connection, or
//! answers 431, and counts the refusal in `collab_rejected_total`.
//!
//! | limit | flag | outcome | reason |
//! | --- | --- | --- | --- |
//! | request head time | `--handshake-timeout-ms` | dropped | `handshake-timeout` |
//! | request head size | `--max-request-head-bytes` | 431 | `request-too-large` |
//! | connections not yet upgraded | `--max-handshakes` | dropped | `too-many-handshakes` |

use collab_protocol::close::{OVERLOADED, POLICY, TOO_BIG};
use collab_tests::{
    Client, DEADLINE, Gateway, RedisServer, StalledReader, converge, eventually, prometheus,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Asserts that `offender` got an error message with `code` and `reason` before a close
/// frame with `code`.
async fn assert_refused(offender: &Client, code: u16, reason: &str) {
    let closed = offender
        .wait_closed(DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("the client breaking {reason} is closed: {e:#}"));
    let notices = offender.errors_before_close();
    assert_eq!(
        closed,
        code,
        "close code for {reason} (close reason {:?}, error messages {notices:?})",
        offender.close_reason()
    );
    assert!(
        notices.iter().any(|n| n.code == code && n.reason == reason),
        "an error message {{code: {code}, reason: {reason:?}}} precedes the close; got {notices:?}"
    );
}

/// The room goes on: a newcomer joins (its sync holds whatever the room accepted from the
/// refused client), then it and every editor type tokens, all converge holding each token,
/// and `absent` (what the refused client tried last) is in nobody's text.
async fn room_goes_on(gw: &Gateway, file: &str, editors: &[&Client], absent: &str) {
    let newcomer = Client::connect_synced(&gw.ws_url(file), DEADLINE)
        .await
        .expect("a newcomer joins the room");
    let mut everyone = editors.to_vec();
    everyone.push(&newcomer);
    let mut tokens = Vec::new();
    for round in 0..3 {
        for (i, editor) in everyone.iter().enumerate() {
            let token = format!("<after{i}.{round}>");
            editor.push(&token).expect("an editor keeps typing");
            tokens.push(token);
        }
    }
    let text = converge(&everyone, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("the other editors converge after the refusal: {e:#}"));
    for token in &tokens {
        assert!(text.contains(token.as_str()), "{token} is in {text:?}");
    }
    if !absent.is_empty() {
        assert!(
            !text.contains(absent),
            "the refused edit must not reach the room"
        );
    }
    for editor in &everyone {
        assert_eq!(editor.closed_with(), None, "a well-behaved editor stays");
    }
}

async fn editors(gw: &Gateway, file: &str, n: usize) -> Vec<Client> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            Client::connect_synced(&gw.ws_url(file), DEADLINE)
                .await
                .expect("editor joins"),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_max_frame_bytes_is_closed_1009() {
    const FILE: &str = "limits/frame.rs";
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(&redis.url(), &["--max-frame-bytes", "4096"])
        .await
        .expect("gateway starts");
    let clients = editors(&gw, FILE, 3).await;
    let (offender, others) = clients.split_first().expect("three clients");
    others[0].push("<before>").expect("typing");

    let big = "F".repeat(6000);
    offender.push(&big).expect("a local edit");
    assert_refused(offender, TOO_BIG, "frame-too-big").await;
    room_goes_on(&gw, FILE, &others.iter().collect::<Vec<_>>(), &big).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_messages_per_second_are_closed_1008() {
    const FILE: &str = "limits/message-rate.rs";
    let redis = RedisServer::start().await.expect("redis-server starts");
    // 20 messages per second, bursts to 40.
    let gw = Gateway::start(&redis.url(), &["--max-messages-per-sec", "20"])
        .await
        .expect("gateway starts");
    let clients = editors(&gw, FILE, 3).await;
    let (offender, others) = clients.split_first().expect("three clients");

    for n in 0..200 {
        offender.push(&format!("<spam{n}>")).expect("a local edit");
    }
    assert_refused(offender, POLICY, "message-rate").await;
    // Some of the burst was within the limit and may be in the room; the last was not.
    room_goes_on(&gw, FILE, &others.iter().collect::<Vec<_>>(), "<spam199>").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_bytes_per_second_are_closed_1008() {
    const FILE: &str = "limits/byte-rate.rs";
    let redis = RedisServer::start().await.expect("redis-server starts");
    // 3000 bytes per second, bursts to 3000 (more than one 2048-byte frame).
    let gw = Gateway::start(
        &redis.url(),
        &["--max-bytes-per-sec", "3000", "--max-frame-bytes", "2048"],
    )
    .await
    .expect("gateway starts");
    let clients = editors(&gw, FILE, 3).await;
    let (offender, others) = clients.split_first().expect("three clients");

    // Each frame is under the frame limit; together they are far over the byte rate, and
    // under the message rate (300 per second by default).
    for n in 0..10 {
        offender
            .push(&format!("<{n}{}>", "B".repeat(1500)))
            .expect("a local edit");
    }
    assert_refused(offender, POLICY, "byte-rate").await;
    room_goes_on(
        &gw,
        FILE,
        &others.iter().collect::<Vec<_>>(),
        &format!("<9{}>", "B".repeat(1500)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_max_connections_is_closed_1013() {
    const FILE: &str = "limits/connections.rs";
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(&redis.url(), &["--max-connections", "3"])
        .await
        .expect("gateway starts");
    let mut clients = editors(&gw, FILE, 3).await;

    let fourth = Client::connect(&gw.ws_url(FILE))
        .await
        .expect("the WebSocket handshake itself succeeds");
    assert_refused(&fourth, OVERLOADED, "gateway-full").await;
    assert!(!fourth.is_synced(), "a refused client is never served");

    room_goes_on_without_newcomer(&clients.iter().collect::<Vec<_>>()).await;

    // When one leaves, a place is free again (once the gateway has counted it out).
    let mut leaving = clients.pop().expect("three clients");
    leaving.close().await.expect("an editor leaves");
    let url = gw.ws_url(FILE);
    let joined = eventually(DEADLINE, || {
        let url = url.clone();
        async move {
            match Client::connect(&url).await {
                Ok(c) => c
                    .wait_for(|c| c.is_synced() || c.closed_with().is_some(), DEADLINE)
                    .await
                    .is_ok_and(|()| c.is_synced() && c.closed_with().is_none()),
                Err(_) => false,
            }
        }
    })
    .await;
    assert!(joined, "after one of three left, a new client gets in");
}

/// [`room_goes_on`] for a full gateway, where no newcomer fits.
async fn room_goes_on_without_newcomer(editors: &[&Client]) {
    for (i, editor) in editors.iter().enumerate() {
        editor.push(&format!("<full{i}>")).expect("typing");
    }
    let text = converge(editors, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("the connected editors converge: {e:#}"));
    for i in 0..editors.len() {
        assert!(text.contains(&format!("<full{i}>")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_past_max_doc_bytes_is_closed_1009() {
    const FILE: &str = "limits/doc-size.rs";
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(&redis.url(), &["--max-doc-bytes", "4000"])
        .await
        .expect("gateway starts");
    let clients = editors(&gw, FILE, 3).await;
    let (offender, others) = clients.split_first().expect("three clients");
    for n in 0..10 {
        others[n % 2].push(&format!("<small{n}>")).expect("typing");
    }
    converge(&clients.iter().collect::<Vec<_>>(), DEADLINE)
        .await
        .expect("a small document");

    // One frame well under the frame limit (16 MiB), but the document would pass 4000 bytes.
    let big = "D".repeat(5000);
    offender.push(&big).expect("a local edit");
    assert_refused(offender, TOO_BIG, "document-too-big").await;
    room_goes_on(&gw, FILE, &others.iter().collect::<Vec<_>>(), &big).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_send_queue_overflows_is_closed_1013() {
    const FILE: &str = "limits/send-queue.rs";
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(
        &redis.url(),
        &[
            "--send-queue",
            "64",
            "--max-messages-per-sec",
            "0",
            "--max-bytes-per-sec",
            "0",
        ],
    )
    .await
    .expect("gateway starts");
    let clients = editors(&gw, FILE, 2).await;
    let (writer, observer) = (&clients[0], &clients[1]);
    let stalled = StalledReader::connect(&gw.ws_url(FILE))
        .await
        .expect("a client that will not read connects");

    // Bursts of 16 edits of 4 KB (within the queue of 64, which a reading client empties
    // between bursts) fill the stalled client's socket buffers, then its queue.
    let mut sent = 0;
    let mut slow_closes = 0.0;
    while sent < 2000 && slow_closes < 1.0 {
        for _ in 0..16 {
            writer
                .push(&format!("<q{sent}{}>", "q".repeat(4000)))
                .expect("typing");
            sent += 1;
        }
        let target = [(writer.client_id(), writer.own_clock())];
        observer
            .wait_for(|c| c.has_seen(&target), DEADLINE)
            .await
            .expect("the reading client gets every burst");
        let metrics = gw.metrics().await.expect("GET /metrics");
        slow_closes = prometheus::count(&metrics, "collab_slow_consumer_closes_total", &[]);
    }
    assert_eq!(
        slow_closes, 1.0,
        "after {sent} edits of 4 KB exactly the stalled client was closed as too slow"
    );

    // What the client sees once it reads again: the frames that were on their way, an
    // error message naming the limit, and 1013.
    let seen = stalled.resume(DEADLINE).await;
    assert!(
        seen.errors
            .iter()
            .any(|n| n.code == OVERLOADED && n.reason == "slow-consumer"),
        "the stalled client reads an error {{code: 1013, reason: \"slow-consumer\"}} when it \
         reads again; it read {} frames, errors {:?}, then close {:?} {:?}",
        seen.frames,
        seen.errors,
        seen.close,
        seen.close_reason
    );
    assert_eq!(
        seen.close,
        Some(OVERLOADED),
        "the stalled client's connection ends with 1013 ({} frames read)",
        seen.frames
    );
    room_goes_on(&gw, FILE, &[writer, observer], "").await;
}

/// Waits until the gateway closes `tcp` (whatever it wrote before closing is ignored).
async fn assert_dropped(tcp: &mut TcpStream, what: &str) {
    let mut sink = Vec::new();
    match tokio::time::timeout(DEADLINE, tcp.read_to_end(&mut sink)).await {
        Ok(_) => {}
        Err(_) => panic!("the gateway keeps {what} open"),
    }
}

/// Waits until `/metrics` counts `n` refusals for `reason`.
async fn assert_rejected(gw: &Gateway, reason: &str, n: f64) {
    let counted = eventually(DEADLINE, || async {
        gw.metrics().await.is_ok_and(|text| {
            prometheus::count(&text, "collab_rejected_total", &[("reason", reason)]) == n
        })
    })
    .await;
    assert!(counted, "/metrics counts {n} refusals for {reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_without_its_request_in_time_is_dropped() {
    const FILE: &str = "limits/handshake-timeout.rs";
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(&redis.url(), &["--handshake-timeout-ms", "300"])
        .await
        .expect("gateway starts");
    let clients = editors(&gw, FILE, 2).await;

    let mut silent = TcpStream::connect(gw.addr()).await.expect("tcp connect");
    let mut slow = TcpStream::connect(gw.addr()).await.expect("tcp connect");
    slow.write_all(b"GET /doc/limits/handshake-timeout.rs HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("half a request head");
    assert_dropped(&mut silent, "a connection that sends nothing").await;
    assert_dropped(&mut slow, "a connection that never finishes its request").await;
    assert_rejected(&gw, "handshake-timeout", 2.0).await;

    // The sessions, open for longer than the timeout, are not affected.
    room_goes_on(&gw, FILE, &clients.iter().collect::<Vec<_>>(), "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_over_max_request_head_bytes_gets_431() {
    const FILE: &str = "limits/request-head.rs";
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(&redis.url(), &["--max-request-head-bytes", "4096"])
        .await
        .expect("gateway starts");
    let clients = editors(&gw, FILE, 2).await;

    let token = "t".repeat(8 << 10);
    let answer = gw.http_get(&format!("/doc/{FILE}?token={token}")).await;
    assert_eq!(answer.map(|(status, _)| status), Some(431));
    let mut url = gw.ws_url(FILE);
    url.push_str(&format!("?token={token}"));
    assert!(
        Client::connect(&url).await.is_err(),
        "a WebSocket client with an oversized request is refused"
    );
    assert_rejected(&gw, "request-too-large", 2.0).await;

    room_goes_on(&gw, FILE, &clients.iter().collect::<Vec<_>>(), "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_max_handshakes_are_dropped() {
    const FILE: &str = "limits/handshakes.rs";
    let redis = RedisServer::start().await.expect("redis-server starts");
    // A handshake timeout far past the deadline: only the limit can drop the third.
    let gw = Gateway::start(
        &redis.url(),
        &["--max-handshakes", "2", "--handshake-timeout-ms", "600000"],
    )
    .await
    .expect("gateway starts");
    let clients = editors(&gw, FILE, 2).await;

    // Two connections that say nothing take both places; the third is dropped.
    let first = TcpStream::connect(gw.addr()).await.expect("tcp connect");
    let second = TcpStream::connect(gw.addr()).await.expect("tcp connect");
    let mut third = TcpStream::connect(gw.addr()).await.expect("tcp connect");
    assert_dropped(&mut third, "a connection past --max-handshakes").await;

    // Once they leave, their places are free again; the sessions never noticed. Until the
    // gateway has seen them go, a probe of ours is one more connection past the limit
    // (dropped and counted too): count those probes.
    drop((first, second));
    let mut dropped_probes = 0.0;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !matches!(gw.http_get("/healthz").await, Some((200, _))) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the places never came free"
        );
        dropped_probes += 1.0;
    }
    assert_rejected(&gw, "too-many-handshakes", 1.0 + dropped_probes).await;
    room_goes_on(&gw, FILE, &clients.iter().collect::<Vec<_>>(), "").await;
}
