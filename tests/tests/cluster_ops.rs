//! Operating gateways on a Redis Cluster (3 masters, 3 replicas, started by the test):
//! `/readyz` follows the slots a gateway uses, and `/metrics` has series per node.
//!
//! Readiness: a gateway is ready while the masters of its open files' slots (and of the
//! gateways channel's) answer and serve. One shard frozen (master and replica stopped, so
//! no failover hides it) takes out of rotation the gateway holding a file there, with a
//! body naming the slot and the node, and leaves ready the gateway whose files live on
//! other masters; thawed, both are ready again. The nodes run with
//! `cluster-require-full-coverage no`, as the compose profile does: with the default
//! `yes` every master refuses commands while one shard has no master, and readiness
//! rightly follows (each node's `cluster_state` is part of its probe).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use collab_protocol::{FileId, Keys};
use collab_tests::prometheus::{exposes, value};
use collab_tests::{Client, DEADLINE, Edit, Gateway, RedisCluster, eventually};

/// How long a gateway may take to see a shard stop or come back (probe deadlines are
/// under a second; a thawed node needs a few seconds to clear its `fail` flag).
const NOTICE: Duration = Duration::from_secs(30);

/// A file of this test whose slot the master on `port` serves, and that slot.
async fn file_on(cluster: &RedisCluster, port: u16, tag: &str) -> (String, u16) {
    let keys = Keys::new("collab");
    for i in 0..10_000 {
        let file = format!("ops/{tag}-{i}.ts");
        let channel = keys.channel(&FileId::parse(&file).expect("a valid file id"));
        let slot = cluster.keyslot(&channel).await.expect("KEYSLOT");
        if cluster.owner(slot).await.expect("an owner").port == port {
            return (file, slot);
        }
    }
    panic!("no file found on port {port}");
}

