//! `diag-latency`: how long after a keystroke another client gets the syntax markers of
//! the new text.
//!
//! Two connections to `PREFIX/bench.ts`: a writer on the first `--target` and an observer
//! on the last one, opted in with `?ext=diagnostics` (with two gateways, the edit and the
//! markers cross Redis). The writer seeds a generated TypeScript module of `--lines` lines
//! ([`crate::ts_source`]) through [`crate::seed`]; the run waits until the observer has
//! the text and the (empty) syntax markers of its version. Then `--probes` times, spaced
//! `--gap-ms` after the previous probe's markers: the writer makes one keystroke at a
//! random probe site, alternately breaking the syntax and fixing it, sent at t0; t1 is
//! when the observer receives a `diagnostics` message of source `syntax` whose `version`
//! is the SHA-256 of the observer's text after the keystroke and whose markers are
//! non-empty after a break, empty after a fix. The figure includes the gateway's debounce
//! (`--diagnostics-debounce-ms`) by design: it is what a user waits.
//!
//! The gateways' `/metrics` are read before and after the probes ([`metrics`]): parses per probe, mean
//! parse time (sum / count of `collab_diagnostics_parse_seconds`, the parse's wall time
//! on a pool thread) and cache outcomes.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use collab_protocol::extension::Extension;
use collab_protocol::message::encode_update;
use serde::Serialize;
use sha2::{Digest, Sha256};
use yrs::{Text, Transact};

use crate::config::CommonArgs;
use crate::framing::Framing;
use crate::latency::{
    self, Latency, ProbeReport, ProbedFile, SeedArgs, Watches, histogram, micros,
};
use crate::probe_side::Hears;
use crate::procstat::ProcReport;
use crate::target::Target;
use crate::ts_source::{self, Keystroke, Prober};

pub mod metrics;
pub use metrics::ParseFigures;
use metrics::{figures, snapshot};

/// Misses described in the report (all are counted).
const MISSES_SHOWN: usize = 8;

/// Flags of `diag-latency`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Lines of the generated TypeScript file.
    #[arg(long, default_value_t = 1_000, value_name = "N")]
    pub lines: usize,

    /// Keystrokes to time (alternately breaking and fixing the syntax).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub probes: u64,

    /// The gateway's --diagnostics-debounce-ms (only checked against --gap-ms and shown).
    #[arg(long, default_value_t = 150, value_name = "MS")]
    pub debounce_ms: u64,

    /// Quiet time after a probe's markers before the next keystroke; must exceed
    /// --debounce-ms.
    #[arg(long, default_value_t = 300, value_name = "MS")]
    pub gap_ms: u64,

    /// Seed of the random probe sites.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    #[command(flatten)]
    pub seeding: SeedArgs,
}

impl Args {
    pub fn check(&self) -> anyhow::Result<()> {
        if self.common.framing != Framing::YWebsocket {
            bail!("diag-latency speaks --framing y-websocket only (the diagnostics extension)");
        }
        if self.probes == 0 {
            bail!("--probes must be at least 1");
        }
        if !(40..=1_000_000).contains(&self.lines) {
            bail!("--lines must be between 40 and 1000000");
        }
        if self.gap_ms <= self.debounce_ms {
            bail!(
                "--gap-ms must exceed --debounce-ms, or a keystroke would restart the last one's debounce"
            );
        }
        self.seeding.check()
    }
}

/// One probe whose markers did not come as expected.
#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    pub probe: u64,
    pub breaks: bool,
    pub expected_version: String,
    /// What the observer heard from `syntax` since the keystroke: (version, markers).
    pub heard: Vec<(String, usize)>,
    pub what: String,
}

/// What `diag-latency` measured.
#[derive(Debug, Clone, Serialize)]
pub struct DiagReport {
    pub writer_target: String,
    pub observer_target: String,
    pub file_id: String,
    pub lines: usize,
    pub bytes: usize,
    pub probes: u64,
    pub debounce_ms: u64,
    pub gap_ms: u64,
    pub note: String,
    /// t0 (keystroke sent) to t1 (the observer has the markers of its new text), every
    /// probe that got them.
    pub markers: Latency,
    /// The same, breaking keystrokes only, and fixing ones only.
    pub markers_break: Latency,
    pub markers_fix: Latency,
    /// The keystroke from the writer's send to the observer's text.
    pub edit: Latency,
    /// Syntax messages the observer got for another version than the one awaited, or
    /// twice for the same one, during the probes.
    pub other_messages: u64,
    pub misses: u64,
    pub miss_details: Vec<Miss>,
    pub metrics: Option<ParseFigures>,
    pub metrics_error: Option<String>,
    pub servers: Vec<ProcReport>,
}

