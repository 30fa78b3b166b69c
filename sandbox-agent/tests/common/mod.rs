//! Test harness: a real `collab-sandbox-agent` process on 127.0.0.2 (port 0) over a temp
//! root, a raw HTTP/1.1 client (so requests go out byte for byte, `..` and all) and a
//! change-feed subscriber.
//!
//! Every wait has a deadline; the agent's stderr is kept for assertions and printed when a
//! test fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::timeout;

pub const TOKEN: &str = "test-token-5f0c2a9e77d14b";
const READY_PREFIX: &str = "collab-sandbox-agent listening on ";
/// Deadline for anything a test waits for.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A running agent over its own temp directory (`dir/root` is served, `dir/outside` is not).
pub struct Agent {
    pub addr: String,
    pub dir: tempfile::TempDir,
    child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
}

/// A response, body as raw bytes.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn etag(&self) -> Option<&str> {
        self.header("etag")
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `"<hex sha256>"`, computed independently of the agent.
pub fn etag_of(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("\"{hex}\"")
}

impl Agent {
    /// Starts an agent with the token in `COLLAB_AGENT_TOKEN` and `extra` flags.
    pub async fn start(extra: &[&str]) -> Agent {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("root")).expect("root");
        std::fs::create_dir(dir.path().join("outside")).expect("outside");
        Agent::start_in(dir, extra, &[("COLLAB_AGENT_TOKEN", TOKEN)]).await
    }

    /// Starts an agent over `dir/root` with the given flags and environment.
    pub async fn start_in(dir: tempfile::TempDir, extra: &[&str], env: &[(&str, &str)]) -> Agent {
        let root = dir.path().join("root");
        let mut command = Command::new(env!("CARGO_BIN_EXE_collab-sandbox-agent"));
        command
            .arg("--root")
            .arg(&root)
            .args(["--listen", "127.0.0.2:0"])
            .args(extra)
            .env_remove("COLLAB_AGENT_TOKEN")
            .env("COLLAB_AGENT_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn collab-sandbox-agent");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let stdout = child.stdout.take().expect("stdout");
        keep_lines(stderr, Arc::clone(&log));
        let mut lines = BufReader::new(stdout).lines();
        let addr = timeout(DEADLINE, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(addr) = line.strip_prefix(READY_PREFIX) {
                    return Some(addr.to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        let Some(addr) = addr else {
            let log = log.lock().map(|l| l.join("\n")).unwrap_or_default();
            panic!("agent did not print its readiness line; stderr:\n{log}");
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Agent {
            addr,
            dir,
            child,
            log,
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn outside(&self) -> PathBuf {
        self.dir.path().join("outside")
    }

    /// Everything the agent wrote to stdout/stderr so far.
    pub fn logs(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Waits until the agent has logged a line containing `needle`; returns all output.
    pub async fn wait_log(&self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let logs = self.logs();
            if logs.contains(needle) {
                return logs;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the agent never logged {needle:?}:\n{logs}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A request with the right token.
    pub async fn req(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        let auth = format!("Bearer {TOKEN}");
        let mut all = vec![("Authorization", auth.as_str())];
        all.extend_from_slice(headers);
        http(&self.addr, method, path, &all, body).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.req("GET", &format!("/files/{path}"), &[], b"").await
    }

    /// PUT that creates (`If-None-Match: *`).
    pub async fn create(&self, path: &str, body: &[u8]) -> Resp {
        self.req(
            "PUT",
            &format!("/files/{path}"),
            &[("If-None-Match", "*")],
            body,
        )
        .await
    }

    /// PUT that replaces the version `etag`.
    pub async fn replace(&self, path: &str, etag: &str, body: &[u8]) -> Resp {
        self.req(
            "PUT",
            &format!("/files/{path}"),
            &[("If-Match", etag)],
            body,
        )
        .await
    }

    /// Subscribes to the change feed; returns once the subscription is live.
    pub async fn feed(&self) -> Feed {
        Feed::open(&self.addr).await
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

/// One HTTP/1.1 request on a fresh connection; reads the whole response.
pub async fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    timeout(DEADLINE, async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes()).await.expect("write head");
        stream.write_all(body).await.expect("write body");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read response");
        parse_response(&raw)
    })
    .await
    .expect("HTTP request within the deadline")
}

fn parse_response(raw: &[u8]) -> Resp {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
        rest = &rest[(eol + 4 + size).min(rest.len())..];
    }
    out
}

/// A change-feed subscriber: parsed `data:` JSON values, in order.
pub struct Feed {
    /// The response head (status line and headers), as received.
    pub head: String,
    events: mpsc::UnboundedReceiver<serde_json::Value>,
    pub comments: Arc<Mutex<Vec<String>>>,
}

impl Feed {
    async fn open(addr: &str) -> Feed {
        let mut stream = timeout(DEADLINE, TcpStream::connect(addr))
            .await
            .expect("deadline")
            .expect("connect");
        let head = format!(
            "GET /changes HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("write");
        let (tx, events) = mpsc::unbounded_channel();
        let comments = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready) = tokio::sync::oneshot::channel();
        let kept = Arc::clone(&comments);
        tokio::spawn(async move {
            let mut ready_tx = Some(ready_tx);
            let mut raw = Vec::new();
            let mut buf = [0u8; 8192];
            let mut body_start = None;
            let mut consumed = 0;
            let mut head = String::new();
            loop {
                let n = match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                raw.extend_from_slice(&buf[..n]);
                if body_start.is_none() {
                    body_start = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
                    if let Some(start) = body_start {
                        head = String::from_utf8_lossy(&raw[..start]).to_ascii_lowercase();
                    }
                }
                let Some(start) = body_start else { continue };
                let text = String::from_utf8_lossy(&dechunk(&raw[start..])).into_owned();
                // Events end with a blank line; handle each complete one once.
                while let Some(end) = text[consumed..].find("\n\n") {
                    let event = &text[consumed..consumed + end];
                    consumed += end + 2;
                    for line in event.lines() {
                        if let Some(data) = line.strip_prefix("data: ") {
                            let value = serde_json::from_str(data).expect("event data is JSON");
                            let _ = tx.send(value);
                        } else if let Some(comment) = line.strip_prefix(':') {
                            if let Ok(mut c) = kept.lock() {
                                c.push(comment.trim().to_owned());
                            }
                            if comment.trim() == "connected"
                                && let Some(ready) = ready_tx.take()
                            {
                                let _ = ready.send(head.clone());
                            }
                        }
                    }
                }
            }
        });
        let head = timeout(DEADLINE, ready)
            .await
            .expect("feed connected in time")
            .expect("feed open");
        Feed {
            head,
            events,
            comments,
        }
    }

    /// Waits (up to `wait`) for a comment line such as `ping`.
    pub async fn wait_comment(&self, comment: &str, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < deadline {
            if self
                .comments
                .lock()
                .is_ok_and(|c| c.iter().any(|x| x == comment))
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Next event, or `None` after `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<serde_json::Value> {
        timeout(wait, self.events.recv()).await.ok().flatten()
    }

    /// Every event up to and including the first one about `path`, which must come in time.
    pub async fn until_path(&mut self, path: &str) -> Vec<serde_json::Value> {
        let mut seen = Vec::new();
        loop {
            let Some(event) = self.next_within(DEADLINE).await else {
                panic!("no event for {path} within {DEADLINE:?}; got {seen:?}");
            };
            let hit = event["path"] == path;
            seen.push(event);
            if hit {
                return seen;
            }
        }
    }
}

/// Writes a file the way a plain editor does (truncate and write in place).
pub fn write_in_place(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("outside write");
}
