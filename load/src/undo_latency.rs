//! `undo-latency`: how long a server-side undo takes to reach another client, on a large
//! document.
//!
//! Two connections to one file: a writer on the first `--target`, which opts in to the undo
//! extension (`?ext=undo&user=NAME`, and the run's `--token`), and an observer on the last
//! target (with two gateways, the undo crosses Redis). The writer seeds `--doc-bytes` of
//! text through [`crate::seed`] (as the same user, so the user's undo list is full when the
//! probes start), then `--undos` times: it inserts a short probe, waits until the observer
//! has it, sends `{"type":"undo"}` at t0, and t1 is when the observer's text is back to its
//! length before the probe. The figure is t1 - t0 (hdrhistogram, microseconds).
//!
//! Each probe must be its own undo item, or the undo takes more than the probe away: the
//! run waits `--capture-ms` (the gateway's `--undo-capture-ms`) plus a margin after the
//! seed and between probes. With a gateway started with `--undo-capture-ms 0`, give
//! `--capture-ms 0` and the probes follow each other at once.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::bail;
use collab_protocol::Message;
use collab_protocol::extension::{Extension, UndoOp};
use collab_protocol::message::encode_update;
use serde::Serialize;
use yrs::{Text, Transact};

use crate::config::CommonArgs;
use crate::framing::Framing;
use crate::latency::{
    self, Latency, ProbeReport, ProbedFile, SeedArgs, Watches, histogram, micros,
};
use crate::probe_side::Hears;
use crate::procstat::ProcReport;

/// What each probe inserts (ASCII: bytes = UTF-16 units).
const PROBE: &str = "/*undo-probe*/";

/// Added to `--capture-ms` between two edits that must not share an undo item: Redis time
/// and ours differ by the network, and a timer fires a little late.
const CAPTURE_MARGIN: Duration = Duration::from_millis(100);

/// Flags of `undo-latency`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Bytes of text seeded before the probes.
    #[arg(long, default_value_t = 1_000_000, value_name = "BYTES")]
    pub doc_bytes: usize,

    /// Undos to time (one probe edit each).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub undos: u64,

    /// The gateway's --undo-capture-ms: the run waits this long (plus 100 ms) after the
    /// seed and between probes, so that each probe is its own undo item. 0 with a gateway
    /// started with --undo-capture-ms 0.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub capture_ms: u64,

    /// The user whose undo list the writer uses (`?user=`, honoured under --auth none).
    #[arg(long, default_value = "undo-latency")]
    pub user: String,

    #[command(flatten)]
    pub seeding: SeedArgs,
}

impl Args {
    pub fn check(&self) -> anyhow::Result<()> {
        if self.common.framing != Framing::YWebsocket {
            bail!("undo-latency speaks --framing y-websocket only (the undo extension)");
        }
        if self.undos == 0 {
            bail!("--undos must be at least 1");
        }
        if self.doc_bytes < PROBE.len() {
            bail!("--doc-bytes must be at least {}", PROBE.len());
        }
        if self.capture_ms > 60_000 {
            bail!("--capture-ms must be at most 60000");
        }
        self.seeding.check()?;
        let user_ok = (1..=64).contains(&self.user.len())
            && self
                .user
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
        if !user_ok {
            bail!("--user must be 1 to 64 of A-Z a-z 0-9 . _ @ -");
        }
        Ok(())
    }

    /// The wait between two edits that must be separate undo items.
    fn gap(&self) -> Duration {
        match self.capture_ms {
            0 => Duration::ZERO,
            ms => Duration::from_millis(ms) + CAPTURE_MARGIN,
        }
    }
}

/// What `undo-latency` measured.
#[derive(Debug, Clone, Serialize)]
pub struct UndoReport {
    pub writer_target: String,
    pub observer_target: String,
    pub file_id: String,
    pub user: String,
    /// Text length (UTF-16 units) of the seeded document.
    pub doc_len: u32,
    pub capture_ms: u64,
    /// t0 (undo sent by the writer) to t1 (the observer's text back to its length).
    pub undo: Latency,
    /// The probe edit from the writer's send to the observer: plain propagation, for
    /// comparison.
    pub edit: Latency,
    pub servers: Vec<ProcReport>,
}

impl ProbeReport for UndoReport {
    fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "undo-latency: writer {} (user {}), observer {}, {} units, capture {} ms",
            self.writer_target, self.user, self.observer_target, self.doc_len, self.capture_ms
        );
        latency::latency_rows(
            &mut out,
            28,
            &[
                ("undo -> observer", &self.undo),
                ("probe edit -> observer", &self.edit),
            ],
        );
        latency::cpu_rows(&mut out, &self.servers);
        out
    }
}

/// The last undo answer (`applied`) a side received.
#[derive(Default)]
struct Answered(Option<bool>);

