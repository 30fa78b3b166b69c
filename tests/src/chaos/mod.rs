//! The chaos scenario: editors on several gateways keep typing while processes die.
//!
//! One run, fully decided by its seed (the timing of the machine is not, so a replay
//! repeats the same faults and edits, not the same interleaving):
//!
//! 1. A private `redis-server` (AOF, `appendfsync always`), or in cluster mode a
//!    [`RedisCluster`](crate::RedisCluster) of 3 masters and 3 replicas, and `gateways`
//!    gateway processes; `clients` [`Editor`]s spread over them, each behind a "load
//!    balancer" (after a close it reconnects to any gateway, with y-websocket's backoff).
//! 2. For `duration`, the editors type and delete [tokens](crate::tokens) while the runner,
//!    at seeded moments, injects [`Fault`]s: gateway kill -9, gateway SIGTERM (drain, 1012),
//!    `CLIENT KILL` of every pub/sub connection, and on one Redis: Redis SHUTDOWN and Redis
//!    kill -9; on a cluster: the file's slot moved to another master, and the file's master
//!    killed -9 (its replica is promoted, then the node comes back as a replica). Each is
//!    followed by a seeded down time and a restart. Each round of faults is a seeded
//!    shuffle of every kind of the engine's mix ([`Fault::mix`]), and a run lasts at least
//!    one round, so every run has every kind.
//! 3. Then every editor settles on a synced connection; all replicas must converge, the
//!    text must hold exactly every live token (nothing lost, doubled or resurrected), and a
//!    fresh joiner on every gateway must see that text.
//! 4. Finally, with every client gone, every gateway is stopped (SIGTERM must exit 0),
//!    Redis is killed with SIGKILL and restarted from its AOF (on a cluster: the file's
//!    master, once a replica has acknowledged all it wrote, is killed with SIGKILL and
//!    that replica promoted), and a fresh joiner on a new gateway must still see that
//!    text: the document lives in Redis, not in the clients.
//!
//! [`run`] returns an [`Outcome`] or an error naming the seed, the faults so far and the
//! gateways' last stderr lines. `collab-chaos` (src/bin/chaos.rs) and tests/chaos.rs call it.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use collab_protocol::{FileId, Keys};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::time::Instant;

mod fault;
pub use fault::{CLUSTER_FAULTS, Fault, REDIS_FAULTS};

use crate::converge::{converge, writes_of};
use crate::editor::{Editor, EditorOptions, Reconnect};
use crate::{Backend, BackendKind, Client, DEADLINE, Gateway, RedisCluster, tokens};

/// The gateway flags of a chaos run: recovery intervals short enough for a few-second run
/// (a missed last update is found by the tail check; a dead gateway's cursors go after
/// 2 s), compaction often, so it runs under faults too.
pub const GATEWAY_FLAGS: &[&str] = &[
    "--tail-check-ms",
    "1000",
    "--gateway-timeout-ms",
    "2000",
    "--drain-timeout-ms",
    "3000",
    "--room-grace-ms",
    "500",
    "--compact-after",
    "32",
];

/// How long the replicas may take to converge after the faults stop.
const CONVERGE_DEADLINE: Duration = Duration::from_secs(60);
/// How long a killed master's replica may take to be promoted (the nodes run with
/// `--cluster-node-timeout 2000`).
const FAILOVER_DEADLINE: Duration = Duration::from_secs(30);

/// The size of a run.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub clients: usize,
    pub gateways: usize,
    /// How long editors type while faults happen (at least one round of every kind).
    pub duration: Duration,
    /// One Redis, or a Redis Cluster (`collab-chaos --cluster`).
    pub backend: BackendKind,
}

impl Scenario {
    /// `collab-chaos --seed S --clients .. --gateways .. --duration .. [--cluster]`, to
    /// replay a seed.
    pub fn replay_command(&self, seed: u64) -> String {
        format!(
            "cargo build -p collab-server -p collab-tests --bins && target/debug/collab-chaos \
             --seed {seed} --clients {} --gateways {} --duration {}s{}",
            self.clients,
            self.gateways,
            self.duration.as_secs_f64(),
            match self.backend {
                BackendKind::Redis => "",
                BackendKind::Cluster => " --cluster",
            }
        )
    }
}

