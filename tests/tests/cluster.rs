//! The gateways on a Redis Cluster (3 masters, 3 replicas, started by the test): edits
//! and cursors cross gateways over sharded pub/sub, and moving a file's slot to another
//! master while people type loses nothing and does not silence anyone's cursor.
//!
//! A cluster that cannot start fails the test: these never skip.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use collab_protocol::{FileId, Keys};
use collab_tests::tokens::assert_all_present;
use collab_tests::{
    Client, DEADLINE, Gateway, RedisCluster, converge, cursor_state, eventually, user_name,
    writes_of,
};
use redis::aio::MultiplexedConnection;

fn shows(client: &Client, of: &Client, name: &str) -> bool {
    client
        .awareness_of(of.client_id())
        .is_some_and(|s| user_name(&s) == Some(name))
}

/// The file's channel and the slot all of its keys live in.
async fn slot_of(cluster: &RedisCluster, file: &str) -> (String, u16) {
    let keys = Keys::new("collab");
    let file = FileId::parse(file).expect("a valid file id");
    let channel = keys.channel(&file);
    let slot = cluster.keyslot(&keys.log(&file)).await.expect("KEYSLOT");
    assert_eq!(
        cluster.keyslot(&channel).await.expect("KEYSLOT"),
        slot,
        "a file's channel and log share a slot"
    );
    (channel, slot)
}

/// Sharded subscribers of `channel` on one node (`PUBSUB SHARDNUMSUB`).
async fn shard_subscribers(mut con: MultiplexedConnection, channel: &str) -> u64 {
    let reply: redis::RedisResult<Vec<(String, u64)>> = redis::cmd("PUBSUB")
        .arg("SHARDNUMSUB")
        .arg(channel)
        .query_async(&mut con)
        .await;
    reply
        .ok()
        .and_then(|pairs| pairs.into_iter().next())
        .map_or(0, |(_, n)| n)
}

