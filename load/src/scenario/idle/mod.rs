//! `idle`: many connections that sync once and then stay silent; the gateways' RSS per
//! connection.
//!
//! Connection `i` opens file `i % files` on a target chosen by [`target_of`]. Each
//! connection is a minimal raw WebSocket client ([`idle_connection`]), not an editor: it
//! sends the upgrade request, sync step 1 with an empty state vector, answers the gateway's
//! step 1 with an empty step 2, counts itself synced at the gateway's step 2, and from then
//! on only reads (and discards) into a small buffer until the run stops, answering pings
//! ([`frames`]). It holds no yrs document and no WebSocket library state, so the
//! harness costs little per connection. The handshake and sync go through the run's
//! framing, so `idle` runs against Hocuspocus too.
//!
//! Each `--pid`'s RSS is read before the first connect and again after every connection
//! settled and `--settle` seconds passed. With as many pids as targets, pid `k` is taken to
//! serve target `k` and its growth is divided by the connections synced on that target;
//! otherwise every pid's growth is divided by the synced connections over the pid count.
//!
//! Every connection is one file descriptor in this process: the count is clamped to the
//! soft `RLIMIT_NOFILE` (from `/proc/self/limits`) less a margin, and the report says so.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::http::Uri;

use crate::config::CommonArgs;
use crate::fleet::Fleet;
use crate::framing::Inbound;
use crate::phase::Phase;
use crate::procstat::Watch;
use crate::progress;
use crate::report::sections::{IdleReport, IdleServer};
use crate::report::{Report, RunInfo};
use crate::shared::Shared;
use crate::stats::Stats;
use crate::target::FileUrl;

use super::common::{target_of, unix_ms};

mod frames;
use frames::{FrameSkipper, read_frame, send_control, send_frame};

const NAME: &str = "idle";

/// File descriptors kept free for everything else (listeners, stdio, /proc reads).
const FD_MARGIN: u64 = 200;

/// Longest a connection may take from connect to the gateway's step 2.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// Flags of `idle`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Idle connections in total (clamped to this process's open-file limit).
    #[arg(long, default_value_t = 20_000)]
    pub connections: usize,

    /// Files the connections are spread over (connection i opens file i % files).
    #[arg(long, default_value_t = 100)]
    pub files: usize,

    /// Seconds to wait after every connection settled before reading RSS.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub settle: f64,
}

impl Args {
    fn check(&self) -> anyhow::Result<()> {
        if self.connections == 0 || self.files == 0 {
            bail!("--connections and --files must be at least 1");
        }
        if !(self.settle.is_finite() && self.settle >= 0.0) {
            bail!("--settle must be 0 or more seconds");
        }
        Ok(())
    }
}

/// The soft open-file limit of this process, from `/proc/self/limits`.
fn fd_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