/// What a successful run did.
#[derive(Debug)]
pub struct Outcome {
    pub seed: u64,
    /// The faults, in order, with the time since the start and details.
    pub faults: Vec<String>,
    /// The kind of each fault, in order.
    pub kinds: Vec<Fault>,
    pub edits: u64,
    pub reconnects: usize,
    /// Close codes editors saw, with how often.
    pub closes: Vec<(u16, usize)>,
    /// UTF-16 units of the final text.
    pub text_len: usize,
    pub took: Duration,
}

/// Runs the scenario for `seed`. See the module docs.
pub async fn run(seed: u64, scenario: &Scenario) -> Result<Outcome> {
    let mut world = World::start(seed, scenario).await?;
    match world.play().await {
        Ok(outcome) => Ok(outcome),
        Err(error) => Err(error.context(world.report(scenario))),
    }
}

/// The processes and the fault log of one run.
struct World {
    seed: u64,
    scenario: Scenario,
    file: String,
    redis: Backend,
    gateways: Vec<Gateway>,
    faults: Vec<String>,
    kinds: Vec<Fault>,
    started: Instant,
}

impl World {
    async fn start(seed: u64, scenario: &Scenario) -> Result<World> {
        let redis = Backend::start(scenario.backend)
            .await
            .with_context(|| format!("{} starts", scenario.backend))?;
        let mut gateways = Vec::new();
        for _ in 0..scenario.gateways.max(1) {
            gateways.push(
                redis
                    .gateway(GATEWAY_FLAGS)
                    .await
                    .context("gateway starts")?,
            );
        }
        Ok(World {
            seed,
            scenario: scenario.clone(),
            file: format!("chaos/seed-{seed}.rs"),
            redis,
            gateways,
            faults: Vec::new(),
            kinds: Vec::new(),
            started: Instant::now(),
        })
    }

    async fn play(&mut self) -> Result<Outcome> {
        let seed = self.seed;
        let urls: Vec<String> = self.gateways.iter().map(|g| g.ws_url(&self.file)).collect();
        let options = EditorOptions {
            pause_ms: (5, 40),
            delete_ratio: 0.25,
            reconnect: Reconnect::AnyGateway,
        };
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        for i in 0..self.scenario.clients {
            let editor = Editor::join(
                &format!("c{i}"),
                urls.clone(),
                i % urls.len(),
                seed.wrapping_mul(1000).wrapping_add(i as u64),
                options,
            )
            .await?;
            tasks.push(tokio::spawn(editor.run(stopped.clone())));
        }

        let faults = self.inject_faults().await;
        let _ = stop.send(true);
        let mut editors = Vec::new();
        for task in tasks {
            editors.push(task.await.context("editor task")??);
        }
        faults?;

        // Everyone back on a synced connection, then the checks.
        for editor in &mut editors {
            editor.settle(Duration::from_secs(30)).await?;
        }
        let clients: Vec<&Client> = editors.iter().map(|e| &e.client).collect();
        let text = converge(&clients, CONVERGE_DEADLINE)
            .await
            .context("replicas converge after the faults")?;
        let ledgers: Vec<&tokens::Ledger> = editors.iter().map(|e| &e.ledger).collect();
        tokens::check(&text, &ledgers).context("the converged text")?;
        for editor in &editors {
            let c = &editor.client;
            if let Some(code) = c.closed_with() {
                bail!("editor closed ({code}) after it converged");
            }
            if !c.protocol_errors().is_empty() {
                bail!(
                    "an editor got frames it could not use: {:?}",
                    c.protocol_errors()
                );
            }
        }
        let writes = writes_of(&clients);
        for gateway in &self.gateways {
            fresh_joiner_sees(&gateway.ws_url(&self.file), &writes, &text)
                .await
                .with_context(|| format!("a fresh joiner on {}", gateway.addr()))?;
        }

        let closes = close_counts(&editors);
        let edits = editors.iter().map(|e| e.ledger.edits()).sum();
        let reconnects = editors.iter().map(|e| e.reconnects).sum();
        drop(clients);
        for editor in &mut editors {
            let _ = editor.client.close().await;
        }
        drop(editors);
        self.durability_check(&writes, &text).await?;

        Ok(Outcome {
            seed,
            faults: self.faults.clone(),
            kinds: self.kinds.clone(),
            edits,
            reconnects,
            closes,
            text_len: text.encode_utf16().count(),
            took: self.started.elapsed(),
        })
    }

