//! The envelope gateways publish on Redis channels.
//!
//! A short ASCII header line, then the binary payload:
//!
//! ```text
//! U <origin> <pos>\n<v1 update>        an update, at position <pos> of the file's log
//! A <origin>\n<awareness update>       awareness states (not logged)
//! Q <origin>\n                         "send me your awareness states" (a room just opened)
//! H <origin>\n                         gateway heartbeat (on the gateways channel)
//! B <origin>\n                         gateway leaving: drop its clients' cursors now
//! N <origin>\n<json>                   a user's undo/redo counts moved between zero and
//!                                      non-zero: {"user","undo","redo"} (undo scripts)
//! D <origin>\n<json>                   diagnostics of one source and version, as the
//!                                      `diagnostics` extension message's JSON
//! F <origin>\n<json>                   the file's state with its source, as the
//!                                      `file-state` extension message's JSON
//! ```
//!
//! The header is text so that the append script in Redis can build an update envelope
//! with plain string concatenation after it assigned the log position. `<origin>` is the
//! publishing gateway's id, so a gateway can recognise its own messages.

use bytes::Bytes;
use thiserror::Error;

/// What an envelope carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A v1 update at a log position (positions are 1, 2, 3, ... per file).
    Update { pos: u64 },
    /// A v1-encoded awareness update.
    Awareness,
    /// A room opened on `origin` and asks for the current awareness states.
    QueryAwareness,
    /// `origin` is alive.
    Heartbeat,
    /// `origin` is shutting down.
    Leaving,
    /// A user's undo or redo count for the file moved between zero and non-zero; the
    /// payload is JSON `{"user","undo","redo"}`, built by the undo scripts in Redis.
    UndoCounts,
    /// Markers of one source for one version of the text: the JSON of the `diagnostics`
    /// extension message, sent by whoever computed or received them.
    Diagnostics,
    /// The file's state with its source (written, merged, ...): the JSON of the
    /// `file-state` extension message, sent by the gateway that wrote or merged, or by any
    /// gateway holding the file when a room opens elsewhere.
    FileState,
}

/// One published message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub origin: String,
    pub kind: Kind,
    pub payload: Bytes,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("envelope has no header line")]
    NoHeader,
    #[error("envelope header is not ASCII text")]
    NotText,
    #[error("unknown envelope kind {0:?}")]
    UnknownKind(String),
    #[error("envelope header {0:?} is malformed")]
    Malformed(String),
}

/// Longest gateway id accepted; ids are `[A-Za-z0-9_-]`.
pub const MAX_GATEWAY_ID: usize = 64;

/// Whether `id` can serve as a gateway id in an envelope header.
pub fn is_valid_gateway_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_GATEWAY_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Envelope {
    pub fn new(origin: impl Into<String>, kind: Kind, payload: impl Into<Bytes>) -> Self {
        Envelope {
            origin: origin.into(),
            kind,
            payload: payload.into(),
        }
    }

    /// Encodes header and payload into one message.
    pub fn encode(&self) -> Vec<u8> {
        let header = match &self.kind {
            Kind::Update { pos } => format!("U {} {pos}\n", self.origin),
            Kind::Awareness => format!("A {}\n", self.origin),
            Kind::QueryAwareness => format!("Q {}\n", self.origin),
            Kind::Heartbeat => format!("H {}\n", self.origin),
            Kind::Leaving => format!("B {}\n", self.origin),
            Kind::UndoCounts => format!("N {}\n", self.origin),
            Kind::Diagnostics => format!("D {}\n", self.origin),
            Kind::FileState => format!("F {}\n", self.origin),
        };
        let mut out = Vec::with_capacity(header.len() + self.payload.len());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    /// Decodes a published message; the payload shares `msg`'s buffer.
    pub fn decode(msg: Bytes) -> Result<Envelope, EnvelopeError> {
        let nl = msg
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(EnvelopeError::NoHeader)?;
        let header = std::str::from_utf8(&msg[..nl]).map_err(|_| EnvelopeError::NotText)?;
        let malformed = || EnvelopeError::Malformed(header.chars().take(80).collect());
        let mut parts = header.split(' ');
        let tag = parts.next().ok_or_else(malformed)?;
        let origin = parts.next().ok_or_else(malformed)?;
        if !is_valid_gateway_id(origin) {
            return Err(malformed());
        }
        let kind = match tag {
            "U" => {
                let pos = parts
                    .next()
                    .and_then(|p| p.parse::<u64>().ok())
                    .ok_or_else(malformed)?;
                Kind::Update { pos }
            }
            "A" => Kind::Awareness,
            "Q" => Kind::QueryAwareness,
            "H" => Kind::Heartbeat,
            "B" => Kind::Leaving,
            "N" => Kind::UndoCounts,
            "D" => Kind::Diagnostics,
            "F" => Kind::FileState,
            other => return Err(EnvelopeError::UnknownKind(other.chars().take(8).collect())),
        };
        if parts.next().is_some() {
            return Err(malformed());
        }
        let origin = origin.to_owned();
        Ok(Envelope {
            origin,
            kind,
            payload: msg.slice(nl + 1..),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_kind_round_trips() {
        for kind in [
            Kind::Update { pos: 42 },
            Kind::Awareness,
            Kind::QueryAwareness,
            Kind::Heartbeat,
            Kind::Leaving,
            Kind::UndoCounts,
            Kind::Diagnostics,
            Kind::FileState,
        ] {
            let env = Envelope::new("gw-1", kind, vec![0u8, 10, 255, b'\n']);
            assert_eq!(Envelope::decode(env.encode().into()), Ok(env));
        }
    }

    #[test]
    fn the_append_script_header_shape_decodes() {
        // What the Lua append script builds: 'U ' .. origin .. ' ' .. pos .. '\n' .. update
        let msg = Bytes::from_static(b"U abc_9 17\n\x01\x02");
        let env = Envelope::decode(msg).expect("decodes");
        assert_eq!(env.kind, Kind::Update { pos: 17 });
        assert_eq!(env.origin, "abc_9");
        assert_eq!(&env.payload[..], &[1, 2]);
    }

    #[test]
    fn rejects_malformed_headers() {
        for bad in [
            &b"no newline"[..],
            b"U gw\n",
            b"U gw x\n",
            b"Z gw\n",
            b"A gw extra\n",
            b"A bad id\n",
            b"A \n",
        ] {
            assert!(
                Envelope::decode(Bytes::copy_from_slice(bad)).is_err(),
                "{bad:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = Envelope::decode(bytes.into());
        }
    }
}
