//! A client that stops reading costs the others nothing and is closed with 1013.
//!
//! One gateway with a small send queue (64 frames) and no rate limits. A writer types in
//! rounds of 16 edits of 16 KB; after each round a reading observer gets a fixed deadline to
//! hold the round. The same rounds run twice in one test: first with only the writer and
//! the observer, then with a third client that sent its sync step 1 and never reads again.
//! The observer must get as many edits within the deadlines with the stalled client as
//! without it (counts, not timings), the gateway must count one slow-consumer close, and
//! the stalled client, when it reads again, must find an error naming the limit and 1013.
//!
//! A phase is 5 MB: more than Linux buffers in a socket towards a client that does not read
//! (`net.ipv4.tcp_wmem` max, 4 MB here), so the stalled client's queue must fill.
//!
//! Cursor moves are different: a newer state of a cursor replaces the one still queued, so a
//! client that lags behind cursor moves alone is not closed, and reads the latest state.
//!
//! Under load: several clients stall at once with full socket buffers and stay stalled for
//! longer than the gateway used to wait for a goodbye; each still reads the error and 1013
//! once it reads again (before, each saw the backlog and then 1006).

use std::time::Duration;

use collab_protocol::close::OVERLOADED;
use collab_tests::{Client, DEADLINE, Gateway, RedisServer, StalledReader, eventually, prometheus};

const FILE: &str = "sandbox-9/slow.rs";
const ROUNDS: usize = 20;
const EDITS_PER_ROUND: usize = 16;
const EDIT_BYTES: usize = 16_000;
/// How long the observer has to receive one round.
const ROUND_DEADLINE: Duration = Duration::from_secs(5);

/// Counts of one phase.
#[derive(Debug, Default)]
struct Phase {
    /// Edits the observer held by the deadline of their round.
    delivered: usize,
    /// Rounds the observer held completely by their deadline.
    rounds_on_time: usize,
    /// Slow-consumer closes the gateway counted after each round.
    slow_closes_after_round: Vec<f64>,
}

async fn slow_closes(gw: &Gateway) -> f64 {
    let metrics = gw.metrics().await.expect("GET /metrics");
    prometheus::count(&metrics, "collab_slow_consumer_closes_total", &[])
}

/// The writer types `ROUNDS` rounds; returns what the observer got in time.
async fn rounds(gw: &Gateway, writer: &Client, observer: &Client, phase: &str) -> Phase {
    let mut out = Phase::default();
    for round in 0..ROUNDS {
        let mut tokens = Vec::new();
        for n in 0..EDITS_PER_ROUND {
            let token = format!("<{phase}{round}.{n}{}>", "x".repeat(EDIT_BYTES));
            writer.push(&token).expect("the writer types");
            tokens.push(token);
        }
        let target = [(writer.client_id(), writer.own_clock())];
        let on_time = observer
            .wait_for(|c| c.has_seen(&target), ROUND_DEADLINE)
            .await
            .is_ok();
        let text = observer.text();
        out.delivered += tokens.iter().filter(|t| text.contains(t.as_str())).count();
        out.rounds_on_time += usize::from(on_time);
        out.slow_closes_after_round.push(slow_closes(gw).await);
    }
    out
}

