//! Capacity, not only latency: the highest edit rate at which propagation p99 stays under a
//! limit (10 ms), for each system, and the server CPU per delivered edit at that rate.
//!
//! Each step is a short `edit-storm` (by default 1,000 editors over 100 files, 10 s of
//! edits) at one per-editor rate against one started system ([`super::child::Stack`]; each
//! step writes fresh files). A step passes when the run was clean, its p99 is under the
//! limit and the harness reached at least [`REACHED`] of the offered edit rate (a harness
//! that cannot type as fast as asked measures itself). The search ([`search`]) doubles
//! the rate from `--capacity-start-rate` until a step fails (or halves it until one passes),
//! then bisects geometrically between the last pass and the first failure until the steps
//! run out or the two are close ([`super::rate_search`]). Server CPU per delivery is taken over the
//! edit phase's seconds only (from the run's timeline), so connecting 1,000 editors does not
//! count against it. On this machine a bare `write()` of a small frame to loopback costs
//! 3-7 µs: the floor a relay's CPU per delivery can approach.

use std::path::Path;
use std::time::Duration;

use super::child::{ChildFiles, Stack, run_scenario};
use super::rate_search::search;
use super::runs::{Outcome, Shown};
use super::systems::{Programs, System};
use super::table::number;

/// Share of the offered edit rate a step must reach to pass.
pub const REACHED: f64 = 0.9;

/// Flags of the capacity search (part of `compare`).
#[derive(Debug, Clone, clap::Args)]
pub struct CapacityArgs {
    /// Leave out the capacity search.
    #[arg(long)]
    pub no_capacity: bool,

    /// Editors of each capacity step (default 1,000; 100 with --quick).
    #[arg(long, value_name = "N")]
    pub capacity_editors: Option<usize>,

    /// Files of each capacity step (default 100; 10 with --quick).
    #[arg(long, value_name = "N")]
    pub capacity_files: Option<usize>,

    /// Seconds of edits per capacity step (default 10; 5 with --quick).
    #[arg(long, value_name = "SECS")]
    pub capacity_secs: Option<f64>,

    /// Most steps per system (default 8; 5 with --quick).
    #[arg(long, value_name = "N")]
    pub capacity_steps: Option<usize>,

    /// Per-editor edit rate of the first step, edits per second.
    #[arg(long, default_value_t = 0.5, value_name = "RATE")]
    pub capacity_start_rate: f64,

    /// The propagation p99 a step must stay under, ms.
    #[arg(long, default_value_t = 10.0, value_name = "MS")]
    pub capacity_p99_ms: f64,
}

/// The sizes of one search, defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub editors: usize,
    pub files: usize,
    pub secs: f64,
    pub steps: usize,
    pub start_rate: f64,
    pub p99_ms: f64,
}

impl CapacityArgs {
    /// The plan, or `None` with `--no-capacity`.
    pub fn plan(&self, quick: bool) -> Option<Plan> {
        (!self.no_capacity).then(|| Plan {
            editors: self
                .capacity_editors
                .unwrap_or(if quick { 100 } else { 1000 }),
            files: self.capacity_files.unwrap_or(if quick { 10 } else { 100 }),
            secs: self.capacity_secs.unwrap_or(if quick { 5.0 } else { 10.0 }),
            steps: self.capacity_steps.unwrap_or(if quick { 5 } else { 8 }),
            start_rate: self.capacity_start_rate,
            p99_ms: self.capacity_p99_ms,
        })
    }

    pub fn check(&self) -> anyhow::Result<()> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        anyhow::ensure!(
            self.capacity_editors != Some(0) && self.capacity_files != Some(0),
            "--capacity-editors and --capacity-files must be at least 1"
        );
        anyhow::ensure!(
            self.capacity_steps != Some(0),
            "--capacity-steps must be at least 1"
        );
        anyhow::ensure!(
            self.capacity_secs.is_none_or(positive)
                && positive(self.capacity_start_rate)
                && positive(self.capacity_p99_ms),
            "--capacity-secs, --capacity-start-rate and --capacity-p99-ms must be positive"
        );
        Ok(())
    }
}

