//! The room core driven directly, cursors and extension messages: who sees which cursor,
//! what identity it shows, and what is ignored.

use crate::test_support::*;

#[test]
fn a_joiner_gets_the_state_vector_then_every_cursor() {
    let mut room = room();
    join(&mut room, 1, Principal::anonymous());
    client(&mut room, 1, cursor(10, 1, r#"{"cursor":1}"#));
    let sent = join(&mut room, 2, Principal::anonymous());
    let kinds: Vec<Message> = sent
        .iter()
        .map(|e| match e {
            Effect::Send { to: 2, frame } => decoded(frame),
            other => panic!("a join only sends to the joiner, got {other:?}"),
        })
        .collect();
    assert!(matches!(kinds[0], Message::Sync(SyncMessage::SyncStep1(_))));
    match &kinds[1] {
        Message::Awareness(states) => assert!(states.clients.contains_key(&ClientID::new(10))),
        other => panic!("expected the cursors, got {other:?}"),
    }
}

#[test]
fn cursors_cross_gateways_and_leave_with_their_connection_or_gateway() {
    let mut room = room();
    join(&mut room, 1, Principal::anonymous());
    join(&mut room, 2, Principal::anonymous());
    let moved = client(&mut room, 1, cursor(40, 1, r#"{"at":1}"#));
    assert!(moved.iter().any(|e| matches!(
        e,
        Effect::Broadcast {
            except: Some(1),
            cursor: Some(40),
            ..
        }
    )));
    assert!(moved.iter().any(|e| matches!(
        e,
        Effect::Publish {
            kind: Kind::Awareness,
            ..
        }
    )));

    let Message::Awareness(theirs) = cursor(50, 1, "{}") else {
        unreachable!("cursor() builds awareness")
    };
    let payload = theirs.encode_v1();
    decode_awareness(&payload).expect("a bus payload");
    let relayed = remote(&mut room, "gw-other", Kind::Awareness, payload.clone());
    assert!(
        relayed
            .iter()
            .any(|e| matches!(e, Effect::Broadcast { except: None, .. }))
    );
    // Our own envelope coming back is not news.
    assert!(remote(&mut room, GATEWAY, Kind::Awareness, payload).is_empty());

    let mut fx = Effects::new();
    room.on_gateway_gone("gw-other", &mut fx);
    assert_eq!(fx.drain().count(), 1, "their cursor's removal is broadcast");
    room.on_leave(1, &mut fx);
    let left: Vec<Effect> = fx.drain().collect();
    assert!(left.iter().any(|e| matches!(
        e,
        Effect::Publish {
            kind: Kind::Awareness,
            ..
        }
    )));
    assert!(room.has_members());
    room.on_leave(2, &mut fx);
    assert!(!room.has_members());
}

#[test]
fn unknown_extension_messages_are_ignored_and_the_sender_stays() {
    let mut room = room();
    join(&mut room, 1, Principal::anonymous());
    let json = r#"{"type":"from-the-future","x":1}"#;
    let mut frame = vec![100, json.len() as u8];
    frame.extend_from_slice(json.as_bytes());
    let from_client = Message::decode(&frame).expect("an unknown type decodes");
    assert!(matches!(
        from_client,
        Message::Extension(Extension::Unknown)
    ));
    assert!(client(&mut room, 1, from_client).is_empty());
    let echoed = Message::Extension(Extension::error(1007, "x", "a client sent an error"));
    assert!(client(&mut room, 1, echoed).is_empty());
    assert!(room.has_members());
}

#[test]
fn a_cursor_shows_the_principal_not_what_the_client_claims() {
    let mut room = room();
    let ann = Principal {
        verified: true,
        user: Arc::from("u-ann"),
        name: Some(Arc::from("Ann")),
        color: Some(Arc::from("#e91e63")),
        access: Access::ReadWrite,
    };
    join(&mut room, 1, ann);
    join(&mut room, 2, user("u-bob", Access::ReadWrite));
    let forged = cursor(60, 1, r#"{"user":{"id":"u-bob","name":"Bob"},"cursor":1}"#);
    let asked = client(&mut room, 1, forged);
    assert!(
        matches!(&asked[..], [Effect::ClaimCursors { user, ids }] if &**user == "u-ann" && ids == &[ClientID::new(60)]),
        "a new id waits for the engine's claim: {asked:?}"
    );
    let mut fx = Effects::new();
    room.on_cursors_claimed("u-ann", &[(ClientID::new(60), true)], &mut fx);
    let fx: Vec<Effect> = fx.drain().collect();
    let shown: Vec<serde_json::Value> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Broadcast { frame, .. } => match decoded(frame) {
                Message::Awareness(update) => update
                    .clients
                    .get(&ClientID::new(60))
                    .map(|entry| serde_json::from_str(&entry.json).expect("json")),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(shown.len(), 1, "{fx:?}");
    assert_eq!(shown[0]["user"]["id"], "u-ann");
    assert_eq!(shown[0]["user"]["name"], "Ann");
    // Bob's connection cannot move Ann's cursor.
    let moved = client(&mut room, 2, cursor(60, 2, r#"{"cursor":99}"#));
    assert!(moved.is_empty(), "{moved:?}");
}

#[test]
fn states_that_are_not_objects_or_too_big_are_refused_with_an_error() {
    let mut room = room();
    join(&mut room, 1, Principal::anonymous());
    for bad in [
        r#""W""#.to_owned(),
        "[1]".to_owned(),
        format!(r#"{{"p":"{}"}}"#, "x".repeat(20 << 10)),
    ] {
        let fx = client(&mut room, 1, cursor(70, 1, &bad));
        assert!(
            matches!(&fx[..], [Effect::Send { to: 1, .. }]),
            "only an error for the sender: {fx:?}"
        );
        let Effect::Send { frame, .. } = &fx[0] else {
            unreachable!()
        };
        assert!(matches!(
            decoded(frame),
            Message::Extension(Extension::Error { .. })
        ));
    }
    assert_eq!(room.presence.all_states(), None);
}
