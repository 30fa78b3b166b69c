//! The processes a comparison starts: a fresh `redis-server` on a free port and servers that
//! announce their address with one "... listening on ADDR" line on stdout. Every process is
//! killed when its handle drops, so an error anywhere leaves nothing running.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A child process, killed (and reaped) on drop.
pub struct Proc {
    child: Child,
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

/// A free loopback TCP port other than Redis's default 6379 (shared on this machine).
pub fn free_port() -> anyhow::Result<u16> {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("cannot bind a free loopback port")?
            .port();
        if port != 6379 {
            return Ok(port);
        }
    }
}

/// Starts `redis-server` with no persistence on a free port; waits until it accepts
/// connections. Returns the process and its port.
pub fn start_redis(program: &str, log: &Path, timeout: Duration) -> anyhow::Result<(Proc, u16)> {
    let port = free_port()?;
    let mut cmd = Command::new(program);
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"]);
    let command = command_line(&cmd);
    let log_file = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("cannot start {program} (is redis-server installed?)"))?;
    let redis = Proc { child, command };
    let deadline = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() >= deadline {
            bail!(
                "redis-server did not listen on port {port} within {timeout:?} (log: {})",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((redis, port))
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
