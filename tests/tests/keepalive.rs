//! An idle editor still hears from the gateway at least every `--keepalive-ms`: the stock
//! y-websocket client drops a connection after 30 s of silence.

use std::time::{Duration, Instant};

use collab_tests::{Client, DEADLINE, Gateway, RedisServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_client_hears_from_the_gateway() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(&redis.url(), &["--keepalive-ms", "300"])
        .await
        .expect("gateway");
    let client = Client::connect_synced(&gw.ws_url("sandbox-12/idle.txt"), DEADLINE)
        .await
        .expect("client joins");
    // Nobody else is in the file and nobody types: whatever arrives now is a keepalive.
    let start = Instant::now();
    for round in 1..=3 {
        let seen = client.frames_received();
        client
            .wait_for(|c| c.frames_received() > seen, Duration::from_secs(2))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "round {round}: nothing from the gateway for 2 s (--keepalive-ms 300): {e:#}"
                )
            });
    }
    assert!(start.elapsed() < Duration::from_secs(6));
    assert_eq!(
        client.closed_with(),
        None,
        "the idle client stays connected"
    );
    assert!(
        client.protocol_errors().is_empty(),
        "{:?}",
        client.protocol_errors()
    );
}