impl ProbeReport for DiagReport {
    fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "diag-latency: writer {}, observer {} (?ext=diagnostics), {} lines / {} bytes of TypeScript, \
             {} probes {} ms apart after markers",
            self.writer_target,
            self.observer_target,
            self.lines,
            self.bytes,
            self.probes,
            self.gap_ms
        );
        let _ = writeln!(out, "{}", self.note);
        latency::latency_rows(
            &mut out,
            30,
            &[
                ("keystroke -> markers", &self.markers),
                ("  breaking (markers)", &self.markers_break),
                ("  fixing (empty list)", &self.markers_fix),
                ("keystroke -> observer text", &self.edit),
            ],
        );
        let _ = writeln!(
            out,
            "misses {}, other syntax messages {}",
            self.misses, self.other_messages
        );
        match (&self.metrics, &self.metrics_error) {
            (Some(m), _) => {
                let _ = writeln!(
                    out,
                    "parses per probe {:.2} ({} parses, {} timed out, {} too big), mean parse {:.3} ms; \
                     cache hit {} claimed {} elsewhere {} error {}",
                    m.parses_per_probe,
                    m.parses,
                    m.parses_timed_out,
                    m.parses_too_big,
                    m.mean_parse_ms,
                    m.cache_hit,
                    m.cache_claimed,
                    m.cache_elsewhere,
                    m.cache_error
                );
            }
            (None, Some(e)) => {
                let _ = writeln!(out, "metrics unread: {e}");
            }
            (None, None) => {}
        }
        latency::cpu_rows(&mut out, &self.servers);
        out
    }

    fn is_clean(&self) -> bool {
        self.misses == 0
    }
}

/// A syntax message the observer received.
struct Heard {
    at: Instant,
    version: String,
    markers: usize,
}

impl Hears for Vec<Heard> {
    fn hear(&mut self, message: Extension) {
        if let Extension::Diagnostics {
            source,
            version,
            markers,
        } = message
            && source == "syntax"
        {
            self.push(Heard {
                at: Instant::now(),
                version,
                markers: markers.len(),
            });
        }
    }
}

/// Lowercase hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    let mut out = String::with_capacity(64);
    for b in Sha256::digest(text.as_bytes()) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

