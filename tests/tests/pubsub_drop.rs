//! Pub/sub is at most once: killing the gateways' subscription connections in the middle of
//! a stream of edits must not lose a single edit (gateways catch up from the log).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use collab_tests::tokens::assert_all_present;
use collab_tests::{Client, DEADLINE, Gateway, RedisServer, converge, eventually};

const FILE: &str = "sandbox-3/app/main.py";
const GATEWAYS: usize = 3;
const KILLS: usize = 5;
/// Edits (over all writers) between two kills.
const EDITS_BETWEEN_KILLS: usize = 40;
const MAX_EDITS_PER_WRITER: usize = 2000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_edit_survives_killed_subscriptions() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let mut gateways = Vec::new();
    for _ in 0..GATEWAYS {
        gateways.push(Gateway::start(&redis.url(), &[]).await.expect("gateway"));
    }
    // Two writers per gateway, plus a reader on each gateway that never types.
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for gw in &gateways {
        for _ in 0..2 {
            writers.push(
                Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
                    .await
                    .expect("writer joins"),
            );
        }
        readers.push(
            Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
                .await
                .expect("reader joins"),
        );
    }
    let all_subscribed = || async {
        redis
            .pubsub_client_ids()
            .await
            .is_ok_and(|ids| ids.len() >= GATEWAYS)
    };
    assert!(
        eventually(DEADLINE, all_subscribed).await,
        "every gateway shows a subscription connection in CLIENT LIST TYPE pubsub"
    );

    let progress = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (w, writer) in writers.into_iter().enumerate() {
        let progress = progress.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut written = Vec::new();
            for n in 0..MAX_EDITS_PER_WRITER {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let token = format!("<w{w}e{n}>");
                writer.push(&token).expect("append");
                written.push(token);
                progress.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (writer, written)
        }));
    }

    // Kill the subscription connections several times while the edits flow.
    let edits_since = |mark: usize| {
        let progress = progress.clone();
        async move { progress.load(Ordering::Relaxed) >= mark + EDITS_BETWEEN_KILLS }
    };
    for round in 0..KILLS {
        assert!(
            eventually(DEADLINE, all_subscribed).await,
            "round {round}: the gateways did not resubscribe after their pub/sub connection \
             was killed"
        );
        let mark = progress.load(Ordering::Relaxed);
        assert!(
            eventually(DEADLINE, || edits_since(mark)).await,
            "round {round}: writers stalled"
        );
        let killed = redis.kill_pubsub_clients().await.expect("CLIENT KILL");
        assert!(
            killed >= GATEWAYS,
            "round {round}: killed {killed} connections"
        );
    }
    let mark = progress.load(Ordering::Relaxed);
    assert!(
        eventually(DEADLINE, || edits_since(mark)).await,
        "writers stalled after the last kill"
    );
    stop.store(true, Ordering::Relaxed);

    let mut writers = Vec::new();
    let mut tokens = Vec::new();
    for task in tasks {
        let (writer, written) = task.await.expect("writer task");
        writers.push(writer);
        tokens.extend(written);
    }
    println!(
        "{} edits by {} writers, {KILLS} subscription kills",
        tokens.len(),
        writers.len()
    );

    let everyone: Vec<&Client> = writers.iter().chain(readers.iter()).collect();
    let text = match converge(&everyone, Duration::from_secs(30)).await {
        Ok(text) => text,
        Err(e) => panic!("edits lost across subscription kills: {e:#}"),
    };
    assert_all_present(&text, &tokens, "after the subscription kills");
    for c in &everyone {
        assert_eq!(c.closed_with(), None, "no client was disconnected");
    }
}
