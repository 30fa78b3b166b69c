//! A room task that dies leaves nothing behind: its clients are told to reconnect (1013)
//! and the next joiner of the file gets a fresh room that loads everything stored, instead
//! of a dead handle that refuses every join until the gateway restarts.
//!
//! The panic is real: a debug gateway started with `--test-panic-file F` panics the task
//! of F's room on its first client message, once.

use collab_protocol::close;
use collab_tests::prometheus;
use collab_tests::{Client, DEADLINE, Gateway, RedisServer};

const FILE: &str = "sandbox-9/crash/here.rs";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_next_joiner_of_a_file_whose_room_panicked_gets_a_fresh_room() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    // The file already holds text, written through another gateway.
    let other = Gateway::start(&redis.url(), &[]).await.expect("gateway 2");
    let writer = Client::connect_synced(&other.ws_url(FILE), DEADLINE)
        .await
        .expect("the writer joins on gateway 2");
    writer.push("fn before() {}\n").expect("types");

    let gw = Gateway::start(&redis.url(), &["--test-panic-file", FILE])
        .await
        .expect("gateway 1 starts");
    let victim = Client::connect(&gw.ws_url(FILE)).await.expect("connects");
    let code = victim
        .wait_closed(DEADLINE)
        .await
        .expect("the client of the dead room is closed");
    assert_eq!(
        code,
        close::OVERLOADED,
        "a client of a room that died is told to reconnect (1013), got {code} {:?}",
        victim.close_reason()
    );
    let told: Vec<String> = victim.errors().into_iter().map(|e| e.reason).collect();
    assert_eq!(told, vec!["room-failed".to_owned()]);

    // The next joiners on the same gateway get a working room with everything stored.
    let ann = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("a joiner after the panic syncs");
    ann.wait_for(|c| c.text() == "fn before() {}\n", DEADLINE)
        .await
        .expect("the fresh room loaded the stored text");
    ann.push("fn after() {}\n").expect("ann types");
    let bob = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("a second joiner syncs");
    let want = "fn before() {}\nfn after() {}\n";
    bob.wait_for(|c| c.text() == want, DEADLINE)
        .await
        .expect("edits flow in the fresh room");
    writer
        .wait_for(|c| c.text() == want, DEADLINE)
        .await
        .expect("and reach the other gateway");

    let metrics = gw.metrics().await.expect("/metrics");
    assert_eq!(
        prometheus::value(&metrics, "collab_rooms", &[]),
        Some(1.0),
        "the dead room is not counted as open:\n{metrics}"
    );
}
