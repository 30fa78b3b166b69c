//! One system's processes started (a fresh `redis-server` and the system's two servers), and
//! scenarios run against them as child `collab-load` processes whose JSON is read back.
//!
//! Its own module so that a comparison's scenario runs (one fresh set of processes each) and
//! the capacity search (many short steps against one set) start and drive processes the
//! same way.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use collab_harness::process::{Proc, command_line, start_server};
use collab_harness::redis::start_bare;

use super::figures::Figures;
use super::runs::Outcome;
use super::systems::{Programs, System};

/// A running system: its two servers (with their addresses) and the Redis behind them.
pub struct Stack {
    // Declared first, so they stop before Redis.
    servers: Vec<(Proc, String)>,
    redis: Proc,
    system: System,
}

impl Stack {
    /// Starts a fresh Redis and the two servers of `system`; logs go to `STEM.redis.log`
    /// and `STEM.serverK.log`.
    pub fn start(
        system: System,
        programs: &Programs,
        redis_server: &str,
        stem: &Path,
        timeout: Duration,
    ) -> anyhow::Result<Stack> {
        let log = |what: &str| PathBuf::from(format!("{}.{what}.log", stem.display()));
        let (redis, redis_port) = start_bare(redis_server, &log("redis"), timeout)?;
        let mut servers = Vec::new();
        for k in 1..=2 {
            servers.push(start_server(
                system.command(programs, redis_port),
                system.announce(),
                &log(&format!("server{k}")),
                timeout,
            )?);
        }
        Ok(Stack {
            servers,
            redis,
            system,
        })
    }

    /// The commands that started its processes, in order.
    pub fn commands(&self) -> Vec<String> {
        std::iter::once(self.redis.command.clone())
            .chain(self.servers.iter().map(|(s, _)| s.command.clone()))
            .collect()
    }

    /// Whether every process still runs.
    pub fn alive(&mut self) -> bool {
        self.redis.running() && self.servers.iter_mut().all(|(s, _)| s.running())
    }
}

/// Where a child run writes its report.
pub struct ChildFiles<'a> {
    pub json: &'a Path,
    pub html: Option<&'a Path>,
    /// Its table (stdout).
    pub table: &'a Path,
}

/// Runs `collab-load SCENARIO FLAGS` against `stack`; returns how it went and the command.
/// The child's status line is passed through to stderr, indented.
pub fn run_scenario(
    stack: &Stack,
    programs: &Programs,
    scenario: &str,
    flags: &[String],
    files: &ChildFiles<'_>,
) -> (anyhow::Result<Outcome>, String) {
    let system = stack.system;
    let mut cmd = Command::new(&programs.harness);
    cmd.arg(scenario)
        .args(flags)
        .args(["--framing", system.framing()]);
    for (server, addr) in &stack.servers {
        cmd.args(["--target", &system.target(addr)])
            .args(["--pid", &server.pid().to_string()]);
    }
    cmd.arg("--json").arg(files.json);
    if let Some(html) = files.html {
        cmd.arg("--html").arg(html);
    }
    let line = command_line(&cmd);
    (run_child(cmd, &line, scenario, files), line)
}

fn run_child(
    mut cmd: Command,
    line: &str,
    scenario: &str,
    files: &ChildFiles<'_>,
) -> anyhow::Result<Outcome> {
    let _ = std::fs::remove_file(files.json);
    let table_file = File::create(files.table)
        .with_context(|| format!("cannot create {}", files.table.display()))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(table_file)
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start `{line}`"))?;
    // Pass the status line through, keeping what explains a failure.
    let mut last: Vec<String> = Vec::new();
    let mut first_error = None;
    if let Some(stderr) = child.stderr.take() {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("  {l}");
            if first_error.is_none() && l.to_ascii_lowercase().contains("error") {
                first_error = Some(l.trim().to_owned());
            }
            if !l.trim().is_empty() {
                last.push(l.trim().to_owned());
            }
            if last.len() > 3 {
                last.remove(0);
            }
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for `{line}`"))?;
    match status.code() {
        Some(code @ (0 | 3)) => {
            let text = std::fs::read_to_string(files.json)
                .with_context(|| format!("reading {}", files.json.display()))?;
            let figures: Figures = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", files.json.display()))?;
            Ok(Outcome::Measured {
                figures: Box::new(figures),
                clean: code == 0,
            })
        }
        _ => bail!(
            "`collab-load {scenario}` ended with {status}: {}",
            first_error.unwrap_or_else(|| last.join(" | "))
        ),
    }
}
