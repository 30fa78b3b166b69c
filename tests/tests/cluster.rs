//! The gateways on a Redis Cluster (3 masters, 3 replicas, started by the test): edits
//! and cursors cross gateways over sharded pub/sub; moving a file's slot to another
//! master, or killing that master so that its replica takes over, while people type
//! loses nothing and does not silence anyone's cursor.
//!
//! Access control on a cluster is in `cluster_access.rs`, a cluster gateway that cannot
//! start in `cluster_startup.rs`.
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
use tokio::task::JoinHandle;

/// Two gateways on the cluster, and four writers on the file, alternating between them.
struct Setup {
    cluster: RedisCluster,
    gateways: Vec<Gateway>,
    writers: Vec<Client>,
    /// The file's channel and the slot all of its keys live in.
    channel: String,
    slot: u16,
}

impl Setup {
    async fn start(file: &str) -> Setup {
        Setup::start_with(file, &[]).await
    }

    /// [`Setup::start`] with more gateway flags.
    async fn start_with(file: &str, flags: &[&str]) -> Setup {
        let cluster = RedisCluster::start().await.expect("the cluster starts");
        let mut gateways = Vec::new();
        for _ in 0..2 {
            gateways.push(
                Gateway::start_on_cluster(&cluster, flags)
                    .await
                    .expect("a gateway on the cluster"),
            );
        }
        let mut writers = Vec::new();
        for i in 0..4 {
            let url = gateways[i % 2].ws_url(file);
            writers.push(
                Client::connect_synced(&url, DEADLINE)
                    .await
                    .expect("writer joins"),
            );
        }
        let keys = Keys::new("collab");
        let id = FileId::parse(file).expect("a valid file id");
        let channel = keys.channel(&id);
        let slot = cluster.keyslot(&keys.log(&id)).await.expect("KEYSLOT");
        assert_eq!(
            cluster.keyslot(&channel).await.expect("KEYSLOT"),
            slot,
            "a file's channel and log share a slot"
        );
        let setup = Setup {
            cluster,
            gateways,
            writers,
            channel,
            slot,
        };
        let owner = setup.owner().await;
        setup
            .assert_subscribed_on(owner, DEADLINE, "on the slot's master")
            .await;
        setup
    }

    async fn owner(&self) -> u16 {
        self.cluster.owner(self.slot).await.expect("an owner").port
    }

    /// Waits until both gateways hold a sharded subscription to the file's channel on the
    /// node on `port` (`PUBSUB SHARDNUMSUB`).
    async fn assert_subscribed_on(&self, port: u16, within: Duration, what: &str) {
        let both = || async {
            let Ok(mut con) = self.cluster.node(port).await else {
                return false;
            };
            let reply: redis::RedisResult<Vec<(String, u64)>> = redis::cmd("PUBSUB")
                .arg("SHARDNUMSUB")
                .arg(&self.channel)
                .query_async(&mut con)
                .await;
            reply
                .ok()
                .and_then(|pairs| pairs.into_iter().next())
                .is_some_and(|(_, n)| n >= 2)
        };
        assert!(
            eventually(within, both).await,
            "both gateways SSUBSCRIBE the file's channel {what} (port {port})"
        );
    }
}

/// Writers typing unique tokens at once, each on its own task, until stopped.
struct Typing {
    progress: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<(Client, Vec<String>)>>,
}

impl Typing {
    /// Every writer appends `<wWeN>` tokens, pausing `pause` between two.
    fn start(writers: Vec<Client>, pause: Duration) -> Typing {
        let progress = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = writers
            .into_iter()
            .enumerate()
            .map(|(w, writer)| {
                let progress = progress.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut written = Vec::new();
                    while !stop.load(Ordering::Relaxed) && written.len() < 5000 {
                        let token = format!("<w{w}e{}>", written.len());
                        writer.push(&token).expect("append");
                        written.push(token);
                        progress.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(pause).await;
                    }
                    (writer, written)
                })
            })
            .collect();
        Typing {
            progress,
            stop,
            tasks,
        }
    }

    /// Waits until the writers made `more` edits (together) from now on.
    async fn assert_more(&self, more: usize, what: &str) {
        let mark = self.progress.load(Ordering::Relaxed);
        let typed = || async { self.progress.load(Ordering::Relaxed) >= mark + more };
        assert!(eventually(DEADLINE, typed).await, "writers stalled {what}");
    }

    /// Stops them; returns the writers and every token they typed.
    async fn stop(self) -> (Vec<Client>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let mut writers = Vec::new();
        let mut tokens = Vec::new();
        for task in self.tasks {
            let (writer, written) = task.await.expect("writer task");
            writers.push(writer);
            tokens.extend(written);
        }
        (writers, tokens)
    }
}

