//! Nobody moves or removes someone else's cursor: a connection that sends awareness states
//! for a client id another connection introduced changes nothing anyone sees, and a flood
//! of made-up client ids shows only the first few. Under `--auth redis` a cursor shows the
//! identity of its user's record, whatever the client claims, on every gateway, and a
//! client on another gateway cannot take over someone else's cursor either.

use std::collections::HashMap;

use collab_protocol::message::encode_awareness;
use std::time::Duration;

use collab_tests::{Client, DEADLINE, Gateway, Platform, RedisServer};
use serde_json::json;
use yrs::ClientID;
use yrs::sync::AwarenessUpdate;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::updates::encoder::Encode;

const FILE: &str = "sandbox-3/forgery.ts";

/// An awareness frame setting the state of each `(client id, clock, json)`.
fn states_frame(states: &[(u64, u32, String)]) -> Vec<u8> {
    let clients: HashMap<ClientID, AwarenessUpdateEntry> = states
        .iter()
        .map(|(id, clock, json)| {
            let entry = AwarenessUpdateEntry {
                clock: *clock,
                json: json.as_str().into(),
            };
            (ClientID::new(*id), entry)
        })
        .collect();
    encode_awareness(&AwarenessUpdate { clients }.encode_v1())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_cannot_move_remove_or_flood_cursors_it_did_not_introduce() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(&redis.url(), &[]).await.expect("gateway");
    let ann = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("ann joins");
    let mallory = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("mallory joins");
    let observer = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("the observer joins");
    let real = json!({"user": {"name": "ann"}, "cursor": 1});
    ann.set_awareness(real.clone());
    let ann_id = ann.client_id();
    observer
        .wait_for(|c| c.awareness_of(ann_id) == Some(real.clone()), DEADLINE)
        .await
        .expect("the observer sees ann's cursor");

    let mallory_id = mallory.client_id();
    mallory.set_awareness(json!({"user": {"name": "mallory"}, "done": false}));
    observer
        .wait_for(|c| c.awareness_of(mallory_id).is_some(), DEADLINE)
        .await
        .expect("the observer sees mallory's cursor");

    // Mallory moves ann's cursor (a newer clock), then tries to remove it, then floods
    // made-up client ids; last, a new state of its own that must arrive after them.
    let moved = json!({"user": {"name": "ann"}, "cursor": 999}).to_string();
    mallory.send_frame(states_frame(&[(ann_id, 50, moved)]));
    mallory.send_frame(states_frame(&[(ann_id, 51, "null".to_owned())]));
    let flood: Vec<(u64, u32, String)> = (0..20)
        .map(|i| ((1 << 40) + i, 1, json!({"fake": i}).to_string()))
        .collect();
    mallory.send_frame(states_frame(&flood));
    let marker = json!({"user": {"name": "mallory"}, "done": true});
    mallory.set_awareness(marker.clone());
    observer
        .wait_for(
            |c| c.awareness_of(mallory_id) == Some(marker.clone()),
            DEADLINE,
        )
        .await
        .expect("mallory's own cursor still arrives");

    assert_eq!(
        observer.awareness_of(ann_id),
        Some(real),
        "ann's cursor is untouched"
    );
    let fakes = observer
        .awareness_states()
        .keys()
        .filter(|id| **id >= 1 << 40)
        .count();
    assert!(
        fakes <= 3,
        "a connection shows at most 4 client ids, its own among them; the observer sees {fakes} made-up ones"
    );
    let metrics = gw.metrics().await.expect("/metrics");
    assert!(
        collab_tests::prometheus::count(
            &metrics,
            "collab_rejected_total",
            &[("reason", "foreign-cursor")]
        ) >= 2.0,
        "the forged states are counted:\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cursors_show_the_stamped_identity_and_resist_takeover_across_gateways() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw1 = Gateway::start(&redis.url(), &["--auth", "redis"])
        .await
        .expect("gw 1");
    let gw2 = Gateway::start(&redis.url(), &["--auth", "redis"])
        .await
        .expect("gw 2");
    let mut platform = Platform::connect(&redis).await.expect("platform");
    let ttl = Duration::from_secs(600);
    platform
        .user("u-ann", "sbx", "10.9.0.1", "Ann", "#d1495b")
        .await
        .expect("ann");
    platform
        .user("u-bob", "sbx", "10.9.0.2", "Bob", "#66a182")
        .await
        .expect("bob");
    let ann_token = platform.session("u-ann", ttl).await.expect("ann's session");
    let bob_token = platform.session("u-bob", ttl).await.expect("bob's session");
    let file = "sbx/shared.ts";
    let ann = Client::connect_synced(&gw1.ws_url_with_token(file, &ann_token), DEADLINE)
        .await
        .expect("ann joins on gateway 1");
    let bob = Client::connect_synced(&gw2.ws_url_with_token(file, &bob_token), DEADLINE)
        .await
        .expect("bob joins on gateway 2");

    // Ann claims to be Bob; everyone sees Ann, as her record says.
    ann.set_awareness(
        json!({"user": {"id": "u-bob", "name": "Bob", "color": "#000"}, "cursor": 5}),
    );
    let ann_id = ann.client_id();
    let stamped = json!({"id": "u-ann", "name": "Ann", "color": "#d1495b"});
    bob.wait_for(
        |c| {
            c.awareness_of(ann_id)
                .is_some_and(|s| s["user"] == stamped && s["cursor"] == 5)
        },
        DEADLINE,
    )
    .await
    .expect("bob, on the other gateway, sees ann's cursor with ann's stamped identity");

    // Bob, through his gateway, tries to move and then remove Ann's cursor.
    let moved = json!({"user": {"name": "Ann"}, "cursor": 999}).to_string();
    bob.send_frame(states_frame(&[(ann_id, 500, moved)]));
    bob.send_frame(states_frame(&[(ann_id, 501, "null".to_owned())]));
    let marker = json!({"done": true});
    bob.set_awareness(marker);
    let bob_id = bob.client_id();
    ann.wait_for(
        |c| c.awareness_of(bob_id).is_some_and(|s| s["done"] == true),
        DEADLINE,
    )
    .await
    .expect("bob's own cursor arrives, stamped");
    let bob_seen = ann.awareness_of(bob_id).expect("bob's cursor");
    assert_eq!(bob_seen["user"]["id"], "u-bob");
    let observer = Client::connect_synced(&gw1.ws_url_with_token(file, &bob_token), DEADLINE)
        .await
        .expect("a late observer joins on gateway 1");
    observer
        .wait_for(|c| c.awareness_of(bob_id).is_some(), DEADLINE)
        .await
        .expect("the observer gets the cursors");
    let ann_seen = observer
        .awareness_of(ann_id)
        .expect("ann's cursor is still there");
    assert_eq!(
        ann_seen["cursor"], 5,
        "bob could not move ann's cursor: {ann_seen}"
    );
    assert_eq!(ann_seen["user"], stamped);
}