pub async fn run(args: Args) -> anyhow::Result<Report> {
    args.check()?;
    let targets = args.common.targets()?;
    if targets.iter().any(crate::target::Target::is_tls) {
        bail!(
            "idle opens raw TCP connections without TLS: give it ws:// targets \
             (the other scenarios take wss://)"
        );
    }
    let prefix = args.common.file_prefix();
    let started_unix_ms = unix_ms();

    let requested = args.connections as u64;
    let limit = fd_limit();
    let (n, clamped) = match limit {
        Some(l) if requested + FD_MARGIN > l => (l.saturating_sub(FD_MARGIN).max(1), Some(l)),
        _ => (requested, None),
    };
    if let Some(l) = clamped {
        eprintln!(
            "collab-load idle: open-file limit {l}: opening {n} connections instead of \
             {requested} (raise `ulimit -n` for more)"
        );
    }
    let n = usize::try_from(n).unwrap_or(usize::MAX);

    let mut watches: Vec<Watch> = args.common.pids.iter().map(|p| Watch::start(*p)).collect();
    watches.push(Watch::start(std::process::id()));
    let before: Vec<Option<u64>> = watches.iter().map(|w| w.start.map(|s| s.rss_kib)).collect();

    let fleet = Fleet::new(
        args.files,
        args.common.framing,
        args.common.connect_concurrency,
    );
    let shared = fleet.shared().clone();
    let per_target: Arc<Vec<AtomicU64>> =
        Arc::new((0..targets.len()).map(|_| AtomicU64::new(0)).collect());
    let progress = progress::start(NAME, shared.clone(), n, watches);

    let connect_started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let file = i % args.files;
        let target = target_of(file, i / args.files, targets.len());
        let file_id = format!("{prefix}/{file}");
        let url = args.common.framing.url(&targets[target], &file_id);
        let shared = shared.clone();
        let per_target = per_target.clone();
        tasks.push(tokio::spawn(async move {
            idle_connection(&shared, &url, &file_id, &per_target[target]).await;
        }));
    }
    // Wait until every connection synced or failed.
    let deadline = Instant::now() + args.common.connect_timeout();
    loop {
        let s = &shared.stats;
        let done = Stats::get(&s.synced) + Stats::get(&s.connect_failures);
        if done >= n as u64 || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connect_seconds = connect_started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;

    let mut watches = progress.finish().await;
    let after: Vec<Option<u64>> = watches
        .iter_mut()
        .map(|w| w.update().map(|s| s.rss_kib))
        .collect();
    let synced = Stats::get(&shared.stats.synced);

    fleet.set_phase(Phase::Stop);
    for t in tasks {
        let abort = t.abort_handle();
        if tokio::time::timeout(Duration::from_secs(5), t)
            .await
            .is_err()
        {
            abort.abort();
        }
    }

    let per_conn = |before: Option<u64>, after: Option<u64>, conns: u64| match (before, after) {
        (Some(b), Some(a)) if conns > 0 => Some((a as f64 - b as f64) * 1024.0 / conns as f64),
        _ => None,
    };
    let pids = args.common.pids.len();
    let mut servers = Vec::with_capacity(pids);
    for (k, pid) in args.common.pids.iter().enumerate() {
        let conns = if pids == targets.len() {
            Stats::get(&per_target[k])
        } else {
            synced / pids as u64
        };
        servers.push(IdleServer {
            pid: *pid,
            connections: conns,
            rss_before_kib: before[k],
            rss_after_kib: after[k],
            rss_per_connection_bytes: per_conn(before[k], after[k], conns),
        });
    }
    let total_growth: Option<i64> = (0..pids)
        .map(|k| Some(after[k]? as i64 - before[k]? as i64))
        .sum();
    let rss_per_connection_bytes = match total_growth {
        Some(g) if synced > 0 && pids > 0 => Some(g as f64 * 1024.0 / synced as f64),
        _ => None,
    };
    let harness_rss_per_connection_bytes = per_conn(before[pids], after[pids], synced);

    let harness = watches.pop().map(|w| w.report());
    let idle = IdleReport {
        requested_connections: requested,
        connections: n as u64,
        clamped_to_fd_limit: clamped,
        settle_seconds: args.settle,
        servers,
        rss_per_connection_bytes,
        harness_rss_per_connection_bytes,
    };
    let settings = serde_json::json!({
        "connections": args.connections,
        "files": args.files,
        "settle": args.settle,
        "file_prefix": prefix,
        "sandbox": args.common.sandbox,
        "token": args.common.token_shown(),
    });
    let mut report = Report::new(
        RunInfo {
            scenario: NAME.to_owned(),
            targets: targets.iter().map(|t| t.base.clone()).collect(),
            started_unix_ms,
            settings,
            editors: n as u64,
            files: args.files as u64,
            edit_seconds: connect_seconds,
            drain_seconds: 0.0,
            servers: watches.iter().map(Watch::report).collect(),
            harness,
        },
        &shared,
    );
    report.idle = Some(idle);
    Ok(report)
}

/// One idle connection: handshake, sync, then silence until the run stops. Counts itself in
/// `shared.stats` (connected, synced, connect failures, disconnects) and in `synced_here`.
async fn idle_connection(shared: &Shared, url: &FileUrl, file_id: &str, synced_here: &AtomicU64) {
    let mut phase = shared.phase.clone();
    let stream = {
        let _permit = shared.connect_limit.acquire().await;
        let started = Instant::now();
        match tokio::time::timeout(SYNC_TIMEOUT, open_and_sync(shared, url, file_id)).await {
            Ok(Ok(s)) => {
                shared.stats.sync_time(started.elapsed());
                s
            }
            Ok(Err(e)) => return shared.stats.connect_failure(format!("{url}: {e:#}")),
            Err(_) => {
                return shared
                    .stats
                    .connect_failure(format!("{url}: no sync within {SYNC_TIMEOUT:?}"));
            }
        }
    };
    Stats::add(&shared.stats.synced, 1);
    Stats::add(synced_here, 1);
    let (mut stream, leftover) = stream;
    let mut frames = FrameSkipper::default();
    let mut pings = Vec::new();
    frames.feed(&leftover, &mut pings);
    let mut buf = [0u8; 64];
    loop {
        for ping in pings.drain(..) {
            if let Err(e) = send_control(&mut stream, 0xA, &ping).await {
                return shared
                    .stats
                    .disconnect(format!("{url}: answering a ping: {e:#}"));
            }
        }
        tokio::select! {
            r = stream.read(&mut buf) => match r {
                Ok(0) => return shared.stats.disconnect(format!("{url}: closed by the gateway")),
                Ok(k) => {
                    Stats::add(&shared.stats.bytes_received, k as u64);
                    frames.feed(&buf[..k], &mut pings);
                }
                Err(e) => return shared.stats.disconnect(format!("{url}: {e}")),
            },
            changed = phase.changed() => {
                if changed.is_err() || *phase.borrow() == Phase::Stop {
                    return;
                }
            }
        }
    }
}

