//! The room core's side of server-side undo, driven directly: capture records, requests,
//! popped items applied or waiting for the log, and the answers.

use collab_protocol::UndoOp;

use crate::effect::PopRequest;
use crate::ext::undo::{Popped, UndoCounts, UndoRecord};
use crate::test_support::*;

/// The undo records of the appends in `effects`.
fn records(effects: &[Effect]) -> Vec<UndoRecord> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Append { undo, .. } => undo.clone(),
            _ => None,
        })
        .collect()
}

fn pops(effects: &[Effect]) -> Vec<PopRequest> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::PopUndo(request) => Some(request.clone()),
            _ => None,
        })
        .collect()
}

fn undo_states(effects: &[Effect], to: u64) -> Vec<(Option<bool>, u64, u64)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to: t, frame } if *t == to => match decoded(frame) {
                Message::Extension(Extension::UndoState {
                    applied,
                    undo,
                    redo,
                    ..
                }) => Some((applied, undo, redo)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn popped(room: &mut RoomCore, request: PopRequest, popped: Popped) -> Vec<Effect> {
    let mut fx = Effects::new();
    room.on_popped(request, Ok(popped), &mut fx);
    fx.drain().collect()
}

fn edit_item(effects: &[Effect]) -> Vec<u8> {
    match records(effects).as_slice() {
        [UndoRecord::Edit(item)] => item.clone(),
        other => panic!("one edit record expected, got {other:?}"),
    }
}

#[test]
fn an_undo_applies_the_popped_item_relays_it_and_records_the_inverse() {
    let mut room = room();
    join(&mut room, 1, user("ann", Access::ReadWrite));
    join(&mut room, 2, user("bob", Access::ReadWrite));
    client(&mut room, 2, update(Writer::new(8).type_text("bob ")));
    let item = edit_item(&client(
        &mut room,
        1,
        update(Writer::new(7).type_text("ann")),
    ));
    // Two fresh writers at position 0: yrs orders them by client id.
    assert_eq!(room.replica().text(), "annbob ");

    let asked = client(&mut room, 1, Message::Extension(Extension::Undo));
    let [request] = pops(&asked).try_into().expect("one pop");
    assert_eq!((&*request.user, request.op), ("ann", UndoOp::Undo));

    let counts = UndoCounts { undo: 0, redo: 0 };
    let fx = popped(
        &mut room,
        request,
        Popped {
            item: Some(item),
            counts,
        },
    );
    assert_eq!(room.replica().text(), "bob ");
    assert_eq!(relayed_updates(&fx).len(), 1, "relayed to everyone");
    assert_eq!(relayed_updates(&fx)[0].0, None);
    assert!(matches!(records(&fx).as_slice(), [UndoRecord::Undone(_)]));
    assert_eq!(appends(&fx)[0].0.as_deref(), Some("ann"));
    assert_eq!(undo_states(&fx, 1), vec![(Some(true), 0, 1)]);
    assert!(
        undo_states(&fx, 2).is_empty(),
        "the answer goes to the requester"
    );
}

#[test]
fn an_item_the_replica_lacks_waits_for_the_log_read() {
    // Ann's edit came through another gateway: this room has not seen it yet.
    let mut elsewhere = room();
    join(&mut elsewhere, 1, user("ann", Access::ReadWrite));
    let edit = Writer::new(7).type_text("late");
    let item = edit_item(&client(&mut elsewhere, 1, update(edit.clone())));

    let mut room = room();
    join(&mut room, 3, user("ann", Access::ReadWrite));
    let [request] = pops(&client(&mut room, 3, Message::Extension(Extension::Undo)))
        .try_into()
        .expect("one pop");
    let counts = UndoCounts { undo: 0, redo: 0 };
    let fx = popped(
        &mut room,
        request,
        Popped {
            item: Some(item),
            counts,
        },
    );
    assert_eq!(
        reads(&fx),
        vec![LogRead::Since(0)],
        "it reads what it missed"
    );
    assert!(appends(&fx).is_empty() && undo_states(&fx, 3).is_empty());

    let entry = LogEntry {
        pos: 1,
        origin: "gw-other".into(),
        update: edit,
    };
    let tail = Tail {
        snapshot: None,
        entries: vec![entry],
        log_head: 1,
        at_since: None,
    };
    let fx = fetched(&mut room, Fetched::Tail { since: 0, tail });
    assert_eq!(room.replica().text(), "", "the edit arrived, then its undo");
    assert_eq!(undo_states(&fx, 3), vec![(Some(true), 0, 1)]);
}

#[test]
fn an_empty_stack_is_answered_not_applied_and_a_reader_is_refused() {
    let mut room = room();
    join(&mut room, 1, user("ann", Access::ReadWrite));
    join(&mut room, 2, user("vic", Access::ReadOnly));
    let [request] = pops(&client(&mut room, 1, Message::Extension(Extension::Redo)))
        .try_into()
        .expect("one pop");
    let counts = UndoCounts { undo: 2, redo: 0 };
    let fx = popped(&mut room, request, Popped { item: None, counts });
    assert_eq!(undo_states(&fx, 1), vec![(Some(false), 2, 0)]);
    assert!(appends(&fx).is_empty());

    let refused = client(&mut room, 2, Message::Extension(Extension::Undo));
    assert!(pops(&refused).is_empty());
    assert_eq!(
        errors_sent(&refused, 2),
        vec![(close::FORBIDDEN, "read-only".into())]
    );
}
