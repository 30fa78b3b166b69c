//! Nothing is lost: not by compaction under concurrent writers, not by restarting every
//! gateway, not by restarting Redis (append-only file); gateways recover from a Redis
//! restart and later edits converge too.
//!
//! Compaction and gateway restarts are the gateways' doing, so they hold on both engines:
//! each runs on one Redis and on a Redis Cluster (`..._on_a_cluster`). Restarting the one
//! Redis and a Redis outage are about that one process. A log rewritten under an idle
//! gateway is `log_rewrite.rs`.

use std::time::Duration;

use collab_protocol::close::RESTARTING;
use collab_protocol::{FileId, Keys};
use collab_tests::tokens::assert_all_present;
use collab_tests::{
    Backend, BackendKind, Client, DEADLINE, Gateway, RedisServer, converge, eventually,
};

fn keys_of(file: &str) -> (String, String) {
    let id = FileId::parse(file).expect("valid file id");
    let keys = Keys::default();
    (keys.log(&id), keys.snap(&id))
}

/// Each writer appends `count` unique tokens `<{tag}{w}.{n}>`; returns all tokens.
async fn write_tokens(writers: &[&Client], tag: &str, count: usize) -> Vec<String> {
    let mut tokens = Vec::new();
    for n in 0..count {
        for (w, writer) in writers.iter().enumerate() {
            let token = format!("<{tag}{w}.{n}>");
            writer.push(&token).expect("append");
            tokens.push(token);
        }
        if n % 10 == 9 {
            tokio::task::yield_now().await;
        }
    }
    tokens
}

