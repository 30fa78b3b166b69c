//! A `collab-sandbox-agent` child process: the file agent of one sandbox, for the gateway's
//! `--files sandbox` tests.
//!
//! [`Agent::start`] serves a fresh temp folder (its `root`) on a loopback address given as
//! the sandbox's `sandbox_ip` (127.0.0.2, 127.0.0.3, ...), on port 0 or a given port (every
//! agent of one gateway listens on the same `--sandbox-agent-port`, so the second agent
//! takes the first one's port on another address), and waits for its readiness line. Its
//! output is kept for [`Agent::logs`] and printed when a test fails. The process is killed
//! when the value is dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

const READY_PREFIX: &str = "collab-sandbox-agent listening on ";
const READY_DEADLINE: Duration = Duration::from_secs(30);

/// A running agent over its own temp folder.
pub struct Agent {
    /// `IP:PORT` it listens on.
    pub addr: String,
    token: String,
    extra: Vec<String>,
    dir: tempfile::TempDir,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Agent {
    /// Starts an agent on `ip:port` (`port` 0: any free one) expecting `token`, with `extra`
    /// flags (such as `--settle-ms 2000`).
    pub async fn start(ip: &str, port: u16, token: &str, extra: &[&str]) -> Result<Agent> {
        let dir = tempfile::tempdir().context("temp dir")?;
        std::fs::create_dir(dir.path().join("root")).context("agent root")?;
        let (addr, child, log) = spawn(&dir, &format!("{ip}:{port}"), token, extra).await?;
        Ok(Agent {
            addr,
            token: token.to_owned(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            dir,
            child,
            log,
        })
    }

    /// Kills the agent (as a crash would) and starts it again on the same address and root.
    pub async fn restart(&mut self) -> Result<()> {
        self.kill().await?;
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let (_, child, log) = spawn(&self.dir, &self.addr, &self.token, &extra).await?;
        self.child = child;
        self.log = log;
        Ok(())
    }

    /// Kills the agent and waits for it to exit.
    pub async fn kill(&mut self) -> Result<()> {
        self.child.kill().await.context("killing the agent")
    }
}

/// Spawns the agent over `dir/root` on `listen`; its address, process and kept output.
async fn spawn(
    dir: &tempfile::TempDir,
    listen: &str,
    token: &str,
    extra: &[&str],
) -> Result<(String, Child, Arc<Mutex<Vec<String>>>)> {
    let binary = agent_binary();
    let mut child = Command::new(&binary)
        .arg("--root")
        .arg(dir.path().join("root"))
        .args(["--listen", listen])
        .args(extra)
        .env("COLLAB_AGENT_TOKEN", token)
        .env("COLLAB_AGENT_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("spawning {}", binary.display()))?;
    let log = Arc::new(Mutex::new(Vec::new()));
    keep_lines(child.stderr.take().context("stderr")?, log.clone());
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let addr = tokio::time::timeout(READY_DEADLINE, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(addr) = line.strip_prefix(READY_PREFIX) {
                return Some(addr.trim().to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    let Some(addr) = addr else {
        let log = log.lock().map(|l| l.join("\n")).unwrap_or_default();
        bail!("the agent on {listen} did not print its readiness line; stderr:\n{log}");
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((addr, child, log))
}

impl Agent {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_default()
    }

    /// The folder it serves (the sandbox's workspace).
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// `root/path`, after creating its folders.
    pub fn path(&self, path: &str) -> PathBuf {
        let full = self.root().join(path);
        if let Some(parent) = full.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        full
    }

    /// Writes a file in the workspace as a plain program in the sandbox would.
    pub fn write(&self, path: &str, bytes: &[u8]) -> PathBuf {
        let full = self.path(path);
        std::fs::write(&full, bytes).expect("write in the agent's root");
        full
    }

    /// Every file under the root, relative, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.root(), &self.root(), &mut out);
        out.sort();
        out
    }

    /// What it printed so far.
    pub fn logs(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            eprintln!("--- agent {} output ---\n{}", self.addr, self.logs());
        }
    }
}

fn keep_lines(pipe: impl AsyncRead + Unpin + Send + 'static, log: Arc<Mutex<Vec<String>>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(mut log) = log.lock() {
                log.push(line);
            }
        }
    });
}

/// `$COLLAB_AGENT_BIN`, else `collab-sandbox-agent` beside the gateway binary
/// (`cargo build --workspace --bins` builds both).
pub fn agent_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("COLLAB_AGENT_BIN") {
        return PathBuf::from(path);
    }
    let beside = crate::gateway::gateway_binary().with_file_name("collab-sandbox-agent");
    assert!(
        beside.is_file(),
        "collab-sandbox-agent not found at {}: run `cargo build -p collab-sandbox-agent` \
         first, or set COLLAB_AGENT_BIN",
        beside.display()
    );
    beside
}

/// A gateway serving files from sandboxes whose agents listen on `agent_port`
/// (`--files sandbox` under `--auth redis`, write-back after 100 ms, at most 400 ms), with
/// `env` besides the agent's token (`COLLAB_SANDBOX_AGENT_TOKEN`, the first entry).
pub async fn sandbox_gateway(
    redis: &crate::RedisServer,
    agent_port: u16,
    env: &[(&str, &str)],
) -> Result<crate::Gateway> {
    let port = agent_port.to_string();
    crate::Gateway::start_with_env(
        &redis.url(),
        &[
            "--auth",
            "redis",
            "--files",
            "sandbox",
            "--sandbox-agent-port",
            &port,
            "--write-back-ms",
            "100",
            "--write-back-max-ms",
            "400",
        ],
        env,
    )
    .await
}
