//! The status line on stderr while a scenario runs, the periodic `/proc` readings of the
//! server processes (so a short RSS peak between start and end is seen too), and the
//! per-second ticks of the run's [`crate::timeline`].
//!
//! On a terminal the line is rewritten in place every second; otherwise (CI logs) a full
//! line is printed every five seconds.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::procstat::Watch;
use crate::sampler::Sampler;
use crate::shared::Shared;
use crate::stats::Stats;
use crate::tracker::Counts;

/// A running status line; [`Progress::finish`] stops it and hands back the process watches.
pub struct Progress {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Vec<Watch>>,
}

/// Starts the status line for a scenario named `label` with `editors` editors.
pub fn start(label: &str, shared: Arc<Shared>, editors: usize, watches: Vec<Watch>) -> Progress {
    let (stop, stopped) = oneshot::channel();
    let label = label.to_owned();
    let task = tokio::spawn(run(label, shared, editors, watches, stopped));
    Progress { stop, task }
}

impl Progress {
    /// Stops the line and returns the process watches with a last reading taken.
    pub async fn finish(self) -> Vec<Watch> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

async fn run(
    label: String,
    shared: Arc<Shared>,
    editors: usize,
    mut watches: Vec<Watch>,
    mut stopped: oneshot::Receiver<()>,
) -> Vec<Watch> {
    let tty = std::io::stderr().is_terminal();
    let every = if tty { 1 } else { 5 };
    let started = Instant::now();
    let mut sampler = Sampler::new(started, &watches);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut last = (started, Counts::default());
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = &mut stopped => break,
        }
        for w in &mut watches {
            w.update();
        }
        shared
            .timeline
            .push(sampler.sample(&shared, &watches, Instant::now()));
        n += 1;
        if !n.is_multiple_of(every) {
            continue;
        }
        let now = Instant::now();
        let c = shared.tracker.progress();
        let secs = now.duration_since(last.0).as_secs_f64().max(1e-3);
        let per_sec = |now: u64, before: u64| now.saturating_sub(before) as f64 / secs;
        let (outstanding, cursors_outstanding) = shared.tracker.outstanding();
        // Cursor figures only where cursors move (awareness, --cursor-rate).
        let cursors = if c.cursor_updates > 0 {
            format!(
                " | cursors {} ({:.0}/s) | cursor deliveries {} ({:.0}/s), outstanding {}",
                c.cursor_updates,
                per_sec(c.cursor_updates, last.1.cursor_updates),
                c.cursor_delivered,
                per_sec(c.cursor_delivered, last.1.cursor_delivered),
                cursors_outstanding,
            )
        } else {
            String::new()
        };
        let s = &shared.stats;
        let line = format!(
            "[{label} {:>5.0}s {:<7}] synced {}/{} | edits {} ({:.0}/s) | deliveries {} ({:.0}/s) | outstanding {}{cursors} | errors {} | disconnects {}",
            now.duration_since(started).as_secs_f64(),
            shared.phase.borrow().name(),
            Stats::get(&s.synced),
            editors,
            c.edits,
            per_sec(c.edits, last.1.edits),
            c.delivered,
            per_sec(c.delivered, last.1.delivered),
            outstanding,
            Stats::get(&s.errors),
            Stats::get(&s.disconnects) + Stats::get(&s.connect_failures),
        );
        last = (now, c);
        let mut err = std::io::stderr().lock();
        let _ = if tty {
            write!(err, "\r\x1b[2K{line}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }
    if tty {
        let _ = writeln!(std::io::stderr());
    }
    for w in &mut watches {
        w.update();
    }
    watches
}
