//! One connection of the write-floor: its socket, the bytes of a request or frame not read
//! in full yet, and the frames that would have blocked, queued (bounded) until the socket
//! drains.
//!
//! A frame goes out with one `write` (std's, on a socket: `send(2)` with `MSG_NOSIGNAL`)
//! while nothing is queued for the socket; the queue is used only once the socket would
//! block, and then drained with `writev(2)` when epoll says it is writable. Queued frames are
//! the shared encoded bytes (a reference count, no copy).

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write as _};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use mio::net::TcpStream;

/// Frames queued for one client before it counts as too slow and is closed with 1013, as
/// the relay floor's queue.
pub const MAX_QUEUED: usize = 4096;

/// Most frames handed to one `writev`.
const WRITEV_FRAMES: usize = 64;

/// Where a connection is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Reading the HTTP upgrade request.
    Upgrading,
    /// A WebSocket client of `file` (a member of its room), connection number `id`.
    Open { file: Arc<str>, id: u32 },
    /// Out of its room, sending what is left (a close frame last), then dropped.
    Closing { since: Instant },
}

/// Why a frame could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The queue is full: the client reads slower than its file is written.
    Full,
    /// The socket failed (the peer is gone).
    Broken,
}

#[derive(Debug)]
pub struct Conn {
    pub stream: TcpStream,
    pub phase: Phase,
    /// Bytes read but not yet a whole request or frame: empty (unallocated) most of the time.
    pub partial: Vec<u8>,
    /// Frames (the first possibly part-written) waiting for the socket.
    queue: VecDeque<Bytes>,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            phase: Phase::Upgrading,
            partial: Vec::new(),
            queue: VecDeque::new(),
        }
    }

    pub fn is_closing(&self) -> bool {
        matches!(self.phase, Phase::Closing { .. })
    }

    /// Closing and everything sent: the socket can go.
    pub fn is_done(&self) -> bool {
        self.is_closing() && self.queue.is_empty()
    }

    /// Sends `frame`: written at once while nothing is queued, queued otherwise. Nothing is
    /// sent once the connection is closing.
    pub fn send(&mut self, frame: &Bytes) -> Result<(), Fault> {
        if self.is_closing() {
            return Ok(());
        }
        if !self.queue.is_empty() {
            if self.queue.len() >= MAX_QUEUED {
                return Err(Fault::Full);
            }
            self.queue.push_back(frame.clone());
            return Ok(());
        }
        loop {
            return match (&self.stream).write(frame) {
                Ok(n) if n == frame.len() => Ok(()),
                Ok(n) => {
                    self.queue.push_back(frame.slice(n..));
                    Ok(())
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.queue.push_back(frame.clone());
                    Ok(())
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => Err(Fault::Broken),
            };
        }
    }

    /// Writes queued frames until the socket would block or the queue is empty.
    pub fn flush(&mut self) -> Result<(), Fault> {
        while !self.queue.is_empty() {
            let mut slices = [IoSlice::new(&[]); WRITEV_FRAMES];
            let mut count = 0;
            for (slot, frame) in slices.iter_mut().zip(&self.queue) {
                *slot = IoSlice::new(frame);
                count += 1;
            }
            let mut written = match (&self.stream).write_vectored(&slices[..count]) {
                Ok(0) => return Err(Fault::Broken),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(Fault::Broken),
            };
            while let Some(front) = self.queue.front_mut() {
                if written < front.len() {
                    *front = front.slice(written..);
                    break;
                }
                written -= front.len();
                self.queue.pop_front();
            }
        }
        Ok(())
    }

    /// Starts closing with `frame` (a close frame) as the last thing sent: the frame being
    /// written stays, whatever is queued behind it is dropped (a slow consumer's backlog).
    pub fn close(&mut self, frame: Bytes) -> Result<(), Fault> {
        if self.is_closing() {
            return Ok(());
        }
        self.queue.truncate(1);
        self.queue.push_back(frame);
        self.phase = Phase::Closing {
            since: Instant::now(),
        };
        self.flush()
    }

    /// Frames waiting for the socket.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}