    /// Injects seeded faults until the scenario's duration has passed and every kind of
    /// the mix was injected once (the first round is one of each).
    async fn inject_faults(&mut self) -> Result<()> {
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mix = Fault::mix(self.scenario.backend);
        let end = Instant::now() + self.scenario.duration;
        let mut round = Vec::new();
        loop {
            // A seeded moment: the scenario's schedule, not a wait for a condition.
            let pause = Duration::from_millis(rng.random_range(200..=900));
            if Instant::now() + pause >= end && self.kinds.len() >= mix.len() {
                tokio::time::sleep_until(end).await;
                return Ok(());
            }
            tokio::time::sleep(pause).await;
            if round.is_empty() {
                round = mix.to_vec();
                round.shuffle(&mut rng);
            }
            let fault = round.pop().unwrap_or(Fault::KillSubscriptions);
            let down = Duration::from_millis(rng.random_range(0..=800));
            let g = rng.random_range(0..self.gateways.len());
            self.inject(fault, g, down, &mut rng).await?;
        }
    }

    async fn inject(
        &mut self,
        fault: Fault,
        g: usize,
        down: Duration,
        rng: &mut StdRng,
    ) -> Result<()> {
        let at = self.started.elapsed();
        let mut entry = format!("{:>6.2}s {fault}", at.as_secs_f64());
        self.kinds.push(fault);
        match fault {
            Fault::KillGateway | Fault::TerminateGateway => {
                let gateway = &mut self.gateways[g];
                entry.push_str(&format!(" {} (down {down:?})", gateway.addr()));
                self.faults.push(entry);
                if fault == Fault::KillGateway {
                    gateway.kill9().await?;
                } else {
                    let status = gateway.terminate().await?;
                    if !status.success() {
                        bail!(
                            "gateway {} exited with {status} after SIGTERM",
                            gateway.addr()
                        );
                    }
                }
                tokio::time::sleep(down).await;
                gateway.restart().await.context("gateway restarts")?;
            }
            Fault::KillSubscriptions => {
                let killed = self.redis.kill_pubsub_clients().await?;
                entry.push_str(&format!(" ({killed} connections)"));
                self.faults.push(entry);
            }
            Fault::RestartRedis | Fault::KillRedis => {
                entry.push_str(&format!(" (down {down:?})"));
                self.faults.push(entry);
                let redis = self
                    .redis
                    .redis_mut()
                    .context("restarting Redis is a fault of a run on one Redis")?;
                if fault == Fault::KillRedis {
                    redis.kill9()?;
                } else {
                    redis.stop().await?;
                }
                tokio::time::sleep(down).await;
                redis.start_again().await?;
            }
            Fault::MoveSlot => self.move_slot(entry, rng).await?,
            Fault::KillMaster => self.kill_master(entry, down).await?,
        }
        Ok(())
    }

    /// Migrates the file's slot to a seeded choice among the other masters.
    async fn move_slot(&mut self, mut entry: String, rng: &mut StdRng) -> Result<()> {
        let (cluster, slot) = cluster_and_slot(&mut self.redis, &self.file).await?;
        let owner = cluster.owner(slot).await?.port;
        let mut others: Vec<u16> = cluster
            .masters()
            .await?
            .iter()
            .map(|m| m.port)
            .filter(|p| *p != owner)
            .collect();
        others.sort_unstable();
        let to = *others
            .get(rng.random_range(0..others.len().max(1)))
            .context("another master to move the slot to")?;
        entry.push_str(&format!(" {slot} from {owner} to {to}"));
        self.faults.push(entry);
        cluster.migrate_slot(slot, to).await?;
        Ok(())
    }

    /// Kills the file's master, waits for its replica's promotion, and after `down`
    /// starts the node again (it rejoins as a replica: the cluster is whole again).
    async fn kill_master(&mut self, mut entry: String, down: Duration) -> Result<()> {
        let (cluster, slot) = cluster_and_slot(&mut self.redis, &self.file).await?;
        let owner = cluster.owner(slot).await?.port;
        entry.push_str(&format!(" {owner} of slot {slot} (down {down:?})"));
        self.faults.push(entry);
        cluster.kill9(owner)?;
        let promoted = cluster
            .wait_for_new_owner(slot, owner, FAILOVER_DEADLINE)
            .await?;
        if let Some(entry) = self.faults.last_mut() {
            entry.push_str(&format!(", {promoted} promoted"));
        }
        tokio::time::sleep(down).await;
        cluster
            .start_again(owner)
            .await
            .context("the killed master rejoins as a replica")
    }