impl Hears for Answered {
    fn hear(&mut self, message: Extension) {
        if let Extension::UndoState {
            op: Some(UndoOp::Undo),
            applied,
            ..
        } = message
        {
            self.0 = applied;
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<UndoReport> {
    args.check()?;
    let targets = args.common.targets()?;
    let framing = args.common.framing;
    let (writer_target, observer_target) = (&targets[0], &targets[targets.len() - 1]);
    let file_id = format!("{}/undo", args.common.file_prefix());
    let writer_url = framing
        .url(writer_target, &file_id)
        .with_param("ext", "undo")
        .with_param("user", &args.user);
    let observer_url = framing.url(observer_target, &file_id);
    let step = args.seeding.step();

    let file = ProbedFile {
        label: "undo-latency",
        framing,
        file_id: &file_id,
        writer_url: &writer_url,
        verify_url: &observer_url,
        bytes: args.doc_bytes,
        text: None,
    };
    let seeded = latency::seed(&file, &args.seeding, &args.common).await?;
    eprintln!(
        "collab-load undo-latency: seeded {} units in {} updates, {:.1} s",
        seeded.len, seeded.chunks, seeded.seconds
    );

    let (mut writer, mut observer) =
        latency::open_pair(&file, &observer_url, Answered::default).await?;
    let base = seeded.len;
    if writer.len() != base || observer.len() != base {
        bail!(
            "after the seed the writer has {} units and the observer {}, not {base}: is another \
             run writing to {file_id:?}?",
            writer.len(),
            observer.len()
        );
    }
    // The last seeding update's item must close before the first probe.
    writer.settle(args.gap().max(CAPTURE_MARGIN)).await?;

    let watches = Watches::start(&args.common.pids);
    let (mut undo_us, mut edit_us) = (histogram(), histogram());
    let probe_len = PROBE.len() as u32;
    for i in 0..args.undos {
        if i > 0 {
            writer.settle(args.gap()).await?;
        }
        // Spread the probes over the document (a prime stride), never past its end.
        let pos = u32::try_from(i.wrapping_mul(7919) % u64::from(base)).unwrap_or(0);
        let update = {
            let mut txn = writer.doc.transact_mut();
            writer.text.insert(&mut txn, pos, PROBE);
            txn.encode_update_v1()
        };
        let sent = Instant::now();
        writer.conn.send(encode_update(&update)).await?;
        observer
            .until("probe edit at the observer", step, |o| {
                o.len() >= base + probe_len
            })
            .await?;
        edit_us.record(micros(sent.elapsed()))?;
        if observer.len() != base + probe_len {
            bail!(
                "the observer has {} units, expected {}",
                observer.len(),
                base + probe_len
            );
        }

        writer.heard = Answered::default();
        let t0 = Instant::now();
        writer
            .conn
            .send(Message::Extension(Extension::Undo).encode())
            .await?;
        observer
            .until("undo at the observer", step, |o| o.len() < base + probe_len)
            .await?;
        let t1 = t0.elapsed();
        if observer.len() != base {
            bail!(
                "undo {i} left the observer with {} units, not {base}: it took more than the \
                 probe (does --capture-ms match the gateway's --undo-capture-ms?)",
                observer.len()
            );
        }
        undo_us.record(micros(t1))?;
        writer
            .until("undo answer and update at the writer", step, |w| {
                w.heard.0.is_some() && w.len() == base
            })
            .await?;
        if writer.heard.0 != Some(true) {
            bail!("undo {i}: the gateway answered applied: false");
        }
    }
    let servers = watches.finish();
    writer.conn.close().await;
    observer.conn.close().await;

    Ok(UndoReport {
        writer_target: writer_target.base.clone(),
        observer_target: observer_target.base.clone(),
        file_id,
        user: args.user.clone(),
        doc_len: base,
        capture_ms: args.capture_ms,
        undo: Latency::of(&undo_us),
        edit: Latency::of(&edit_us),
        servers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Args {
        latency::parse_flags(extra)
    }

    #[test]
    fn defaults_are_one_megabyte_and_two_hundred_undos() {
        let args = parse(&[]);
        args.check().expect("defaults are valid");
        assert_eq!(
            (args.doc_bytes, args.undos, args.capture_ms),
            (1_000_000, 200, 500)
        );
        assert_eq!(args.gap(), Duration::from_millis(600));
        assert_eq!(parse(&["--capture-ms", "0"]).gap(), Duration::ZERO);
    }

    #[test]
    fn bad_arguments_are_refused() {
        for bad in [
            &["--undos", "0"][..],
            &["--doc-bytes", "3"],
            &["--capture-ms", "60001"],
            &["--user", "a b"],
            &["--user", ""],
            &["--step-timeout", "0"],
            &["--framing", "hocuspocus"],
        ] {
            assert!(parse(bad).check().is_err(), "{bad:?} accepted");
        }
    }
}
