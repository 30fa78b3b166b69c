//! What an awareness state may be before it reaches the room: a JSON object of at most
//! `--max-awareness-bytes`, or `null` (the removal).
//!
//! A string, an array or a number would pass the identity stamp untouched (there is no
//! `user` field to set) and show to everyone as whatever the sender wrote, and a state
//! of megabytes would be kept and served to every joiner on every gateway. Such entries
//! are dropped with an error to the sender, like other limits: the connection and its
//! other traffic go on.

use bytes::Bytes;
use collab_protocol::{Extension, Message, close};
use serde_json::Value;
use yrs::sync::AwarenessUpdate;

/// Drops the entries of `update` that break a rule; returns the error for the sender
/// (the first rule broken), if any.
pub fn screen(update: &mut AwarenessUpdate, max_bytes: usize) -> Option<Bytes> {
    let mut error: Option<Extension> = None;
    update.clients.retain(|_, entry| {
        let broken = if entry.json.len() > max_bytes {
            let message = format!(
                "an awareness state is at most {max_bytes} bytes; this one has {}",
                entry.json.len()
            );
            Some(("awareness-too-big", close::TOO_BIG, message))
        } else if !is_object_or_null(&entry.json) {
            let message = "an awareness state must be a JSON object (or null to remove it)";
            Some((
                "awareness-not-object",
                close::INVALID_PAYLOAD,
                message.to_owned(),
            ))
        } else {
            None
        };
        let Some((reason, code, message)) = broken else {
            return true;
        };
        crate::metrics::rejected(reason);
        error.get_or_insert_with(|| Extension::error(code, reason, message));
        false
    });
    error.map(|error| Bytes::from(Message::Extension(error).encode()))
}

fn is_object_or_null(json: &str) -> bool {
    matches!(
        serde_json::from_str::<Value>(json),
        Ok(Value::Object(_) | Value::Null)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::ClientID;
    use yrs::sync::awareness::AwarenessUpdateEntry;

    fn update(states: &[&str]) -> AwarenessUpdate {
        let clients = states
            .iter()
            .enumerate()
            .map(|(i, json)| {
                let entry = AwarenessUpdateEntry {
                    clock: 1,
                    json: (*json).into(),
                };
                (ClientID::new(i as u64 + 1), entry)
            })
            .collect();
        AwarenessUpdate { clients }
    }

    #[test]
    fn objects_and_removals_pass() {
        let mut ok = update(&[r#"{"cursor":1}"#, "null"]);
        assert_eq!(screen(&mut ok, 1024), None);
        assert_eq!(ok.clients.len(), 2);
    }

    #[test]
    fn other_values_are_dropped_with_an_error() {
        let mut bad = update(&[r#""W""#, "[1,2]", "7", r#"{"ok":true}"#, "not json"]);
        let error = screen(&mut bad, 1024).expect("an error for the sender");
        assert_eq!(bad.clients.len(), 1, "only the object stays");
        let text = String::from_utf8_lossy(&error);
        assert!(text.contains("awareness-not-object"), "{text}");
    }

    #[test]
    fn a_state_over_the_cap_is_dropped_with_an_error() {
        let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(100));
        let mut bad = update(&[&big, r#"{"ok":1}"#]);
        let error = screen(&mut bad, 64).expect("an error for the sender");
        assert_eq!(bad.clients.len(), 1);
        assert!(String::from_utf8_lossy(&error).contains("awareness-too-big"));
    }
}
