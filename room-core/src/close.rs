//! Why and how a connection is closed: the close code, the machine reason (also a metrics
//! label) and the extension error the client reads first. The room core decides a close
//! with it; the connection's outbox carries it to the socket.

use collab_protocol::{Extension, close};

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

    /// A close with no error message (the client left, or the socket broke).
    pub fn normal() -> Self {
        CloseReason {
            code: close::NORMAL,
            reason: "normal",
            error: None,
        }
    }
}