async fn readyz(gateway: &Gateway) -> (u16, String) {
    gateway
        .http_get("/readyz")
        .await
        .unwrap_or((0, "no answer".into()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readiness_follows_the_slots_a_gateway_uses() {
    let cluster = RedisCluster::start_with(&["--cluster-require-full-coverage", "no"])
        .await
        .expect("the cluster starts");
    // The shard to freeze must not hold the gateways channel (both gateways use it).
    let heartbeats = cluster
        .keyslot(&Keys::new("collab").gateways_channel())
        .await
        .expect("KEYSLOT");
    let heartbeats_on = cluster.owner(heartbeats).await.expect("an owner").port;
    let masters: Vec<u16> = cluster
        .masters()
        .await
        .expect("masters")
        .iter()
        .map(|m| m.port)
        .collect();
    let frozen = *masters
        .iter()
        .find(|p| **p != heartbeats_on)
        .expect("a master without the gateways channel");
    let elsewhere = *masters
        .iter()
        .find(|p| **p != frozen)
        .expect("another master");
    let (file_a, slot_a) = file_on(&cluster, frozen, "a").await;
    let (file_b, _) = file_on(&cluster, elsewhere, "b").await;

    let a = Gateway::start_on_cluster(&cluster, &[])
        .await
        .expect("gateway a");
    let b = Gateway::start_on_cluster(&cluster, &[])
        .await
        .expect("gateway b");
    let _on_a = Client::connect_synced(&a.ws_url(&file_a), DEADLINE)
        .await
        .expect("a client of a");
    let _on_b = Client::connect_synced(&b.ws_url(&file_b), DEADLINE)
        .await
        .expect("a client of b");
    for gateway in [&a, &b] {
        assert!(
            eventually(DEADLINE, || async { readyz(gateway).await.0 == 200 }).await,
            "{} is ready with its file open: {:?}",
            gateway.addr(),
            readyz(gateway).await
        );
    }

    // b is asked at every step while the shard is stopped: it must never turn not-ready.
    let b_unready = AtomicUsize::new(0);
    let b_last = std::sync::Mutex::new(None);
    let b_ready = || async {
        let (status, body) = readyz(&b).await;
        if status != 200 {
            b_unready.fetch_add(1, Ordering::AcqRel);
            *b_last.lock().expect("not poisoned") = Some(body);
        }
    };

    let replica = cluster
        .replica_of(frozen)
        .await
        .expect("the shard's replica");
    cluster.freeze(frozen, true).expect("freeze the master");
    cluster.freeze(replica, true).expect("freeze its replica");
    let node = format!("127.0.0.1:{frozen}");
    let names_it = || async {
        b_ready().await;
        let (status, body) = readyz(&a).await;
        status == 503 && body.contains(&format!("slot {slot_a} ")) && body.contains(&node)
    };
    let noticed = eventually(NOTICE, names_it).await;
    let seen = readyz(&a).await;
    println!("a while {node} is frozen: {seen:?}");
    // Past the cluster's node timeout the others mark the shard failed; b still serves.
    let marked = eventually(NOTICE, || async {
        b_ready().await;
        cluster
            .topology()
            .await
            .is_ok_and(|nodes| nodes.iter().any(|n| n.port == frozen && n.failed))
    })
    .await;
    let down = eventually(NOTICE, || async {
        b_ready().await;
        a.metrics().await.is_ok_and(|text| {
            value(&text, "collab_redis_node_up", &[("node", &node)]) == Some(0.0)
                && value(&text, "collab_redis_node_file_channels", &[("node", &node)]) == Some(1.0)
        })
    })
    .await;
    // The master first; the replica, thawed with a stale view, may still win an election
    // (then the slot's owner is the replica, which is as good).
    cluster.freeze(frozen, false).expect("thaw the master");
    cluster.freeze(replica, false).expect("thaw the replica");
    let b_last = b_last.lock().expect("not poisoned").take();

    assert!(noticed, "a names slot {slot_a} on {node}: {seen:?}");
    assert!(marked, "the cluster marks {node} failed");
    assert!(
        down,
        "a's metrics show {node} down, holding its file's channel"
    );
    assert_eq!(
        b_unready.load(Ordering::Acquire),
        0,
        "b, whose file lives on {elsewhere}, stays ready: {b_last:?}"
    );
    assert!(
        eventually(NOTICE, || async { readyz(&a).await.0 == 200 }).await,
        "a is ready again once {node} is back: {:?}",
        readyz(&a).await
    );
    let serving = || async {
        let Ok(owner) = cluster.owner(slot_a).await else {
            return false;
        };
        let owner = format!("127.0.0.1:{}", owner.port);
        a.metrics().await.is_ok_and(|text| {
            value(&text, "collab_redis_node_up", &[("node", &owner)]) == Some(1.0)
                && value(
                    &text,
                    "collab_redis_node_file_channels",
                    &[("node", &owner)],
                ) == Some(1.0)
        })
    };
    assert!(
        eventually(NOTICE, serving).await,
        "a's metrics show the master of slot {slot_a} up, holding its file's channel"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_have_a_series_per_master() {
    let cluster = RedisCluster::start().await.expect("the cluster starts");
    let masters = cluster.masters().await.expect("masters");
    let gateway = Gateway::start_on_cluster(&cluster, &[])
        .await
        .expect("a gateway");
    let (file, slot) = file_on(&cluster, masters[0].port, "metrics").await;
    let _client = Client::connect_synced(&gateway.ws_url(&file), DEADLINE)
        .await
        .expect("a client");
    let owner = format!(
        "127.0.0.1:{}",
        cluster.owner(slot).await.expect("owner").port
    );

    let complete = |text: &str| {
        let up: Vec<Option<f64>> = masters
            .iter()
            .map(|m| {
                let node = format!("127.0.0.1:{}", m.port);
                value(text, "collab_redis_node_up", &[("node", &node)])
            })
            .collect();
        up.iter().all(|v| *v == Some(1.0))
            && value(text, "collab_redis_node_slots", &[]) == Some(16384.0)
            && value(text, "collab_redis_node_file_channels", &[("node", &owner)]) == Some(1.0)
            && value(text, "collab_redis_node_file_channels", &[]) == Some(1.0)
    };
    let shown = eventually(DEADLINE, || async {
        complete(&gateway.metrics().await.unwrap_or_default())
    })
    .await;
    let last = gateway.metrics().await.unwrap_or_default();
    let node_lines: Vec<&str> = last
        .lines()
        .filter(|l| l.starts_with("collab_redis_node_") && !l.contains("_bucket"))
        .collect();
    println!("{}", node_lines.join("\n"));
    assert!(
        shown,
        "every master up, 16384 slots, one file channel on {owner}"
    );
    assert!(exposes(&last, "collab_redis_node_probe_seconds"));
}

/// Words two people type into a TypeScript file (about 6 KB each).
fn typed_words(who: &str) -> Vec<String> {
    (0..1000)
        .map(|i| match i % 10 {
            9 => format!("\n  // {who} {i}\n"),
            0 => format!("const {who}{i} = "),
            _ => format!("{i} + "),
        })
        .collect()
}

/// `who` types [`typed_words`] word by word, with a backspace every 7 words and a
/// pause every 10 (a new undo item under `--undo-capture-ms 50`).
async fn type_into(client: &Client, who: &str) {
    for (i, word) in typed_words(who).iter().enumerate() {
        client.push(word).expect("types");
        if i % 7 == 6 {
            client
                .edit_by(|len| Edit::Delete(len - 1, 1))
                .expect("backspace");
        }
        let pause = if i % 10 == 9 { 60 } else { 4 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// The Redis memory of one open file after a realistic session, as the README's sizing
/// quotes it: two users type about 1,000 words each (one message per word, a
/// backspace every 7 words) into a `.ts` file with diagnostics on, in bursts that make
/// separate undo items (`--undo-capture-ms 50`: some 50 to 100 items per user, where
/// the default capture of 500 ms would merge most of them), then `MEMORY USAGE ...
/// SAMPLES 0` (every element counted) of each key in the file's slot on its master,
/// printed with each key's type and length.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_of_one_open_file() {
    const FILE: &str = "sizing/src/main.ts";
    let cluster = RedisCluster::start().await.expect("the cluster starts");
    let gateway = Gateway::start_on_cluster(&cluster, &["--undo-capture-ms", "50"])
        .await
        .expect("a gateway");
    let url = |user: &str| format!("{}?user={user}&ext=undo,diagnostics", gateway.ws_url(FILE));
    let ann = Client::connect_synced(&url("ann"), DEADLINE)
        .await
        .expect("ann joins");
    let bob = Client::connect_synced(&url("bob"), DEADLINE)
        .await
        .expect("bob joins");
    tokio::join!(type_into(&ann, "ann"), type_into(&bob, "bob"));
    let text = collab_tests::converge(&[&ann, &bob], DEADLINE)
        .await
        .expect("ann and bob converge");

    let keys = Keys::new("collab");
    let id = FileId::parse(FILE).expect("a valid file id");
    let slot = cluster.keyslot(&keys.log(&id)).await.expect("KEYSLOT");
    let owner = cluster.owner(slot).await.expect("owner").port;
    let mut con = cluster.node(owner).await.expect("the file's master");
    // Diagnostics settle after the last edit (debounce, parse, store).
    let diag = keys.diag(&id);
    let stored = eventually(DEADLINE, || {
        let mut con = con.clone();
        let diag = diag.clone();
        async move {
            redis::cmd("EXISTS")
                .arg(&diag)
                .query_async::<bool>(&mut con)
                .await
                .unwrap_or(false)
        }
    })
    .await;
    assert!(stored, "{diag} is written");
    let names: Vec<String> = redis::cmd("CLUSTER")
        .arg("GETKEYSINSLOT")
        .arg(slot)
        .arg(100)
        .query_async(&mut con)
        .await
        .expect("GETKEYSINSLOT");
    let mut total = 0;
    for name in &names {
        let bytes: u64 = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(name)
            .arg("SAMPLES")
            .arg(0)
            .query_async(&mut con)
            .await
            .expect("MEMORY USAGE");
        let kind: String = redis::cmd("TYPE")
            .arg(name)
            .query_async(&mut con)
            .await
            .expect("TYPE");
        let count = match kind.as_str() {
            "list" => "LLEN",
            "stream" => "XLEN",
            _ => "HLEN",
        };
        let elements: u64 = redis::cmd(count)
            .arg(name)
            .query_async(&mut con)
            .await
            .expect("length");
        println!("{bytes:>9} B  {name} ({kind}, {elements} elements)");
        total += bytes;
    }
    println!(
        "{total:>9} B  in all, {} keys, for {} bytes of text",
        names.len(),
        text.len()
    );
    // What the session cost the file's master, per command (the append script and the
    // publishes in and beside it).
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut con)
        .await
        .expect("INFO commandstats");
    for line in stats.lines().filter(|l| {
        ["evalsha", "spublish", "xadd", "rpush"]
            .iter()
            .any(|c| l.starts_with(&format!("cmdstat_{c}:")))
    }) {
        println!("{line}");
    }
    assert!(names.contains(&keys.snap(&id)), "compacted: {names:?}");
    assert!(
        total < 4 << 20,
        "one file's keys stay within a few hundred KB: {total} B"
    );
}
