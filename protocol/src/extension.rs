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
    /// Client -> gateway: undo the requesting user's last change to the file.
    Undo,
    /// Client -> gateway: redo the requesting user's last undone change.
    Redo,
    /// Gateway -> client: the user's undo and redo counts for the file; `op` and `applied`
    /// answer a request, and are absent in a notice (on join, or a count moving between
    /// zero and non-zero).
    UndoState {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        op: Option<UndoOp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        applied: Option<bool>,
        undo: u64,
        redo: u64,
    },
    /// Gateway -> client: the markers of one source (`syntax`, or an external tool such as a
    /// language server) for the text whose SHA-256 is `version`; an empty list clears them.
    Diagnostics {
        source: String,
        /// Lowercase hex SHA-256 of the UTF-8 text the markers belong to.
        version: String,
        markers: Vec<Marker>,
    },
    /// Gateway -> client (opt-in `?ext=files`): where the file stands with its source.
    /// `etag` is the version written or merged; `reason` says why a write failed.
    FileState {
        state: FileSyncState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        etag: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Any type this build does not know. Ignored, never fatal.
    #[serde(other)]
    Unknown,
}

/// One diagnostic as Monaco's `IMarkerData` has it: 1-based lines, 1-based UTF-16 columns,
/// the end exclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Marker {
    /// 8 error, 4 warning, 2 info, 1 hint.
    pub severity: u8,
    pub message: String,
    pub start_line_number: u32,
    pub start_column: u32,
    pub end_line_number: u32,
    pub end_column: u32,
    /// A tool's own code for the problem, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Monaco's `MarkerSeverity` values.
pub mod severity {
    pub const HINT: u8 = 1;
    pub const INFO: u8 = 2;
    pub const WARNING: u8 = 4;
    pub const ERROR: u8 = 8;

    /// Whether `value` is one of Monaco's severities.
    pub fn is_valid(value: u8) -> bool {
        matches!(value, HINT | INFO | WARNING | ERROR)
    }
}

/// The states of a `file-state` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileSyncState {
    /// The document's text is on the source (as of `etag`).
    Saved,
    /// A write is on its way.
    Saving,
    /// A change made outside was merged into the document.
    Merged,
    /// The file was deleted outside; the next edit writes it again.
    Deleted,
    /// A write failed (`reason`); it is retried.
    Failed,
}

/// Which way an undo request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UndoOp {
    Undo,
    Redo,
}

impl UndoOp {
    pub fn name(self) -> &'static str {
        match self {
            UndoOp::Undo => "undo",
            UndoOp::Redo => "redo",
        }
    }
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
    fn undo_messages_have_the_documented_shape() {
        let undo: Extension = serde_json::from_str(r#"{"type":"undo"}"#).expect("decodes");
        assert_eq!(undo, Extension::Undo);
        let redo: Extension = serde_json::from_str(r#"{"type":"redo"}"#).expect("decodes");
        assert_eq!(redo, Extension::Redo);
        let reply = Extension::UndoState {
            op: Some(UndoOp::Undo),
            applied: Some(true),
            undo: 2,
            redo: 1,
        };
        assert_eq!(
            serde_json::to_string(&reply).expect("serializes"),
            r#"{"type":"undo-state","op":"undo","applied":true,"undo":2,"redo":1}"#
        );
        let notice = Extension::UndoState {
            op: None,
            applied: None,
            undo: 0,
            redo: 3,
        };
        assert_eq!(
            serde_json::to_string(&notice).expect("serializes"),
            r#"{"type":"undo-state","undo":0,"redo":3}"#
        );
    }

    #[test]
    fn diagnostics_have_the_documented_shape() {
        let message = Extension::Diagnostics {
            source: "syntax".into(),
            version: "ab".into(),
            markers: vec![Marker {
                severity: severity::ERROR,
                message: "syntax error".into(),
                start_line_number: 1,
                start_column: 5,
                end_line_number: 1,
                end_column: 6,
                code: None,
            }],
        };
        let json = serde_json::to_string(&message).expect("serializes");
        assert_eq!(
            json,
            r#"{"type":"diagnostics","source":"syntax","version":"ab","markers":[{"severity":8,"message":"syntax error","startLineNumber":1,"startColumn":5,"endLineNumber":1,"endColumn":6}]}"#
        );
        assert_eq!(serde_json::from_str::<Extension>(&json).ok(), Some(message));
    }

    #[test]
    fn file_state_has_the_documented_shape() {
        let saved = Extension::FileState {
            state: FileSyncState::Saved,
            etag: Some("ab".into()),
            reason: None,
        };
        let json = serde_json::to_string(&saved).expect("serializes");
        assert_eq!(json, r#"{"type":"file-state","state":"saved","etag":"ab"}"#);
        assert_eq!(serde_json::from_str::<Extension>(&json).ok(), Some(saved));
        let failed = Extension::FileState {
            state: FileSyncState::Failed,
            etag: None,
            reason: Some("disk full".into()),
        };
        assert_eq!(
            serde_json::to_string(&failed).expect("serializes"),
            r#"{"type":"file-state","state":"failed","reason":"disk full"}"#
        );
    }

    #[test]
    fn unknown_types_are_tolerated() {
        let e: Extension = serde_json::from_str(r#"{"type":"from-the-future","x":1}"#)
            .expect("unknown types decode");
        assert_eq!(e, Extension::Unknown);
    }
}
