//! A `collab-gateway` child process for one test.
//!
//! [`Gateway::start`] spawns the binary with `--listen 127.0.0.1:0 --redis-url URL` plus any
//! extra flags and waits for its readiness line on stdout (`collab-gateway listening on
//! 127.0.0.1:PORT`). Tests that are not about access control need no tokens: unless the
//! flags name an `--auth` mode, the gateway gets `--auth none`. Its stderr goes to the test
//! output, each line prefixed `[gw PORT]`: the last lines are printed when a test fails
//! (from `Drop` while panicking, on the test's own thread, so libtest shows them with the
//! failure and keeps passing tests quiet), and every line as it comes with
//! `COLLAB_GATEWAY_LOG=1`. [`Gateway::stderr_tail`] returns them too;
//! [`Gateway::start_with_env`] also sets environment variables (such as `COLLAB_LOG=debug`)
//! and keeps every line, for [`Gateway::all_output`]. The process is killed when the value
//! is dropped.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::process::signal;

/// How long a gateway may take to print its readiness line.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// How many stderr lines [`Gateway::stderr_tail`] keeps.
const TAIL_LINES: usize = 200;
const READY_PREFIX: &str = "collab-gateway listening on ";

/// What [`Gateway::http`] got back.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// The first header of that name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A running gateway process.
pub struct Gateway {
    redis_url: String,
    extra_args: Vec<String>,
    env: Vec<(String, String)>,
    addr: String,
    child: Option<Child>,
    stderr: Output,
}

/// What a gateway printed: the last lines, and every line when asked for.
#[derive(Clone, Default)]
struct Output {
    tail: Arc<Mutex<VecDeque<String>>>,
    all: Option<Arc<Mutex<Vec<String>>>>,
}

impl Gateway {
    /// Starts a gateway on a free port, connected to `redis_url`, and waits until it serves.
    /// Without an `--auth` flag in `extra_args` it runs with `--auth none`.
    pub async fn start(redis_url: &str, extra_args: &[&str]) -> Result<Gateway> {
        Gateway::launch(redis_url, extra_args, &[], false).await
    }

    /// Starts a gateway on `cluster` (`--redis-cluster`, every node a seed), keeping every
    /// line it prints for [`Gateway::all_output`] (a failover floods the tail with the
    /// cluster client's reconnection warnings).
    pub async fn start_on_cluster(
        cluster: &crate::cluster::RedisCluster,
        extra_args: &[&str],
    ) -> Result<Gateway> {
        let mut args = vec!["--redis-cluster"];
        args.extend_from_slice(extra_args);
        Gateway::launch(&cluster.seeds(), &args, &[], true).await
    }