/// Connects a fresh client to `gw` and awaits exactly `expected`.
async fn late_joiner_sees(gw: &Gateway, file: &str, expected: &str, what: &str) {
    let late = Client::connect_synced(&gw.ws_url(file), DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("{what}: late joiner connects: {e:#}"));
    let got = late.wait_for(|c| c.text() == expected, DEADLINE).await;
    assert!(
        got.is_ok(),
        "{what}: a late joiner on {} sees {} chars instead of {}: {:?}",
        gw.addr(),
        late.text().len(),
        expected.len(),
        got,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compaction_under_concurrent_writers_loses_nothing() {
    compaction_under_concurrent_writers(BackendKind::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compaction_under_concurrent_writers_loses_nothing_on_a_cluster() {
    compaction_under_concurrent_writers(BackendKind::Cluster).await;
}

/// Four writers on two gateways while `--compact-after 8` folds the log into snapshots;
/// on a cluster the file's keys and channel live on one master, and the log is read and
/// trimmed there.
async fn compaction_under_concurrent_writers(kind: BackendKind) {
    const FILE: &str = "sandbox-4/src/compacted.ts";
    const PER_WRITER: usize = 120;
    let flags = ["--compact-after", "8"];
    let redis = Backend::start(kind).await.expect("redis starts");
    let gw1 = redis.gateway(&flags).await.expect("gw 1");
    let gw2 = redis.gateway(&flags).await.expect("gw 2");

    let mut writers = Vec::new();
    for gw in [&gw1, &gw2, &gw1, &gw2] {
        writers.push(
            Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
                .await
                .expect("writer joins"),
        );
    }
    // All four write at once, each from its own task.
    let mut tasks = Vec::new();
    for (w, writer) in writers.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            // Typing speed, so the edits reach the log as many entries (a busy machine
            // batches faster edits into a few).
            let mut tokens = Vec::new();
            for chunk in 0..PER_WRITER / 2 {
                let tag = format!("w{w}-{chunk}-");
                tokens.extend(write_tokens(&[&writer], &tag, 2).await);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (writer, tokens)
        }));
    }
    let mut writers = Vec::new();
    let mut tokens = Vec::new();
    for task in tasks {
        let (writer, written) = task.await.expect("writer task");
        writers.push(writer);
        tokens.extend(written);
    }
    let refs: Vec<&Client> = writers.iter().collect();
    let text = converge(&refs, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("writers converge: {e:#}"));
    assert_all_present(&text, &tokens, "after concurrent writes");

    // Compaction happened: a snapshot exists and the log was trimmed. (The gateway may
    // batch fast edits into one log entry, so the count of appends comes from the stream.)
    let (log, snap) = keys_of(FILE);
    let edits = tokens.len() as u64;
    let compacted = eventually(DEADLINE, || async {
        redis.key_type(&snap).await.is_ok_and(|t| t == "hash")
            && redis.log_len(&log).await.is_ok_and(|n| n <= edits / 10)
    })
    .await;
    let len = redis.log_len(&log).await.expect("log length");
    let appended = redis.stream_entries_added(&log).await.expect("XINFO");
    let snap_type = redis.key_type(&snap).await.expect("TYPE");
    println!(
        "{kind}: {edits} edits, {appended:?} log appends, {len} entries left, {snap} is a \
         {snap_type}"
    );
    assert!(
        compacted,
        "{kind}: not compacted with --compact-after 8: {edits} edits, {appended:?} log appends, \
         {log} holds {len} entries, {snap} is a {snap_type}"
    );
    if let Some(appended) = appended {
        assert!(
            appended >= 16,
            "only {appended} log appends for {edits} paced edits: compaction was not exercised"
        );
        assert!(
            len < appended / 2,
            "{log}: {len} of {appended} appends left"
        );
    }

    // The snapshot plus the log tail hold everything: a gateway that never saw the file
    // serves the whole text.
    let gw3 = redis.gateway(&flags).await.expect("gw 3");
    late_joiner_sees(&gw3, FILE, &text, "after compaction").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarting_every_gateway_keeps_every_document() {
    restarting_every_gateway(BackendKind::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarting_every_gateway_keeps_every_document_on_a_cluster() {
    restarting_every_gateway(BackendKind::Cluster).await;
}

/// Three files written on two gateways; one gateway
/// stops gracefully, the other dies; both come back and serve every file whole.
async fn restarting_every_gateway(kind: BackendKind) {
    const FILES: [&str; 3] = ["sandbox-5/a.rs", "sandbox-5/dir/b.rs", "sandbox-6/c.md"];
    let flags = ["--compact-after", "16", "--room-grace-ms", "200"];
    let redis = Backend::start(kind).await.expect("redis starts");
    let mut gw1 = redis.gateway(&flags).await.expect("gw 1");
    let mut gw2 = redis.gateway(&flags).await.expect("gw 2");

    let mut expected = Vec::new();
    let mut connected = Vec::new();
    for (i, file) in FILES.iter().enumerate() {
        let a = Client::connect_synced(&gw1.ws_url(file), DEADLINE)
            .await
            .expect("writer on gw 1");
        let b = Client::connect_synced(&gw2.ws_url(file), DEADLINE)
            .await
            .expect("writer on gw 2");
        let tokens = write_tokens(&[&a, &b], &format!("f{i}w"), 30 + 20 * i).await;
        converge(&[&a, &b], DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("{file}: writers converge: {e:#}"));
        // And a deletion: a word typed and removed again (the text is ASCII, so byte
        // offsets are UTF-16 offsets).
        b.push("tmp").expect("a word");
        let at = b.text().find("tmp").expect("the word") as u32;
        b.delete(at, 3).expect("deleted again");
        let text = converge(&[&a, &b], DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("{file}: writers converge: {e:#}"));
        assert!(!text.contains("tmp"), "{file}: the deletion holds");
        assert!(text.len() > 100, "{file} has content");
        expected.push((file, text, tokens));
        connected.push((a, b));
    }

    // Gateway 1 shuts down gracefully (SIGTERM) with its clients connected: they are told
    // to reconnect elsewhere (1012). Gateway 2 dies (kill -9) with its clients connected.
    let status = gw1.terminate().await.expect("gw 1 stops on SIGTERM");
    assert!(status.success(), "gw 1 exits cleanly on SIGTERM: {status}");
    for (a, _) in &connected {
        let code = a
            .wait_closed(DEADLINE)
            .await
            .expect("gw 1's clients are closed");
        assert_eq!(
            code,
            RESTARTING,
            "a client of a gateway shutting down gets 1012 (reason {:?})",
            a.close_reason()
        );
        assert!(
            a.errors_before_close().iter().any(|n| n.code == RESTARTING),
            "an error message with code 1012 precedes the close: {:?}",
            a.errors()
        );
    }
    gw2.kill9().await.expect("kill -9 gw 2");
    for (_, b) in &connected {
        b.wait_closed(DEADLINE)
            .await
            .expect("gw 2's clients are cut off");
    }
    gw1.restart().await.expect("gw 1 starts again");
    gw2.restart().await.expect("gw 2 starts again");

    for (file, text, tokens) in &expected {
        assert_all_present(text, tokens, file);
        for (name, gw) in [("gw 1", &gw1), ("gw 2", &gw2)] {
            late_joiner_sees(gw, file, text, &format!("{file} after restarting {name}")).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_restart_keeps_every_document_and_gateways_recover() {
    const FILES: [&str; 2] = ["sandbox-8/main.go", "sandbox-8/go.mod"];
    let flags = ["--compact-after", "16"];
    let mut redis = RedisServer::start().await.expect("redis-server starts");
    let gw1 = Gateway::start(&redis.url(), &flags).await.expect("gw 1");
    let gw2 = Gateway::start(&redis.url(), &flags).await.expect("gw 2");

    let mut pairs = Vec::new();
    let mut before = Vec::new();
    for (i, file) in FILES.iter().enumerate() {
        let a = Client::connect_synced(&gw1.ws_url(file), DEADLINE)
            .await
            .expect("writer on gw 1");
        let b = Client::connect_synced(&gw2.ws_url(file), DEADLINE)
            .await
            .expect("writer on gw 2");
        let tokens = write_tokens(&[&a, &b], &format!("before{i}-"), 40).await;
        let text = converge(&[&a, &b], DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("{file}: writers converge: {e:#}"));
        assert_all_present(&text, &tokens, "before the Redis restart");
        before.push(tokens);
        pairs.push((a, b));
    }

    redis.restart().await.expect("redis restarts from its AOF");
    let ready = eventually(Duration::from_secs(20), || async {
        gw1.readyz().await == Some(200) && gw2.readyz().await == Some(200)
    })
    .await;
    assert!(
        ready,
        "gateways not ready 20 s after Redis came back (readyz {:?} / {:?})",
        gw1.readyz().await,
        gw2.readyz().await,
    );

    // Editors whose connection the gateway dropped reconnect, as y-websocket does; then
    // both sides keep typing and converge across the two gateways.
    for (i, (a, b)) in pairs.iter_mut().enumerate() {
        for (client, gw) in [(&mut *a, &gw1), (&mut *b, &gw2)] {
            if let Some(code) = client.closed_with() {
                println!("a client was closed with {code} during the Redis restart: reconnecting");
                client
                    .reconnect(&gw.ws_url(FILES[i]))
                    .await
                    .expect("reconnects");
                client.wait_synced(DEADLINE).await.expect("syncs again");
            }
        }
        let after = write_tokens(&[&*a, &*b], &format!("after{i}-"), 20).await;
        let text = converge(&[&*a, &*b], Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{}: edits after the Redis restart do not converge across gateways: {e:#}",
                    FILES[i],
                )
            });
        assert_all_present(&text, &before[i], "pre-restart edits after the restart");
        assert_all_present(&text, &after, "post-restart edits");
        assert!(a.protocol_errors().is_empty() && b.protocol_errors().is_empty());
    }

    // Everything is in Redis: a fresh gateway serves both files whole.
    let gw3 = Gateway::start(&redis.url(), &flags).await.expect("gw 3");
    for (i, (a, _)) in pairs.iter().enumerate() {
        late_joiner_sees(&gw3, FILES[i], &a.text(), "after the Redis restart").await;
    }

    // And a second restart with nobody connected loses nothing either.
    let texts: Vec<String> = pairs.iter().map(|(a, _)| a.text()).collect();
    drop(pairs);
    redis.restart().await.expect("redis restarts again");
    let gw4 = Gateway::start(&redis.url(), &flags).await.expect("gw 4");
    for (i, text) in texts.iter().enumerate() {
        late_joiner_sees(&gw4, FILES[i], text, "after a second Redis restart").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn edits_made_while_redis_is_down_reach_the_other_gateway() {
    const FILE: &str = "sandbox-9/outage.txt";
    let mut redis = RedisServer::start().await.expect("redis-server starts");
    let gw1 = Gateway::start(&redis.url(), &[]).await.expect("gw 1");
    let gw2 = Gateway::start(&redis.url(), &[]).await.expect("gw 2");
    let mut a = Client::connect_synced(&gw1.ws_url(FILE), DEADLINE)
        .await
        .expect("writer on gw 1");
    let mut b = Client::connect_synced(&gw2.ws_url(FILE), DEADLINE)
        .await
        .expect("writer on gw 2");
    let neighbour = Client::connect_synced(&gw1.ws_url(FILE), DEADLINE)
        .await
        .expect("reader on gw 1");
    let mut tokens = write_tokens(&[&a, &b], "before", 10).await;
    converge(&[&a, &b, &neighbour], DEADLINE)
        .await
        .expect("converge before the outage");

    redis.stop().await.expect("redis stops");
    let during = write_tokens(&[&a, &b], "during", 10).await;
    // Local relay never waits on Redis: a's neighbour on the same gateway sees a's edits.
    neighbour
        .wait_for(
            |c| {
                during
                    .iter()
                    .step_by(2)
                    .all(|t| c.text().contains(t.as_str()))
            },
            DEADLINE,
        )
        .await
        .unwrap_or_else(|e| panic!("local relay stalls while Redis is down: {e:#}"));
    redis.start_again().await.expect("redis starts again");
    tokens.extend(during);

    // Editors whose connection was dropped reconnect (and re-upload), as y-websocket does.
    for (client, gw) in [(&mut a, &gw1), (&mut b, &gw2)] {
        if let Some(code) = client.closed_with() {
            println!("a client was closed with {code} during the outage: reconnecting");
            client
                .reconnect(&gw.ws_url(FILE))
                .await
                .expect("reconnects");
        }
    }
    tokens.extend(write_tokens(&[&a, &b], "after", 10).await);
    let text = converge(&[&a, &b, &neighbour], Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| {
            panic!("edits made during a Redis outage never reached the other gateway: {e:#}")
        });
    assert_all_present(&text, &tokens, "after the outage");
    let gw3 = Gateway::start(&redis.url(), &[]).await.expect("gw 3");
    late_joiner_sees(&gw3, FILE, &text, "after the outage").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_relay_goes_on_while_redis_is_down() {
    const FILE: &str = "sandbox-9/local.txt";
    let mut redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(&redis.url(), &[]).await.expect("gateway");
    let a = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("ann joins");
    let b = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
        .await
        .expect("bob joins the same gateway");
    a.push("online ").expect("types");
    converge(&[&a, &b], DEADLINE).await.expect("converge");

    redis.stop().await.expect("redis stops");
    // Ann types a burst, then keeps typing for two seconds; every keystroke reaches bob
    // (same gateway) at once.
    let outage = std::time::Instant::now();
    let burst: Vec<String> = (0..10).map(|i| format!("<burst{i}>")).collect();
    for token in &burst {
        a.push(token).expect("types");
    }
    let seen = b
        .wait_for(
            |c| burst.iter().all(|t| c.text().contains(t.as_str())),
            Duration::from_secs(2),
        )
        .await;
    assert!(
        seen.is_ok(),
        "a burst of edits right after Redis went down did not reach a client of the same \
         gateway within 2 s: local relay waits on Redis"
    );
    for i in 0..40 {
        let token = format!("<offline{i}>");
        a.push(&token).expect("types");
        let seen = b
            .wait_for(|c| c.text().contains(&token), Duration::from_secs(2))
            .await;
        assert!(
            seen.is_ok(),
            "edit {i}, {:?} into the Redis outage, did not reach a client of the same \
             gateway within 2 s: local relay waits on Redis",
            outage.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    redis.start_again().await.expect("redis starts again");
    let text = converge(&[&a, &b], Duration::from_secs(30))
        .await
        .expect("converge after the outage");
    let gw2 = Gateway::start(&redis.url(), &[]).await.expect("gateway 2");
    late_joiner_sees(&gw2, FILE, &text, "edits made during the outage").await;
}