/// A Redis and a gateway that queues `send_queue` frames per client and limits no rates
/// (so only the queue can close a client).
async fn gateway_without_rate_limits(send_queue: usize) -> (RedisServer, Gateway) {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let queue = send_queue.to_string();
    let args = [
        "--send-queue",
        queue.as_str(),
        "--max-messages-per-sec",
        "0",
        "--max-bytes-per-sec",
        "0",
    ];
    let gw = Gateway::start(&redis.url(), &args)
        .await
        .expect("gateway starts");
    (redis, gw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_stops_reading_is_closed_and_slows_nobody() {
    let (_redis, gw) = gateway_without_rate_limits(64).await;
    let writer = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("writer joins");
    let observer = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("observer joins");

    let without = rounds(&gw, &writer, &observer, "a").await;
    assert_eq!(
        without.delivered,
        ROUNDS * EDITS_PER_ROUND,
        "without a stalled client the observer gets every edit in time: {without:?}"
    );
    assert_eq!(slow_closes(&gw).await, 0.0, "nobody was too slow yet");

    let stalled = StalledReader::connect(&gw.ws_url(FILE))
        .await
        .expect("a client that will not read connects");
    let with = rounds(&gw, &writer, &observer, "b").await;
    println!(
        "observer got {} edits ({} rounds) in time without the stalled client, {} ({} rounds) \
         with it; slow-consumer closes after each round: {:?}",
        without.delivered,
        without.rounds_on_time,
        with.delivered,
        with.rounds_on_time,
        with.slow_closes_after_round
    );
    assert_eq!(
        with.slow_closes_after_round[0], 0.0,
        "the stalled client was still in the room, stuck, during the first round (else this \
         compares nothing)"
    );
    assert_eq!(
        (with.delivered, with.rounds_on_time),
        (without.delivered, without.rounds_on_time),
        "a stalled client must not cost the observer any edit within the deadlines"
    );

    // The gateway gave up on the stalled client (and on nobody else).
    let counted = eventually(DEADLINE, || async { slow_closes(&gw).await >= 1.0 }).await;
    assert!(
        counted,
        "collab_slow_consumer_closes_total never counted the stalled client: {:?}",
        with.slow_closes_after_round
    );
    assert_eq!(slow_closes(&gw).await, 1.0, "only the stalled client");
    for (who, client) in [("writer", &writer), ("observer", &observer)] {
        assert_eq!(
            client.closed_with(),
            None,
            "the {who} stays connected ({:?})",
            client.errors()
        );
    }

    // What the stalled client sees once it reads again.
    let seen = stalled.resume(DEADLINE).await;
    assert!(
        seen.errors
            .iter()
            .any(|n| n.code == OVERLOADED && n.reason == "slow-consumer"),
        "the stalled client reads an error {{code: 1013, reason: \"slow-consumer\"}}; it read {} \
         frames, errors {:?}, close {:?}",
        seen.frames,
        seen.errors,
        seen.close
    );
    assert_eq!(
        seen.close,
        Some(OVERLOADED),
        "the stalled client's connection ends with 1013 (reason {:?})",
        seen.close_reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_lagging_behind_cursor_moves_is_not_closed_and_reads_the_latest() {
    const FILE: &str = "sandbox-9/cursors.rs";
    const MOVES: u64 = 1000;
    let (_redis, gw) = gateway_without_rate_limits(16).await;
    let mover = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("mover joins");
    let observer = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("observer joins");
    let stalled = StalledReader::connect(&gw.ws_url(FILE))
        .await
        .expect("a client that will not read connects");
    // Join the room before the moves start (its step 1 is answered once it is in).
    let joined = eventually(DEADLINE, || async {
        gw.metrics()
            .await
            .is_ok_and(|text| prometheus::count(&text, "collab_connections", &[]) == 3.0)
    })
    .await;
    assert!(joined, "the stalled client is in the room");

    // 8 MB of cursor states: twice what the kernel buffers towards the stalled client, far
    // more than its 16-frame queue.
    let padding = "x".repeat(8_000);
    for n in 0..MOVES {
        mover.set_awareness(serde_json::json!({"user": {"name": "mover", "pad": padding}, "n": n}));
    }
    let last = MOVES - 1;
    let latest = |state: Option<serde_json::Value>| state.is_some_and(|s| s["n"] == last);
    observer
        .wait_for(|c| latest(c.awareness_of(mover.client_id())), DEADLINE)
        .await
        .expect("a reading client gets the latest cursor");

    let seen = stalled
        .resume_until(DEADLINE, |seen| {
            seen.awareness
                .get(&mover.client_id())
                .and_then(|json| serde_json::from_str(json).ok())
                .is_some_and(|state| latest(Some(state)))
        })
        .await;
    assert_eq!(
        seen.close, None,
        "a client behind on cursors only stays open (errors {:?}, reason {:?})",
        seen.errors, seen.close_reason
    );
    assert!(
        seen.awareness.contains_key(&mover.client_id()),
        "the lagging client reads the mover's latest cursor"
    );
    assert!(
        (seen.frames as u64) < MOVES,
        "older cursor states were replaced while it lagged: it read {} frames for {MOVES} moves",
        seen.frames
    );
    assert_eq!(slow_closes(&gw).await, 0.0, "nobody was closed as too slow");
}

/// Clients that stop reading at once, in the load test.
const STALLED: usize = 8;
/// How long they stay stalled after the last of them was closed: longer than the gateway
/// used to wait for a goodbye (30 s), after which the close frame was never written and
/// the client saw 1006 when it read again.
const STALL_AFTER_CLOSE: Duration = Duration::from_secs(35);

/// Several slow consumers at once, each holding a full socket buffer, stalled well past
/// their close: each, once it reads again, reads the whole backlog, then the error naming
/// the limit and the close 1013. The gateway meanwhile serves the writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_stalled_readers_each_read_the_error_and_1013_when_they_read_again() {
    const FILE: &str = "sandbox-9/many-slow.rs";
    let (_redis, gw) = gateway_without_rate_limits(16).await;
    let writer = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("writer joins");
    let mut stalled = Vec::new();
    for _ in 0..STALLED {
        let reader = StalledReader::connect(&gw.ws_url(FILE)).await;
        stalled.push(reader.expect("a client that will not read connects"));
    }
    let joined = eventually(DEADLINE, || async {
        let text = gw.metrics().await.unwrap_or_default();
        prometheus::count(&text, "collab_connections", &[]) == (STALLED + 1) as f64
    })
    .await;
    assert!(joined, "the stalled clients are in the room");

    // The writer types until every stalled client's socket buffer and queue are full.
    let mut typed = 0;
    while slow_closes(&gw).await < STALLED as f64 {
        assert!(
            typed < 64 << 20,
            "{typed} bytes typed and not every stalled client was closed"
        );
        for _ in 0..EDITS_PER_ROUND {
            writer
                .push(&"y".repeat(EDIT_BYTES))
                .expect("the writer types");
            typed += EDIT_BYTES;
        }
        writer
            .wait_for(|c| c.len() as usize == typed, DEADLINE)
            .await
            .expect("the writer's edits are in");
    }
    // The stall itself is the scenario: nothing to await.
    tokio::time::sleep(STALL_AFTER_CLOSE).await;
    writer.push("// still served\n").expect("the writer types");
    let seen =
        futures_util::future::join_all(stalled.into_iter().map(|s| s.resume(DEADLINE))).await;
    let mut wrong = Vec::new();
    for (n, seen) in seen.iter().enumerate() {
        let told = seen
            .errors
            .iter()
            .any(|e| e.code == OVERLOADED && e.reason == "slow-consumer");
        println!(
            "stalled client {n}: {} frames, the error {}, close {:?} {:?}",
            seen.frames,
            if told { "read" } else { "missing" },
            seen.close,
            seen.close_reason
        );
        if !told || seen.close != Some(OVERLOADED) || seen.close_reason != "slow-consumer" {
            wrong.push(n);
        }
    }
    println!("{typed} bytes typed until all {STALLED} were closed");
    assert!(
        wrong.is_empty(),
        "stalled clients {wrong:?} did not read the slow-consumer error and close 1013"
    );
    assert_eq!(
        slow_closes(&gw).await,
        STALLED as f64,
        "only the stalled clients"
    );
    writer
        .wait_for(|c| c.text().ends_with("// still served\n"), DEADLINE)
        .await
        .expect("the writer is still served");
    assert_eq!(writer.closed_with(), None, "the writer stays");
}