/// Connects, upgrades to WebSocket and completes the y-websocket sync of `file_id` with an
/// empty doc (in the run's framing: Hocuspocus authenticates first). Returns the stream and
/// the bytes already read past the gateway's step 2.
async fn open_and_sync(
    shared: &Shared,
    url: &FileUrl,
    file_id: &str,
) -> anyhow::Result<(TcpStream, Vec<u8>)> {
    // The request line carries the token; errors name `url` (shown without it).
    let uri: Uri = url.connect_url().parse().context("bad url")?;
    let host = uri.host().context("no host")?;
    let port = uri.port_u16().unwrap_or(80);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let connect_started = Instant::now();
    let mut s = TcpStream::connect((bare, port)).await.context("connect")?;
    s.set_nodelay(true)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    s.write_all(request.as_bytes()).await?;
    let mut buf: Vec<u8> = Vec::with_capacity(512);
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 16 * 1024 {
            bail!("handshake response too long");
        }
        let mut chunk = [0u8; 512];
        let k = s.read(&mut chunk).await?;
        if k == 0 {
            bail!("closed during the handshake");
        }
        buf.extend_from_slice(&chunk[..k]);
    };
    let status = String::from_utf8_lossy(&buf[..buf.len().min(12)]).into_owned();
    if !status.starts_with("HTTP/1.1 101") {
        let line = String::from_utf8_lossy(&buf[..head_end]);
        bail!("upgrade refused: {}", line.lines().next().unwrap_or(""));
    }
    buf.drain(..head_end);
    shared.stats.connect_time(connect_started.elapsed());
    Stats::add(&shared.stats.connected, 1);

    let framing = shared.framing;
    for frame in framing.hello(file_id) {
        send_frame(shared, &mut s, &frame).await?;
    }
    // Sync step 1 with an empty state vector: [sync, step1, len 1, 0 clients].
    send_frame(shared, &mut s, &framing.wrap(file_id, vec![0, 0, 1, 0])).await?;
    loop {
        let (opcode, payload) = read_frame(&mut s, &mut buf).await?;
        Stats::add(&shared.stats.frames_received, 1);
        Stats::add(&shared.stats.bytes_received, payload.len() as u64);
        match opcode {
            0x8 => bail!("closed by the gateway during sync"),
            0x9 => send_control(&mut s, 0xA, &payload).await?,
            0x2 => match framing.unwrap(file_id, &payload) {
                Ok(Inbound::Message(message)) => match message.as_ref() {
                    // Step 1: answer with step 2 carrying an empty update (0 structs, 0
                    // deletes).
                    [0, 0, ..] => {
                        let step2 = framing.wrap(file_id, vec![0, 1, 2, 0, 0]);
                        send_frame(shared, &mut s, &step2).await?;
                    }
                    [0, 1, ..] => return Ok((s, buf)),
                    [2, ..] => bail!("gateway error message during sync"),
                    _ => {}
                },
                Ok(Inbound::Bookkeeping) => {}
                Ok(Inbound::Closed(reason)) => bail!("session closed during sync: {reason}"),
                Err(e) => bail!("undecodable frame during sync: {e}"),
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::frames::parse_header;
    use super::*;

    #[test]
    fn parses_frame_headers() {
        assert_eq!(parse_header(&[0x82, 3, 0, 1, 0]), Some((2, 2, 3)));
        assert_eq!(parse_header(&[0x82, 126, 1, 0]), Some((2, 4, 256)));
        assert_eq!(parse_header(&[0x82]), None);
        assert_eq!(parse_header(&[0x82, 126, 1]), None);
    }

    #[test]
    fn answers_pings_and_skips_the_rest() {
        let mut frames = FrameSkipper::default();
        let mut pings = Vec::new();
        // A binary frame of 300 bytes, a ping "hi" and an empty ping, cut at every byte.
        let mut stream = vec![0x82, 126, 1, 44];
        stream.extend([7u8; 300]);
        stream.extend([0x89, 2, b'h', b'i', 0x89, 0]);
        for byte in &stream {
            frames.feed(std::slice::from_ref(byte), &mut pings);
        }
        assert_eq!(pings, vec![b"hi".to_vec(), Vec::new()]);
        pings.clear();
        frames.feed(&stream, &mut pings);
        assert_eq!(pings.len(), 2);
    }

    #[test]
    fn reads_fd_limit() {
        assert!(fd_limit().is_some_and(|l| l > 0));
    }
}
