//! Issue 22 finding 4, as the attacker tried it: a read-only member R on gateway B sends an
//! awareness state for writer W's client id at the moments a gateway-local owner map cannot
//! decide: right after W's connection went (the id freed until W reconnects), and in the
//! same TCP write as R's upgrade to a file whose room is not yet open on B (B has not heard
//! of W). Each race runs ten times; W's cursor must never show R's identity, anywhere, and
//! W's moves must never be refused. Real redis, two gateways, `--auth redis`.

use std::future::Future;

use collab_protocol::Message;
use collab_tests::{Client, DEADLINE, Gateway};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[path = "cursor_races/support.rs"]
mod support;
use support::{Cluster, state_frame};

const ROUNDS: usize = 10;

/// Whether any awareness frame `client` received showed `id` with user `user`.
fn ever_showed(client: &Client, id: u64, user: &str) -> bool {
    client.received_frames().iter().any(|frame| {
        let Ok(Message::Awareness(update)) = Message::decode(frame) else {
            return false;
        };
        update.clients.iter().any(|(client, entry)| {
            client.get() == id && support::user_id(&entry.json).as_deref() == Some(user)
        })
    })
}

/// Waits, with the deadline, until `done` holds.
async fn until<F: Future<Output = bool>>(what: &str, done: impl FnMut() -> F) {
    assert!(
        collab_tests::eventually(DEADLINE, done).await,
        "timed out waiting for {what}"
    );
}

/// Foreign cursor states refused so far on `gw`.
async fn refused(gw: &Gateway) -> f64 {
    let metrics = gw.metrics().await.expect("/metrics");
    collab_tests::prometheus::count(
        &metrics,
        "collab_rejected_total",
        &[("reason", "foreign-cursor")],
    )
}

