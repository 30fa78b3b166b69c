//! `edit-storm`: many editors on many files type at a steady rate across all targets.
//!
//! Editor `i` edits file `i % files`; within a file, editors take the targets in turn
//! ([`target_of`]), so every file is shared across gateways. After connect and sync,
//! the edit phase lasts `--duration`, or until every editor made `--edits-per-editor`
//! edits; then the run waits up to `--drain-timeout` for outstanding deliveries.
//!
//! Editors are light except `--replicas` of them ([`crate::replicas`]): a light editor
//! types into a doc of its own edits only and applies nothing it receives, but counts and
//! times every delivery like the full replicas, which also check convergence.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::client::{Behaviour, EditorPlan};
use crate::config::CommonArgs;
use crate::fleet::Fleet;
use crate::framing::Framing;
use crate::phase::Phase;
use crate::procstat::Watch;
use crate::progress;
use crate::replicas::ReplicaArgs;

use super::common::{RunLabel, client_ids, finish, target_of, unix_ms};
use crate::report::Report;

const NAME: &str = "edit-storm";

/// Flags of `edit-storm`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Simulated editors in total.
    #[arg(long, default_value_t = 1000)]
    pub editors: usize,

    /// Files the editors are spread over (editor i edits file i % files).
    #[arg(long, default_value_t = 100)]
    pub files: usize,

    /// Edits per second of each editor.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,

    /// Seconds of the edit phase (default 60; with --edits-per-editor, an upper bound
    /// that defaults to twice the time the edits should take, plus 30 s).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,

    /// Stop the edit phase once every editor made this many edits.
    #[arg(long, value_name = "N")]
    pub edits_per_editor: Option<u64>,

    /// Share of edits that delete a character instead of typing one.
    #[arg(long, default_value_t = 0.3)]
    pub delete_ratio: f64,

    /// Cursor (awareness) updates per second of each editor; 0 sends none.
    #[arg(long, default_value_t = 0.0)]
    pub cursor_rate: f64,

    /// Editor i connects with `?user=ed-i` (y-websocket framing), so that a gateway under
    /// `--auth none` keeps one undo list per editor, as with real users; without it they
    /// all share the user `anonymous`.
    #[arg(long)]
    pub user_per_editor: bool,

    /// Extensions every editor opts into (`?ext=VALUE`, e.g. `diagnostics`; y-websocket
    /// framing only). Default: none.
    #[arg(long, value_name = "LIST")]
    pub ext: Option<String>,

    /// Appended to every file id (e.g. `.ts`, so that a gateway picks a grammar for
    /// diagnostics). Default: none.
    #[arg(long, default_value = "", value_name = "SUFFIX")]
    pub file_suffix: String,

    #[command(flatten)]
    pub replicas: ReplicaArgs,
}

impl Args {
    fn check(&self) -> anyhow::Result<()> {
        if self.editors == 0 || self.files == 0 {
            bail!("--editors and --files must be at least 1");
        }
        if !(self.rate.is_finite() && self.rate > 0.0) {
            bail!("--rate must be a positive number of edits per second");
        }
        if !(0.0..=1.0).contains(&self.delete_ratio) {
            bail!("--delete-ratio must be between 0 and 1");
        }
        if !(self.cursor_rate.is_finite() && self.cursor_rate >= 0.0) {
            bail!("--cursor-rate must be 0 or more");
        }
        if self.duration.is_some_and(|d| !(d.is_finite() && d > 0.0)) {
            bail!("--duration must be a positive number of seconds");
        }
        if self.user_per_editor && self.common.framing != Framing::YWebsocket {
            bail!("--user-per-editor is supported with --framing y-websocket only");
        }
        if self.ext.is_some() && self.common.framing != Framing::YWebsocket {
            bail!("--ext is supported with --framing y-websocket only");
        }
        if self.file_suffix.contains(['/', '?', '#']) {
            bail!("--file-suffix must not contain '/', '?' or '#'");
        }
        Ok(())
    }

    /// The longest the edit phase may last.
    fn edit_bound(&self) -> Duration {
        let secs = match (self.duration, self.edits_per_editor) {
            (Some(d), _) => d,
            (None, Some(n)) => 2.0 * n as f64 / self.rate + 30.0,
            (None, None) => 60.0,
        };
        Duration::from_secs_f64(secs)
    }
}

pub async fn run(args: Args) -> anyhow::Result<Report> {
    args.check()?;
    let targets = args.common.targets()?;
    let prefix = args.common.file_prefix();
    let started_unix_ms = unix_ms();

    let mut watches: Vec<Watch> = args.common.pids.iter().map(|p| Watch::start(*p)).collect();
    // The harness watches itself last.
    watches.push(Watch::start(std::process::id()));
    let mut fleet = Fleet::new(
        args.files,
        args.common.framing,
        args.common.connect_concurrency,
    );
    let base = Behaviour {
        edit_rate: args.rate,
        edit_limit: args.edits_per_editor,
        delete_ratio: args.delete_ratio,
        cursor_rate: args.cursor_rate,
        ..Behaviour::default()
    };
    let progress = progress::start(NAME, fleet.shared().clone(), args.editors, watches);

    for (i, client_id) in client_ids(args.editors).into_iter().enumerate() {
        let file = i % args.files;
        let k = i / args.files;
        let target = target_of(file, k, targets.len());
        let behaviour = Behaviour {
            light: !args.replicas.is_replica(file, k, args.files),
            ..base
        };
        let file_id = format!("{prefix}/{file}{}", args.file_suffix);
        let mut url = args.common.framing.url(&targets[target], &file_id);
        if args.user_per_editor {
            url = url.with_param("user", &format!("ed-{i}"));
        }
        if let Some(ext) = &args.ext {
            url = url.with_param("ext", ext);
        }
        fleet.spawn(EditorPlan {
            file,
            target,
            url,
            file_id,
            client_id,
            behaviour,
        });
    }
    fleet.wait_synced(args.common.connect_timeout()).await;

    fleet.set_phase(Phase::Edit);
    let edit_started = Instant::now();
    let bound = args.edit_bound();
    if args.edits_per_editor.is_some() {
        fleet.wait_done_editing(bound).await;
    } else {
        tokio::time::sleep(bound).await;
    }
    let done = finish(fleet, progress, edit_started, args.common.drain_timeout()).await;

    let settings = serde_json::json!({
        "editors": args.editors,
        "files": args.files,
        "rate": args.rate,
        "duration": args.duration,
        "edits_per_editor": args.edits_per_editor,
        "delete_ratio": args.delete_ratio,
        "cursor_rate": args.cursor_rate,
        "user_per_editor": args.user_per_editor,
        "ext": args.ext,
        "file_suffix": args.file_suffix,
        "replicas": args.replicas.shown(),
        "file_prefix": prefix,
        "sandbox": args.common.sandbox,
        "token": args.common.token_shown(),
    });
    Ok(done.report(RunLabel {
        scenario: NAME,
        targets: &targets,
        started_unix_ms,
        settings,
        editors: args.editors,
        files: args.files,
    }))
}