fn shows(client: &Client, of: &Client, name: &str) -> bool {
    client
        .awareness_of(of.client_id())
        .is_some_and(|s| user_name(&s) == Some(name))
}

/// The writers converge with every token present; returns the text.
async fn assert_converged(writers: &[Client], tokens: &[String], what: &str) -> String {
    let refs: Vec<&Client> = writers.iter().collect();
    let text = converge(&refs, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("edits lost {what}: {e:#}"));
    assert_all_present(&text, tokens, what);
    for c in writers {
        assert_eq!(c.closed_with(), None, "no writer was disconnected {what}");
    }
    text
}

/// Cursors set now by the first two writers (on different gateways) reach each other.
async fn assert_cursors_cross(writers: &[Client], tag: &str) {
    let (ann, bob) = (&writers[0], &writers[1]);
    let (ann_name, bob_name) = (format!("ann {tag}"), format!("bob {tag}"));
    ann.set_awareness(cursor_state(&ann_name, "#ff0000"));
    bob.set_awareness(cursor_state(&bob_name, "#0000ff"));
    bob.wait_for(|c| shows(c, ann, &ann_name), DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("gateway 2 does not hear gateway 1's cursors {tag}: {e:#}"));
    ann.wait_for(|c| shows(c, bob, &bob_name), DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("gateway 1 does not hear gateway 2's cursors {tag}: {e:#}"));
}