async fn subscribed_on(cluster: &RedisCluster, port: u16, channel: &str, at_least: u64) -> bool {
    match cluster.node(port).await {
        Ok(con) => shard_subscribers(con, channel).await >= at_least,
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn edits_and_cursors_cross_gateways_on_a_cluster() {
    const FILE: &str = "sandbox-7/src/cluster.rs";
    let cluster = RedisCluster::start().await.expect("the cluster starts");
    let gw1 = Gateway::start_on_cluster(&cluster, &[])
        .await
        .expect("gateway 1 on the cluster");
    let gw2 = Gateway::start_on_cluster(&cluster, &[])
        .await
        .expect("gateway 2 on the cluster");
    for gw in [&gw1, &gw2] {
        assert_eq!(gw.readyz().await, Some(200), "{} is ready", gw.addr());
    }

    let mut writers = Vec::new();
    for i in 0..4 {
        let gw = if i % 2 == 0 { &gw1 } else { &gw2 };
        writers.push(
            Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
                .await
                .expect("writer joins"),
        );
    }
    // The channel is sharded: both gateways subscribe on the slot's master.
    let (channel, slot) = slot_of(&cluster, FILE).await;
    let owner = cluster.owner(slot).await.expect("an owner").port;
    assert!(
        eventually(DEADLINE, || subscribed_on(&cluster, owner, &channel, 2)).await,
        "both gateways SSUBSCRIBE the file's channel on its slot's master"
    );

    // Everyone types at once.
    let mut tasks = Vec::new();
    for (w, writer) in writers.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut written = Vec::new();
            for n in 0..40 {
                let token = format!("<w{w}e{n}>");
                writer.push(&token).expect("append");
                written.push(token);
                tokio::task::yield_now().await;
            }
            (writer, written)
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
        .unwrap_or_else(|e| panic!("writers on two gateways did not converge: {e:#}"));
    assert_all_present(&text, &tokens, "on the cluster");

    // Cursors cross gateways both ways.
    writers[0].set_awareness(cursor_state("ann", "#ff0000"));
    writers[1].set_awareness(cursor_state("bob", "#0000ff"));
    writers[1]
        .wait_for(|c| shows(c, &writers[0], "ann"), DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("bob on gateway 2 never sees ann's cursor: {e:#}"));
    writers[0]
        .wait_for(|c| shows(c, &writers[1], "bob"), DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("ann on gateway 1 never sees bob's cursor: {e:#}"));

    // A late joiner on each gateway gets the whole document, also on a gateway that
    // never had the file open (its room loads from the cluster).
    let gw3 = Gateway::start_on_cluster(&cluster, &[])
        .await
        .expect("gateway 3 on the cluster");
    let writes = writes_of(&refs);
    for gw in [&gw1, &gw2, &gw3] {
        let late = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
            .await
            .expect("late joiner connects");
        late.wait_for(|c| c.has_seen(&writes) && c.text() == text, DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("late joiner on {} is missing edits: {e:#}", gw.addr()));
    }
    for c in &writers {
        assert_eq!(c.closed_with(), None, "no writer was disconnected");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slot_moved_while_people_type_loses_nothing() {
    const FILE: &str = "sandbox-8/src/moving.rs";
    let cluster = RedisCluster::start().await.expect("the cluster starts");
    let gw1 = Gateway::start_on_cluster(&cluster, &[])
        .await
        .expect("gateway 1 on the cluster");
    let gw2 = Gateway::start_on_cluster(&cluster, &[])
        .await
        .expect("gateway 2 on the cluster");
    let mut writers = Vec::new();
    for gw in [&gw1, &gw2, &gw1, &gw2] {
        writers.push(
            Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
                .await
                .expect("writer joins"),
        );
    }
    let (channel, slot) = slot_of(&cluster, FILE).await;
    let source = cluster.owner(slot).await.expect("an owner").port;
    let target = cluster
        .masters()
        .await
        .expect("masters")
        .into_iter()
        .find(|m| m.port != source)
        .expect("another master")
        .port;
    assert!(
        eventually(DEADLINE, || subscribed_on(&cluster, source, &channel, 2)).await,
        "both gateways subscribe on the slot's first owner"
    );

    let progress = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (w, writer) in writers.into_iter().enumerate() {
        let progress = progress.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut written = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 3000 {
                let token = format!("<w{w}e{n}>");
                writer.push(&token).expect("append");
                written.push(token);
                n += 1;
                progress.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            (writer, written)
        }));
    }
    let edits_since = |mark: usize, more: usize| {
        let progress = progress.clone();
        async move { progress.load(Ordering::Relaxed) >= mark + more }
    };
    assert!(
        eventually(DEADLINE, || edits_since(0, 100)).await,
        "writers type"
    );

    // The slot moves to another master in the middle of the edits, and the new owner has
    // never seen the gateways' scripts.
    cluster.script_flush(target).await.expect("SCRIPT FLUSH");
    let moved_from = cluster
        .migrate_slot(slot, target)
        .await
        .expect("the slot migrates");
    assert_eq!(moved_from, source);
    assert_eq!(
        cluster.owner(slot).await.expect("an owner").port,
        target,
        "the slot is on its new master"
    );
    // The gateways notice the dropped subscription and subscribe on the new owner.
    assert!(
        eventually(DEADLINE, || subscribed_on(&cluster, target, &channel, 2)).await,
        "both gateways SSUBSCRIBE again on the slot's new master"
    );
    let mark = progress.load(Ordering::Relaxed);
    assert!(
        eventually(DEADLINE, || edits_since(mark, 200)).await,
        "writers keep typing after the move (appends reach the new owner)"
    );
    stop.store(true, Ordering::Relaxed);
    let mut writers = Vec::new();
    let mut tokens = Vec::new();
    for task in tasks {
        let (writer, written) = task.await.expect("writer task");
        writers.push(writer);
        tokens.extend(written);
    }
    println!("{} edits across the slot move", tokens.len());

    let refs: Vec<&Client> = writers.iter().collect();
    let text = converge(&refs, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("edits lost across the slot move: {e:#}"));
    assert_all_present(&text, &tokens, "after the slot move");

    // Cursors still flow, both ways, over the new owner.
    writers[0].set_awareness(cursor_state("ann after the move", "#ff0000"));
    writers[1].set_awareness(cursor_state("bob after the move", "#0000ff"));
    writers[1]
        .wait_for(|c| shows(c, &writers[0], "ann after the move"), DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("gateway 2 no longer hears gateway 1's cursors: {e:#}"));
    writers[0]
        .wait_for(|c| shows(c, &writers[1], "bob after the move"), DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("gateway 1 no longer hears gateway 2's cursors: {e:#}"));

    // Everything is stored on the new owner: a fresh joiner on a gateway that never had
    // the file open (its room loads from the cluster) gets it all, and so does one on a
    // gateway whose room lived through the move.
    let gw3 = Gateway::start_on_cluster(&cluster, &[])
        .await
        .expect("gateway 3 on the cluster");
    let writes = writes_of(&refs);
    for gw in [&gw3, &gw2] {
        let late = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
            .await
            .expect("fresh joiner connects");
        late.wait_for(|c| c.has_seen(&writes) && c.text() == text, DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("fresh joiner on {} misses edits: {e:#}", gw.addr()));
    }
    for c in &writers {
        assert_eq!(c.closed_with(), None, "no writer was disconnected");
    }
    for gw in [&gw1, &gw2] {
        assert_eq!(gw.readyz().await, Some(200), "{} is ready", gw.addr());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_master_of_a_file_killed_while_people_type_loses_nothing() {
    const FILE: &str = "sandbox-9/src/failover.rs";
    let mut cluster = RedisCluster::start().await.expect("the cluster starts");
    let gw1 = Gateway::start_on_cluster(&cluster, &[])
        .await
        .expect("gateway 1 on the cluster");
    let gw2 = Gateway::start_on_cluster(&cluster, &[])
        .await
        .expect("gateway 2 on the cluster");
    let mut writers = Vec::new();
    for gw in [&gw1, &gw2, &gw1, &gw2] {
        writers.push(
            Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
                .await
                .expect("writer joins"),
        );
    }
    let (channel, slot) = slot_of(&cluster, FILE).await;
    let master = cluster.owner(slot).await.expect("an owner").port;
    assert!(
        eventually(DEADLINE, || subscribed_on(&cluster, master, &channel, 2)).await,
        "both gateways subscribe on the slot's master"
    );

    let progress = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (w, writer) in writers.into_iter().enumerate() {
        let progress = progress.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut written = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 5000 {
                let token = format!("<w{w}e{n}>");
                writer.push(&token).expect("append");
                written.push(token);
                n += 1;
                progress.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (writer, written)
        }));
    }
    let edits_since = |mark: usize, more: usize| {
        let progress = progress.clone();
        async move { progress.load(Ordering::Relaxed) >= mark + more }
    };
    assert!(
        eventually(DEADLINE, || edits_since(0, 100)).await,
        "writers type"
    );

    // The file's master dies without a word; its replica takes over its slots.
    cluster.kill9(master).expect("kill -9 of the file's master");
    let promoted = cluster
        .wait_for_new_owner(slot, master, Duration::from_secs(30))
        .await
        .expect("the replica is promoted");
    println!("slot {slot}: master {master} killed, {promoted} promoted");
    assert!(
        eventually(Duration::from_secs(30), || subscribed_on(
            &cluster, promoted, &channel, 2
        ))
        .await,
        "both gateways subscribe on the promoted replica"
    );
    let mark = progress.load(Ordering::Relaxed);
    assert!(
        eventually(DEADLINE, || edits_since(mark, 200)).await,
        "writers keep typing after the failover"
    );
    stop.store(true, Ordering::Relaxed);
    let mut writers = Vec::new();
    let mut tokens = Vec::new();
    for task in tasks {
        let (writer, written) = task.await.expect("writer task");
        writers.push(writer);
        tokens.extend(written);
    }
    println!("{} edits across the failover", tokens.len());

    let refs: Vec<&Client> = writers.iter().collect();
    let text = converge(&refs, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("writers did not converge after the failover: {e:#}"));
    assert_all_present(&text, &tokens, "after the failover");

    writers[0].set_awareness(cursor_state("ann after the failover", "#ff0000"));
    writers[1]
        .wait_for(
            |c| shows(c, &writers[0], "ann after the failover"),
            DEADLINE,
        )
        .await
        .unwrap_or_else(|e| panic!("cursors no longer cross gateways: {e:#}"));

    // What the promoted replica lacked (replication is asynchronous) the gateways wrote
    // back: a gateway that never had the file open loads all of it from the cluster.
    let gw3 = Gateway::start_on_cluster(&cluster, &[])
        .await
        .expect("gateway 3 on the cluster");
    let writes = writes_of(&refs);
    let fresh = Client::connect_synced(&gw3.ws_url(FILE), DEADLINE)
        .await
        .expect("fresh joiner connects");
    fresh
        .wait_for(|c| c.has_seen(&writes) && c.text() == text, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("the cluster lost edits in the failover: {e:#}"));
    for c in &writers {
        assert_eq!(c.closed_with(), None, "no writer was disconnected");
    }
    for gw in [&gw1, &gw2, &gw3] {
        assert!(
            eventually(DEADLINE, || async { gw.readyz().await == Some(200) }).await,
            "{} is ready again once every slot has a live master",
            gw.addr()
        );
    }
}
