//! A bare `redis-server` for benchmarks: no persistence, started without an async runtime.
//!
//! [`RedisServer`](super::RedisServer) is the tests' Redis (append-only file fsynced on
//! every write, so a restart keeps every acknowledged write). A benchmark wants the
//! opposite: nothing on disk that could slow a run, any `redis-server` program the operator
//! names, its output in a log file beside the report, and the command line in the report.
//! `collab-load compare` starts one per system and scenario with [`start_bare`].

use std::fs::File;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process::{Proc, command_line, free_port};

/// Starts `program` (a `redis-server`) with no persistence on a free port, its output in
/// `log`; waits until it accepts connections. Returns the process and its port.
pub fn start_bare(program: &str, log: &Path, timeout: Duration) -> Result<(Proc, u16)> {
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