/// A joiner on each of `gateways`, and on a new gateway that never had the file open
/// (its room loads from the cluster), gets exactly what the writers show.
async fn assert_joiners_get(
    cluster: &RedisCluster,
    gateways: &[Gateway],
    file: &str,
    writers: &[Client],
    text: &str,
) {
    let fresh = Gateway::start_on_cluster(cluster, &[])
        .await
        .expect("a fresh gateway on the cluster");
    let refs: Vec<&Client> = writers.iter().collect();
    let writes = writes_of(&refs);
    for gw in gateways.iter().chain([&fresh]) {
        let late = Client::connect_synced(&gw.ws_url(file), DEADLINE)
            .await
            .expect("joiner connects");
        late.wait_for(|c| c.has_seen(&writes) && c.text() == text, DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("joiner on {} misses edits: {e:#}", gw.addr()));
    }
    for gw in gateways.iter().chain([&fresh]) {
        let ready = || async { gw.readyz().await == Some(200) };
        assert!(
            eventually(DEADLINE, ready).await,
            "{} is ready (the masters of the slots it uses answer)",
            gw.addr()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn edits_and_cursors_cross_gateways_on_a_cluster() {
    const FILE: &str = "sandbox-7/src/cluster.rs";
    let Setup {
        cluster,
        gateways,
        writers,
        ..
    } = Setup::start(FILE).await;
    let typing = Typing::start(writers, Duration::ZERO);
    typing.assert_more(160, "on the cluster").await;
    let (writers, tokens) = typing.stop().await;
    let text = assert_converged(&writers, &tokens, "on the cluster").await;
    assert_cursors_cross(&writers, "on the cluster").await;
    assert_joiners_get(&cluster, &gateways, FILE, &writers, &text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slot_moved_while_people_type_loses_nothing() {
    const FILE: &str = "sandbox-8/src/moving.rs";
    // Compaction runs too, on both sides of the move.
    let mut setup = Setup::start_with(FILE, &["--compact-after", "32"]).await;
    let source = setup.owner().await;
    let target = setup
        .cluster
        .masters()
        .await
        .expect("masters")
        .into_iter()
        .find(|m| m.port != source)
        .expect("another master")
        .port;
    let typing = Typing::start(std::mem::take(&mut setup.writers), Duration::from_millis(3));
    typing.assert_more(100, "before the move").await;

    // The slot moves to another master in the middle of the edits, and the new owner has
    // never seen the gateways' scripts (NOSCRIPT, then SCRIPT LOAD, after MOVED).
    setup
        .cluster
        .script_flush(target)
        .await
        .expect("SCRIPT FLUSH");
    let moved_from = setup
        .cluster
        .migrate_slot(setup.slot, target)
        .await
        .expect("the slot migrates");
    assert_eq!(moved_from, source);
    assert_eq!(setup.owner().await, target, "the slot is on its new master");
    // The gateways notice the dropped subscription and subscribe on the new owner.
    setup
        .assert_subscribed_on(target, DEADLINE, "again on the slot's new master")
        .await;
    typing.assert_more(200, "after the move").await;
    let (writers, tokens) = typing.stop().await;
    println!("{} edits across the slot move", tokens.len());
    let calls = setup
        .cluster
        .command_calls(target)
        .await
        .expect("INFO commandstats");
    assert!(
        calls.get("script|load").is_some_and(|n| *n > 0) && calls.contains_key("evalsha"),
        "the new owner was taught the scripts (NOSCRIPT, SCRIPT LOAD) and ran them: {calls:?}"
    );
    let snapshot = Keys::new("collab").snap(&FileId::parse(FILE).expect("a valid file id"));
    let con = setup.cluster.node(target).await.expect("the new owner");
    // Compaction runs in the background once an append finds the log long enough: under
    // load it can still be on its way when the typing stops.
    let compacted = || {
        let mut con = con.clone();
        let snapshot = snapshot.clone();
        async move {
            let exists: redis::RedisResult<bool> = redis::cmd("EXISTS")
                .arg(&snapshot)
                .query_async(&mut con)
                .await;
            exists.unwrap_or(false)
        }
    };
    assert!(
        eventually(DEADLINE, compacted).await,
        "the log was compacted into {snapshot} on the new owner"
    );

    let text = assert_converged(&writers, &tokens, "across the slot move").await;
    assert_cursors_cross(&writers, "after the move").await;
    assert_joiners_get(&setup.cluster, &setup.gateways, FILE, &writers, &text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_master_of_a_file_killed_while_people_type_loses_nothing() {
    const FILE: &str = "sandbox-9/src/failover.rs";
    let mut setup = Setup::start(FILE).await;
    let master = setup.owner().await;
    let typing = Typing::start(std::mem::take(&mut setup.writers), Duration::from_millis(5));
    typing.assert_more(100, "before the kill").await;

    // The file's master dies without a word; its replica takes over its slots.
    setup
        .cluster
        .kill9(master)
        .expect("kill -9 of the file's master");
    // Readiness covers the slots in use: the file's master is gone, so a gateway holding
    // the file is not ready until its replica takes over.
    let gateway = &setup.gateways[0];
    let unready = || async { gateway.readyz().await == Some(503) };
    assert!(
        eventually(DEADLINE, unready).await,
        "/readyz reports the dead master"
    );
    let promoted = setup
        .cluster
        .wait_for_new_owner(setup.slot, master, Duration::from_secs(30))
        .await
        .expect("the replica is promoted");
    println!(
        "slot {}: master {master} killed, {promoted} promoted",
        setup.slot
    );
    // A gateway whose first seed is the dead node still starts, from the next seed.
    let dead_first = format!("redis://127.0.0.1:{master},{}", setup.cluster.seeds());
    Gateway::start(&dead_first, &["--redis-cluster"])
        .await
        .expect("a gateway starts with a dead first seed");
    setup
        .assert_subscribed_on(promoted, Duration::from_secs(30), "on the promoted replica")
        .await;
    typing.assert_more(200, "after the failover").await;
    let (writers, tokens) = typing.stop().await;
    println!("{} edits across the failover", tokens.len());

    let text = assert_converged(&writers, &tokens, "across the failover").await;
    assert_cursors_cross(&writers, "after the failover").await;
    // What the promoted replica lacked (replication is asynchronous) the gateways wrote
    // back: a gateway that never had the file open loads all of it from the cluster.
    assert_joiners_get(&setup.cluster, &setup.gateways, FILE, &writers, &text).await;
}

/// A failover to a replica that missed acknowledged appends: the promoted log ends below
/// positions the gateways applied. When the other gateway appends at the reused positions
/// before this gateway's catch-up read, that read sees a head at or past its own position
/// and cannot tell; the room's appender can: an append that lands at or below the position
/// the room had applied means the log went backwards (`RoomCore::on_log_went_backwards`).
/// Both gateways then re-read the log and write their whole state back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failover_to_a_replica_that_missed_acknowledged_edits_loses_nothing() {
    const FILE: &str = "sandbox-10/src/lagging.rs";
    let mut setup = Setup::start(FILE).await;
    let master = setup.owner().await;
    let replica = setup
        .cluster
        .replica_of(master)
        .await
        .expect("the master's replica");
    let typing = Typing::start(std::mem::take(&mut setup.writers), Duration::from_millis(5));
    typing.assert_more(100, "before the replica lags").await;

    // The replica stops hearing its master; the master goes on acknowledging appends
    // (replication is asynchronous), then dies, and the replica that never got them is
    // promoted: the log on the new master ends before positions the gateways applied.
    setup
        .cluster
        .freeze(replica, true)
        .expect("SIGSTOP the replica");
    setup
        .cluster
        .cut_replication(master)
        .await
        .expect("CLIENT KILL TYPE replica");
    typing
        .assert_more(150, "while only the master stores them")
        .await;
    setup.cluster.kill9(master).expect("kill -9 of the master");
    setup
        .cluster
        .freeze(replica, false)
        .expect("SIGCONT the replica");
    let promoted = setup
        .cluster
        .wait_for_new_owner(setup.slot, master, Duration::from_secs(40))
        .await
        .expect("the lagging replica is promoted");
    assert_eq!(promoted, replica, "the file's slot went to its replica");
    setup
        .assert_subscribed_on(promoted, Duration::from_secs(30), "on the promoted replica")
        .await;
    typing.assert_more(150, "after the failover").await;
    let (writers, tokens) = typing.stop().await;
    println!("{} edits across a lossy failover", tokens.len());

    let text = assert_converged(&writers, &tokens, "across a lossy failover").await;
    assert_cursors_cross(&writers, "after a lossy failover").await;
    assert_joiners_get(&setup.cluster, &setup.gateways, FILE, &writers, &text).await;
    // The gateways saw the log go backwards and wrote their whole state back.
    let restored = setup.gateways.iter().any(|gw| {
        gw.all_output()
            .iter()
            .any(|line| line.contains("the log in redis went backwards"))
    });
    assert!(
        restored,
        "no gateway noticed the log going backwards on the promoted replica"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_subscription_connections_lose_nothing() {
    const FILE: &str = "sandbox-6/app/main.py";
    const KILLS: usize = 3;
    let mut setup = Setup::start(FILE).await;
    let typing = Typing::start(std::mem::take(&mut setup.writers), Duration::from_millis(2));
    for round in 0..KILLS {
        typing
            .assert_more(60, &format!("before kill {round}"))
            .await;
        let killed = setup
            .cluster
            .kill_pubsub_clients()
            .await
            .expect("CLIENT KILL");
        assert!(killed >= 2, "round {round}: killed {killed} connections");
        let owner = setup.owner().await;
        setup
            .assert_subscribed_on(owner, DEADLINE, &format!("again after kill {round}"))
            .await;
    }
    typing.assert_more(60, "after the last kill").await;
    let (writers, tokens) = typing.stop().await;
    println!("{} edits across {KILLS} subscription kills", tokens.len());
    let text = assert_converged(&writers, &tokens, "across subscription kills").await;
    assert_cursors_cross(&writers, "after the kills").await;
    assert_joiners_get(&setup.cluster, &setup.gateways, FILE, &writers, &text).await;
}
