//! A TCP proxy in front of Redis that a test can move to another server, and that can
//! swallow what Redis sends to subscription connections.
//!
//! A failover in a test: the gateway talks to the proxy's port; [`Proxy::move_to`] cuts
//! every connection through it and sends new ones to another server (the promoted
//! replica), as a virtual address moved by an operator's failover would.
//! [`Proxy::mute_subscribers`] drops what the server sends on connections that subscribed
//! (the proxy sees `SUBSCRIBE` go by), while commands on other connections are answered:
//! the gateway's append is acknowledged and its echo lost, as when a master dies between
//! the two.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What every connection through the proxy reads.
struct Shared {
    target: AtomicU16,
    mute: AtomicBool,
    /// Bumped by a move: connections of an older generation are cut.
    cut: watch::Sender<u64>,
}

/// A loopback TCP proxy; it stops when dropped.
pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:target`.
    pub async fn start(target: u16) -> Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the proxy")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            target: AtomicU16::new(target),
            mute: AtomicBool::new(false),
            cut: watch::channel(0).0,
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Proxy {
            port,
            shared,
            accept,
        })
    }

    /// `redis://127.0.0.1:PORT` of the proxy.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Cuts every connection; new ones go to `127.0.0.1:target`.
    pub fn move_to(&self, target: u16) {
        self.shared.target.store(target, Ordering::SeqCst);
        self.shared.cut.send_modify(|generation| *generation += 1);
    }

    /// Whether what the server sends to subscribed connections is dropped.
    pub fn mute_subscribers(&self, mute: bool) {
        self.shared.mute.store(mute, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.shared.cut.send_modify(|generation| *generation += 1);
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((client, _)) = listener.accept().await {
        tokio::spawn(forward(client, shared.clone()));
    }
}

/// One connection: both directions until either side closes or a move cuts it.
async fn forward(client: TcpStream, shared: Arc<Shared>) {
    let mut cut = shared.cut.subscribe();
    cut.mark_unchanged();
    let target = shared.target.load(Ordering::SeqCst);
    let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
        return;
    };
    let subscribed = Arc::new(AtomicBool::new(false));
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let up = {
        let subscribed = subscribed.clone();
        async move {
            let mut buf = vec![0u8; 64 << 10];
            while let Ok(n) = client_rx.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if buf[..n]
                    .windows(9)
                    .any(|w| w.eq_ignore_ascii_case(b"SUBSCRIBE"))
                {
                    subscribed.store(true, Ordering::SeqCst);
                }
                if server_tx.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    };
    let down = {
        let shared = shared.clone();
        async move {
            let mut buf = vec![0u8; 64 << 10];
            while let Ok(n) = server_rx.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if subscribed.load(Ordering::SeqCst) && shared.mute.load(Ordering::SeqCst) {
                    continue;
                }
                if client_tx.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    };
    tokio::select! {
        () = up => {}
        () = down => {}
        _ = cut.changed() => {}
    }
}