    /// With no client left: stop every gateway, kill -9 the one Redis and restart it (or
    /// the file's master, replicated, which its replica replaces), and read the document
    /// through a new gateway.
    async fn durability_check(&mut self, writes: &[(u64, u32)], text: &str) -> Result<()> {
        for gateway in &mut self.gateways {
            let status = gateway.terminate().await?;
            if !status.success() {
                bail!(
                    "gateway {} exited with {status} after SIGTERM (no clients)",
                    gateway.addr()
                );
            }
        }
        match &mut self.redis {
            Backend::Redis(redis) => {
                redis.kill9()?;
                redis.start_again().await?;
            }
            Backend::Cluster(_) => {
                let (cluster, slot) = cluster_and_slot(&mut self.redis, &self.file).await?;
                let owner = cluster.owner(slot).await?.port;
                cluster.wait_replicated(owner, DEADLINE).await?;
                cluster.kill9(owner)?;
                cluster
                    .wait_for_new_owner(slot, owner, FAILOVER_DEADLINE)
                    .await?;
            }
        }
        let gateway = self.redis.gateway(GATEWAY_FLAGS).await?;
        let url = gateway.ws_url(&self.file);
        self.gateways.push(gateway);
        fresh_joiner_sees(&url, writes, text)
            .await
            .context("a fresh joiner after every gateway stopped and Redis was killed")
    }

    /// The seed, how to replay it, the faults, and the gateways' last stderr lines.
    fn report(&self, scenario: &Scenario) -> String {
        let mut out = format!(
            "chaos seed {} on {} failed after {:.1}s\n  replay: {}\n  faults:\n",
            self.seed,
            scenario.backend,
            self.started.elapsed().as_secs_f64(),
            scenario.replay_command(self.seed)
        );
        for fault in &self.faults {
            out.push_str(&format!("    {fault}\n"));
        }
        for gateway in &self.gateways {
            let tail = gateway.stderr_tail();
            let lines: Vec<&str> = tail.lines().collect();
            out.push_str(&format!(
                "  last stderr lines of gateway {}:\n",
                gateway.addr()
            ));
            for line in &lines[lines.len().saturating_sub(25)..] {
                out.push_str(&format!("    {line}\n"));
            }
        }
        out
    }
}

/// The cluster of `redis`, and the slot of `file`'s keys and channel on it.
async fn cluster_and_slot<'a>(
    redis: &'a mut Backend,
    file: &str,
) -> Result<(&'a mut RedisCluster, u16)> {
    let id = FileId::parse(file).map_err(|e| anyhow!("{e}"))?;
    let cluster = redis
        .cluster_mut()
        .context("slot moves and master kills are faults of a run on a cluster")?;
    let slot = cluster.keyslot(&Keys::default().log(&id)).await?;
    Ok((cluster, slot))
}

async fn fresh_joiner_sees(url: &str, writes: &[(u64, u32)], text: &str) -> Result<()> {
    let late = Client::connect_synced(url, DEADLINE).await?;
    let got = late
        .wait_for(|c| c.has_seen(writes) && c.text() == text, DEADLINE)
        .await;
    if got.is_err() {
        bail!(
            "the fresh joiner shows {} UTF-16 units instead of {} ({}/{} writers' edits \
             complete)",
            late.len(),
            text.encode_utf16().count(),
            writes
                .iter()
                .filter(|w| late.has_seen(std::slice::from_ref(w)))
                .count(),
            writes.len()
        );
    }
    Ok(())
}

fn close_counts(editors: &[Editor]) -> Vec<(u16, usize)> {
    let mut counts: Vec<(u16, usize)> = Vec::new();
    for (code, _) in editors.iter().flat_map(|e| &e.closes) {
        match counts.iter_mut().find(|(c, _)| c == code) {
            Some((_, n)) => *n += 1,
            None => counts.push((*code, 1)),
        }
    }
    counts.sort();
    counts
}
