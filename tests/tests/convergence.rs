//! Concurrent random edits from 12 editors on 3 gateways converge, and a late joiner sees
//! the same text.
//!
//! The edits are seeded: the seed is printed, and `COLLAB_SEED=N` replays a run.

use std::time::Duration;

use collab_tests::{Client, DEADLINE, Gateway, RedisServer, converge};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FILE: &str = "sandbox-1/src/convergence.rs";
const GATEWAYS: usize = 3;
const CLIENTS: usize = 12;
const OPS_PER_CLIENT: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twelve_editors_on_three_gateways_converge() {
    let seed: u64 = std::env::var("COLLAB_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("convergence seed: {seed} (replay with COLLAB_SEED={seed})");

    let redis = RedisServer::start().await.expect("redis-server starts");
    let mut gateways = Vec::new();
    for _ in 0..GATEWAYS {
        gateways.push(
            Gateway::start(&redis.url(), &[])
                .await
                .expect("gateway starts"),
        );
    }

    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let url = gateways[i % GATEWAYS].ws_url(FILE);
        clients.push(
            Client::connect_synced(&url, DEADLINE)
                .await
                .expect("client connects and syncs"),
        );
    }

    // Every editor types and deletes at random places at once, on its own task.
    let mut tasks = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(seed.wrapping_add(i as u64));
        tasks.push(tokio::spawn(async move {
            for op in 0..OPS_PER_CLIENT {
                let len = client.len();
                if len > 0 && rng.random_bool(0.3) {
                    let at = rng.random_range(0..len);
                    let n = rng.random_range(1..=(len - at).min(5));
                    client.delete(at, n).expect("delete within the text");
                } else {
                    let at = rng.random_range(0..=len);
                    // Monaco counts UTF-16 units: mix in non-ASCII characters.
                    let chunk = match rng.random_range(0..4) {
                        0 => format!("é{i}"),
                        1 => format!("\n{i}:{op}"),
                        _ => format!("c{i}o{op} "),
                    };
                    client.insert(at, &chunk).expect("insert within the text");
                }
                if rng.random_bool(0.5) {
                    tokio::time::sleep(Duration::from_millis(rng.random_range(0..4))).await;
                } else {
                    tokio::task::yield_now().await;
                }
            }
            client
        }));
    }
    let mut clients = Vec::new();
    for task in tasks {
        clients.push(task.await.expect("editor task"));
    }

    let refs: Vec<&Client> = clients.iter().collect();
    let text = match converge(&refs, Duration::from_secs(30)).await {
        Ok(text) => text,
        Err(e) => panic!("seed {seed}: replicas did not converge: {e:#}"),
    };
    assert!(
        !text.is_empty(),
        "seed {seed}: 12 editors typed but the text is empty"
    );
    for c in &clients {
        assert_eq!(c.closed_with(), None, "seed {seed}: a client was closed");
        assert!(
            c.protocol_errors().is_empty(),
            "seed {seed}: {:?}",
            c.protocol_errors()
        );
    }

    // A late joiner on each gateway gets exactly that text.
    let writes = collab_tests::writes_of(&refs);
    for gw in &gateways {
        let late = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
            .await
            .expect("late joiner connects");
        let got = late
            .wait_for(|c| c.has_seen(&writes) && c.text() == text, DEADLINE)
            .await;
        assert!(
            got.is_ok(),
            "seed {seed}: late joiner on {} shows {:?}, expected {text:?}: {got:?}",
            gw.addr(),
            late.text()
        );
    }
}
