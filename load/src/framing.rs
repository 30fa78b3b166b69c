//! Wire dialects: how a y-websocket message travels in a WebSocket frame.
//!
//! Plain y-websocket (our gateway, the reference server) puts the document in the URL and
//! sends one bare message per binary frame. Hocuspocus (to be added) uses one URL for many
//! documents, prefixes every message with the document name and opens with an auth message;
//! its variant belongs here, and nothing outside this file needs to know the difference.

use clap::ValueEnum;

use crate::config::Target;

/// A wire dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Framing {
    /// y-websocket: document in the URL path, one bare message per binary frame.
    #[value(name = "y-websocket")]
    YWebsocket,
}

impl Framing {
    /// The URL an editor of `file` connects to.
    pub fn url(self, target: &Target, file: &str) -> String {
        match self {
            Framing::YWebsocket => target.file_url(file),
        }
    }

    /// Frames to send right after the WebSocket opens, before sync step 1 (an auth
    /// handshake in dialects that have one).
    pub fn hello(self, _file: &str) -> Vec<Vec<u8>> {
        match self {
            Framing::YWebsocket => Vec::new(),
        }
    }

    /// Wraps one encoded y-websocket message for `file` into a frame payload.
    pub fn wrap(self, _file: &str, message: Vec<u8>) -> Vec<u8> {
        match self {
            Framing::YWebsocket => message,
        }
    }

    /// The y-websocket message inside a received frame payload.
    pub fn unwrap(self, frame: &[u8]) -> &[u8] {
        match self {
            Framing::YWebsocket => frame,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Framing::YWebsocket => "y-websocket",
        }
    }
}
