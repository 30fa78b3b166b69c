//! `collab-load compare`: one command that measures our gateways, Hocuspocus and the raw
//! relay floor in turn with the same scenarios, then prints them side by side and writes
//! `BENCHMARKS.md` and an HTML page.
//!
//! For every system and scenario it starts a fresh `redis-server` on a free port (never
//! 6379, no persistence) and the system's two server processes ([`systems`]), runs the
//! scenario as a child `collab-load` with `--json`, `--html` and the servers' `--pid`s,
//! and stops everything (`collab_harness::process`, the harness the tests use too). The child's JSON is read back ([`figures`]) into the
//! run's record ([`runs`]) and the side-by-side [`table`]; [`output`] writes the Markdown
//! and HTML with the [`machine`]'s cores and memory and the exact commands. A system that
//! cannot start (no node, a failed install, no floor in this build) is skipped with a note;
//! a run that fails is a note too, and the others go on.

pub mod capacity;
pub mod capacity_rows;
pub mod child;
pub mod figures;
pub mod machine;
pub mod output;
pub mod rate_search;
pub mod runs;
pub mod systems;
pub mod table;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use collab_harness::process::command_line;

use self::capacity::{Capacity, CapacityArgs};
use self::child::{ChildFiles, Stack, run_scenario};
use self::machine::Machine;
use self::runs::{Outcome, Run, Shown};
use self::systems::{Programs, System};

/// Flags of `compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Systems to measure, in this order (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = System::ALL)]
    pub systems: Vec<System>,

    /// Leave a system out (repeatable).
    #[arg(long, value_enum, value_name = "SYSTEM")]
    pub skip: Vec<System>,

    /// Scenarios to run on each system, in this order (comma-separated names of
    /// collab-load scenarios; one this build lacks fails with a note).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "edit-storm,fan-out,idle,join-storm,awareness"
    )]
    pub scenarios: Vec<String>,

    /// Small sizes (a few minutes for everything) instead of the full presets.
    #[arg(long)]
    pub quick: bool,

    /// Flags for one scenario, replacing its sizes, e.g. `--args 'fan-out=--observers 50
    /// --edits 20'` (repeatable; split at whitespace).
    #[arg(long = "args", value_name = "SCENARIO=FLAGS")]
    pub scenario_args: Vec<String>,

    /// The Markdown summary to write.
    #[arg(long, default_value = "BENCHMARKS.md", value_name = "PATH")]
    pub benchmarks: PathBuf,

    /// The combined HTML page to write (default: benchmarks.html next to --benchmarks).
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,

    /// Directory for each run's JSON, HTML, table and server logs.
    #[arg(long, default_value = "target/compare", value_name = "DIR")]
    pub work_dir: PathBuf,

    /// Our gateway binary.
    #[arg(
        long,
        default_value = "target/release/collab-gateway",
        value_name = "PATH"
    )]
    pub gateway_bin: PathBuf,

    /// The peers folder: its `install` script and `hocuspocus/server.mjs`.
    #[arg(long, default_value = "load/peers", value_name = "DIR")]
    pub peers_dir: PathBuf,

    /// Node.js, for Hocuspocus.
    #[arg(long, default_value = "node", value_name = "PROGRAM")]
    pub node: String,

    #[arg(long, default_value = "redis-server", value_name = "PROGRAM")]
    pub redis_server: String,

    /// Seconds a server may take to print its address.
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    pub ready_timeout: f64,

    /// Every observer and editor keeps a full replica (passed to the scenarios that have
    /// light ones: edit-storm, fan-out), instead of a sample of 20.
    #[arg(long)]
    pub all_replicas: bool,

    #[command(flatten)]
    pub capacity: CapacityArgs,
}

/// Scenario flags of `--quick` (a few minutes in all for three systems).
fn quick_flags(scenario: &str) -> &'static str {
    match scenario {
        "edit-storm" => "--editors 100 --files 10 --rate 2 --duration 10",
        "fan-out" => "--observers 200 --rate 10 --duration 10",
        "idle" => "--connections 2000 --settle 2",
        "join-storm" => "--joiners 20 --doc-bytes 2000000",
        "awareness" => "--editors 50 --files 5 --duration 10",
        _ => "",
    }
}

impl Args {
    fn systems(&self) -> Vec<System> {
        let mut out: Vec<System> = Vec::new();
        for s in &self.systems {
            if !self.skip.contains(s) && !out.contains(s) {
                out.push(*s);
            }
        }
        out
    }

