//! A local redis-server child process, for running a gateway with no Redis configured.
//!
//! Append-only file on, data in a named folder, stopped (with a final fsync) on exit.

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};

pub struct EmbeddedRedis {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl EmbeddedRedis {
    /// Starts redis-server on a free loopback port and waits until it answers.
    pub async fn start(dir: Option<PathBuf>) -> anyhow::Result<EmbeddedRedis> {
        let dir = dir.unwrap_or_else(|| PathBuf::from("collab-redis-data"));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the redis data folder {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        let port = StdListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--appendonly", "yes", "--save", ""])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => anyhow::anyhow!(
                    "no Redis configured and `redis-server` is not on PATH.\n\
                     Install it (Debian/Ubuntu: `apt-get install redis-server`, macOS: `brew install redis`)\n\
                     or point the gateway at a Redis with --redis-url / COLLAB_REDIS_URL."
                ),
                _ => anyhow::Error::from(error).context("starting redis-server"),
            })?;
        let redis = EmbeddedRedis { child, port, dir };
        redis.wait_until_ready().await?;
        tracing::info!(port, dir = %redis.dir.display(), "started an embedded redis-server");
        Ok(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn wait_until_ready(&self) -> anyhow::Result<()> {
        let client = redis::Client::open(self.url())?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                let pong: redis::RedisResult<String> =
                    redis::cmd("PING").query_async(&mut conn).await;
                if pong.is_ok() {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("the embedded redis-server did not answer within 15 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asks redis-server to shut down (flushing the append-only file) and waits for it.
    pub async fn stop(mut self) {
        if let Ok(client) = redis::Client::open(self.url())
            && let Ok(mut conn) = client.get_multiplexed_async_connection().await
        {
            let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").query_async(&mut conn).await;
        }
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
