//! What a comparison writes: `BENCHMARKS.md` (date, machine, table, notes, the exact
//! commands) and one HTML page with the same table and, per scenario, every system's
//! latency distribution and throughput over time on shared charts.

use std::fmt::Write as _;

use super::capacity::{self, Capacity, Plan};
use super::machine::Machine;
use super::runs::{Outcome, Run};
use super::systems::System;
use super::table::{self, Table};
use crate::report::html;
use crate::report::svg::escape;
use crate::report::utc_string;

/// Everything the summary pages show.
pub struct Summary<'a> {
    pub started_unix_ms: u64,
    pub machine: &'a Machine,
    /// The `collab-load compare ...` command line.
    pub invocation: &'a str,
    /// Commands run once before the measurements (installs).
    pub setup: &'a [String],
    /// Each scenario's size flags (empty: its own full preset).
    pub sizes: &'a [(String, String)],
    pub systems: &'a [System],
    pub scenarios: &'a [String],
    pub runs: &'a [Run],
    pub table: &'a Table,
    pub notes: &'a [String],
    /// The capacity search's sizes, unless it was left out (`--no-capacity`).
    pub capacity_plan: Option<&'a Plan>,
    pub capacities: &'a [Capacity],
}

const METHOD: &str = "Every scenario ran against fresh processes: for each system and \
scenario a new `redis-server` (no persistence, a free port) and two server processes of the \
system, which the harness targets alternately, then stopped. The harness runs on the same \
machine, so it competes with the servers for the cores: compare systems with each other, \
not with other machines. Ratios are us / other (below 1: our figure is lower). The floor is \
the harness's relay with no CRDT work (tokio, tungstenite, Redis pub/sub); the write-floor \
is the same relay as one epoll thread that encodes each frame once and writes it to every \
socket with a plain non-blocking write(), what a delivery cannot cost less than. CPU seconds \
and peak RSS are both server processes together, read from /proc; server CPU µs per \
delivery is that CPU over the edit phase divided by its deliveries; harness CPU seconds are \
the harness's own over the same run: when they rival the servers', the latencies measure the \
harness too. Observers and editors are light (they decode and time what arrives without \
applying it) except a sample of full replicas that checks convergence; join-storm joiners \
check the decoded document's ids and length, a few apply it and compare the text. A `*` marks a figure \
(and the ratios and verdicts drawn from it) from a run that was not clean: see its \
problems row.";

const CAPACITY: &str = "The capacity rows give, per system, the highest edit rate at which \
propagation p99 stayed under the limit, found by stepping the per-editor rate of short \
edit-storm runs against one started system (doubling until a step fails, then bisecting), \
and the server CPU (both processes) per delivered edit at that rate, over the edit phase. \
The write-floor's CPU per delivery is the physical floor measured in the same sitting (a \
bare write() of a small frame to a loopback socket costs 3-7 µs on this kind of machine). \
Every step is listed below.";

const TARGETS: &str = "Targets from issue 5 (checked on our figures): edit-storm p99 at most \
1/5 of Hocuspocus's and at most 2x the floor's; fan-out p99 under 10 ms; idle at most 8 KiB \
RSS per connection; join-storm time to synced p50 under 1 s with peak RSS under 1 GiB. From \
issue 23: server CPU per delivery at most 3x the write-floor's (edit-storm and at the \
capacity point), fan-out at most 2 µs per update per observer, capacity at least the \
floor's.";

/// `BENCHMARKS.md`.
pub fn markdown(s: &Summary) -> String {
    let mut md = String::from("# Benchmarks\n\n");
    let _ = writeln!(
        md,
        "Measured {} with `collab-load compare`.\n",
        utc_string(s.started_unix_ms)
    );
    let _ = writeln!(md, "**Machine**: {}\n", s.machine);
    let _ = writeln!(md, "{METHOD}\n");
    md.push_str("Sizes (flags of each scenario):\n\n");
    for (scenario, flags) in sizes(s) {
        let _ = writeln!(md, "- {scenario}: {flags}");
    }
    md.push_str("\n## Results\n\n");
    md.push_str(&table::markdown(s.table));
    let _ = writeln!(md, "\n{TARGETS}\n");
    if let Some(plan) = s.capacity_plan {
        md.push_str("## Capacity\n\n");
        let _ = writeln!(md, "{CAPACITY} Here: {}.\n", plan.describe());
        for (system, line) in capacity_steps(s) {
            let _ = writeln!(md, "- {system}: {line}");
        }
        md.push('\n');
    }
    if !s.notes.is_empty() {
        md.push_str("Notes:\n\n");
        for n in s.notes {
            let _ = writeln!(md, "- {n}");
        }
        md.push('\n');
    }
    md.push_str("## Commands\n\nEverything above, from the repository root:\n\n```sh\n");
    let _ = writeln!(md, "{}\n```\n", s.invocation);
    if s.invocation.contains("$WORK_DIR") {
        md.push_str(
            "`$WORK_DIR` is the run's `--work-dir`, outside the repository: each run's JSON, \
             table and server logs went there (not committed). Each run's HTML page is in \
             `benchmarks/`, linked from `benchmarks.html`.\n\n",
        );
    }
    if !s.setup.is_empty() {
        md.push_str("Before the measurements it ran:\n\n```sh\n");
        for c in s.setup {
            let _ = writeln!(md, "{c}");
        }
        md.push_str("```\n\n");
    }
    md.push_str(
        "Each run started these processes (ports and pids are picked at run time; the \
         servers print their address):\n\n",
    );
    for run in s.runs.iter().filter(|r| !r.commands.is_empty()) {
        let _ = writeln!(md, "{} {}:\n\n```sh", run.system, run.scenario);
        for c in &run.commands {
            let _ = writeln!(md, "{c}");
        }
        md.push_str("```\n\n");
    }
    for cap in s.capacities.iter().filter(|c| !c.commands.is_empty()) {
        let _ = writeln!(
            md,
            "{} capacity (one set of processes for all steps; the first step shown, the \
             others differ in `--rate` and `--json`):\n\n```sh",
            cap.system
        );
        for c in &cap.commands {
            let _ = writeln!(md, "{c}");
        }
        md.push_str("```\n\n");
    }
    md
}

