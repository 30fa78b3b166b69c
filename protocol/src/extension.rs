//! Extension messages (wire type 100): JSON objects with a `"type"` field.
//!
//! Unknown types decode to [`Extension::Unknown`] and are ignored by both sides, so a newer
//! client can talk to an older gateway and the reverse.

use serde::{Deserialize, Serialize};

/// One extension message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Extension {
    /// The gateway explains why it is about to close the connection (or refused a message).
    /// `code` is the WebSocket close code that follows, when one does.
    Error {
        code: u16,
        /// Machine-readable reason, such as `invalid-update` or `frame-too-big`.
        reason: String,
        /// Human-readable detail.
        message: String,
    },
    /// Any type this build does not know. Ignored, never fatal.
    #[serde(other)]
    Unknown,
}

impl Extension {
    /// An error message with a machine-readable reason and a human-readable detail.
    pub fn error(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Extension::Error {
            code,
            reason: reason.to_owned(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_round_trips_as_tagged_json() {
        let e = Extension::error(1007, "invalid-update", "bad bytes");
        let json = serde_json::to_string(&e).expect("serializes");
        assert_eq!(
            json,
            r#"{"type":"error","code":1007,"reason":"invalid-update","message":"bad bytes"}"#
        );
        assert_eq!(serde_json::from_str::<Extension>(&json).ok(), Some(e));
    }

    #[test]
    fn unknown_types_are_tolerated() {
        let e: Extension = serde_json::from_str(r#"{"type":"from-the-future","x":1}"#)
            .expect("unknown types decode");
        assert_eq!(e, Extension::Unknown);
    }
}