    /// Like [`Gateway::start`], with environment variables for the process (such as
    /// `("COLLAB_LOG", "debug")`), and keeping every line it prints for
    /// [`Gateway::all_output`].
    pub async fn start_with_env(
        redis_url: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Gateway> {
        Gateway::launch(redis_url, extra_args, env, true).await
    }

    async fn launch(
        redis_url: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
        keep_all: bool,
    ) -> Result<Gateway> {
        let mut args: Vec<String> = extra_args.iter().map(|s| s.to_string()).collect();
        let names_auth = args
            .iter()
            .any(|arg| arg == "--auth" || arg.starts_with("--auth="));
        if !names_auth {
            args.extend(["--auth".to_owned(), "none".to_owned()]);
        }
        let mut gateway = Gateway {
            redis_url: redis_url.to_owned(),
            extra_args: args,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            addr: "127.0.0.1:0".to_owned(),
            child: None,
            stderr: Output {
                tail: Arc::default(),
                all: keep_all.then(Arc::default),
            },
        };
        gateway.spawn().await?;
        Ok(gateway)
    }

    /// `127.0.0.1:PORT` the gateway listens on.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The WebSocket URL of `file` on this gateway (`ws://ADDR/doc/FILE`). `file` goes into
    /// the path as given: percent-encode what needs it.
    pub fn ws_url(&self, file: &str) -> String {
        format!("ws://{}/doc/{}", self.addr, file)
    }

    /// [`Gateway::ws_url`] with `?token=TOKEN` (as y-websocket's `params: { token }`
    /// sends it; test tokens are URL-safe as they are).
    pub fn ws_url_with_token(&self, file: &str, token: &str) -> String {
        format!("{}?token={token}", self.ws_url(file))
    }

    /// The status code of `GET /readyz` (200 when Redis is reachable and the subscription
    /// live, else 503), or `None` when the gateway does not answer.
    pub async fn readyz(&self) -> Option<u16> {
        self.http_get("/readyz").await.map(|(status, _)| status)
    }

    /// The Prometheus text of `GET /metrics` (`collab_tests::prometheus` reads it).
    pub async fn metrics(&self) -> Result<String> {
        match self.http_get("/metrics").await {
            Some((200, body)) => Ok(body),
            Some((status, body)) => bail!("GET /metrics on {}: {status} {body}", self.addr),
            None => bail!("GET /metrics on {}: no answer", self.addr),
        }
    }

    /// `GET path` over HTTP/1.1: the status code and the body, or `None` when the gateway
    /// does not answer within 5 s.
    pub async fn http_get(&self, path: &str) -> Option<(u16, String)> {
        let response = self.http("GET", path, &[], None).await?;
        Some((response.status, response.body))
    }

    /// One HTTP/1.1 request (`Connection: close`) with extra `headers` and, when given, a
    /// JSON `body`; `None` when the gateway does not answer within 5 s. Bodies are read as
    /// sent with a `Content-Length` (not chunked), which is how the gateway answers.
    pub async fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Option<HttpResponse> {
        let mut stream = tokio::net::TcpStream::connect(&self.addr).await.ok()?;
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = body.unwrap_or("");
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            request.push_str("Content-Type: application/json\r\n");
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
            .await
            .ok()?
            .ok()?;
        let response = String::from_utf8_lossy(&response);
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        Some(HttpResponse {
            status,
            headers,
            body: body.to_owned(),
        })
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// Kills the process with SIGKILL (no goodbye to Redis or clients) and reaps it.
    pub async fn kill9(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await.context("kill -9 of the gateway")?;
        }
        Ok(())
    }

    /// Sends SIGTERM and waits up to 20 s for the process to exit (then SIGKILL and an error).
    pub async fn terminate(&mut self) -> Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("gateway {} is not running", self.addr);
        };
        if let Some(pid) = child.id() {
            signal(pid, "TERM");
        }
        match tokio::time::timeout(Duration::from_secs(20), child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                let _ = child.kill().await;
                bail!(
                    "gateway {} did not exit within 20 s of SIGTERM; stderr:\n{}",
                    self.addr,
                    self.stderr_tail()
                )
            }
        }
    }

    /// Starts the gateway again (after [`Gateway::kill9`] or [`Gateway::terminate`], or
    /// killing it first if it still runs) on the same port, with the same flags.
    pub async fn restart(&mut self) -> Result<()> {
        self.kill9().await?;
        self.spawn().await
    }

    /// The last stderr lines of this gateway (all of its runs), for failure messages.
    pub fn stderr_tail(&self) -> String {
        let lines = self.stderr.tail.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Every line this gateway printed on stderr and stdout, in all of its runs, when it
    /// was started with [`Gateway::start_with_env`]; else the last lines.
    pub fn all_output(&self) -> Vec<String> {
        match &self.stderr.all {
            Some(all) => all.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            None => {
                let tail = self.stderr.tail.lock().unwrap_or_else(|e| e.into_inner());
                tail.iter().cloned().collect()
            }
        }
    }

    async fn spawn(&mut self) -> Result<()> {
        let binary = gateway_binary();
        let mut child = Command::new(&binary)
            .args(["--listen", &self.addr, "--redis-url", &self.redis_url])
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {}", binary.display()))?;
        let stdout = child.stdout.take().context("gateway stdout")?;
        let stderr = child.stderr.take().context("gateway stderr")?;
        let label = Arc::new(Mutex::new(String::from("gw ?")));
        forward_stderr(stderr, self.stderr.clone(), label.clone());

        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(READY_DEADLINE, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(addr) = line.trim().strip_prefix(READY_PREFIX) {
                    return Ok::<_, std::io::Error>(Some(addr.to_owned()));
                }
                tail_push(&self.stderr, format!("[gw stdout] {line}"));
            }
            Ok(None)
        })
        .await;
        let addr = match ready {
            Ok(Ok(Some(addr))) => addr,
            Ok(Ok(None)) | Ok(Err(_)) => {
                let status = child.wait().await.ok();
                bail!(
                    "gateway exited before it was ready (status {status:?}); stderr:\n{}",
                    self.stderr_tail()
                );
            }
            Err(_) => {
                let _ = child.kill().await;
                bail!(
                    "gateway printed no readiness line within {READY_DEADLINE:?}; stderr:\n{}",
                    self.stderr_tail()
                );
            }
        };
        *label.lock().unwrap_or_else(|e| e.into_inner()) = format!("gw {addr}");
        // Keep draining stdout so the gateway never blocks on a full pipe.
        let tail = self.stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                tail_push(&tail, format!("[gw stdout] {line}"));
            }
        });
        self.addr = addr;
        self.child = Some(child);
        Ok(())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- last stderr lines of gateway {} ----\n{}",
                self.addr,
                self.stderr_tail()
            );
        }
    }
}

fn forward_stderr(stderr: tokio::process::ChildStderr, tail: Output, label: Arc<Mutex<String>>) {
    let live = std::env::var_os("COLLAB_GATEWAY_LOG").is_some_and(|v| v != "0");
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let label = label.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if live {
                eprintln!("[{label}] {line}");
            }
            tail_push(&tail, format!("[{label}] {line}"));
        }
    });
}

fn tail_push(output: &Output, line: String) {
    if let Some(all) = &output.all {
        all.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line.clone());
    }
    let mut tail = output.tail.lock().unwrap_or_else(|e| e.into_inner());
    if tail.len() == TAIL_LINES {
        tail.pop_front();
    }
    tail.push_back(line);
}

/// `$COLLAB_GATEWAY_BIN`, else `target/<profile>/collab-gateway` next to this test binary
/// (`target/<profile>/deps/<test>`).
pub fn gateway_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("COLLAB_GATEWAY_BIN") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "COLLAB_GATEWAY_BIN={} is not a file",
            path.display()
        );
        return path;
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let candidates = exe
        .ancestors()
        .skip(1)
        .take(3)
        .map(|dir| dir.join("collab-gateway"))
        .collect::<Vec<_>>();
    match candidates.iter().find(|p| p.is_file()) {
        Some(path) => path.clone(),
        None => panic!(
            "collab-gateway binary not found (looked at {candidates:?}): run \
             `cargo build -p collab-server` first, or set COLLAB_GATEWAY_BIN"
        ),
    }
}
