//! `collab-load write-floor`: the physical floor of delivery, what it costs a process to put
//! the same frames into the same sockets with nothing but non-blocking writes.
//!
//! It serves `ws://ADDR/doc/{file}` like the relay floor ([`crate::floor`]): the same
//! answer to sync step 1 (an empty step 2 and an empty step 1), every other frame relayed
//! raw to the other clients of the file, no document, no CRDT work, and the same limits
//! (a client whose queue of 4,096 frames fills up is closed with 1013). What differs is
//! the machinery: one thread runs an epoll loop ([`mio`]) over every socket; the upgrade
//! is parsed from the bytes read with tungstenite's helpers ([`handshake`]) and frames with
//! its header parser ([`wire`]), but no WebSocket object exists: each frame to relay is
//! encoded once (server frames are unmasked, so header and payload are the same bytes for
//! every recipient) and written with one non-blocking `write` per socket ([`conn`]),
//! queued only when the socket would block. So its CPU per delivery is what a relay cannot
//! go below on this machine: a syscall and a little bookkeeping.
//!
//! Two instances relay through Redis ([`bus`]), the simplest way that works: a publisher
//! thread pipelines `PUBLISH` and a subscriber thread pattern-subscribes to every
//! write-floor channel, so the cross-instance part costs what the relay floor's does (or
//! a little more: an instance hears the messages of files it has no clients of too). Like
//! the relay floor it **cannot give a late joiner the document** and nothing catches up
//! after a lost pub/sub message: a yardstick for the scenarios, not a server. Loopback
//! only.

pub mod bus;
pub mod conn;
pub mod handshake;
pub mod hub;
pub mod wire;

use std::io::{self, Read as _, Write as _};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

use self::bus::{Bus, BusEvent};
use self::conn::Conn;
use self::hub::{Consumed, Hub};
use crate::floor::loopback_redis;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// Connection `key` of the slab is `Token(key + FIRST_CONN)`.
const FIRST_CONN: usize = 2;

/// Bytes read per `read`; the buffer grows for a larger frame.
const READ_CHUNK: usize = 64 * 1024;

/// How long a closing connection may take to take its last bytes.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Flags of `collab-load write-floor`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to listen on (loopback only; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// Redis to relay through, e.g. redis://127.0.0.1:6391 (loopback only).
    #[arg(long, value_name = "URL")]
    pub redis_url: String,
}