    /// The size flags of `scenario`: `--args`, else the `--quick` sizes, else none (the
    /// scenario's own presets).
    fn flags(&self, scenario: &str) -> anyhow::Result<Vec<String>> {
        let mut chosen = None;
        for a in &self.scenario_args {
            let (name, flags) = a
                .split_once('=')
                .with_context(|| format!("--args {a:?}: expected SCENARIO=FLAGS"))?;
            if name.trim() == scenario {
                chosen = Some(flags.to_owned());
            }
        }
        let mut flags = match chosen {
            Some(f) => f,
            None if self.quick => quick_flags(scenario).to_owned(),
            None => String::new(),
        };
        if self.all_replicas && matches!(scenario, "edit-storm" | "fan-out") {
            flags.push_str(" --all-replicas");
        }
        Ok(flags.split_whitespace().map(str::to_owned).collect())
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.systems().is_empty() {
            bail!("no system left to measure (--systems minus --skip)");
        }
        for s in &self.scenarios {
            let plain = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !plain {
                bail!("--scenarios: {s:?} is not a scenario name");
            }
            self.flags(s)?;
        }
        self.capacity.check()?;
        if !(self.ready_timeout.is_finite() && self.ready_timeout > 0.0) {
            bail!("--ready-timeout must be a positive number of seconds");
        }
        Ok(())
    }
}

