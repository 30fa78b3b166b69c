//! Concurrent random edits from 12 editors on 3 gateways converge, and a late joiner sees
//! the same text.
//!
//! The edits are seeded: the seed is printed, and `COLLAB_SEED=N` replays a run.

use std::time::Duration;

use collab_tests::{Client, DEADLINE, Edit, Gateway, RedisServer, converge};
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
                client
                    .edit_by(|len| {
                        if len > 0 && rng.random_bool(0.3) {
                            let at = rng.random_range(0..len);
                            Edit::Delete(at, rng.random_range(1..=(len - at).min(5)))
                        } else {
                            // Monaco counts UTF-16 units: mix in non-ASCII characters.
                            let chunk = match rng.random_range(0..4) {
                                0 => format!("é{i}"),
                                1 => format!("\n{i}:{op}"),
                                _ => format!("c{i}o{op} "),
                            };
                            Edit::Insert(rng.random_range(0..=len), chunk)
                        }
                    })
                    .expect("an edit within the text");
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

/// Like a load balancer after a pod dies: the editors of a gateway killed with kill -9 in
/// the middle of the edits reconnect to another gateway (re-uploading what they typed
/// meanwhile, as y-websocket does), and everyone converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn editors_converge_across_a_gateway_kill() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let seed: u64 = std::env::var("COLLAB_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("gateway-kill seed: {seed} (replay with COLLAB_SEED={seed})");
    const FILE: &str = "sandbox-1/src/failover.rs";
    const EDITORS: usize = 6;
    const OPS: usize = 80;

    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw1 = Gateway::start(&redis.url(), &[]).await.expect("gw 1");
    let gw2 = Gateway::start(&redis.url(), &[]).await.expect("gw 2");
    let mut doomed = Gateway::start(&redis.url(), &[]).await.expect("gw 3");
    let survivors = [gw1.ws_url(FILE), gw2.ws_url(FILE)];

    let progress = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..EDITORS {
        let url = match i % 3 {
            0 => gw1.ws_url(FILE),
            1 => gw2.ws_url(FILE),
            _ => doomed.ws_url(FILE),
        };
        let mut client = Client::connect_synced(&url, DEADLINE)
            .await
            .expect("editor joins");
        let fallback = survivors[i % 2].clone();
        let progress = progress.clone();
        let mut rng = StdRng::seed_from_u64(seed.wrapping_add(100 + i as u64));
        tasks.push(tokio::spawn(async move {
            let mut reconnects = 0;
            for op in 0..OPS {
                if client.closed_with().is_some() {
                    client.reconnect(&fallback).await.expect("reconnects");
                    reconnects += 1;
                }
                client
                    .edit_by(|len| {
                        if len > 0 && rng.random_bool(0.25) {
                            Edit::Delete(rng.random_range(0..len), 1)
                        } else {
                            Edit::Insert(rng.random_range(0..=len), format!("e{i}.{op} "))
                        }
                    })
                    .expect("an edit within the text");
                progress.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(rng.random_range(1..6))).await;
            }
            if client.closed_with().is_some() {
                client.reconnect(&fallback).await.expect("reconnects");
                reconnects += 1;
            }
            (client, reconnects)
        }));
    }

    let halfway = collab_tests::eventually(DEADLINE, || {
        let progress = progress.clone();
        async move { progress.load(Ordering::Relaxed) >= EDITORS * OPS / 2 }
    })
    .await;
    assert!(halfway, "editors stalled before the kill");
    doomed.kill9().await.expect("kill -9 gateway 3");

    let mut clients = Vec::new();
    let mut reconnected = 0;
    for task in tasks {
        let (client, reconnects) = task.await.expect("editor task");
        reconnected += reconnects;
        clients.push(client);
    }
    assert!(
        reconnected >= 2,
        "the editors of the killed gateway reconnected ({reconnected} reconnects)"
    );
    for c in &clients {
        c.wait_synced(DEADLINE)
            .await
            .expect("every editor is synced");
    }
    let refs: Vec<&Client> = clients.iter().collect();
    let text = converge(&refs, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("seed {seed}: no convergence across a gateway kill: {e:#}"));

    doomed.restart().await.expect("gateway 3 comes back");
    let late = Client::connect_synced(&doomed.ws_url(FILE), DEADLINE)
        .await
        .expect("late joiner on the restarted gateway");
    let got = late.wait_for(|c| c.text() == text, DEADLINE).await;
    assert!(
        got.is_ok(),
        "seed {seed}: late joiner on the restarted gateway shows {:?}, expected {text:?}",
        late.text()
    );
}