/// Runs a write-floor until SIGTERM or SIGINT; prints `collab-write-floor listening on ADDR`
/// once it listens. The event loop has its own thread; this task only waits for signals.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let floor = WriteFloor::bind(args.listen, &args.redis_url)?;
    let mut stdout = std::io::stdout();
    writeln!(
        stdout,
        "collab-write-floor listening on {}",
        floor.local_addr()
    )
    .and_then(|()| stdout.flush())
    .context("writing the listening line")?;
    let (done, ended) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("write-floor".to_owned())
        .spawn(move || done.send(floor.serve()))
        .context("starting the event loop thread")?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        result = ended => result.context("the event loop thread panicked")?,
        _ = term.recv() => Ok(()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// A bound write-floor instance, not serving yet.
pub struct WriteFloor {
    poll: Poll,
    listener: TcpListener,
    hub: Hub,
}

impl WriteFloor {
    /// Binds `listen`, connects to Redis and subscribes (blocking).
    pub fn bind(listen: SocketAddr, redis_url: &str) -> anyhow::Result<WriteFloor> {
        if !listen.ip().is_loopback() {
            bail!("--listen {listen}: the write-floor only listens on loopback addresses");
        }
        let client = loopback_redis(redis_url)?;
        let poll = Poll::new().context("creating the epoll instance")?;
        let waker = Waker::new(poll.registry(), WAKER).context("creating the waker")?;
        let bus = Bus::connect(&client, waker)
            .with_context(|| format!("connecting to Redis at {redis_url}"))?;
        let mut listener =
            TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .context("registering the listener")?;
        let registry = poll
            .registry()
            .try_clone()
            .context("cloning the registry")?;
        Ok(WriteFloor {
            poll,
            listener,
            hub: Hub::new(bus, registry),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves until a Redis connection fails (then it returns the error: no reconnecting).
    pub fn serve(self) -> anyhow::Result<()> {
        let WriteFloor {
            mut poll,
            listener,
            mut hub,
        } = self;
        let mut events = Events::with_capacity(1024);
        let mut buf = vec![0u8; READ_CHUNK];
        let mut last_sweep = Instant::now();
        loop {
            match poll.poll(&mut events, Some(Duration::from_secs(1))) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("epoll_wait"),
            }
            for event in &events {
                match event.token() {
                    LISTENER => accept_all(&listener, &mut hub),
                    WAKER => from_bus(&mut hub)?,
                    Token(t) => {
                        let key = t - FIRST_CONN;
                        if !hub.conns.contains(key) {
                            continue;
                        }
                        if event.is_writable() {
                            hub.flush(key);
                        }
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            read_all(&mut hub, key, &mut buf)?;
                        }
                        hub.settle(Some(key));
                    }
                }
            }
            if last_sweep.elapsed() >= Duration::from_secs(1) {
                hub.sweep(CLOSE_GRACE);
                last_sweep = Instant::now();
            }
        }
    }
}

/// Accepts every pending connection.
fn accept_all(listener: &TcpListener, hub: &mut Hub) {
    loop {
        let (mut stream, _) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // Out of file descriptors, typically: the next readiness event retries.
                tracing::warn!("accept failed: {e}");
                return;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        let entry = hub.conns.vacant_entry();
        let token = Token(entry.key() + FIRST_CONN);
        let registered =
            hub.registry
                .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE);
        match registered {
            Ok(()) => {
                entry.insert(Conn::new(stream));
            }
            Err(e) => tracing::warn!("registering a connection: {e}"),
        }
    }
}

/// Delivers what the other instances published; an error when a Redis thread failed.
fn from_bus(hub: &mut Hub) -> anyhow::Result<()> {
    hub.bus.woken();
    while let Ok(event) = hub.bus.events.try_recv() {
        match event {
            BusEvent::Frame { file, frame } => {
                hub.deliver(&file, None, &frame);
                hub.settle(None);
            }
            BusEvent::Failed(why) => bail!("{why}"),
        }
    }
    Ok(())
}

/// Reads connection `key` until its socket would block (epoll is edge-triggered), handling
/// each whole request or frame as it comes; keeps an unfinished one with the connection.
fn read_all(hub: &mut Hub, key: usize, buf: &mut Vec<u8>) -> anyhow::Result<()> {
    let conn = &mut hub.conns[key];
    if conn.is_closing() {
        return Ok(());
    }
    let mut filled = conn.partial.len();
    if buf.len() < filled + READ_CHUNK {
        buf.resize(filled + READ_CHUNK, 0);
    }
    buf[..filled].copy_from_slice(&conn.partial);
    conn.partial = Vec::new();
    loop {
        let read = (&hub.conns[key].stream).read(&mut buf[filled..]);
        match read {
            Ok(0) => {
                hub.remove(key);
                return Ok(());
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                hub.remove(key);
                return Ok(());
            }
        }
        let (used, needed) = match hub.consume(key, &mut buf[..filled])? {
            Consumed::Upto { used, needed } => (used, needed),
            Consumed::Stop => return Ok(()),
        };
        buf.copy_within(used..filled, 0);
        filled -= used;
        let want = needed.unwrap_or(0).max(filled + READ_CHUNK / 4);
        if buf.len() < want {
            buf.resize(want, 0);
        }
    }
    if filled > 0
        && let Some(conn) = hub.conns.get_mut(key)
    {
        conn.partial = buf[..filled].to_vec();
    }
    Ok(())
}
