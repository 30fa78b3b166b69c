//! A late joiner gets the whole document after every writer has left and every room was
//! closed, on a gateway that never served the file and on one that did.

use std::time::Duration;

use collab_protocol::{FileId, Keys};
use collab_tests::{Client, DEADLINE, Gateway, RedisServer, converge, eventually};

const FILE: &str = "sandbox-7/notes/late.md";
const GRACE: &[&str] = &["--room-grace-ms", "200"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn late_joiner_gets_the_whole_document_after_writers_left() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw1 = Gateway::start(&redis.url(), GRACE)
        .await
        .expect("gateway 1");
    let gw2 = Gateway::start(&redis.url(), GRACE)
        .await
        .expect("gateway 2");
    let gw3 = Gateway::start(&redis.url(), GRACE)
        .await
        .expect("gateway 3");
    let channel = Keys::default().channel(&FileId::parse(FILE).expect("valid file id"));

    let mut ann = Client::connect_synced(&gw1.ws_url(FILE), DEADLINE)
        .await
        .expect("ann joins on gateway 1");
    let mut bob = Client::connect_synced(&gw2.ws_url(FILE), DEADLINE)
        .await
        .expect("bob joins on gateway 2");

    // Lines from both writers, some rewritten, with non-ASCII text.
    for i in 0..40 {
        ann.push(&format!("ann line {i} — ünïcødé\n"))
            .expect("ann types");
        bob.insert(0, &format!("bob line {i}\n"))
            .expect("bob types");
        if i % 10 == 9 {
            bob.delete(0, 4).expect("bob deletes");
        }
    }
    let text = converge(&[&ann, &bob], DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("writers converge: {e:#}"));
    assert!(text.contains("ann line 39 — ünïcødé\n") && text.contains("bob line 0\n"));

    assert!(
        redis.subscribers(&channel).await.expect("PUBSUB") >= 2,
        "with writers on two gateways, both subscribe to {channel}"
    );
    ann.close().await.expect("ann leaves");
    bob.close().await.expect("bob leaves");

    // The grace period passes and the rooms close: nobody subscribes to the file any more.
    let rooms_closed = eventually(Duration::from_secs(10), || async {
        redis.subscribers(&channel).await.ok() == Some(0)
    })
    .await;
    assert!(
        rooms_closed,
        "rooms of {FILE} still subscribed to {channel} 10 s after the last client left \
         (--room-grace-ms 200)"
    );

    // A gateway that never had the file, and one whose room was closed.
    for (name, gw) in [("gateway 3", &gw3), ("gateway 1", &gw1)] {
        let late = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("late joiner on {name}: {e:#}"));
        let got = late.wait_for(|c| c.text() == text, DEADLINE).await;
        assert!(
            got.is_ok(),
            "late joiner on {name} shows {:?}\nexpected {text:?}",
            late.text()
        );
        assert!(
            late.protocol_errors().is_empty(),
            "{:?}",
            late.protocol_errors()
        );
    }
}

/// Joiners arriving together share one encoded answer; one arriving after any change,
/// a deletion included (which leaves the state vector as it was), gets the new document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_joiner_gets_the_document_as_it_is_when_it_joins() {
    const FILE: &str = "sandbox-7/notes/joiners.md";
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(&redis.url(), &[])
        .await
        .expect("gateway starts");
    let writer = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("writer joins");
    writer.push("0123456789").expect("typing");
    let mut joiners = Vec::new();
    for round in 0..4 {
        if round % 2 == 0 {
            writer.delete(0, 1).expect("deleting");
        } else {
            writer.push(&format!("<{round}>")).expect("typing");
        }
        let expected = writer.text();
        for _ in 0..2 {
            joiners.push(join_holding(&gw.ws_url(FILE), &expected).await);
        }
    }
}

/// A document larger than one WebSocket frame of the gateway (64 KiB) reaches a joiner
/// whole: the answer leaves as a run of fragments of one message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_gets_a_document_larger_than_a_frame_whole() {
    const FILE: &str = "sandbox-7/notes/large.md";
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(&redis.url(), &[])
        .await
        .expect("gateway starts");
    let writer = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("writer joins");
    for i in 0..3 {
        let line = format!("{i}: {}\n", "é🎉x".repeat(25_000));
        writer.push(&line).expect("typing a large chunk");
    }
    let joiner = join_holding(&gw.ws_url(FILE), &writer.text()).await;
    assert!(
        joiner.protocol_errors().is_empty(),
        "{:?}",
        joiner.protocol_errors()
    );
}

/// A new client of `url`, once it holds `expected` (it fails the test if it never does).
async fn join_holding(url: &str, expected: &str) -> Client {
    let joiner = Client::connect_synced(url, DEADLINE)
        .await
        .expect("a joiner syncs");
    if joiner
        .wait_for(|c| c.text() == expected, DEADLINE)
        .await
        .is_err()
    {
        panic!(
            "the joiner holds the document as it was when it joined: expected {} chars, got {:?}",
            expected.len(),
            joiner.text().chars().take(200).collect::<String>()
        );
    }
    joiner
}
