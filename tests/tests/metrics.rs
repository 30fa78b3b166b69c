//! `/metrics` serves Prometheus text that counts what happens: connections open and close,
//! rooms open, client messages arrive, a refused input is counted by its reason; and the
//! metrics an operator alerts on are there from the start (a counter that has not counted
//! yet reads 0 instead of being absent, so `rate(...)` and alerts work on a fresh gateway).

use collab_protocol::close::TOO_BIG;
use collab_tests::{Client, DEADLINE, Gateway, RedisServer, eventually, prometheus};

const FILE: &str = "sandbox-2/metrics.rs";

/// Every metric issue 4 names, as the gateway names them.
const METRICS: &[&str] = &[
    "collab_connections",
    "collab_rooms",
    "collab_messages_in_total",
    "collab_bytes_in_total",
    "collab_messages_out_total",
    "collab_bytes_out_total",
    "collab_update_apply_seconds",
    "collab_redis_seconds",
    "collab_catch_ups_total",
    "collab_compactions_total",
    "collab_slow_consumer_closes_total",
    "collab_rejected_total",
    "collab_redis_reconnects_total",
];

/// Awaits `name{labels}` reading `want` on `gw`; on timeout, panics with the last value.
async fn await_value(gw: &Gateway, name: &str, labels: &[(&str, &str)], want: f64) {
    let reached = eventually(DEADLINE, || async {
        gw.metrics()
            .await
            .is_ok_and(|m| prometheus::count(&m, name, labels) == want)
    })
    .await;
    if !reached {
        let text = gw.metrics().await.unwrap_or_default();
        panic!(
            "{name}{labels:?} never read {want}: it reads {:?}; /metrics:\n{text}",
            prometheus::value(&text, name, labels)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_connections_rooms_messages_and_a_rejected_input() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(
        &redis.url(),
        &["--max-frame-bytes", "4096", "--room-grace-ms", "200"],
    )
    .await
    .expect("gateway starts");
    let before = gw.metrics().await.expect("GET /metrics answers 200");
    assert_eq!(prometheus::count(&before, "collab_connections", &[]), 0.0);
    let sync_in =
        |text: &str| prometheus::count(text, "collab_messages_in_total", &[("type", "sync")]);

    let mut a = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("a joins");
    let mut b = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("b joins");
    await_value(&gw, "collab_connections", &[], 2.0).await;
    await_value(&gw, "collab_rooms", &[], 1.0).await;

    let synced = gw.metrics().await.expect("GET /metrics");
    a.push("<metered>").expect("an edit");
    b.wait_for(|c| c.text().contains("<metered>"), DEADLINE)
        .await
        .expect("b sees a's edit");
    await_value(
        &gw,
        "collab_messages_in_total",
        &[("type", "sync")],
        sync_in(&synced) + 1.0,
    )
    .await;
    let after_edit = gw.metrics().await.expect("GET /metrics");
    assert!(
        prometheus::count(&after_edit, "collab_messages_out_total", &[])
            > prometheus::count(&synced, "collab_messages_out_total", &[]),
        "the relay to b counts as a message out"
    );
    // The relay to b is timed as a delivery once the socket took it (b may read it first).
    let delivered =
        |text: &str| prometheus::count(text, "collab_delivery_seconds_count", &[("type", "sync")]);
    let before_relay = delivered(&synced);
    let timed = eventually(DEADLINE, || async {
        gw.metrics()
            .await
            .is_ok_and(|m| delivered(&m) > before_relay)
    })
    .await;
    assert!(
        timed,
        "the relay to b is timed in collab_delivery_seconds{{type=\"sync\"}}: {}",
        gw.metrics().await.unwrap_or_default()
    );

    // A refused input: one frame over --max-frame-bytes.
    let offender = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("offender joins");
    await_value(&gw, "collab_connections", &[], 3.0).await;
    offender.push(&"F".repeat(6000)).expect("a local edit");
    assert_eq!(
        offender.wait_closed(DEADLINE).await.expect("closed"),
        TOO_BIG
    );
    await_value(
        &gw,
        "collab_rejected_total",
        &[("reason", "frame-too-big")],
        1.0,
    )
    .await;
    let text = gw.metrics().await.expect("GET /metrics");
    assert_eq!(
        prometheus::count(&text, "collab_rejected_total", &[]),
        1.0,
        "one refusal in all: {text}"
    );

    // Everyone leaves (the offender already has): the room closes after its grace period,
    // and no connection is left.
    a.close().await.expect("a leaves");
    b.close().await.expect("b leaves");
    await_value(&gw, "collab_rooms", &[], 0.0).await;
    await_value(&gw, "collab_connections", &[], 0.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_is_exposed_before_its_first_event() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(&redis.url(), &[])
        .await
        .expect("gateway starts");
    // Ordinary traffic: one editor joins and types. No slow consumer, catch-up, compaction,
    // refusal or Redis reconnect happens.
    let editor = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("an editor joins");
    editor.push("<ordinary>").expect("an edit");
    await_value(&gw, "collab_connections", &[], 1.0).await;

    let text = gw.metrics().await.expect("GET /metrics");
    let missing: Vec<&str> = METRICS
        .iter()
        .copied()
        .filter(|name| !prometheus::exposes(&text, name))
        .collect();
    assert!(
        missing.is_empty(),
        "a gateway with ordinary traffic does not expose {missing:?} (a counter should read 0 \
         before its first event); /metrics:\n{text}"
    );
}

/// glibc gives each thread that allocates its own arena, up to 8 per core, and every arena
/// keeps what it frees: a gateway's RSS then grew for 100,000 visits while what it held
/// stayed flat (docs/memory.md). The gateway caps them at two; busy rooms on several files
/// (the runtime's workers and blocking threads all allocating) must not raise the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_glibc_gateway_keeps_at_most_two_malloc_arenas() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(&redis.url(), &[])
        .await
        .expect("gateway starts");
    let mut editors = Vec::new();
    for n in 0..12 {
        let file = format!("sandbox-2/arenas-{}.rs", n % 6);
        let editor = Client::connect_synced(&gw.ws_url(&file), DEADLINE)
            .await
            .expect("an editor joins");
        editor.push(&format!("<typed {n}>")).expect("an edit");
        editors.push(editor);
    }
    for (n, editor) in editors.iter_mut().enumerate() {
        let partner = (n + 6) % 12; // the other editor of the same file
        editor
            .wait_for(
                |c| c.text().contains(&format!("<typed {partner}>")),
                DEADLINE,
            )
            .await
            .expect("each editor sees its partner's edit");
    }
    let text = gw.metrics().await.expect("GET /metrics");
    if prometheus::count(&text, "collab_allocator", &[("allocator", "glibc")]) != 1.0 {
        panic!("this test is about the glibc build; /metrics:\n{text}");
    }
    let arenas = prometheus::value(&text, "collab_allocator_arenas", &[])
        .unwrap_or_else(|| panic!("collab_allocator_arenas is exported: {text}"));
    assert!(
        (1.0..=2.0).contains(&arenas),
        "a busy gateway has {arenas} malloc arenas, not at most 2"
    );
}

/// Rooms opening and closing all day leave free memory between live blocks, which glibc
/// keeps resident; the gateway gives those pages back once rooms have ended (within a
/// second when the last one ends; docs/memory.md), and an operator sees each trim, and
/// what it cost, on `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_glibc_gateway_gives_free_pages_back_when_its_last_room_ends() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(
        &redis.url(),
        &["--malloc-trim-ms", "100", "--room-grace-ms", "50"],
    )
    .await
    .expect("gateway starts");
    let text = gw.metrics().await.expect("GET /metrics");
    if prometheus::count(&text, "collab_allocator", &[("allocator", "glibc")]) != 1.0 {
        panic!("this test is about the glibc build; /metrics:\n{text}");
    }
    let trims = |text: &str| prometheus::count(text, "collab_allocator_trim_seconds_count", &[]);
    assert_eq!(trims(&text), 0.0, "a trim before any room ended: {text}");

    for n in 0..4 {
        let file = format!("sandbox-2/trim-{n}.rs");
        let editor = Client::connect_synced(&gw.ws_url(&file), DEADLINE)
            .await
            .expect("an editor joins");
        editor.push(&"x".repeat(4096)).expect("an edit");
    }
    await_value(&gw, "collab_rooms", &[], 0.0).await;
    let trimmed = eventually(DEADLINE, || async {
        gw.metrics().await.is_ok_and(|m| trims(&m) >= 1.0)
    })
    .await;
    let text = gw.metrics().await.unwrap_or_default();
    assert!(trimmed, "no trim after the last room ended: {text}");
}
