//! Cursors (awareness states) cross gateways, and disappear everywhere when their client
//! leaves or when their gateway dies.

use std::time::{Duration, Instant};

use collab_tests::{Client, DEADLINE, Gateway, RedisServer, cursor_state, user_name};

const FILE: &str = "sandbox-2/src/lib.rs";
const TIMEOUT: &[&str] = &["--gateway-timeout-ms", "3000"];

fn shows(client: &Client, of: &Client, name: &str) -> bool {
    client
        .awareness_of(of.client_id())
        .is_some_and(|s| user_name(&s) == Some(name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cursor_crosses_gateways_and_leaves_with_its_client() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw1 = Gateway::start(&redis.url(), TIMEOUT).await.expect("gw 1");
    let gw2 = Gateway::start(&redis.url(), TIMEOUT).await.expect("gw 2");

    let mut ann = Client::connect_synced(&gw1.ws_url(FILE), DEADLINE)
        .await
        .expect("ann joins on gateway 1");
    let bob = Client::connect_synced(&gw2.ws_url(FILE), DEADLINE)
        .await
        .expect("bob joins on gateway 2");

    ann.set_awareness(cursor_state("ann", "#ff0000"));
    bob.wait_for(|c| shows(c, &ann, "ann"), DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("bob never sees ann's cursor: {e:#}"));
    let state = bob.awareness_of(ann.client_id()).expect("present");
    assert_eq!(
        state,
        cursor_state("ann", "#ff0000"),
        "the state arrives verbatim"
    );

    bob.set_awareness(cursor_state("bob", "#0000ff"));
    ann.wait_for(|c| shows(c, &bob, "bob"), DEADLINE)
        .await
        .expect("ann sees bob's cursor");

    // A change of state (a renamed user) reaches the other gateway too.
    ann.set_awareness(cursor_state("ann (away)", "#ff0000"));
    bob.wait_for(|c| shows(c, &ann, "ann (away)"), DEADLINE)
        .await
        .expect("bob sees ann's new state");

    // A newcomer on ann's gateway sees both cursors (bob's from the other gateway) without
    // anyone moving.
    let cat = Client::connect_synced(&gw1.ws_url(FILE), DEADLINE)
        .await
        .expect("cat joins on gateway 1");
    cat.wait_for(
        |c| shows(c, &ann, "ann (away)") && shows(c, &bob, "bob"),
        DEADLINE,
    )
    .await
    .unwrap_or_else(|e| panic!("cat does not see the cursors present: {e:#}"));

    // Ann closes her tab: her cursor goes away on both gateways (bob on the other one, cat
    // on hers).
    ann.close().await.expect("ann leaves");
    for (name, client) in [("bob", &bob), ("cat", &cat)] {
        client
            .wait_for(|c| c.awareness_of(ann.client_id()).is_none(), DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("{name} still sees ann's cursor after she left: {e:#}"));
    }
    // Bob's cursor stays.
    assert!(
        shows(&cat, &bob, "bob"),
        "bob's cursor is still there for cat"
    );

    // Eve's browser crashes: her TCP connection ends without a close frame.
    let eve = Client::connect_synced(&gw2.ws_url(FILE), DEADLINE)
        .await
        .expect("eve joins on gateway 2");
    eve.set_awareness(cursor_state("eve", "#00ffff"));
    cat.wait_for(|c| shows(c, &eve, "eve"), DEADLINE)
        .await
        .expect("cat sees eve's cursor");
    let eve_id = eve.client_id();
    drop(eve);
    for (name, client) in [("bob", &bob), ("cat", &cat)] {
        client
            .wait_for(|c| c.awareness_of(eve_id).is_none(), DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("{name} still sees eve's cursor after her crash: {e:#}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cursors_of_a_killed_gateway_disappear_everywhere() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw1 = Gateway::start(&redis.url(), TIMEOUT).await.expect("gw 1");
    let gw2 = Gateway::start(&redis.url(), TIMEOUT).await.expect("gw 2");
    let mut gw3 = Gateway::start(&redis.url(), TIMEOUT).await.expect("gw 3");

    let ann = Client::connect_synced(&gw1.ws_url(FILE), DEADLINE)
        .await
        .expect("ann on gateway 1");
    let bob = Client::connect_synced(&gw2.ws_url(FILE), DEADLINE)
        .await
        .expect("bob on gateway 2");
    let doomed = Client::connect_synced(&gw3.ws_url(FILE), DEADLINE)
        .await
        .expect("dan on gateway 3");
    ann.set_awareness(cursor_state("ann", "#ff0000"));
    doomed.set_awareness(cursor_state("dan", "#00ff00"));
    for (name, client) in [("ann", &ann), ("bob", &bob)] {
        client
            .wait_for(|c| shows(c, &doomed, "dan"), DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("{name} never sees dan's cursor: {e:#}"));
    }
    bob.wait_for(|c| shows(c, &ann, "ann"), DEADLINE)
        .await
        .expect("bob sees ann");

    gw3.kill9().await.expect("kill -9 gateway 3");
    let killed = Instant::now();
    doomed
        .wait_closed(DEADLINE)
        .await
        .expect("dan's connection ends with its gateway");

    for (name, client) in [("ann", &ann), ("bob", &bob)] {
        let left = Duration::from_secs(10).saturating_sub(killed.elapsed());
        client
            .wait_for(|c| c.awareness_of(doomed.client_id()).is_none(), left)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{name} still sees dan's cursor {:?} after his gateway was killed \
                     (--gateway-timeout-ms 3000): {e:#}",
                    killed.elapsed(),
                )
            });
    }
    println!(
        "dan's cursor gone everywhere {:?} after kill -9",
        killed.elapsed()
    );
    // Cursors of live gateways are untouched.
    assert!(
        shows(&bob, &ann, "ann"),
        "ann's cursor survives gateway 3's death"
    );
}
