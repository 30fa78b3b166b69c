//! A relay in front of a sandbox's file agent that counts the file reads it answered, so a
//! test can act right after the gateway read a file (finish a save it caught half done).
//!
//! The gateway reaches the agent of a sandbox at `sandbox_ip:port`; give the sandbox the
//! tap's address instead (another loopback address, the agents' port) and the tap forwards
//! every connection to the agent. It sees `GET /files/` go up, and counts one read when the
//! agent's answer starts coming back (the agent has read the file by then: the ETag is in
//! the headers). The count is bumped before the answer is passed on, and while reads are
//! held ([`AgentTap::hold_reads`]) the answer waits until [`AgentTap::release_reads`]: the
//! gateway then gets what the agent read at that moment, whatever the test did since.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A relay to one agent; it stops when dropped.
pub struct AgentTap {
    reads: watch::Sender<u64>,
    /// Whether answers to file reads pass (false: held).
    open: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl AgentTap {
    /// Listens on `ip:port` and forwards to `agent` (`IP:PORT`).
    pub async fn start(ip: &str, port: u16, agent: &str) -> Result<AgentTap> {
        let listener = TcpListener::bind((ip, port))
            .await
            .with_context(|| format!("binding the tap on {ip}:{port}"))?;
        let reads = watch::channel(0).0;
        let open = watch::channel(true).0;
        let relay = Relay {
            agent: agent.to_owned(),
            reads: reads.clone(),
            open: open.clone(),
        };
        let accept = tokio::spawn(accept_loop(listener, relay));
        Ok(AgentTap {
            reads,
            open,
            accept,
        })
    }

    /// From now on, answers to file reads wait for [`AgentTap::release_reads`].
    pub fn hold_reads(&self) {
        self.open.send_replace(false);
    }

    /// Lets held answers (and later ones) through.
    pub fn release_reads(&self) {
        self.open.send_replace(true);
    }

    /// File reads the agent answered so far.
    pub fn reads(&self) -> u64 {
        *self.reads.borrow()
    }

    /// Awaits more than `seen` reads, within `deadline`.
    pub async fn read_after(&self, seen: u64, deadline: Duration) -> Result<u64> {
        let mut reads = self.reads.subscribe();
        let read = tokio::time::timeout(deadline, reads.wait_for(|n| *n > seen))
            .await
            .context("no file read through the tap in time")?
            .context("the tap stopped")?;
        Ok(*read)
    }
}

impl Drop for AgentTap {
    fn drop(&mut self) {
        self.release_reads();
        self.accept.abort();
    }
}

/// What every connection through the tap shares.
#[derive(Clone)]
struct Relay {
    agent: String,
    reads: watch::Sender<u64>,
    open: watch::Sender<bool>,
}

async fn accept_loop(listener: TcpListener, relay: Relay) {
    while let Ok((client, _)) = listener.accept().await {
        tokio::spawn(forward(client, relay.clone()));
    }
}

/// One connection, both ways, until either side closes.
async fn forward(client: TcpStream, relay: Relay) {
    let Ok(server) = TcpStream::connect(&relay.agent).await else {
        return;
    };
    let asked = Arc::new(AtomicBool::new(false));
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let up = {
        let asked = asked.clone();
        async move {
            let mut buf = vec![0u8; 64 << 10];
            while let Ok(n) = client_rx.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if buf[..n].windows(11).any(|w| w == b"GET /files/") {
                    asked.store(true, Ordering::SeqCst);
                }
                if server_tx.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 64 << 10];
        while let Ok(n) = server_rx.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if asked.swap(false, Ordering::SeqCst) {
                relay.reads.send_modify(|n| *n += 1);
                let mut open = relay.open.subscribe();
                if open.wait_for(|open| *open).await.is_err() {
                    break;
                }
            }
            if client_tx.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}
