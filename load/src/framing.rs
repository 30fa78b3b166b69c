//! Wire dialects: how a y-websocket message travels in a WebSocket frame.
//!
//! Plain y-websocket (our gateway, the reference server, the relay floor) puts the document
//! in the URL and sends one bare message per binary frame. Hocuspocus serves every document
//! on one URL: each message is prefixed by the document name, a client opens with an auth
//! message (its token), the server answers "authenticated", and a few message types of its
//! own come and go (sync status after every update, a close message for one document). This
//! file is the one place that knows the difference: the editors only ever see y-websocket
//! messages.
//!
//! Hocuspocus message (as its server and provider packages encode it, lib0 encoding):
//!
//! ```text
//! frame := varString(document) varUint(type) body
//! type 0 Sync, 1 Awareness, 3 QueryAwareness   the y-websocket bodies, unchanged
//! type 2 Auth          varUint(0 token | 1 permission denied | 2 authenticated) varString
//! type 4 SyncReply     a Sync body (sent instead of Sync when the reply must not
//!                      trigger another step 1)
//! type 5 Stateless, 6 BroadcastStateless        varString(payload)
//! type 7 Close         varString(reason): the server ended this document's session
//! type 8 SyncStatus    varUint(1 applied | 0 not applied), after each update sent
//! ```

use std::borrow::Cow;

use clap::ValueEnum;
use yrs::encoding::read::{Cursor, Read};
use yrs::encoding::write::Write;

use crate::target::{FileUrl, Target};

/// Token the harness authenticates with; the peer accepts any.
pub const HOCUSPOCUS_TOKEN: &str = "collab-load";

/// A wire dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Framing {
    /// y-websocket: document in the URL path, one bare message per binary frame.
    #[value(name = "y-websocket")]
    YWebsocket,
    /// Hocuspocus: one URL (the server root) for all documents, document name before every
    /// message, auth handshake first.
    #[value(name = "hocuspocus")]
    Hocuspocus,
}

/// What a received frame holds for the editor.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound<'a> {
    /// A y-websocket message.
    Message(Cow<'a, [u8]>),
    /// Dialect bookkeeping with nothing for the editor (auth accepted, sync status,
    /// stateless payloads).
    Bookkeeping,
    /// The server ended this document's session although the socket stays open.
    Closed(String),
}

/// Hocuspocus message types (the server's `MessageType`).
mod hp {
    pub const SYNC: u64 = 0;
    pub const AWARENESS: u64 = 1;
    pub const AUTH: u64 = 2;
    pub const QUERY_AWARENESS: u64 = 3;
    pub const SYNC_REPLY: u64 = 4;
    pub const STATELESS: u64 = 5;
    pub const BROADCAST_STATELESS: u64 = 6;
    pub const CLOSE: u64 = 7;
    pub const SYNC_STATUS: u64 = 8;

    /// Auth sub-types (`AuthMessageType` of the common package).
    pub const AUTH_TOKEN: u64 = 0;
    pub const AUTH_PERMISSION_DENIED: u64 = 1;
    pub const AUTH_AUTHENTICATED: u64 = 2;
}

/// y-websocket's message type for sync, and its auth message ("permission denied").
const Y_SYNC: u8 = 0;
const Y_AUTH: u64 = 2;

impl Framing {
    /// The URL an editor of `file` connects to (y-websocket: with the target's token).
    pub fn url(self, target: &Target, file: &str) -> FileUrl {
        match self {
            Framing::YWebsocket => target.file_url(file),
            Framing::Hocuspocus => FileUrl::bare(target.base.clone()),
        }
    }

    /// Frames to send right after the WebSocket opens, before sync step 1 (an auth
    /// handshake in dialects that have one).
    pub fn hello(self, file: &str) -> Vec<Vec<u8>> {
        match self {
            Framing::YWebsocket => Vec::new(),
            Framing::Hocuspocus => {
                // Like the provider: the token, then sync step 1 right away (the server
                // queues it until authentication is done).
                let mut frame = Vec::with_capacity(file.len() + HOCUSPOCUS_TOKEN.len() + 8);
                frame.write_string(file);
                frame.write_var(hp::AUTH);
                frame.write_var(hp::AUTH_TOKEN);
                frame.write_string(HOCUSPOCUS_TOKEN);
                vec![frame]
            }
        }
    }

    /// Wraps one encoded y-websocket message for `file` into a frame payload.
    pub fn wrap(self, file: &str, message: Vec<u8>) -> Vec<u8> {
        match self {
            Framing::YWebsocket => message,
            Framing::Hocuspocus => {
                // y-websocket's types 0, 1 and 3 are Hocuspocus's too; editors send no others.
                let mut frame = Vec::with_capacity(file.len() + message.len() + 4);
                frame.write_string(file);
                frame.extend_from_slice(&message);
                frame
            }
        }
    }

    /// What a received frame payload of `file`'s session holds; an error describes a frame
    /// that is not valid in this dialect.
    pub fn unwrap<'a>(self, file: &str, frame: &'a [u8]) -> Result<Inbound<'a>, String> {
        match self {
            Framing::YWebsocket => Ok(Inbound::Message(Cow::Borrowed(frame))),
            Framing::Hocuspocus => unwrap_hocuspocus(file, frame),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Framing::YWebsocket => "y-websocket",
            Framing::Hocuspocus => "hocuspocus",
        }
    }
}

