//! The y-websocket message codec: one message per binary WebSocket frame.
//!
//! ```text
//! msg      := varUint(type) body
//! type 0   Sync       varUint(0 step1 | 1 step2 | 2 update) varUint8Array(payload)
//! type 1   Awareness  varUint8Array(awareness update)
//! type 2   Auth       varUint(0) varString(reason)
//! type 3   QueryAwareness
//! type 100 Extension  varString(json)
//! ```
//!
//! `yrs::sync::Message::decode` is lenient (it ignores trailing bytes and accepts awareness
//! states that are not JSON), so frames are decoded here with yrs's lib0 reader and checked
//! to the last byte. Update payloads stay opaque: the room validates them by applying them.

use std::collections::HashMap;
use thiserror::Error;
use yrs::encoding::read::{self, Cursor, Read};
use yrs::encoding::write::Write;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, SyncMessage};
use yrs::updates::encoder::{Encode, Encoder, EncoderV1};
use yrs::{ClientID, StateVector};

use crate::extension::Extension;

pub const MSG_SYNC: u64 = 0;
pub const MSG_AWARENESS: u64 = 1;
pub const MSG_AUTH: u64 = 2;
pub const MSG_QUERY_AWARENESS: u64 = 3;
pub const MSG_EXTENSION: u64 = 100;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Sync(SyncMessage),
    Awareness(AwarenessUpdate),
    /// Permission denied, with a reason (server to client).
    Auth(String),
    QueryAwareness,
    Extension(Extension),
}

/// Why a frame could not be decoded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("empty frame")]
    Empty,
    #[error("truncated or malformed lib0 encoding: {0}")]
    Malformed(String),
    #[error("unknown message type {0}")]
    UnknownType(u64),
    #[error("unknown sync step {0}")]
    UnknownSyncStep(u64),
    #[error("unknown auth kind {0}")]
    UnknownAuthKind(u64),
    #[error("awareness state of client {client} is not JSON")]
    AwarenessNotJson { client: u64 },
    #[error("extension body is not a JSON object with a type: {0}")]
    ExtensionJson(String),
    #[error("client id {0} exceeds 53 bits")]
    ClientIdTooLarge(u64),
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
}

impl From<read::Error> for DecodeError {
    fn from(e: read::Error) -> Self {
        DecodeError::Malformed(e.to_string())
    }
}

impl Message {
    /// Decodes exactly one message from `frame`, rejecting anything left over.
    pub fn decode(frame: &[u8]) -> Result<Message, DecodeError> {
        if frame.is_empty() {
            return Err(DecodeError::Empty);
        }
        let mut cur = Cursor::new(frame);
        let msg = match cur.read_var::<u64>()? {
            MSG_SYNC => Message::Sync(decode_sync(&mut cur)?),
            MSG_AWARENESS => Message::Awareness(decode_awareness(cur.read_buf()?)?),
            MSG_AUTH => match cur.read_var::<u64>()? {
                0 => Message::Auth(cur.read_string()?.to_owned()),
                other => return Err(DecodeError::UnknownAuthKind(other)),
            },
            MSG_QUERY_AWARENESS => Message::QueryAwareness,
            MSG_EXTENSION => {
                let json = cur.read_string()?;
                let ext = serde_json::from_str(json)
                    .map_err(|e| DecodeError::ExtensionJson(e.to_string()))?;
                Message::Extension(ext)
            }
            other => return Err(DecodeError::UnknownType(other)),
        };
        let left = frame.len() - cur.next;
        if left > 0 {
            return Err(DecodeError::TrailingBytes(left));
        }
        Ok(msg)
    }

    /// Encodes the message as one frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut enc = EncoderV1::new();
        match self {
            Message::Sync(sync) => {
                enc.write_var(MSG_SYNC);
                sync.encode(&mut enc);
            }
            Message::Awareness(update) => {
                enc.write_var(MSG_AWARENESS);
                enc.write_buf(update.encode_v1());
            }
            Message::Auth(reason) => {
                enc.write_var(MSG_AUTH);
                enc.write_var(0u8);
                enc.write_string(reason);
            }
            Message::QueryAwareness => enc.write_var(MSG_QUERY_AWARENESS),
            Message::Extension(ext) => {
                enc.write_var(MSG_EXTENSION);
                // Serializing a plain enum of strings and integers cannot fail.
                let json = serde_json::to_string(ext).unwrap_or_else(|_| "{}".into());
                enc.write_string(&json);
            }
        }
        // The encoder starts with a 1 KiB buffer; frames are often a few bytes and may sit
        // in many queues, so give the rest back.
        let mut frame = enc.to_vec();
        frame.shrink_to_fit();
        frame
    }
}

