//! A throwaway `redis-server` process for one test.
//!
//! Each [`RedisServer`] runs on a free loopback port (never 6379, where a shared Redis
//! lives) in its own temporary directory, with an append-only file fsynced on every write
//! so that [`RedisServer::restart`] keeps every acknowledged write. The process is killed
//! when the value is dropped. [`start_bare`] starts the other kind, for benchmarks: no
//! persistence, no async runtime.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use redis::aio::{ConnectionLike, MultiplexedConnection};

use crate::process::{free_port, signal, which};
use crate::wait::eventually;

mod bare;
pub use bare::start_bare;

/// How long a starting or restarting Redis may take to answer PING.
const START_DEADLINE: Duration = Duration::from_secs(20);

/// A `redis-server` child process on `127.0.0.1:port`.
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    extra_args: Vec<String>,
}

impl RedisServer {
    /// Starts `redis-server` on a free port and waits until it answers PING.
    pub async fn start() -> Result<RedisServer> {
        RedisServer::start_with(&[]).await
    }

    /// [`RedisServer::start`] with more `redis-server` flags (such as `--rename-command
    /// CLIENT ""`), kept for [`RedisServer::start_again`].
    pub async fn start_with(extra_args: &[&str]) -> Result<RedisServer> {
        let dir = tempfile::Builder::new()
            .prefix("collab-redis-")
            .tempdir()
            .context("creating a directory for redis-server")?;
        let port = free_port()?;
        let mut server = RedisServer {
            port,
            dir,
            child: None,
            extra_args: extra_args.iter().map(|arg| arg.to_string()).collect(),
        };
        server.spawn_and_wait().await?;
        Ok(server)
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the append-only file.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A fresh connection, for inspecting keys from a test.
    pub async fn connection(&self) -> Result<MultiplexedConnection> {
        let client = redis::Client::open(self.url())?;
        Ok(client.get_multiplexed_async_connection().await?)
    }

    /// Stops the server gracefully (SHUTDOWN, else SIGTERM) and waits for it to exit.
    /// Use [`RedisServer::start_again`] to bring it back on the same port and directory.
    pub async fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // SHUTDOWN closes the connection instead of answering: an error here is expected.
        if let Ok(mut con) = self.connection().await {
            let _ = redis::cmd("SHUTDOWN").query_async::<()>(&mut con).await;
        }
        let exited = wait_exit(&mut child, Duration::from_secs(10)).await?;
        if !exited {
            signal(child.id(), "TERM");
            if !wait_exit(&mut child, Duration::from_secs(10)).await? {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "redis-server on port {} ignored SHUTDOWN and SIGTERM",
                    self.port
                );
            }
        }
        Ok(())
    }

    /// Kills the server with SIGKILL (no SHUTDOWN, no final fsync beyond `appendfsync
    /// always`) and reaps it. Use [`RedisServer::start_again`] to bring it back.
    pub fn kill9(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("kill -9 of redis-server")?;
            child.wait().context("reaping redis-server")?;
        }
        Ok(())
    }

    /// Starts the server again after [`RedisServer::stop`] or [`RedisServer::kill9`], on the same port and directory
    /// (so it reloads its append-only file), and waits until it answers PING.
    pub async fn start_again(&mut self) -> Result<()> {
        if self.child.is_some() {
            bail!("redis-server on port {} is still running", self.port);
        }
        self.spawn_and_wait().await
    }

    /// [`RedisServer::stop`] then [`RedisServer::start_again`].
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await?;
        self.start_again().await
    }

    /// Kills every pub/sub client connection (`CLIENT LIST TYPE pubsub`, then `CLIENT KILL
    /// ID` for each) and returns how many were killed.
    pub async fn kill_pubsub_clients(&self) -> Result<usize> {
        kill_pubsub_connections(&mut self.connection().await?).await
    }

    /// Ids of the connections in `CLIENT LIST TYPE pubsub`.
    pub async fn pubsub_client_ids(&self) -> Result<Vec<u64>> {
        pubsub_client_ids(&mut self.connection().await?).await
    }

    /// How many connections subscribe to `channel` (plain and sharded pub/sub).
    pub async fn subscribers(&self, channel: &str) -> Result<u64> {
        let mut con = self.connection().await?;
        let mut total = 0;
        for sub in ["NUMSUB", "SHARDNUMSUB"] {
            let (_, n): (String, u64) = redis::cmd("PUBSUB")
                .arg(sub)
                .arg(channel)
                .query_async::<Vec<(String, u64)>>(&mut con)
                .await
                .with_context(|| format!("PUBSUB {sub} {channel}"))?
                .into_iter()
                .next()
                .unwrap_or_default();
            total += n;
        }
        Ok(total)
    }

    /// How many entries a file's log holds, whether it is a stream (XLEN) or a list (LLEN);
    /// 0 when the key does not exist.
    pub async fn log_len(&self, key: &str) -> Result<u64> {
        log_len(&mut self.connection().await?, key).await
    }

    /// How many entries were ever added to the stream `key` (XINFO STREAM `entries-added`,
    /// which trimming does not lower); `None` when `key` is not a stream.
    pub async fn stream_entries_added(&self, key: &str) -> Result<Option<u64>> {
        stream_entries_added(&mut self.connection().await?, key).await
    }

    /// Calls per command so far (`INFO commandstats`), by lower-case command name
    /// (`hget`, `client|tracking`, ...).
    pub async fn command_calls(&self) -> Result<std::collections::HashMap<String, u64>> {
        command_calls(&mut self.connection().await?).await
    }

    /// The Redis type of `key` (`none` when absent).
    pub async fn key_type(&self, key: &str) -> Result<String> {
        key_type(&mut self.connection().await?, key).await
    }

    async fn spawn_and_wait(&mut self) -> Result<()> {
        let binary = which("redis-server").ok_or_else(|| {
            anyhow!(
                "redis-server is not on PATH: install Redis (e.g. `apt-get install redis-server`) \
                 to run the end-to-end tests"
            )
        })?;
        let child = Command::new(binary)
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--save", ""])
            .args(["--daemonize", "no", "--protected-mode", "no"])
            .args(["--logfile", "redis.log"])
            // `DEBUG SET-ACTIVE-EXPIRE 0`: tests that keys expire only lazily.
            .args(["--enable-debug-command", "local"])
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawning redis-server")?;
        self.child = Some(child);
        let url = self.url();
        let ready = eventually(START_DEADLINE, || ping(&url)).await;
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            bail!(
                "redis-server on port {} exited with {status}; log: {}",
                self.port,
                self.log_tail()
            );
        }
        if !ready {
            bail!(
                "redis-server on port {} did not answer PING within {START_DEADLINE:?}; log: {}",
                self.port,
                self.log_tail()
            );
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The Redis type of `key` (`none` when absent), on a single node or a cluster.
pub async fn key_type(con: &mut impl ConnectionLike, key: &str) -> Result<String> {
    Ok(redis::cmd("TYPE").arg(key).query_async(con).await?)
}

/// Entries of a log that is a stream (XLEN) or a list (LLEN); 0 when absent.
pub async fn log_len(con: &mut impl ConnectionLike, key: &str) -> Result<u64> {
    let cmd = match key_type(con, key).await?.as_str() {
        "none" => return Ok(0),
        "stream" => "XLEN",
        "list" => "LLEN",
        other => bail!("{key} is a {other}, not a stream or a list"),
    };
    Ok(redis::cmd(cmd).arg(key).query_async(con).await?)
}

/// XINFO STREAM `entries-added` of `key`; `None` when it is not a stream.
pub async fn stream_entries_added(con: &mut impl ConnectionLike, key: &str) -> Result<Option<u64>> {
    if key_type(con, key).await? != "stream" {
        return Ok(None);
    }
    let info: std::collections::HashMap<String, redis::Value> = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(key)
        .query_async(con)
        .await
        .with_context(|| format!("XINFO STREAM {key}"))?;
    match info.get("entries-added") {
        Some(redis::Value::Int(n)) => Ok(Some(u64::try_from(*n).unwrap_or(0))),
        other => bail!("XINFO STREAM {key}: entries-added is {other:?}"),
    }
}

/// Ids of the connections in `CLIENT LIST TYPE pubsub` of the server behind `con`.
async fn pubsub_client_ids(con: &mut MultiplexedConnection) -> Result<Vec<u64>> {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(con)
        .await
        .context("CLIENT LIST TYPE pubsub")?;
    Ok(parse_client_ids(&list))
}

/// Kills every pub/sub client connection of the server behind `con` (`CLIENT KILL ID`
/// each); returns how many were killed.
pub(crate) async fn kill_pubsub_connections(con: &mut MultiplexedConnection) -> Result<usize> {
    let mut killed = 0;
    for id in pubsub_client_ids(con).await? {
        let n: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query_async(con)
            .await
            .with_context(|| format!("CLIENT KILL ID {id}"))?;
        killed += usize::try_from(n).unwrap_or(0);
    }
    Ok(killed)
}

/// Calls per command of the server behind `con` (`INFO commandstats`), by lower-case
/// command name.
pub(crate) async fn command_calls(
    con: &mut MultiplexedConnection,
) -> Result<std::collections::HashMap<String, u64>> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(con)
        .await
        .context("INFO commandstats")?;
    Ok(parse_commandstats(&info))
}

