//! The `diagnostics` extension message: built from markers, read from the cache or the
//! bus (never trusted: whatever does not decode is dropped), and framed for clients.

use bytes::Bytes;
use collab_protocol::{Extension, Marker, Message};

/// One source's markers for one version, in the two forms the gateway needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    pub source: String,
    pub version: String,
    /// The JSON of the extension message (what the cache stores and the bus carries).
    pub json: Vec<u8>,
    /// The y-websocket frame clients get.
    pub frame: Bytes,
}

impl Diagnostics {
    pub fn new(source: &str, version: &str, markers: Vec<Marker>) -> Diagnostics {
        let message = Extension::Diagnostics {
            source: source.to_owned(),
            version: version.to_owned(),
            markers,
        };
        let json = serde_json::to_vec(&message).unwrap_or_default();
        Diagnostics {
            source: source.to_owned(),
            version: version.to_owned(),
            json,
            frame: Bytes::from(Message::Extension(message).encode()),
        }
    }

    /// Reads a message's JSON; `None` if it is not a `diagnostics` message.
    pub fn decode(json: &[u8]) -> Option<Diagnostics> {
        let message: Extension = serde_json::from_slice(json).ok()?;
        let Extension::Diagnostics {
            source, version, ..
        } = &message
        else {
            return None;
        };
        Some(Diagnostics {
            source: source.clone(),
            version: version.clone(),
            json: json.to_vec(),
            frame: Bytes::from(Message::Extension(message).encode()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_message_decodes_to_itself() {
        let marker = Marker {
            severity: 8,
            message: "missing `)`".into(),
            start_line_number: 2,
            start_column: 3,
            end_line_number: 2,
            end_column: 4,
            code: None,
        };
        let built = Diagnostics::new("syntax", "abc", vec![marker]);
        assert_eq!(Diagnostics::decode(&built.json), Some(built.clone()));
        let decoded = Message::decode(&built.frame).expect("the frame decodes");
        assert!(matches!(
            decoded,
            Message::Extension(Extension::Diagnostics { .. })
        ));
    }

    #[test]
    fn other_json_is_dropped() {
        assert_eq!(Diagnostics::decode(br#"{"type":"undo"}"#), None);
        assert_eq!(Diagnostics::decode(b"not json"), None);
    }
}
