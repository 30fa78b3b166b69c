//! The systems a comparison measures, and how each one starts: two server processes on one
//! fresh Redis, each printing "... listening on 127.0.0.1:PORT" once it accepts
//! connections.

use std::fmt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use clap::ValueEnum;
use collab_harness::process::command_line;

/// A system under comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum System {
    /// Our gateway (`collab-gateway`).
    Us,
    /// Hocuspocus with its Redis extension (node, from `load/peers/hocuspocus`).
    Hocuspocus,
    /// The harness's raw relay (`collab-load floor`): no CRDT work, the lower bound.
    Floor,
    /// The physical floor (`collab-load write-floor`): the same relay as one epoll thread
    /// writing each frame, encoded once, with plain non-blocking writes.
    WriteFloor,
}

/// Where the programs are.
#[derive(Debug, Clone)]
pub struct Programs {
    pub gateway: PathBuf,
    /// This harness (`collab-load`), for the floors and the scenarios.
    pub harness: PathBuf,
    pub node: String,
    /// `load/peers`: its `install` script and `hocuspocus/server.mjs`.
    pub peers: PathBuf,
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl System {
    pub const ALL: [System; 4] = [
        System::Us,
        System::Hocuspocus,
        System::Floor,
        System::WriteFloor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            System::Us => "us",
            System::Hocuspocus => "hocuspocus",
            System::Floor => "floor",
            System::WriteFloor => "write-floor",
        }
    }

    /// The harness's `--framing` for this system.
    pub fn framing(self) -> &'static str {
        match self {
            System::Us | System::Floor | System::WriteFloor => "y-websocket",
            System::Hocuspocus => "hocuspocus",
        }
    }

    /// What the server prints before its address.
    pub fn announce(self) -> &'static str {
        match self {
            System::Us => "collab-gateway listening on ",
            System::Hocuspocus => "hocuspocus listening on ",
            System::Floor => "collab-floor listening on ",
            System::WriteFloor => "collab-write-floor listening on ",
        }
    }

    /// The harness's `--target` for a server listening on `addr`.
    pub fn target(self, addr: &str) -> String {
        match self {
            System::Us | System::Floor | System::WriteFloor => format!("ws://{addr}/doc"),
            // Hocuspocus takes the document name inside each message, not in the URL.
            System::Hocuspocus => format!("ws://{addr}"),
        }
    }

    /// The command that starts one server on a free port against Redis on `redis_port`.
    pub fn command(self, programs: &Programs, redis_port: u16) -> Command {
        let redis_url = format!("redis://127.0.0.1:{redis_port}");
        match self {
            System::Us => {
                let mut cmd = Command::new(&programs.gateway);
                // The load harness carries no tokens: measure the relay, not the lookups.
                cmd.args(["--listen", "127.0.0.1:0", "--redis-url", &redis_url])
                    .args(["--auth", "none"]);
                cmd
            }
            System::Hocuspocus => {
                let mut cmd = Command::new(&programs.node);
                cmd.arg(programs.peers.join("hocuspocus").join("server.mjs"))
                    .args(["--port", "0", "--redis-port", &redis_port.to_string()]);
                cmd
            }
            System::Floor | System::WriteFloor => {
                let mut cmd = Command::new(&programs.harness);
                cmd.args([
                    self.harness_subcommand(),
                    "--listen",
                    "127.0.0.1:0",
                    "--redis-url",
                    &redis_url,
                ]);
                cmd
            }
        }
    }

    /// Why `scenario` cannot run on this system, if it cannot.
    pub fn cannot_run(self, scenario: &str) -> Option<&'static str> {
        match (self, scenario) {
            // Both seed a document and check that the server serves it to a new reader.
            (System::Floor | System::WriteFloor, "join-storm" | "awareness") => Some(
                "it seeds a document and checks that the server hands it to new readers; \
                 the floors keep no document",
            ),
            _ => None,
        }
    }

    /// Checks (and for Hocuspocus installs) what the system needs before its first start;
    /// an error says why the system is skipped. Returns the commands it ran.
    pub fn prepare(self, programs: &Programs) -> anyhow::Result<Vec<String>> {
        match self {
            System::Us => {
                if !programs.gateway.is_file() {
                    bail!(
                        "{} not found: build it with `cargo build --release -p collab-server` \
                         or pass --gateway-bin",
                        programs.gateway.display()
                    );
                }
                Ok(Vec::new())
            }
            System::Hocuspocus => {
                let mut version = Command::new(&programs.node);
                version.arg("--version");
                run_quietly(version)
                    .with_context(|| format!("`{}` does not run", programs.node))?;
                let server = programs.peers.join("hocuspocus").join("server.mjs");
                if !server.is_file() {
                    bail!("{} not found", server.display());
                }
                let mut install = Command::new("bash");
                install.arg(programs.peers.join("install"));
                let line = command_line(&install);
                run_quietly(install).context("installing the Hocuspocus packages failed")?;
                Ok(vec![line])
            }
            System::Floor | System::WriteFloor => {
                let subcommand = self.harness_subcommand();
                let mut help = Command::new(&programs.harness);
                help.args([subcommand, "--help"]);
                run_quietly(help).with_context(|| {
                    format!("this collab-load has no `{subcommand}` subcommand")
                })?;
                Ok(Vec::new())
            }
        }
    }

    /// The `collab-load` subcommand that serves a floor ("" for the other systems).
    fn harness_subcommand(self) -> &'static str {
        match self {
            System::Floor => "floor",
            System::WriteFloor => "write-floor",
            System::Us | System::Hocuspocus => "",
        }
    }
}

/// Runs `cmd` to completion; an error carries the end of its output.
fn run_quietly(mut cmd: Command) -> anyhow::Result<()> {
    let line = command_line(&cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run `{line}`"))?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        let last: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        bail!(
            "`{line}` failed ({}): {}",
            out.status,
            last[last.len().saturating_sub(3)..].join(" | ")
        );
    }
    Ok(())
}
