//! Why and how a connection is closed: the close code, the machine reason (also a metrics
//! label) and the extension error the client reads first. The room core decides a close
//! with it; the connection's outbox carries it to the socket.

use collab_protocol::{Extension, close};

use crate::replica::ApplyError;

/// Why and how a connection is being closed.
#[derive(Debug, Clone)]
pub struct CloseReason {
    pub code: u16,
    /// Machine-readable reason (also a metrics label).
    pub reason: &'static str,
    /// Sent to the client as an extension error first, when set.
    pub error: Option<Extension>,
}

impl CloseReason {
    /// A close preceded by an extension error message naming the reason.
    pub fn error(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        CloseReason {
            code,
            reason,
            error: Some(Extension::error(code, reason, message)),
        }
    }

    /// The close for a client whose update was refused: 1008 when checking it would have
    /// taken more slow origin checks than its budget holds, else 1007.
    pub fn refused_update(error: &ApplyError) -> Self {
        let (code, reason) = match error {
            ApplyError::TooCostly(_) => (close::POLICY, "origin-check-budget"),
            _ => (close::INVALID_PAYLOAD, "invalid-update"),
        };
        CloseReason::error(code, reason, error.to_string())
    }

    /// A close with no error message (the client left, or the socket broke).
    pub fn normal() -> Self {
        CloseReason {
            code: close::NORMAL,
            reason: "normal",
            error: None,
        }
    }
}