/// The combined HTML page.
pub fn page(s: &Summary) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>collab-load compare</h1><p>Measured {}.</p><p><b>Machine</b>: {}</p><p>{}</p>",
        escape(&utc_string(s.started_unix_ms)),
        escape(&s.machine.to_string()),
        escape(METHOD)
    );
    b.push_str("<p>Sizes (flags of each scenario):</p><ul>");
    for (scenario, flags) in sizes(s) {
        let _ = write!(
            b,
            "<li>{}: {}</li>",
            escape(scenario),
            escape(flags.trim_matches('`'))
        );
    }
    b.push_str("</ul>");
    b.push_str("<h2>Results</h2>");
    b.push_str(&html::table(&s.table.header, &s.table.rows));
    let _ = write!(b, "<p>{}</p>", escape(TARGETS));
    if let Some(plan) = s.capacity_plan {
        let _ = write!(
            b,
            "<h2>Capacity</h2><p>{} Here: {}.</p><ul>",
            escape(CAPACITY),
            escape(&plan.describe())
        );
        for (system, line) in capacity_steps(s) {
            let _ = write!(b, "<li>{}: {}</li>", escape(system), escape(&line));
        }
        b.push_str("</ul>");
    }
    if !s.notes.is_empty() {
        b.push_str("<ul>");
        for n in s.notes {
            let _ = write!(b, "<li>{}</li>", escape(n));
        }
        b.push_str("</ul>");
    }
    for scenario in s.scenarios {
        let measured: Vec<&Run> = s
            .systems
            .iter()
            .filter_map(|sys| {
                s.runs
                    .iter()
                    .find(|r| r.system == *sys && &r.scenario == scenario)
            })
            .collect();
        let _ = write!(b, "<h2>{}</h2>", escape(scenario));
        let figures: Vec<(&str, &super::figures::Figures)> = measured
            .iter()
            .filter_map(|r| match &r.outcome {
                Outcome::Measured { figures, .. } => Some((r.system.name(), figures.as_ref())),
                _ => None,
            })
            .collect();
        if figures.is_empty() {
            b.push_str("<p>No system was measured.</p>");
            continue;
        }
        b.push_str("<div class=\"charts\">");
        let headline = figures[0].1.headline().0;
        let latencies: Vec<(&str, &crate::report::Percentiles)> =
            figures.iter().map(|(n, f)| (*n, f.headline().1)).collect();
        if let Some(chart) = html::latency_chart(&format!("{headline} latency"), &latencies) {
            b.push_str(&chart);
        }
        b.push_str("</div>");
        let timelines: Vec<(&str, &[crate::timeline::Tick])> = figures
            .iter()
            .map(|(n, f)| (*n, f.timeline.as_slice()))
            .collect();
        b.push_str(&html::timeline_charts(&timelines));
        b.push_str("<p>Each run's own page: ");
        let links: Vec<String> = measured
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Measured { .. }))
            .map(|r| {
                format!(
                    "<a href=\"{}\">{}</a>",
                    escape(&r.page_link()),
                    escape(r.system.name())
                )
            })
            .collect();
        b.push_str(&links.join(", "));
        b.push_str("</p>");
    }
    b.push_str("<h2>Commands</h2><pre>");
    b.push_str(&escape(s.invocation));
    b.push('\n');
    for c in s.setup {
        let _ = writeln!(b, "{}", escape(c));
    }
    for run in s.runs.iter().filter(|r| !r.commands.is_empty()) {
        let _ = writeln!(
            b,
            "\n# {} {}",
            escape(run.system.name()),
            escape(&run.scenario)
        );
        for c in &run.commands {
            let _ = writeln!(b, "{}", escape(c));
        }
    }
    b.push_str("</pre>");
    html::page("collab-load compare", &b)
}

/// Each capacity step of each system, in the order run.
fn capacity_steps<'a>(s: &'a Summary) -> Vec<(&'a str, String)> {
    let mut out = Vec::new();
    for cap in s.capacities {
        if let Some(why) = &cap.failed {
            out.push((cap.system.name(), format!("could not start: {why}")));
        }
        for (k, step) in cap.steps.iter().enumerate() {
            out.push((
                cap.system.name(),
                format!("step {}: {}", k + 1, capacity::describe(step)),
            ));
        }
    }
    out
}

/// Each scenario with its flags, or a word that it ran its own preset.
fn sizes<'a>(s: &'a Summary) -> impl Iterator<Item = (&'a str, String)> {
    s.sizes.iter().map(|(scenario, flags)| {
        let flags = if flags.is_empty() {
            "its full preset (no flags)".to_owned()
        } else {
            format!("`{flags}`")
        };
        (scenario.as_str(), flags)
    })
}