impl Plan {
    /// The `edit-storm` flags of a step at `rate` edits per second per editor.
    pub fn flags(&self, rate: f64) -> Vec<String> {
        [
            "--editors".to_owned(),
            self.editors.to_string(),
            "--files".to_owned(),
            self.files.to_string(),
            "--rate".to_owned(),
            format!("{rate:.4}"),
            "--duration".to_owned(),
            self.secs.to_string(),
            "--drain-timeout".to_owned(),
            "5".to_owned(),
            "--connect-timeout".to_owned(),
            "30".to_owned(),
        ]
        .into()
    }

    /// What the markdown says the steps were.
    pub fn describe(&self) -> String {
        format!(
            "edit-storm steps of {} editors over {} files, {} s of edits each, at most {} \
             steps per system from {} edits/s per editor; a step passes when clean, with \
             propagation p99 under {} ms and at least {:.0}% of the offered edit rate reached",
            self.editors,
            self.files,
            self.secs,
            self.steps,
            self.start_rate,
            self.p99_ms,
            REACHED * 100.0
        )
    }
}

/// One step of a search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    /// Offered edits per second per editor.
    pub rate: f64,
    pub passed: bool,
    /// Why it did not pass ("" when it did).
    pub why: String,
    pub p99_ms: Option<f64>,
    pub edits_per_second: f64,
    pub deliveries_per_second: f64,
    /// Server CPU (both servers) per delivery over the edit phase, µs.
    pub server_us_per_delivery: Option<f64>,
    pub harness_cpu_seconds: Option<f64>,
}

/// The search of one system.
#[derive(Debug, Clone)]
pub struct Capacity {
    pub system: System,
    pub steps: Vec<Step>,
    /// Why the system could not be searched at all.
    pub failed: Option<String>,
    /// The commands that started its processes, and the first step's run.
    pub commands: Vec<String>,
}

impl Capacity {
    /// The passing step of the highest rate.
    pub fn best(&self) -> Option<&Step> {
        self.steps
            .iter()
            .filter(|s| s.passed)
            .max_by(|a, b| a.rate.total_cmp(&b.rate))
    }
}

/// The step at `rate` judged from its run's `outcome`.
pub fn judge(rate: f64, plan: &Plan, outcome: &anyhow::Result<Outcome>) -> Step {
    let mut step = Step {
        rate,
        ..Step::default()
    };
    let figures = match outcome {
        Ok(Outcome::Measured { figures, clean }) => {
            if !clean {
                step.why = figures.problems().join(", ");
            }
            figures
        }
        Ok(Outcome::Failed(why)) => {
            step.why = why.clone();
            return step;
        }
        Ok(_) => {
            step.why = "not run".to_owned();
            return step;
        }
        Err(e) => {
            step.why = format!("{e:#}");
            return step;
        }
    };
    let p = &figures.propagation_ms;
    step.p99_ms = (p.count > 0).then_some(p.p99);
    step.edits_per_second = figures.edits_per_second;
    step.deliveries_per_second = figures.deliveries_per_second;
    step.server_us_per_delivery = figures.server_us_per_delivery();
    step.harness_cpu_seconds = figures.harness_cpu_seconds();
    let offered = rate * plan.editors as f64;
    let mut why: Vec<String> = Vec::new();
    if !step.why.is_empty() {
        why.push(step.why.clone());
    }
    match step.p99_ms {
        Some(v) if v < plan.p99_ms => {}
        Some(v) => why.push(format!("p99 {v:.1} ms")),
        None => why.push("no deliveries".to_owned()),
    }
    if step.edits_per_second < REACHED * offered {
        why.push(format!(
            "{:.0} of {offered:.0} edits/s offered",
            step.edits_per_second
        ));
    }
    step.passed = why.is_empty();
    step.why = why.join("; ");
    step
}

