//! What the write-floor's event loop acts on: the connections, the rooms (the connections
//! of each file) and the bus to the other instances; what a connection's bytes mean
//! (upgrade request, then frames) and where each frame goes.
//!
//! A client frame is encoded once as a server frame and that one buffer is written to each
//! other client of the file, then published for the other instances. Faults found while
//! writing to a room (a full queue, a broken socket) are only noted, and acted on by
//! [`Hub::settle`] after the room's loop, which is when connections may leave rooms.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use mio::Registry;
use slab::Slab;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};

use super::bus::{self, Bus};
use super::conn::{Conn, Fault, Phase};
use super::handshake::{Upgrade, upgrade};
use super::wire::{self, Parsed};
use crate::floor::{EMPTY_STEP1, EMPTY_STEP2};

/// The local clients of one file.
struct Room {
    members: Vec<usize>,
    channel: Arc<str>,
}

/// What is left of a connection's bytes after [`Hub::consume`].
#[derive(Debug, PartialEq, Eq)]
pub enum Consumed {
    /// The first `used` bytes were handled; the rest is the start of a request or frame
    /// whose whole size is `needed`, when known.
    Upto { used: usize, needed: Option<usize> },
    /// Stop reading this connection: it is closing or broken.
    Stop,
}

pub struct Hub {
    pub conns: Slab<Conn>,
    rooms: HashMap<Arc<str>, Room>,
    pub bus: Bus,
    /// For registering new sockets and deregistering dropped ones.
    pub registry: Registry,
    /// Answer to a sync step 1: an empty step 2 and an empty step 1, as the relay floor's.
    sync_reply: Bytes,
    next_id: u32,
    overflowed: Vec<usize>,
    broken: Vec<usize>,
}

impl Hub {
    pub fn new(bus: Bus, registry: Registry) -> Hub {
        let mut sync_reply = wire::binary(EMPTY_STEP2).to_vec();
        sync_reply.extend_from_slice(&wire::binary(EMPTY_STEP1));
        Hub {
            conns: Slab::new(),
            rooms: HashMap::new(),
            bus,
            registry,
            sync_reply: Bytes::from(sync_reply),
            next_id: 1,
            overflowed: Vec::new(),
            broken: Vec::new(),
        }
    }

    /// Handles the whole requests and frames at the start of connection `key`'s `bytes`.
    pub fn consume(&mut self, key: usize, bytes: &mut [u8]) -> anyhow::Result<Consumed> {
        let mut used = 0;
        if self.conns[key].phase == Phase::Upgrading {
            match upgrade(bytes) {
                Upgrade::Incomplete => return Ok(Consumed::Upto { used, needed: None }),
                Upgrade::Refused { response } => {
                    self.close(key, Bytes::from(response));
                    return Ok(Consumed::Stop);
                }
                Upgrade::Accepted {
                    file,
                    response,
                    consumed,
                } => {
                    self.write(key, &Bytes::from(response));
                    self.join(key, &file);
                    used = consumed;
                }
            }
        }
        while used < bytes.len() {
            let (opcode, is_final, payload, size) = match wire::parse(&mut bytes[used..]) {
                Parsed::Incomplete { needed } => return Ok(Consumed::Upto { used, needed }),
                Parsed::Invalid(code, why) => {
                    self.close(key, wire::close(code, why));
                    return Ok(Consumed::Stop);
                }
                Parsed::Frame {
                    opcode,
                    is_final,
                    payload,
                    size,
                } => (opcode, is_final, payload, size),
            };
            used += size;
            if !self.on_frame(key, opcode, is_final, payload)? {
                return Ok(Consumed::Stop);
            }
        }
        Ok(Consumed::Upto { used, needed: None })
    }

    /// One client frame; false when the connection should not be read any more.
    fn on_frame(
        &mut self,
        key: usize,
        opcode: OpCode,
        is_final: bool,
        payload: &[u8],
    ) -> anyhow::Result<bool> {
        let reply = match opcode {
            _ if !is_final => {
                let frame = wire::close(CloseCode::Unsupported, "fragmented messages");
                self.close(key, frame);
                return Ok(false);
            }
            OpCode::Data(Data::Binary) if payload.starts_with(&EMPTY_STEP1[..2]) => {
                // Sync step 1: "synced" with an empty doc, and ask for theirs.
                self.sync_reply.clone()
            }
            OpCode::Data(Data::Binary) => {
                self.relay(key, payload)?;
                return Ok(true);
            }
            OpCode::Control(Control::Ping) => wire::encode(OpCode::Control(Control::Pong), payload),
            OpCode::Control(Control::Close) => {
                // Echo the code, then close once it is sent.
                let code = &payload[..payload.len().min(2)];
                self.close(key, wire::encode(OpCode::Control(Control::Close), code));
                return Ok(false);
            }
            OpCode::Data(Data::Continue) => {
                let frame = wire::close(CloseCode::Protocol, "continuation without a start");
                self.close(key, frame);
                return Ok(false);
            }
            _ => return Ok(true), // text, pong, reserved: nothing to relay
        };
        self.write(key, &reply);
        Ok(!self.broken.contains(&key))
    }

