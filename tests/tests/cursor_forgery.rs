//! Nobody moves or removes someone else's cursor: a connection that sends awareness states
//! for a client id another connection introduced changes nothing anyone sees, and a flood
//! of made-up client ids shows only the first few.

use std::collections::HashMap;

use collab_protocol::message::encode_awareness;
use collab_tests::{Client, DEADLINE, Gateway, RedisServer};
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
