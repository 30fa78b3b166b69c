//! Child processes and loopback ports, the parts every harness shares.
//!
//! [`free_port`] picks a loopback port nobody listens on (never 6379, where a shared Redis
//! lives), [`which`] finds a program on `PATH`, [`signal`] sends one a signal. For tools that
//! run without an async runtime (`collab-load compare`), [`start_server`] starts a server
//! that announces its address with one "... listening on ADDR" line on stdout and waits for
//! it; the [`Proc`] it returns is killed (and reaped) when it drops, so an error anywhere
//! leaves nothing running, and carries its command line as a shell would take it
//! ([`command_line`]), for reports.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A child process, killed (and reaped) on drop.
pub struct Proc {
    pub(crate) child: Child,
    /// The command line, as it can be typed into a shell.
    pub command: String,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has not exited yet.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cmd` as a shell-like line (arguments with spaces or quotes are single-quoted).
pub fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Sends `SIG<name>` to `pid` with kill(1), to stay free of libc bindings.
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A loopback port nobody listens on right now (and never Redis's default 6379).
pub fn free_port() -> Result<u16> {
    for _ in 0..16 {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding a free port")?;
        let port = listener.local_addr()?.port();
        if port != 6379 {
            return Ok(port);
        }
    }
    bail!("no free loopback port found")
}

/// The path of `program` on `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Starts `cmd` and waits for a stdout line `{announce} ADDR`; returns the process and
/// ADDR. Stderr goes to `log`; stdout keeps being drained so the server never blocks on a
/// full pipe.
pub fn start_server(
    mut cmd: Command,
    announce: &str,
    log: &Path,
    timeout: Duration,
) -> anyhow::Result<(Proc, String)> {
    let command = command_line(&cmd);
    let log_file = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file)
        .env("NO_COLOR", "1")
        .spawn()
        .with_context(|| format!("cannot start `{command}`"))?;
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let mut server = Proc { child, command };

    let (lines_tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // Once the address is known nobody listens; keep draining regardless.
            let _ = lines_tx.send(line);
        }
    });
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(line) => {
                if let Some(addr) = line.trim().strip_prefix(announce) {
                    return Ok((server, addr.trim().to_owned()));
                }
                seen.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Stdout closed without the line: the process is exiting (or closed its
                // stdout and never will announce); the checks below end the wait.
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            bail!(
                "`{}` exited before it was ready ({status}){}",
                server.command,
                tail(log, &seen)
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "`{}` did not print \"{announce} ADDR\" within {timeout:?}{}",
                server.command,
                tail(log, &seen)
            );
        }
    }
}

/// The last lines of a server's stdout and stderr, for an error message.
fn tail(log: &Path, stdout: &[String]) -> String {
    let stderr = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = stdout
        .iter()
        .map(String::as_str)
        .chain(stderr.lines())
        .filter(|l| !l.trim().is_empty())
        .collect();
    let last = &lines[lines.len().saturating_sub(5)..];
    if last.is_empty() {
        String::new()
    } else {
        format!(": {}", last.join(" | "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--save", "", "--port", "7000", "a b", "it's"]);
        assert_eq!(
            command_line(&cmd),
            r"redis-server --save '' --port 7000 'a b' 'it'\''s'"
        );
    }

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn a_server_is_ready_once_it_announces_its_address() {
        let dir = std::env::temp_dir();
        let log = dir.join(format!("collab-load-procs-{}.log", std::process::id()));
        let started = start_server(
            sh("echo starting; echo 'demo listening on 127.0.0.1:4242'; exec sleep 30"),
            "demo listening on ",
            &log,
            Duration::from_secs(10),
        );
        let (server, addr) = started.unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(addr, "127.0.0.1:4242");
        assert!(server.command.starts_with("sh -c "));
        let pid = server.pid();
        drop(server);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "the server is stopped (and reaped) on drop"
        );

        let failed = start_server(
            sh("echo 'bad flag' >&2; exit 3"),
            "demo listening on ",
            &log,
            Duration::from_secs(10),
        );
        let err = failed.map(|_| ()).err().map(|e| format!("{e:#}"));
        let err = err.unwrap_or_default();
        assert!(
            err.contains("exited before it was ready") && err.contains("bad flag"),
            "{err}"
        );
        let _ = std::fs::remove_file(&log);
    }

    #[test]
    fn free_ports_avoid_the_shared_redis() {
        assert_ne!(free_port().unwrap_or(6379), 6379);
    }
}