pub async fn run(args: Args) -> anyhow::Result<DiagReport> {
    args.check()?;
    let targets = args.common.targets()?;
    let framing = args.common.framing;
    let (writer_target, observer_target) = (&targets[0], &targets[targets.len() - 1]);
    let mut gateways: Vec<&Target> = vec![writer_target];
    if observer_target.base != writer_target.base {
        gateways.push(observer_target);
    }
    let file_id = format!("{}/bench.ts", args.common.file_prefix());
    let writer_url = framing.url(writer_target, &file_id);
    let plain_observer_url = framing.url(observer_target, &file_id);
    let observer_url = plain_observer_url.clone().with_param("ext", "diagnostics");
    let step = args.seeding.step();
    let gap = Duration::from_millis(args.gap_ms);

    let source = ts_source::typescript(args.lines);
    let bytes = source.text.len();
    let file = ProbedFile {
        label: "diag-latency",
        framing,
        file_id: &file_id,
        writer_url: &writer_url,
        verify_url: &plain_observer_url,
        bytes,
        text: Some(source.text.as_str().into()),
    };
    let seeded = latency::seed(&file, &args.seeding, &args.common).await?;
    eprintln!(
        "collab-load diag-latency: seeded {} lines, {} units in {} updates, {:.1} s",
        args.lines, seeded.len, seeded.chunks, seeded.seconds
    );

    let (mut writer, mut observer) = latency::open_pair(&file, &observer_url, Vec::new).await?;
    let base = seeded.len;
    if writer.string() != source.text || observer.len() != base {
        bail!(
            "after the seed the writer has {} units and the observer {}, not the {base} seeded: \
             is another run writing to {file_id:?}?",
            writer.len(),
            observer.len()
        );
    }
    let seeded_version = sha256_hex(&source.text);
    let joined = Instant::now();
    observer
        .until("the seeded file's markers at the observer", step, |o| {
            o.heard.iter().any(|h| h.version == seeded_version)
        })
        .await?;
    let first = observer
        .heard
        .iter()
        .find(|h| h.version == seeded_version)
        .map_or(0, |h| h.markers);
    if first != 0 {
        bail!(
            "the gateway gave the seeded file {first} syntax markers; it is valid TypeScript \
             (collab-syntax finds none)"
        );
    }
    eprintln!(
        "collab-load diag-latency: observer has the seeded version's markers {:.0} ms after joining",
        joined.elapsed().as_secs_f64() * 1000.0
    );

    let before = snapshot(&gateways).await;
    let watches = Watches::start(&args.common.pids);
    let (mut all_us, mut break_us, mut fix_us, mut edit_us) =
        (histogram(), histogram(), histogram(), histogram());
    let mut prober = Prober::new(&source, args.seed);
    let (mut misses, mut miss_details, mut other) = (0u64, Vec::new(), 0u64);
    for i in 0..args.probes {
        let (w, o) = tokio::join!(writer.settle(gap), observer.settle(gap));
        w?;
        o?;
        observer.heard.clear();
        let (key, breaks) = prober.keystroke();
        let update = {
            let mut txn = writer.doc.transact_mut();
            match key {
                Keystroke::Delete { at } => writer.text.remove_range(&mut txn, at, 1),
                Keystroke::Insert { at, ch } => {
                    writer
                        .text
                        .insert(&mut txn, at, ch.encode_utf8(&mut [0; 4]))
                }
            }
            txn.encode_update_v1()
        };
        let expected_len = if breaks { base - 1 } else { base };
        let writer_version = sha256_hex(&writer.string());
        let t0 = Instant::now();
        writer.conn.send(encode_update(&update)).await?;
        observer
            .until("the keystroke at the observer", step, |o| {
                o.len() == expected_len
            })
            .await
            .with_context(|| format!("probe {i}"))?;
        edit_us.record(micros(t0.elapsed()))?;
        let version = sha256_hex(&observer.string());
        if version != writer_version {
            bail!("probe {i}: the observer's text differs from the writer's after the keystroke");
        }
        let wanted = |h: &Heard| h.version == version && (h.markers > 0) == breaks;
        let waited = observer
            .until("markers", step, |o| o.heard.iter().any(wanted))
            .await;
        let heard: Vec<(String, usize)> = observer
            .heard
            .iter()
            .map(|h| (h.version.clone(), h.markers))
            .collect();
        match waited {
            Ok(()) => {
                let at = observer.heard.iter().find(|h| wanted(h)).map(|h| h.at);
                let took = micros(at.unwrap_or_else(Instant::now) - t0);
                all_us.record(took)?;
                if breaks {
                    break_us.record(took)?;
                } else {
                    fix_us.record(took)?;
                }
                other += observer.heard.len() as u64 - 1;
            }
            Err(e) => {
                misses += 1;
                let wrong = observer
                    .heard
                    .iter()
                    .any(|h| h.version == version && (h.markers > 0) != breaks);
                let what = if wrong {
                    format!(
                        "markers for the right version, but {} where the text {}",
                        if breaks { "none" } else { "some" },
                        if breaks { "has an error" } else { "is valid" }
                    )
                } else {
                    format!("{e}")
                };
                eprintln!("collab-load diag-latency: probe {i} ({key:?}) missed: {what}");
                if miss_details.len() < MISSES_SHOWN {
                    miss_details.push(Miss {
                        probe: i,
                        breaks,
                        expected_version: version,
                        heard,
                        what,
                    });
                }
            }
        }
    }
    let servers = watches.finish();
    let after = snapshot(&gateways).await;
    let (metrics, metrics_error) = match (before, after) {
        (Ok(b), Ok(a)) => (Some(figures(&b, &a, args.probes)), None),
        (Err(e), _) | (_, Err(e)) => (None, Some(format!("{e:#}"))),
    };
    writer.conn.close().await;
    observer.conn.close().await;

    Ok(DiagReport {
        writer_target: writer_target.base.clone(),
        observer_target: observer_target.base.clone(),
        file_id,
        lines: args.lines,
        bytes,
        probes: args.probes,
        debounce_ms: args.debounce_ms,
        gap_ms: args.gap_ms,
        note: format!(
            "keystroke -> markers includes the gateway's debounce ({} ms) by design: it is what \
             a user waits for a squiggle",
            args.debounce_ms
        ),
        markers: Latency::of(&all_us),
        markers_break: Latency::of(&break_us),
        markers_fix: Latency::of(&fix_us),
        edit: Latency::of(&edit_us),
        other_messages: other,
        misses,
        miss_details,
        metrics,
        metrics_error,
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
    fn defaults_are_valid_and_bad_arguments_refused() {
        let args = parse(&[]);
        args.check().expect("defaults are valid");
        assert_eq!((args.lines, args.probes, args.gap_ms), (1_000, 200, 300));
        for bad in [
            &["--probes", "0"][..],
            &["--lines", "10"],
            &["--gap-ms", "150"],
            &["--debounce-ms", "400"],
            &["--step-timeout", "0"],
            &["--framing", "hocuspocus"],
        ] {
            assert!(parse(bad).check().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn versions_are_lowercase_hex_sha256() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