/// W moves its cursor to `marker` (twice: a reconnected client's first state may carry the
/// clock of its removal) and every observer must see it, stamped as W, on both gateways.
async fn w_moves_and_everyone_sees_w(w: &Client, observers: &[&Client], marker: u64) {
    w.set_awareness(json!({"cursor": marker}));
    w.set_awareness(json!({"cursor": marker}));
    let id = w.client_id();
    for observer in observers {
        observer
            .wait_for(
                |c| {
                    c.awareness_of(id)
                        .is_some_and(|s| s["cursor"] == marker && s["user"]["id"] == "u-w")
                },
                DEADLINE,
            )
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "W's move to {marker} reaches every observer as W's; one shows {:?}",
                    observer.awareness_of(id)
                )
            });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_cannot_take_a_writers_id_freed_by_its_reconnect() {
    let cluster = Cluster::start().await;
    let (a, b) = (&cluster.a, &cluster.b);
    for round in 0..ROUNDS {
        let file = format!("sbx/freed-{round}.ts");
        let mut w = Client::connect_synced(&a.ws_url_with_token(&file, &cluster.w), DEADLINE)
            .await
            .expect("W joins on A");
        let on_a = Client::connect_recording(&a.ws_url_with_token(&file, &cluster.o))
            .await
            .expect("observer on A");
        let on_b = Client::connect_recording(&b.ws_url_with_token(&file, &cluster.o))
            .await
            .expect("observer on B");
        let r = Client::connect_synced(&b.ws_url_with_token(&file, &cluster.r), DEADLINE)
            .await
            .expect("R joins on B");
        on_a.wait_synced(DEADLINE)
            .await
            .expect("observer on A synced");
        on_b.wait_synced(DEADLINE)
            .await
            .expect("observer on B synced");
        let id = w.client_id();
        w_moves_and_everyone_sees_w(&w, &[&on_a, &on_b], 1).await;

        // W's connection goes; the moment B has removed W's cursor, R sends W's id.
        w.close().await.expect("W's connection closes");
        on_b.wait_for(|c| c.awareness_of(id).is_none(), DEADLINE)
            .await
            .expect("B removes W's cursor");
        let before = refused(b).await;
        r.send_frame(state_frame(id, 1000, &json!({"cursor": "R was here"})));
        until("R's state to be refused on B or shown", || async {
            refused(b).await > before
                || ever_showed(&on_a, id, "u-r")
                || ever_showed(&on_b, id, "u-r")
        })
        .await;

        // W comes back with the same client id and moves.
        w.reconnect(&a.ws_url_with_token(&file, &cluster.w))
            .await
            .expect("W reconnects");
        w.wait_synced(DEADLINE).await.expect("W synced again");
        w_moves_and_everyone_sees_w(&w, &[&on_a, &on_b], 2 + round as u64).await;
        for observer in [&on_a, &on_b] {
            assert!(
                !ever_showed(observer, id, "u-r"),
                "round {round}: W's cursor showed R's identity"
            );
        }
        assert_eq!(
            refused(a).await,
            0.0,
            "round {round}: W's own moves were refused on A"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_cannot_take_a_writers_id_in_its_upgrade_to_a_room_not_open_on_its_gateway() {
    let cluster = Cluster::start().await;
    let (a, b) = (&cluster.a, &cluster.b);
    for round in 0..ROUNDS {
        let file = format!("sbx/unknown-{round}.ts");
        let w = Client::connect_synced(&a.ws_url_with_token(&file, &cluster.w), DEADLINE)
            .await
            .expect("W joins on A");
        let on_a = Client::connect_recording(&a.ws_url_with_token(&file, &cluster.o))
            .await
            .expect("observer on A");
        on_a.wait_synced(DEADLINE)
            .await
            .expect("observer on A synced");
        let id = w.client_id();
        w_moves_and_everyone_sees_w(&w, &[&on_a], 1).await;

        // R's upgrade and its state for W's id in one TCP write, to a room B has not opened.
        let before = refused(b).await;
        let frame = state_frame(id, 1000, &json!({"cursor": "R was here"}));
        let mut r = TcpStream::connect(b.addr()).await.expect("R connects to B");
        r.write_all(&support::upgrade_with_frame(
            b.addr(),
            &file,
            &cluster.r,
            &frame,
        ))
        .await
        .expect("R's one write");
        until("R's state to be refused on B or shown", || async {
            refused(b).await > before || ever_showed(&on_a, id, "u-r")
        })
        .await;

        let on_b = Client::connect_recording(&b.ws_url_with_token(&file, &cluster.o))
            .await
            .expect("observer on B");
        on_b.wait_synced(DEADLINE)
            .await
            .expect("observer on B synced");
        w_moves_and_everyone_sees_w(&w, &[&on_a, &on_b], 2 + round as u64).await;
        for observer in [&on_a, &on_b] {
            assert!(
                !ever_showed(observer, id, "u-r"),
                "round {round}: W's cursor showed R's identity"
            );
        }
        assert_eq!(
            refused(a).await,
            0.0,
            "round {round}: W's own moves were refused on A"
        );
        drop(r);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn states_that_are_not_objects_or_too_big_are_refused_and_the_reader_goes_on() {
    let cluster = Cluster::start().await;
    let (a, b) = (&cluster.a, &cluster.b);
    let file = "sbx/shapes.ts";
    let w = Client::connect_synced(&a.ws_url_with_token(file, &cluster.w), DEADLINE)
        .await
        .expect("W joins on A");
    let on_a = Client::connect_recording(&a.ws_url_with_token(file, &cluster.o))
        .await
        .expect("observer on A");
    let on_b = Client::connect_recording(&b.ws_url_with_token(file, &cluster.o))
        .await
        .expect("observer on B");
    let r = Client::connect_synced(&b.ws_url_with_token(file, &cluster.r), DEADLINE)
        .await
        .expect("R joins on B");
    on_a.wait_synced(DEADLINE)
        .await
        .expect("observer on A synced");
    on_b.wait_synced(DEADLINE)
        .await
        .expect("observer on B synced");
    let id = r.client_id();
    let big = json!({"pad": "x".repeat(3 << 20)});
    let bad = [json!("W"), json!(["W", 1]), json!(7), big];
    for (clock, state) in (1..).zip(bad.iter()) {
        r.send_frame(state_frame(id, clock, state));
    }
    r.wait_for(|c| c.errors().len() >= bad.len(), DEADLINE)
        .await
        .unwrap_or_else(|_| panic!("R is told of each refused state: {:?}", r.errors()));
    let reasons: Vec<String> = r.errors().into_iter().map(|e| e.reason).collect();
    assert_eq!(
        reasons,
        [
            "awareness-not-object",
            "awareness-not-object",
            "awareness-not-object",
            "awareness-too-big"
        ]
    );

    // R's other traffic goes on: its next cursor arrives, stamped, and it still syncs.
    r.send_frame(state_frame(id, 10, &json!({"cursor": "fine"})));
    w.push("typed after").expect("W types");
    for observer in [&on_a, &on_b] {
        observer
            .wait_for(
                |c| c.awareness_of(id).is_some_and(|s| s["user"]["id"] == "u-r"),
                DEADLINE,
            )
            .await
            .expect("R's object state reaches both gateways' clients");
    }
    r.wait_for(|c| c.text().contains("typed after"), DEADLINE)
        .await
        .expect("R still receives W's edits");
    assert_eq!(r.closed_with(), None, "R stays connected");
    for observer in [&on_a, &on_b] {
        let shown: Vec<usize> = observer
            .received_frames()
            .iter()
            .filter_map(|frame| match Message::decode(frame) {
                Ok(Message::Awareness(update)) => update
                    .clients
                    .get(&yrs::ClientID::new(id))
                    .map(|e| e.json.len()),
                _ => None,
            })
            .collect();
        assert!(
            shown.iter().all(|len| *len < 16 << 10),
            "no refused state reached an observer: sizes {shown:?}"
        );
        assert_eq!(shown.len(), 1, "only R's object state was shown: {shown:?}");
    }
}