/// A sync-update frame around an already encoded v1 update, without copying it into a
/// [`SyncMessage`] first: the hot path of every relayed edit.
pub fn encode_update(update: &[u8]) -> Vec<u8> {
    encode_sync_payload(yrs::sync::protocol::MSG_SYNC_UPDATE, update)
}

/// A sync-step-2 frame around an already encoded v1 update.
pub fn encode_step2(update: &[u8]) -> Vec<u8> {
    encode_sync_payload(yrs::sync::protocol::MSG_SYNC_STEP_2, update)
}

/// An awareness frame around an already encoded awareness update.
pub fn encode_awareness(update: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(update.len() + 6);
    frame.write_var(MSG_AWARENESS);
    frame.write_buf(update);
    frame
}

/// Frames are built in exactly sized buffers: they are shared by every receiving
/// connection's queue, and an oversized buffer would be held that many times as long.
fn encode_sync_payload(step: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 12);
    frame.write_var(MSG_SYNC);
    frame.write_var(step);
    frame.write_buf(payload);
    frame
}

/// The keepalive: an awareness update with no entries. Stock clients count it as a sign
/// of life and change nothing.
pub const KEEPALIVE: &[u8] = &[1, 1, 0];

fn decode_sync(cur: &mut Cursor<'_>) -> Result<SyncMessage, DecodeError> {
    let step = cur.read_var::<u64>()?;
    let payload = cur.read_buf()?;
    Ok(match step {
        0 => SyncMessage::SyncStep1(decode_state_vector(payload)?),
        1 => SyncMessage::SyncStep2(payload.to_vec()),
        2 => SyncMessage::Update(payload.to_vec()),
        other => return Err(DecodeError::UnknownSyncStep(other)),
    })
}

/// Largest client id Yjs can produce (53 bits: a JavaScript safe integer). yrs debug builds
/// assert on larger ids, so they are rejected here before yrs sees them.
pub const MAX_CLIENT_ID: u64 = (1 << 53) - 1;

fn read_client_id(cur: &mut Cursor<'_>) -> Result<ClientID, DecodeError> {
    let id = cur.read_var::<u64>()?;
    if id > MAX_CLIENT_ID {
        return Err(DecodeError::ClientIdTooLarge(id));
    }
    Ok(ClientID::new(id))
}

/// Decodes a state vector (sync step 1) with checked client ids.
pub fn decode_state_vector(buf: &[u8]) -> Result<StateVector, DecodeError> {
    let mut cur = Cursor::new(buf);
    let len = cur.read_var::<u32>()?;
    let mut sv = StateVector::default();
    for _ in 0..len {
        let client = read_client_id(&mut cur)?;
        let clock = cur.read_var::<u32>()?;
        sv.set_max(client, clock);
    }
    Ok(sv)
}

