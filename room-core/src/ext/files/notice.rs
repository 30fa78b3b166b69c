//! The file's `file-state`, wherever the file is open: the state last told is kept, sent
//! to each member that opts into `?ext=files` as it joins (like `undo-state`), and
//! published on the file's channel (envelope `F`) so that every gateway holding the file
//! tells its own opted-in members. Only the gateway that writes or merges knows a new
//! state; the others hear it here.

use std::collections::HashMap;

use bytes::Bytes;
use collab_protocol::envelope::Kind;
use collab_protocol::{Extension, Message};

use crate::effect::Effects;
use crate::ext::{Feature, OptIns};
use crate::member::Member;
use crate::presence::ConnId;

/// The last `file-state` of the file, as the bus carries it and as clients get it.
#[derive(Debug, Default)]
pub struct FileNotices {
    last: Option<Notice>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Notice {
    /// The extension message's JSON (the envelope's payload).
    json: Vec<u8>,
    /// The y-websocket frame for clients.
    frame: Bytes,
}

impl Notice {
    fn new(message: Extension) -> Option<Notice> {
        let json = serde_json::to_vec(&message).ok()?;
        Some(Notice {
            json,
            frame: Bytes::from(Message::Extension(message).encode()),
        })
    }

    /// Reads an envelope's payload; `None` unless it is a `file-state` message.
    fn decode(json: &[u8]) -> Option<Notice> {
        let message: Extension = serde_json::from_slice(json).ok()?;
        if !matches!(message, Extension::FileState { .. }) {
            return None;
        }
        Notice::new(message)
    }
}

impl FileNotices {
    /// Whether a state was told or heard since the room opened.
    pub fn known(&self) -> bool {
        self.last.is_some()
    }

    /// A new state found on this gateway: to the opted-in members here, and to the other
    /// gateways' through the channel.
    pub fn tell(
        &mut self,
        message: Extension,
        members: &HashMap<ConnId, Member>,
        fx: &mut Effects,
    ) {
        let Some(notice) = Notice::new(message) else {
            return;
        };
        send_all(&notice.frame, members, fx);
        fx.publish(Kind::FileState, notice.json.clone());
        self.last = Some(notice);
    }

    /// Another gateway's state (or its answer to a room opening): told here unless it is
    /// the one the members have already. Whatever does not decode is dropped.
    pub fn on_remote(
        &mut self,
        payload: &[u8],
        members: &HashMap<ConnId, Member>,
        fx: &mut Effects,
    ) {
        let Some(notice) = Notice::decode(payload) else {
            tracing::debug!("a file-state envelope that does not decode");
            return;
        };
        if self.last.as_ref() == Some(&notice) {
            return;
        }
        send_all(&notice.frame, members, fx);
        self.last = Some(notice);
    }

    /// A member joins: if it opted in, it gets the current state at once.
    pub fn on_join(&self, conn: ConnId, opt_ins: OptIns, fx: &mut Effects) {
        match &self.last {
            Some(notice) if opt_ins.wants(Feature::Files) => fx.send(conn, notice.frame.clone()),
            _ => {}
        }
    }

    /// The file opened on another gateway (it asked for cursors): it hears the state too.
    pub fn on_room_opened_elsewhere(&self, fx: &mut Effects) {
        if let Some(notice) = &self.last {
            fx.publish(Kind::FileState, notice.json.clone());
        }
    }
}

fn send_all(frame: &Bytes, members: &HashMap<ConnId, Member>, fx: &mut Effects) {
    for (conn, member) in members {
        if member.opt_ins.wants(Feature::Files) {
            fx.send(*conn, frame.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use collab_protocol::FileSyncState;

    use crate::test_support::*;

    const OPTED: u64 = 1;
    const STOCK: u64 = 2;

    fn saved(etag: &str) -> Extension {
        Extension::FileState {
            state: FileSyncState::Saved,
            etag: Some(etag.into()),
            reason: None,
        }
    }

    fn json(message: &Extension) -> Vec<u8> {
        serde_json::to_vec(message).expect("encodes")
    }

    fn sent_to(effects: &[Effect]) -> Vec<u64> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send { to, frame } if frame.first() == Some(&100) => Some(*to),
                _ => None,
            })
            .collect()
    }

    fn published(effects: &[Effect]) -> Vec<Vec<u8>> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Publish {
                    kind: Kind::FileState,
                    payload,
                } => Some(payload.clone()),
                _ => None,
            })
            .collect()
    }

    fn room_with_members() -> RoomCore {
        let mut room = room();
        let mut fx = Effects::new();
        let files = OptIns::parse("files");
        room.on_join(OPTED, user("ann", Access::ReadWrite), files, &mut fx);
        room.on_join(
            STOCK,
            user("bob", Access::ReadWrite),
            OptIns::default(),
            &mut fx,
        );
        assert!(
            sent_to(&fx.drain().collect::<Vec<_>>()).is_empty(),
            "no state yet"
        );
        room
    }

    #[test]
    fn a_state_told_here_reaches_opted_in_members_and_the_channel() {
        let mut room = room_with_members();
        let mut fx = Effects::new();
        room.tell_file_state(saved("e1"), &mut fx);
        let effects: Vec<Effect> = fx.drain().collect();
        assert_eq!(sent_to(&effects), vec![OPTED]);
        assert_eq!(published(&effects), vec![json(&saved("e1"))]);
        // Its own envelope coming back changes nothing.
        let back = remote(&mut room, GATEWAY, Kind::FileState, json(&saved("e1")));
        assert!(back.is_empty());
    }

    #[test]
    fn a_state_heard_from_another_gateway_is_told_once_and_to_joiners() {
        let mut room = room_with_members();
        let heard = remote(&mut room, "gw-x", Kind::FileState, json(&saved("e1")));
        assert_eq!(sent_to(&heard), vec![OPTED]);
        assert!(published(&heard).is_empty(), "not echoed");
        let again = remote(&mut room, "gw-y", Kind::FileState, json(&saved("e1")));
        assert!(sent_to(&again).is_empty(), "the same state is not resent");
        let junk = remote(
            &mut room,
            "gw-x",
            Kind::FileState,
            b"{\"type\":\"undo\"}".to_vec(),
        );
        assert!(junk.is_empty(), "what is not a file-state is dropped");
        // A late joiner that opted in gets it at once; a stock client does not.
        let mut fx = Effects::new();
        room.on_join(
            3,
            user("cy", Access::ReadWrite),
            OptIns::parse("files"),
            &mut fx,
        );
        room.on_join(4, user("di", Access::ReadWrite), OptIns::default(), &mut fx);
        assert_eq!(sent_to(&fx.drain().collect::<Vec<_>>()), vec![3]);
        // A room opening on another gateway hears it.
        let query = remote(&mut room, "gw-z", Kind::QueryAwareness, Vec::new());
        assert_eq!(published(&query), vec![json(&saved("e1"))]);
    }
}
