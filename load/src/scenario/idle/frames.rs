//! The few WebSocket frames an idle connection handles itself, with no WebSocket library
//! state per connection: reading one frame, parsing a frame header, sending a binary frame
//! or a control frame (masked, as a client must), and [`FrameSkipper`], which follows the
//! server's frames after sync without keeping them, answering pings.

use anyhow::bail;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::shared::Shared;
use crate::stats::Stats;

/// Follows the server's frames after sync without keeping them: skips every payload but a
/// ping's, whose payload it hands back to be answered. Servers that ping (Hocuspocus, the
/// reference y-websocket server) end sessions that do not answer within 30 to 60 s.
#[derive(Default)]
pub(super) struct FrameSkipper {
    /// Header bytes of the next frame (at most 14: 2, 8 of length, 4 of mask).
    header: [u8; 14],
    have: usize,
    /// Payload bytes of the current frame still to come.
    left: usize,
    in_payload: bool,
    /// The payload of the ping being read.
    ping: Option<Vec<u8>>,
}

impl FrameSkipper {
    /// Consumes `data`; pushes the payload of every ping completed in it onto `pings`.
    pub(super) fn feed(&mut self, mut data: &[u8], pings: &mut Vec<Vec<u8>>) {
        while !data.is_empty() {
            if self.in_payload {
                let n = self.left.min(data.len());
                if let Some(ping) = &mut self.ping {
                    ping.extend_from_slice(&data[..n]);
                }
                self.left -= n;
                data = &data[n..];
            } else {
                self.header[self.have] = data[0];
                self.have += 1;
                data = &data[1..];
                match parse_header(&self.header[..self.have]) {
                    Some((opcode, start, len)) if self.have >= start => {
                        self.have = 0;
                        self.in_payload = true;
                        self.left = len;
                        // Control frames carry at most 125 bytes; never buffer more.
                        self.ping = (opcode == 0x9 && len < 126).then(|| Vec::with_capacity(len));
                    }
                    _ if self.have == self.header.len() => self.have = 0,
                    _ => {}
                }
            }
            if self.in_payload && self.left == 0 {
                self.in_payload = false;
                pings.extend(self.ping.take());
            }
        }
    }
}

/// Reads one complete (unfragmented) frame; `buf` holds bytes read past earlier frames.
pub(super) async fn read_frame(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> anyhow::Result<(u8, Vec<u8>)> {
    loop {
        if let Some((opcode, start, len)) = parse_header(buf)
            && buf.len() >= start + len
        {
            let payload = buf[start..start + len].to_vec();
            buf.drain(..start + len);
            return Ok((opcode, payload));
        }
        let mut chunk = [0u8; 4096];
        let k = s.read(&mut chunk).await?;
        if k == 0 {
            bail!("closed during sync");
        }
        buf.extend_from_slice(&chunk[..k]);
    }
}

/// Opcode, payload offset and payload length of the frame at the start of `b` (server
/// frames are unmasked).
pub(super) fn parse_header(b: &[u8]) -> Option<(u8, usize, usize)> {
    if b.len() < 2 {
        return None;
    }
    let opcode = b[0] & 0x0f;
    let len7 = (b[1] & 0x7f) as usize;
    let masked = b[1] & 0x80 != 0;
    let (len, mut at) = match len7 {
        126 => (
            u16::from_be_bytes(b.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            usize::try_from(u64::from_be_bytes(b.get(2..10)?.try_into().ok()?)).ok()?,
            10,
        ),
        l => (l, 2),
    };
    if masked {
        at += 4;
    }
    Some((opcode, at, len))
}

pub(super) async fn send_frame(
    shared: &Shared,
    s: &mut TcpStream,
    payload: &[u8],
) -> anyhow::Result<()> {
    send_control(s, 0x2, payload).await?;
    Stats::add(&shared.stats.frames_sent, 1);
    Stats::add(&shared.stats.bytes_sent, payload.len() as u64);
    Ok(())
}

/// Sends one final, masked client frame (payloads under 126 bytes only).
pub(super) async fn send_control(
    s: &mut TcpStream,
    opcode: u8,
    payload: &[u8],
) -> anyhow::Result<()> {
    if payload.len() >= 126 {
        bail!("frame too long for the idle client");
    }
    let mask: [u8; 4] = rand::random();
    let mut frame = Vec::with_capacity(6 + payload.len());
    frame.push(0x80 | opcode);
    frame.push(0x80 | payload.len() as u8);
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    s.write_all(&frame).await?;
    Ok(())
}