fn unwrap_hocuspocus<'a>(file: &str, frame: &'a [u8]) -> Result<Inbound<'a>, String> {
    let mut cur = Cursor::new(frame);
    let document = cur
        .read_string()
        .map_err(|e| format!("no document name: {e}"))?;
    if document != file {
        return Err(format!(
            "message for document {document:?} on the session of {file:?}"
        ));
    }
    let message_start = cur.next;
    let kind: u64 = cur
        .read_var()
        .map_err(|e| format!("no message type: {e}"))?;
    let body = &frame[cur.next..];
    match kind {
        hp::SYNC | hp::AWARENESS | hp::QUERY_AWARENESS => {
            Ok(Inbound::Message(Cow::Borrowed(&frame[message_start..])))
        }
        hp::SYNC_REPLY => {
            let mut message = Vec::with_capacity(body.len() + 1);
            message.push(Y_SYNC);
            message.extend_from_slice(body);
            Ok(Inbound::Message(Cow::Owned(message)))
        }
        hp::AUTH => {
            let sub: u64 = cur
                .read_var()
                .map_err(|e| format!("auth message without a kind: {e}"))?;
            match sub {
                hp::AUTH_AUTHENTICATED | hp::AUTH_TOKEN => Ok(Inbound::Bookkeeping),
                hp::AUTH_PERMISSION_DENIED => {
                    let reason = cur.read_string().unwrap_or("permission denied");
                    let mut message = Vec::with_capacity(reason.len() + 4);
                    message.write_var(Y_AUTH);
                    message.write_var(0u8);
                    message.write_string(reason);
                    Ok(Inbound::Message(Cow::Owned(message)))
                }
                other => Err(format!("unknown auth message kind {other}")),
            }
        }
        hp::STATELESS | hp::BROADCAST_STATELESS | hp::SYNC_STATUS => Ok(Inbound::Bookkeeping),
        hp::CLOSE => Ok(Inbound::Closed(
            cur.read_string().unwrap_or("(no reason given)").to_owned(),
        )),
        other => Err(format!("unknown Hocuspocus message type {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hocuspocus_frame(doc: &str, rest: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        f.write_string(doc);
        f.extend_from_slice(rest);
        f
    }

    #[test]
    fn y_websocket_is_bare() {
        let f = Framing::YWebsocket;
        let target = Target::parse("ws://127.0.0.1:1/doc", crate::target::Reach::Loopback).unwrap();
        assert_eq!(
            f.url(&target, "a/b").connect_url(),
            "ws://127.0.0.1:1/doc/a/b"
        );
        assert!(f.hello("a").is_empty());
        assert_eq!(f.wrap("a", vec![0, 2, 1, 7]), vec![0, 2, 1, 7]);
        assert_eq!(
            f.unwrap("a", &[0, 2, 1, 7]),
            Ok(Inbound::Message(Cow::Borrowed(&[0u8, 2, 1, 7][..])))
        );
    }

    #[test]
    fn hocuspocus_prefixes_the_document_and_authenticates_first() {
        let f = Framing::Hocuspocus;
        let target = Target::parse("ws://127.0.0.1:1", crate::target::Reach::Loopback).unwrap();
        assert_eq!(f.url(&target, "a/b").connect_url(), "ws://127.0.0.1:1");
        let mut auth = hocuspocus_frame("doc", &[2, 0]);
        auth.write_string(HOCUSPOCUS_TOKEN);
        assert_eq!(f.hello("doc"), vec![auth]);
        assert_eq!(f.wrap("doc", vec![0, 0, 1, 0]), b"\x03doc\x00\x00\x01\x00");
    }

    #[test]
    fn hocuspocus_messages_become_y_websocket_ones() {
        let f = Framing::Hocuspocus;
        let message = |rest: &[u8]| f.unwrap("doc", &hocuspocus_frame("doc", rest)).map(owned);
        fn owned(i: Inbound<'_>) -> Inbound<'static> {
            match i {
                Inbound::Message(m) => Inbound::Message(Cow::Owned(m.into_owned())),
                Inbound::Bookkeeping => Inbound::Bookkeeping,
                Inbound::Closed(r) => Inbound::Closed(r),
            }
        }
        let msg = |b: &[u8]| Ok(Inbound::Message(Cow::Owned(b.to_vec())));

        // Sync, awareness and query-awareness pass through; a sync reply becomes a sync.
        assert_eq!(message(&[0, 1, 2, 0, 0]), msg(&[0, 1, 2, 0, 0]));
        assert_eq!(message(&[1, 1, 0]), msg(&[1, 1, 0]));
        assert_eq!(message(&[3]), msg(&[3]));
        assert_eq!(message(&[4, 0, 1, 0]), msg(&[0, 0, 1, 0]));
        // Authenticated, sync status and stateless payloads are bookkeeping.
        assert_eq!(message(b"\x02\x02\x0aread-write"), Ok(Inbound::Bookkeeping));
        assert_eq!(message(&[8, 1]), Ok(Inbound::Bookkeeping));
        assert_eq!(message(b"\x05\x02{}"), Ok(Inbound::Bookkeeping));
        // Permission denied becomes y-websocket's auth message.
        assert_eq!(message(b"\x02\x01\x02no"), msg(b"\x02\x00\x02no"));
        assert_eq!(message(b"\x07\x03bye"), Ok(Inbound::Closed("bye".into())));

        assert!(message(&[9]).is_err());
        assert!(message(&[]).is_err());
        assert!(f.unwrap("doc", &hocuspocus_frame("other", &[0])).is_err());
        assert!(f.unwrap("doc", &[200]).is_err());
    }
}