    /// Connection `key`'s frame to the other local clients of its file and to Redis.
    fn relay(&mut self, key: usize, payload: &[u8]) -> anyhow::Result<()> {
        let Phase::Open { file, id } = &self.conns[key].phase else {
            return Ok(());
        };
        let (file, id) = (file.clone(), *id);
        let frame = wire::binary(payload);
        self.deliver(&file, Some(key), &frame);
        match self.rooms.get(&*file) {
            Some(room) => self.bus.publish(&room.channel, id, payload),
            None => Ok(()),
        }
    }

    /// `frame` (encoded) to every local client of `file` but `except`.
    pub fn deliver(&mut self, file: &str, except: Option<usize>, frame: &Bytes) {
        let Some(room) = self.rooms.get(file) else {
            return;
        };
        for &member in &room.members {
            if Some(member) == except {
                continue;
            }
            match self.conns[member].send(frame) {
                Ok(()) => {}
                Err(Fault::Full) => self.overflowed.push(member),
                Err(Fault::Broken) => self.broken.push(member),
            }
        }
    }

    /// One frame to one connection, its faults noted.
    fn write(&mut self, key: usize, frame: &Bytes) {
        match self.conns[key].send(frame) {
            Ok(()) => {}
            Err(Fault::Full) => self.overflowed.push(key),
            Err(Fault::Broken) => self.broken.push(key),
        }
    }

    /// Writes what is queued for `key` (epoll said it is writable).
    pub fn flush(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key)
            && conn.flush().is_err()
        {
            self.broken.push(key);
        }
    }

    /// A new connection, upgrading; returns its key.
    pub fn accept(&mut self, conn: Conn) -> usize {
        self.conns.insert(conn)
    }

    fn join(&mut self, key: usize, file: &str) {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let room = match self.rooms.get_key_value(file) {
            Some((name, _)) => name.clone(),
            None => {
                let name: Arc<str> = file.into();
                let room = Room {
                    members: Vec::new(),
                    channel: bus::channel(file),
                };
                self.rooms.insert(name.clone(), room);
                name
            }
        };
        if let Some(r) = self.rooms.get_mut(&room) {
            r.members.push(key);
        }
        self.conns[key].phase = Phase::Open { file: room, id };
    }

    /// Takes connection `key` out of its room (the room goes with its last member).
    fn leave(&mut self, key: usize) {
        let Some(Phase::Open { file, .. }) = self.conns.get(key).map(|c| &c.phase) else {
            return;
        };
        let file = file.clone();
        if let Some(room) = self.rooms.get_mut(&file) {
            room.members.retain(|m| *m != key);
            if room.members.is_empty() {
                self.rooms.remove(&file);
            }
        }
    }

    /// Leaves the room and sends `frame` last; the connection goes once it is sent.
    fn close(&mut self, key: usize, frame: Bytes) {
        self.leave(key);
        if let Some(conn) = self.conns.get_mut(key)
            && conn.close(frame).is_err()
        {
            self.broken.push(key);
        }
    }

    /// Acts on the faults noted since the last call: a full queue closes its client with
    /// 1013, a broken socket drops it; and drops `key` if it has sent everything it had to
    /// before closing.
    pub fn settle(&mut self, key: Option<usize>) {
        for k in std::mem::take(&mut self.overflowed) {
            self.close(k, wire::close(CloseCode::Again, "slow consumer"));
            self.drop_if_done(k);
        }
        for k in std::mem::take(&mut self.broken) {
            self.remove(k);
        }
        if let Some(k) = key {
            self.drop_if_done(k);
        }
    }

    fn drop_if_done(&mut self, key: usize) {
        if self.conns.get(key).is_some_and(Conn::is_done) {
            self.remove(key);
        }
    }

    /// Drops connection `key` (a no-op if it is gone already).
    pub fn remove(&mut self, key: usize) {
        self.leave(key);
        if let Some(mut conn) = self.conns.try_remove(key) {
            let _ = self.registry.deregister(&mut conn.stream);
        }
    }

    /// Connections that have been closing longer than `grace` (their client stopped
    /// reading): dropped.
    pub fn sweep(&mut self, grace: std::time::Duration) {
        let stale: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| matches!(c.phase, Phase::Closing { since } if since.elapsed() > grace))
            .map(|(k, _)| k)
            .collect();
        for k in stale {
            self.remove(k);
        }
    }
}