/// Decodes an awareness update with checked client ids, and checks that every state is
/// JSON (or `null`), so a gateway never relays a state that would throw in every browser's
/// `JSON.parse`.
pub fn decode_awareness(buf: &[u8]) -> Result<AwarenessUpdate, DecodeError> {
    let mut cur = Cursor::new(buf);
    let len = cur.read_var::<u32>()?;
    let mut clients = HashMap::new();
    for _ in 0..len {
        let client = read_client_id(&mut cur)?;
        let clock = cur.read_var::<u32>()?;
        let json = cur.read_string()?;
        if serde_json::from_str::<serde::de::IgnoredAny>(json).is_err() {
            return Err(DecodeError::AwarenessNotJson {
                client: client.get(),
            });
        }
        let json = json.into();
        clients.insert(client, AwarenessUpdateEntry { clock, json });
    }
    Ok(AwarenessUpdate { clients })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn awareness(entries: &[(u64, u32, &str)]) -> AwarenessUpdate {
        let clients: HashMap<_, _> = entries
            .iter()
            .map(|(id, clock, json)| {
                (
                    ClientID::new(*id),
                    AwarenessUpdateEntry {
                        clock: *clock,
                        json: (*json).into(),
                    },
                )
            })
            .collect();
        AwarenessUpdate { clients }
    }

    fn samples() -> Vec<Message> {
        vec![
            Message::Sync(SyncMessage::SyncStep1(StateVector::default())),
            Message::Sync(SyncMessage::SyncStep2(vec![0, 0])),
            Message::Sync(SyncMessage::Update(vec![1, 2, 3])),
            Message::Awareness(awareness(&[
                (7, 3, r#"{"user":{"name":"a"}}"#),
                (9, 1, "null"),
            ])),
            Message::Auth("denied".into()),
            Message::QueryAwareness,
            Message::Extension(Extension::error(1007, "x", "y")),
        ]
    }

    #[test]
    fn samples_round_trip() {
        for msg in samples() {
            assert_eq!(Message::decode(&msg.encode()), Ok(msg));
        }
    }

    #[test]
    fn fast_encoders_match_the_general_one() {
        let u = vec![5u8, 6, 7];
        assert_eq!(
            encode_update(&u),
            Message::Sync(SyncMessage::Update(u.clone())).encode()
        );
        assert_eq!(
            encode_step2(&u),
            Message::Sync(SyncMessage::SyncStep2(u.clone())).encode()
        );
        let a = awareness(&[(1, 1, "{}")]);
        assert_eq!(
            encode_awareness(&a.encode_v1()),
            Message::Awareness(a).encode()
        );
    }

    #[test]
    fn the_keepalive_is_an_empty_awareness_update() {
        let msg = Message::decode(KEEPALIVE).expect("decodes");
        assert_eq!(msg, Message::Awareness(awareness(&[])));
    }

    #[test]
    fn rejects_what_yrs_would_let_through() {
        assert_eq!(Message::decode(&[]), Err(DecodeError::Empty));
        let mut frame = encode_update(&[1, 2]);
        frame.push(0);
        assert_eq!(Message::decode(&frame), Err(DecodeError::TrailingBytes(1)));
        assert_eq!(
            Message::decode(&[0, 3, 0]),
            Err(DecodeError::UnknownSyncStep(3))
        );
        assert_eq!(Message::decode(&[42]), Err(DecodeError::UnknownType(42)));
        let bad = Message::Awareness(awareness(&[(5, 1, "{not json")])).encode();
        assert_eq!(
            Message::decode(&bad),
            Err(DecodeError::AwarenessNotJson { client: 5 })
        );
        assert!(matches!(
            Message::decode(&encode_update(&[1, 2, 3])[..3]),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn rejects_client_ids_over_53_bits() {
        let big = 1u64 << 60;
        let mut enc = EncoderV1::new();
        enc.write_var(1u32);
        enc.write_var(big);
        enc.write_var(1u32);
        enc.write_string("{}");
        let frame = encode_awareness(&enc.to_vec());
        assert_eq!(
            Message::decode(&frame),
            Err(DecodeError::ClientIdTooLarge(big))
        );

        let mut sv = EncoderV1::new();
        sv.write_var(1u32);
        sv.write_var(big);
        sv.write_var(3u32);
        let frame = encode_sync_payload(0, &sv.to_vec());
        assert_eq!(
            Message::decode(&frame),
            Err(DecodeError::ClientIdTooLarge(big))
        );
    }

    #[test]
    fn state_vectors_round_trip() {
        let mut sv = StateVector::default();
        sv.set_max(ClientID::new(7), 12);
        sv.set_max(ClientID::new(MAX_CLIENT_ID), 1);
        let msg = Message::Sync(SyncMessage::SyncStep1(sv));
        assert_eq!(Message::decode(&msg.encode()), Ok(msg));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = Message::decode(&bytes);
        }

        #[test]
        fn decoding_mutated_valid_frames_never_panics(
            pick in 0usize..7,
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
            cut in any::<usize>(),
        ) {
            let mut frame = samples()[pick].encode();
            for (at, byte) in flips {
                let i = at % frame.len();
                frame[i] = byte;
            }
            frame.truncate(cut % (frame.len() + 1));
            let _ = Message::decode(&frame);
        }

        #[test]
        fn update_frames_round_trip(payload in proptest::collection::vec(any::<u8>(), 0..512)) {
            let frame = encode_update(&payload);
            prop_assert_eq!(Message::decode(&frame), Ok(Message::Sync(SyncMessage::Update(payload))));
        }

        #[test]
        fn awareness_round_trips(entries in proptest::collection::vec((0u64..(1 << 53), any::<u32>(), "[a-z]{0,12}"), 0..8)) {
            let json: Vec<String> = entries.iter().map(|(_, _, s)| format!("{{\"name\":\"{s}\"}}")).collect();
            let triples: Vec<(u64, u32, &str)> = entries.iter().zip(&json).map(|((id, c, _), j)| (*id, *c, j.as_str())).collect();
            let msg = Message::Awareness(awareness(&triples));
            prop_assert_eq!(Message::decode(&msg.encode()), Ok(msg));
        }
    }
}