/// Searches `system`'s capacity on one fresh set of its processes; step files go to
/// `work_dir` as `SYSTEM-capacity-K.*`.
pub fn measure(
    system: System,
    programs: &Programs,
    plan: &Plan,
    redis_server: &str,
    work_dir: &Path,
    shown: &Shown,
    timeout: Duration,
) -> Capacity {
    let mut cap = Capacity {
        system,
        steps: Vec::new(),
        failed: None,
        commands: Vec::new(),
    };
    let stem = work_dir.join(format!("{system}-capacity"));
    let mut stack = match Stack::start(system, programs, redis_server, &stem, timeout) {
        Ok(s) => s,
        Err(e) => {
            cap.failed = Some(shown.text(&format!("{e:#}")));
            return cap;
        }
    };
    cap.commands = stack.commands().iter().map(|c| shown.text(c)).collect();
    let mut k = 0;
    let mut first_line = None;
    let run_step = |rate: f64| {
        k += 1;
        if !stack.alive() {
            return Step {
                rate,
                why: "a server or Redis exited during an earlier step".to_owned(),
                ..Step::default()
            };
        }
        let json = work_dir.join(format!("{system}-capacity-{k}.json"));
        let table = json.with_extension("txt");
        let files = ChildFiles {
            json: &json,
            html: None,
            table: &table,
        };
        eprintln!("collab-load compare: {system} capacity step {k}: {rate:.3} edits/s per editor");
        let (outcome, line) =
            run_scenario(&stack, programs, "edit-storm", &plan.flags(rate), &files);
        first_line.get_or_insert(line);
        let step = judge(rate, plan, &outcome);
        eprintln!(
            "collab-load compare: {system} capacity step {k}: {}",
            describe(&step)
        );
        step
    };
    cap.steps = search(plan.start_rate, plan.steps, run_step, |s: &Step| s.passed);
    cap.commands.extend(first_line.map(|l| shown.text(&l)));
    cap
}

/// One line about a step.
pub fn describe(s: &Step) -> String {
    format!(
        "{} edits/s per editor: {:.0} edits/s, {:.0} deliveries/s, p99 {}, server {} µs per \
         delivery, {}",
        number(s.rate),
        s.edits_per_second,
        s.deliveries_per_second,
        s.p99_ms
            .map_or("-".to_owned(), |v| format!("{} ms", number(v))),
        s.server_us_per_delivery.map_or("?".to_owned(), number),
        if s.passed {
            "passed".to_owned()
        } else {
            format!("failed ({})", s.why)
        }
    )
}

/// A limit as written on the command line: `10`, not `10.0`.
pub fn limit(ms: f64) -> String {
    if ms.fract() == 0.0 {
        format!("{ms:.0}")
    } else {
        ms.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::figures::Figures;
    use super::*;

    fn figures(p99: f64, edits_per_second: f64, clean: bool) -> anyhow::Result<Outcome> {
        let mut f = Figures {
            edits_per_second,
            deliveries: 9000,
            deliveries_per_second: 900.0,
            ..Figures::default()
        };
        f.propagation_ms.count = 100;
        f.propagation_ms.p99 = p99;
        f.servers = vec![super::super::figures::ServerFigures {
            cpu_seconds: Some(0.27),
            peak_rss_kib: None,
        }];
        if !clean {
            f.missing_deliveries = 3;
        }
        Ok(Outcome::Measured {
            figures: Box::new(f),
            clean,
        })
    }

    #[test]
    fn a_step_passes_only_clean_fast_and_at_the_offered_rate() {
        let plan = CapacityArgs {
            no_capacity: false,
            capacity_editors: Some(100),
            capacity_files: None,
            capacity_secs: None,
            capacity_steps: None,
            capacity_start_rate: 0.5,
            capacity_p99_ms: 10.0,
        }
        .plan(true)
        .unwrap_or_else(|| panic!("a plan"));
        let ok = judge(1.0, &plan, &figures(4.0, 99.0, true));
        assert!(ok.passed, "{ok:?}");
        // No timeline: CPU over the whole run, 0.27 s over 9,000 deliveries.
        assert!((ok.server_us_per_delivery.unwrap_or(0.0) - 30.0).abs() < 1e-9);
        let slow = judge(1.0, &plan, &figures(12.0, 99.0, true));
        assert!(!slow.passed && slow.why.contains("p99 12.0 ms"), "{slow:?}");
        let behind = judge(1.0, &plan, &figures(4.0, 50.0, true));
        assert!(
            !behind.passed && behind.why.contains("of 100 edits/s"),
            "{behind:?}"
        );
        let lossy = judge(1.0, &plan, &figures(4.0, 99.0, false));
        assert!(!lossy.passed && lossy.why.contains("missing"), "{lossy:?}");
        let failed = judge(1.0, &plan, &Err(anyhow::anyhow!("boom")));
        assert!(!failed.passed && failed.why.contains("boom"));
    }
}