/// True when `url` answers PONG (not LOADING, not refused).
pub(crate) async fn ping(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let Ok(mut con) = client.get_multiplexed_async_connection().await else {
        return false;
    };
    matches!(
        redis::cmd("PING").query_async::<String>(&mut con).await,
        Ok(pong) if pong == "PONG"
    )
}

async fn wait_exit(child: &mut Child, within: Duration) -> Result<bool> {
    let deadline = Instant::now() + within;
    loop {
        if child.try_wait()?.is_some() {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The `id=` of every line of a `CLIENT LIST` reply.
fn parse_client_ids(list: &str) -> Vec<u64> {
    list.lines()
        .filter_map(|line| {
            line.split(' ')
                .find_map(|field| field.strip_prefix("id="))
                .and_then(|id| id.parse().ok())
        })
        .collect()
}

/// `INFO commandstats` as calls per lower-case command name.
fn parse_commandstats(info: &str) -> std::collections::HashMap<String, u64> {
    info.lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats
                .split(',')
                .find_map(|field| field.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commandstats() {
        let info = "# Commandstats\r\ncmdstat_hget:calls=12,usec=30,usec_per_call=2.50\r\n\
                    cmdstat_client|tracking:calls=2,usec=1\r\n";
        let calls = parse_commandstats(info);
        assert_eq!(calls.get("hget"), Some(&12));
        assert_eq!(calls.get("client|tracking"), Some(&2));
    }

    #[test]
    fn parses_client_list() {
        let list = "id=3 addr=127.0.0.1:5 laddr=x fd=8 name= age=1 sub=1\n\
                    id=17 addr=127.0.0.1:6 fd=9 name=gw sub=2\n";
        assert_eq!(parse_client_ids(list), vec![3, 17]);
    }
}