/// Runs the comparison; returns whether every run was measured and clean (or does not
/// apply to its system).
pub fn run(args: Args) -> anyhow::Result<bool> {
    args.check()?;
    let started_unix_ms = crate::scenario::common::unix_ms();
    std::fs::create_dir_all(&args.work_dir)
        .with_context(|| format!("cannot create {}", args.work_dir.display()))?;
    let work_dir = args
        .work_dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", args.work_dir.display()))?;
    let programs = Programs {
        gateway: args.gateway_bin.clone(),
        harness: std::env::current_exe().context("cannot find this executable")?,
        node: args.node.clone(),
        peers: args.peers_dir.clone(),
    };
    let html = args.html.clone().unwrap_or_else(|| {
        args.benchmarks
            .parent()
            .unwrap_or(Path::new(""))
            .join("benchmarks.html")
    });
    let pages_dir = html.parent().unwrap_or(Path::new("")).join(runs::PAGES_DIR);
    std::fs::create_dir_all(&pages_dir)
        .with_context(|| format!("cannot create {}", pages_dir.display()))?;
    let pages_dir = pages_dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", pages_dir.display()))?;
    let root = std::env::current_dir().context("cannot read the current directory")?;
    let shown = Shown::new(&root, &args.work_dir, &work_dir);
    let invocation = shown.text(&invocation());
    let systems = args.systems();
    let timeout = Duration::from_secs_f64(args.ready_timeout);

    let capacity_plan = args.capacity.plan(args.quick);
    let mut capacities: Vec<Capacity> = Vec::new();
    let mut runs = Vec::new();
    let mut notes = Vec::new();
    let mut setup = Vec::new();
    for system in &systems {
        eprintln!("collab-load compare: {system}");
        match system.prepare(&programs) {
            Ok(commands) => setup.extend(commands.iter().map(|c| shown.text(c))),
            Err(e) => {
                let why = shown.text(&format!("{e:#}"));
                eprintln!("collab-load compare: {system} skipped: {why}");
                notes.push(format!("{system} skipped: {why}"));
                for scenario in &args.scenarios {
                    let mut run = Run::new(*system, scenario, &work_dir, &pages_dir);
                    run.outcome = Outcome::Skipped(why.clone());
                    runs.push(run);
                }
                continue;
            }
        }
        for scenario in &args.scenarios {
            let mut run = Run::new(*system, scenario, &work_dir, &pages_dir);
            if let Some(why) = system.cannot_run(scenario) {
                notes.push(format!("{system} {scenario}: not applicable, {why}"));
                run.outcome = Outcome::NotApplicable(why.to_owned());
                runs.push(run);
                continue;
            }
            let flags = args.flags(scenario)?;
            run.outcome = match measure(&mut run, &flags, &programs, &args, timeout) {
                Ok(outcome) => outcome,
                Err(e) => Outcome::Failed(shown.text(&format!("{e:#}"))),
            };
            run.commands = run.commands.iter().map(|c| shown.text(c)).collect();
            eprintln!(
                "collab-load compare: {system} {scenario}: {}",
                describe(&run)
            );
            if let Outcome::Failed(why) = &run.outcome {
                notes.push(format!("{system} {scenario} failed: {why}"));
            }
            runs.push(run);
        }
        if let Some(plan) = &capacity_plan {
            eprintln!("collab-load compare: {system} capacity");
            let cap = capacity::measure(
                *system,
                &programs,
                plan,
                &args.redis_server,
                &work_dir,
                &shown,
                timeout,
            );
            if let Some(why) = &cap.failed {
                notes.push(format!("{system} capacity failed: {why}"));
            }
            capacities.push(cap);
        }
    }

    let mut table = table::build(&runs, &systems, &args.scenarios);
    if let Some(plan) = &capacity_plan {
        table
            .rows
            .extend(capacity_rows::rows(&capacities, &systems, plan.p99_ms));
    }
    let mut sizes = Vec::new();
    for scenario in &args.scenarios {
        sizes.push((scenario.clone(), args.flags(scenario)?.join(" ")));
    }
    let machine = Machine::read();
    println!("{}", machine);
    print!("{}", table::text(&table));
    for n in &notes {
        println!("note: {n}");
    }
    let summary = output::Summary {
        started_unix_ms,
        machine: &machine,
        invocation: &invocation,
        setup: &setup,
        sizes: &sizes,
        systems: &systems,
        scenarios: &args.scenarios,
        runs: &runs,
        table: &table,
        notes: &notes,
        capacity_plan: capacity_plan.as_ref(),
        capacities: &capacities,
    };
    write(&args.benchmarks, &output::markdown(&summary))?;
    write(&html, &output::page(&summary))?;
    println!(
        "wrote {} and {} (runs in {})",
        args.benchmarks.display(),
        html.display(),
        work_dir.display()
    );
    // A scenario that means nothing on a system (the floor keeps no document) is no fault.
    Ok(runs.iter().all(|r| {
        matches!(
            r.outcome,
            Outcome::Measured { clean: true, .. } | Outcome::NotApplicable(_)
        )
    }) && capacities.iter().all(|c| c.failed.is_none()))
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// This command line, as typed.
fn invocation() -> String {
    let mut args = std::env::args();
    let mut cmd = Command::new(args.next().unwrap_or_else(|| "collab-load".to_owned()));
    cmd.args(args);
    command_line(&cmd)
}

/// One line about a finished run.
fn describe(run: &Run) -> String {
    match &run.outcome {
        Outcome::Skipped(why) => format!("skipped ({why})"),
        Outcome::NotApplicable(why) => format!("not applicable ({why})"),
        Outcome::Failed(why) => format!("failed: {why}"),
        Outcome::Measured { figures, clean } => {
            let (name, p) = figures.headline();
            format!(
                "{name} p50 {:.2} ms, p99 {:.2} ms (n={}){}",
                p.p50,
                p.p99,
                p.count,
                if *clean {
                    String::new()
                } else {
                    format!("; problems: {}", figures.problems().join(", "))
                }
            )
        }
    }
}

/// Starts Redis and the system's two servers, runs the scenario against them, stops them.
fn measure(
    run: &mut Run,
    flags: &[String],
    programs: &Programs,
    args: &Args,
    timeout: Duration,
) -> anyhow::Result<Outcome> {
    let stem = run.json.with_extension("");
    let stack = Stack::start(run.system, programs, &args.redis_server, &stem, timeout)?;
    run.commands.extend(stack.commands());
    let table = stem.with_extension("txt");
    let files = ChildFiles {
        json: &run.json,
        html: Some(&run.html),
        table: &table,
    };
    let (outcome, line) = run_scenario(&stack, programs, &run.scenario, flags, &files);
    run.commands.push(line);
    drop(stack);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(line: &[&str]) -> Args {
        let argv = std::iter::once("compare").chain(line.iter().copied());
        Cli::try_parse_from(argv)
            .map(|c| c.args)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn systems_scenarios_and_flags() {
        let a = parse(&[]);
        assert_eq!(a.systems(), System::ALL);
        assert_eq!(a.scenarios.len(), 5);
        assert!(a.flags("edit-storm").unwrap_or_default().is_empty());

        let a = parse(&[
            "--systems",
            "floor,us",
            "--skip",
            "floor",
            "--quick",
            "--scenarios",
            "fan-out,idle",
            "--args",
            "idle=--connections 10  --settle 0",
        ]);
        assert_eq!(a.systems(), [System::Us]);
        assert_eq!(
            a.flags("idle").unwrap_or_default(),
            ["--connections", "10", "--settle", "0"]
        );
        assert_eq!(
            a.flags("fan-out").unwrap_or_default().join(" "),
            quick_flags("fan-out")
        );
        assert!(a.check().is_ok());

        assert!(parse(&["--skip", "us", "--systems", "us"]).check().is_err());
        assert!(parse(&["--scenarios", "../x"]).check().is_err());
        assert!(parse(&["--args", "no-equals"]).check().is_err());
    }
}
