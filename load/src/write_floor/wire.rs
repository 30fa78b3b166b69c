//! WebSocket framing for the write-floor, with tungstenite's frame-header code and no
//! WebSocket connection type: a client frame is parsed from the read buffer and unmasked in
//! place; a server frame (unmasked, RFC 6455 5.1) is encoded once, header and payload in one
//! buffer, so the same bytes go to every recipient.

use std::io::Cursor;

use bytes::Bytes;
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};

/// Largest frame a client may send, as the relay floor's `max_message_size`.
pub const MAX_FRAME: u64 = 64 << 20;

/// What the start of a read buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// Not a whole frame yet; `needed` is its total size once the header is complete.
    Incomplete { needed: Option<usize> },
    /// A whole frame of `size` bytes (header included), its payload unmasked.
    Frame {
        opcode: OpCode,
        is_final: bool,
        payload: &'a [u8],
        size: usize,
    },
    /// A frame the write-floor refuses: close with this code and reason.
    Invalid(CloseCode, &'static str),
}

/// Parses the frame at the start of `buf`, unmasking its payload in place.
pub fn parse(buf: &mut [u8]) -> Parsed<'_> {
    let mut cursor = Cursor::new(&*buf);
    let (header, length) = match FrameHeader::parse(&mut cursor) {
        Ok(None) => return Parsed::Incomplete { needed: None },
        Ok(Some(parsed)) => parsed,
        Err(_) => return Parsed::Invalid(CloseCode::Protocol, "bad frame header"),
    };
    let start = cursor.position() as usize;
    if length > MAX_FRAME {
        return Parsed::Invalid(CloseCode::Size, "frame too large");
    }
    let size = start + length as usize;
    if buf.len() < size {
        return Parsed::Incomplete { needed: Some(size) };
    }
    if header.rsv1 || header.rsv2 || header.rsv3 {
        return Parsed::Invalid(CloseCode::Protocol, "reserved bits set");
    }
    let Some(mask) = header.mask else {
        return Parsed::Invalid(CloseCode::Protocol, "client frames must be masked");
    };
    let payload = &mut buf[start..size];
    for (k, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[k & 3];
    }
    Parsed::Frame {
        opcode: header.opcode,
        is_final: header.is_final,
        payload,
        size,
    }
}

/// One whole server frame: header and payload in one buffer.
pub fn encode(opcode: OpCode, payload: &[u8]) -> Bytes {
    let header = FrameHeader {
        is_final: true,
        opcode,
        mask: None,
        ..FrameHeader::default()
    };
    let length = payload.len() as u64;
    let mut frame = Vec::with_capacity(header.len(length) + payload.len());
    // Formatting into a Vec cannot fail: a Vec takes every write.
    let _ = header.format(length, &mut frame);
    frame.extend_from_slice(payload);
    Bytes::from(frame)
}

/// A binary frame carrying `payload`.
pub fn binary(payload: &[u8]) -> Bytes {
    encode(OpCode::Data(Data::Binary), payload)
}

/// A close frame with `code` and `reason`.
pub fn close(code: CloseCode, reason: &str) -> Bytes {
    let mut payload = u16::from(code).to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    encode(OpCode::Control(Control::Close), &payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame as a browser sends it: masked with `mask`.
    fn masked(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(k, b)| b ^ mask[k & 3]));
        frame
    }

    #[test]
    fn client_frames_are_unmasked_in_place() {
        for len in [0, 5, 125, 126, 70_000] {
            let payload: Vec<u8> = (0..len).map(|k| (k % 251) as u8).collect();
            let mut buf = masked(2, &payload, [1, 2, 3, 4]);
            let total = buf.len();
            buf.extend_from_slice(&[0x82]); // the start of the next frame
            match parse(&mut buf) {
                Parsed::Frame {
                    opcode,
                    is_final,
                    payload: got,
                    size,
                } => {
                    assert_eq!(opcode, OpCode::Data(Data::Binary));
                    assert!(is_final);
                    assert_eq!(got, payload.as_slice(), "length {len}");
                    assert_eq!(size, total);
                }
                other => panic!("length {len}: {other:?}"),
            }
        }
    }

    #[test]
    fn partial_and_bad_frames() {
        let frame = masked(2, &[9; 300], [7, 7, 7, 7]);
        assert_eq!(
            parse(&mut frame[..1].to_vec()),
            Parsed::Incomplete { needed: None }
        );
        assert_eq!(
            parse(&mut frame[..100].to_vec()),
            Parsed::Incomplete {
                needed: Some(frame.len())
            }
        );
        // A server-style (unmasked) frame from a client is a protocol error.
        let mut unmasked = binary(b"hi").to_vec();
        assert_eq!(
            parse(&mut unmasked),
            Parsed::Invalid(CloseCode::Protocol, "client frames must be masked")
        );
        let mut huge = vec![0x82, 0x80 | 127];
        huge.extend_from_slice(&(MAX_FRAME + 1).to_be_bytes());
        huge.extend_from_slice(&[0; 4]);
        assert!(matches!(
            parse(&mut huge),
            Parsed::Invalid(CloseCode::Size, _)
        ));
    }

    #[test]
    fn server_frames_are_header_and_payload() {
        assert_eq!(&binary(&[0, 0, 1, 0])[..], [0x82, 4, 0, 0, 1, 0]);
        let long = binary(&[5; 200]);
        assert_eq!(&long[..4], [0x82, 126, 0, 200]);
        assert_eq!(long.len(), 204);
        assert_eq!(
            &close(CloseCode::Again, "slow")[..],
            [0x88, 6, 0x03, 0xf5, b's', b'l', b'o', b'w']
        );
    }
}
