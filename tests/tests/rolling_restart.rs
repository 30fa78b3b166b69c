//! A rolling restart, as an operator deploys: each of three gateways in turn gets SIGTERM,
//! exits, and starts again on its port, while six editors keep typing. Editors behave like
//! stock y-websocket clients: on a close they reconnect with backoff, three to their own
//! gateway (they wait for it to come back), three to any gateway (behind a load balancer),
//! typing offline meanwhile. Every editor of a stopping gateway is told 1012; at the end
//! nothing is lost (every live token is there once, no deleted one), all converge, and a
//! fresh joiner on each gateway sees the same text. The same rollout runs on one Redis and
//! on a Redis Cluster.

use std::time::Duration;

use collab_protocol::close::RESTARTING;
use collab_tests::editor::{Editor, EditorOptions, Reconnect};
use collab_tests::{
    Backend, BackendKind, Client, DEADLINE, Gateway, converge, eventually, prometheus, tokens,
    writes_of,
};
use tokio::sync::watch;

const FILE: &str = "sandbox-3/src/deployed.ts";
const GATEWAYS: usize = 3;
const EDITORS: usize = 6;
const FLAGS: &[&str] = &["--drain-timeout-ms", "5000"];

/// Client messages this gateway process received (its counters start at 0 with it).
async fn messages_in(gw: &Gateway) -> f64 {
    match gw.metrics().await {
        Ok(m) => prometheus::count(&m, "collab_messages_in_total", &[]),
        Err(_) => 0.0,
    }
}

/// Awaits edits flowing through `gw`: at least `n` client messages since it started.
async fn edits_flow_through(gw: &Gateway, n: f64) -> bool {
    eventually(DEADLINE, || async { messages_in(gw).await >= n }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarting_every_gateway_in_turn_under_edits_loses_nothing() {
    rolling_restart(BackendKind::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarting_every_gateway_in_turn_under_edits_loses_nothing_on_a_cluster() {
    rolling_restart(BackendKind::Cluster).await;
}

async fn rolling_restart(kind: BackendKind) {
    let seed: u64 = std::env::var("COLLAB_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("rolling restart on {kind}, seed: {seed} (replay with COLLAB_SEED={seed})");
    let redis = Backend::start(kind).await.expect("redis starts");
    let mut gateways = Vec::new();
    for _ in 0..GATEWAYS {
        gateways.push(redis.gateway(FLAGS).await.expect("gateway starts"));
    }
    let urls: Vec<String> = gateways.iter().map(|g| g.ws_url(FILE)).collect();

    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    for i in 0..EDITORS {
        let options = EditorOptions {
            pause_ms: (5, 30),
            delete_ratio: 0.2,
            reconnect: if i < GATEWAYS {
                Reconnect::SameUrl
            } else {
                Reconnect::AnyGateway
            },
        };
        let editor = Editor::join(
            &format!("e{i}"),
            urls.clone(),
            i % GATEWAYS,
            seed.wrapping_add(i as u64),
            options,
        )
        .await
        .expect("editor joins");
        tasks.push(tokio::spawn(editor.run(stopped.clone())));
    }

    for gw in &gateways {
        assert!(
            edits_flow_through(gw, 60.0).await,
            "edits reach gateway {} before the rollout",
            gw.addr()
        );
    }
    for gw in gateways.iter_mut() {
        let status = gw.terminate().await.expect("the gateway drains and exits");
        assert!(
            status.success(),
            "{} exits 0 on SIGTERM: {status}",
            gw.addr()
        );
        gw.restart().await.expect("the gateway starts again");
        // Its own editor comes back (the others may too) and types through it again.
        assert!(
            edits_flow_through(gw, 60.0).await,
            "edits flow through the restarted gateway {} again",
            gw.addr()
        );
    }

    let _ = stop.send(true);
    let mut editors = Vec::new();
    for task in tasks {
        editors.push(task.await.expect("editor task").expect("editor types"));
    }
    for editor in &mut editors {
        editor
            .settle(Duration::from_secs(30))
            .await
            .expect("every editor ends on a synced connection");
    }
    let clients: Vec<&Client> = editors.iter().map(|e| &e.client).collect();
    let text = converge(&clients, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("seed {seed}: editors converge after the rollout: {e:#}"));
    let ledgers: Vec<&tokens::Ledger> = editors.iter().map(|e| &e.ledger).collect();
    tokens::check(&text, &ledgers)
        .unwrap_or_else(|e| panic!("seed {seed}: nothing is lost: {e:#}"));

    // What the users saw: every connection that ended was closed with 1012 (restarting),
    // and each gateway's own editors went through at least one such close.
    let edits: u64 = editors.iter().map(|e| e.ledger.edits()).sum();
    let closes: Vec<(u16, String)> = editors.iter().flat_map(|e| e.closes.clone()).collect();
    println!(
        "{edits} edits, {} live tokens, closes {closes:?}",
        ledgers.iter().map(|l| l.live().len()).sum::<usize>()
    );
    assert!(
        closes.iter().all(|(code, _)| *code == RESTARTING),
        "connections end only with 1012 during a rolling restart: {closes:?}"
    );
    for editor in &editors[..GATEWAYS] {
        assert!(
            !editor.closes.is_empty(),
            "an editor of a restarted gateway was told to reconnect"
        );
    }

    let writes = writes_of(&clients);
    for gw in &gateways {
        let late = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
            .await
            .expect("a fresh joiner connects");
        let got = late
            .wait_for(|c| c.has_seen(&writes) && c.text() == text, DEADLINE)
            .await;
        assert!(
            got.is_ok(),
            "seed {seed}: a fresh joiner on {} sees {} of {} UTF-16 units",
            gw.addr(),
            late.len(),
            text.encode_utf16().count()
        );
    }
}
