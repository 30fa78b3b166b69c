//! The identity shown with a cursor is the gateway's word, never the client's.
//!
//! A connection that acts for a known user has the `user` field of every awareness state
//! it sends set to `{"id","name","color"}` from its principal, whatever the client wrote,
//! so nobody can show someone else's name. Connections under `--auth none` carry no
//! verified identity to stamp (a `?user=` only names an undo stack): their states pass as
//! sent.

use serde_json::{Value, json};
use yrs::sync::AwarenessUpdate;

use crate::principal::Principal;

/// Stamps `principal`'s identity into each state of `update` that is a JSON object;
/// removals (`null`) and other values pass untouched.
pub fn stamp(update: &mut AwarenessUpdate, principal: &Principal) {
    if !principal.verified {
        return;
    }
    let user = json!({
        "id": &*principal.user,
        "name": principal.name.as_deref().unwrap_or(&principal.user),
        "color": principal.color.as_deref(),
    });
    for entry in update.clients.values_mut() {
        if let Ok(Value::Object(mut state)) = serde_json::from_str::<Value>(&entry.json) {
            state.insert("user".to_owned(), user.clone());
            entry.json = Value::Object(state).to_string().into();
        }
    }
}

/// The user id stamped into a state, if any.
pub fn stamped_user(state: &str) -> Option<String> {
    let value: Value = serde_json::from_str(state).ok()?;
    value.get("user")?.get("id")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use yrs::ClientID;
    use yrs::sync::awareness::AwarenessUpdateEntry;

    use super::*;
    use crate::principal::Access;

    fn update(json: &str) -> AwarenessUpdate {
        let entry = AwarenessUpdateEntry {
            clock: 1,
            json: json.into(),
        };
        AwarenessUpdate {
            clients: [(ClientID::new(7), entry)].into_iter().collect(),
        }
    }

    fn json_of(update: &AwarenessUpdate) -> Value {
        let entry = update.clients.values().next().expect("one entry");
        serde_json::from_str(&entry.json).expect("json")
    }

    fn ann() -> Principal {
        Principal {
            verified: true,
            user: Arc::from("u-ann"),
            name: Some(Arc::from("Ann")),
            color: Some(Arc::from("#e91e63")),
            access: Access::ReadWrite,
        }
    }

    #[test]
    fn a_claimed_identity_is_replaced_by_the_principal() {
        let mut forged = update(r#"{"user":{"id":"u-bob","name":"Bob"},"cursor":{"anchor":3}}"#);
        stamp(&mut forged, &ann());
        let state = json_of(&forged);
        assert_eq!(
            state["user"],
            json!({"id":"u-ann","name":"Ann","color":"#e91e63"})
        );
        assert_eq!(
            state["cursor"]["anchor"], 3,
            "the rest of the state is kept"
        );
        assert_eq!(stamped_user(&state.to_string()).as_deref(), Some("u-ann"));
    }

    #[test]
    fn removals_and_anonymous_states_pass_untouched() {
        let mut removal = update("null");
        stamp(&mut removal, &ann());
        assert_eq!(json_of(&removal), Value::Null);
        let mut free = update(r#"{"user":{"name":"whoever"}}"#);
        stamp(&mut free, &Principal::anonymous());
        assert_eq!(json_of(&free)["user"]["name"], "whoever");
        assert_eq!(stamped_user("not json"), None);
    }
}
