//! The room core driven directly, document and log inputs: what each makes the room send,
//! close, append and read, with no Redis, no sockets and no runtime.

use crate::test_support::*;

#[test]
fn an_edit_is_relayed_to_the_others_and_appended_with_its_author() {
    let mut room = room();
    join(&mut room, 1, user("ann", Access::ReadWrite));
    join(&mut room, 2, user("bob", Access::ReadWrite));
    let edit = Writer::new(7).type_text("hello");
    let fx = client(&mut room, 1, update(edit.clone()));
    assert_eq!(relayed_updates(&fx), vec![(Some(1), edit.clone())]);
    assert_eq!(
        appends(&fx),
        vec![(Some("ann".to_owned()), edit.as_slice())]
    );
    assert_eq!(room.replica().text(), "hello");
    // The same update again changes nothing: nothing relayed, nothing appended.
    assert!(client(&mut room, 2, update(edit)).is_empty());
}

#[test]
fn a_read_only_member_is_told_once_and_its_edits_go_nowhere() {
    let mut room = room();
    join(&mut room, 1, user("ann", Access::ReadWrite));
    join(&mut room, 2, user("ro", Access::ReadOnly));
    let writer = Writer::new(9);
    // The empty step 2 a stock client sends on connect is no edit: no error.
    let empty = Message::Sync(SyncMessage::SyncStep2(yrs::Update::EMPTY_V1.to_vec()));
    assert!(client(&mut room, 2, empty).is_empty());

    let first = client(&mut room, 2, update(writer.type_text("nope")));
    assert_eq!(
        errors_sent(&first, 2),
        vec![(close::FORBIDDEN, "read-only".into())]
    );
    assert!(relayed_updates(&first).is_empty() && appends(&first).is_empty());
    let second = client(&mut room, 2, update(writer.type_text("again")));
    assert!(second.is_empty(), "told once: {second:?}");
    assert_eq!(room.replica().text(), "");

    // It still sees others' edits and stays connected.
    let edit = Writer::new(7).type_text("shared");
    let fx = client(&mut room, 1, update(edit.clone()));
    assert_eq!(relayed_updates(&fx), vec![(Some(1), edit)]);
    assert!(closes(&fx).is_empty());
}

#[test]
fn a_bad_update_closes_its_sender_with_1007_and_the_others_go_on() {
    let mut room = room();
    join(&mut room, 1, Principal::anonymous());
    join(&mut room, 2, Principal::anonymous());
    client(&mut room, 1, cursor(11, 1, "{}"));
    let fx = client(&mut room, 1, update(vec![0xff, 0xff, 0xff]));
    assert_eq!(
        closes(&fx),
        vec![(1, close::INVALID_PAYLOAD, "invalid-update")]
    );
    // Its cursor goes, here and on other gateways.
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Publish {
            kind: Kind::Awareness,
            ..
        }
    )));
    // A closed connection is forgotten: what it still sent does nothing.
    assert!(client(&mut room, 1, update(Writer::new(3).type_text("late"))).is_empty());
    let edit = Writer::new(4).type_text("fine");
    assert_eq!(
        relayed_updates(&client(&mut room, 2, update(edit.clone()))),
        vec![(Some(2), edit)]
    );
}

#[test]
fn an_update_past_the_document_limit_closes_with_1009() {
    let mut room = room_with(16, 1 << 20);
    join(&mut room, 1, Principal::anonymous());
    let fx = client(
        &mut room,
        1,
        update(Writer::new(5).type_text(&"x".repeat(64))),
    );
    assert_eq!(closes(&fx), vec![(1, close::TOO_BIG, "document-too-big")]);
    assert_eq!(room.replica().text(), "");
}

#[test]
fn past_the_pending_budget_the_writer_is_closed_and_the_whole_state_stored_later() {
    let mut room = room_with(1 << 20, 8);
    join(&mut room, 1, Principal::anonymous());
    let fx = client(
        &mut room,
        1,
        update(Writer::new(5).type_text("more than eight bytes")),
    );
    assert_eq!(
        closes(&fx),
        vec![(1, close::OVERLOADED, "store-unavailable")]
    );
    assert!(appends(&fx).is_empty());
    // Redis answers again: the replica's whole state goes to the log, authored by nobody.
    let mut fx = Effects::new();
    room.on_catch_up_requested(&mut fx);
    let read: Vec<Effect> = fx.drain().collect();
    assert_eq!(reads(&read), vec![LogRead::Since(0)]);
    let tail = Tail::default();
    let after = fetched(&mut room, Fetched::Tail { since: 0, tail });
    let stored = appends(&after);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0, None);
    let fresh = crate::replica::Replica::new("monaco");
    fresh.apply(stored[0].1).expect("the whole state applies");
    assert_eq!(fresh.text(), "more than eight bytes");
}

#[test]
fn channel_updates_apply_in_log_order_and_a_gap_reads_the_log_once() {
    let mut room = room();
    join(&mut room, 1, Principal::anonymous());
    let writer = Writer::new(21);
    let (one, two, three) = (
        writer.type_text("a"),
        writer.type_text("b"),
        writer.type_text("c"),
    );
    let fx = remote(&mut room, "gw-other", Kind::Update { pos: 1 }, one.clone());
    assert_eq!(relayed_updates(&fx), vec![(None, one.clone())]);
    assert!(remote(&mut room, "gw-other", Kind::Update { pos: 1 }, one.clone()).is_empty());
    // Position 2 was dropped by pub/sub: 3 shows the gap.
    let gap = remote(
        &mut room,
        "gw-other",
        Kind::Update { pos: 3 },
        three.clone(),
    );
    assert_eq!(reads(&gap), vec![LogRead::Since(1)]);
    assert!(relayed_updates(&gap).is_empty());
    // A second gap while the read runs asks for one more read, after it.
    assert!(
        reads(&remote(
            &mut room,
            "gw-other",
            Kind::Update { pos: 4 },
            vec![]
        ))
        .is_empty()
    );
    let tail = Tail {
        snapshot: None,
        entries: vec![entry(2, two.clone()), entry(3, three.clone())],
        log_head: 3,
        at_since: Some(EntryMark {
            origin: "gw-other".into(),
            digest: None,
        }),
    };
    let fx = fetched(&mut room, Fetched::Tail { since: 1, tail });
    assert_eq!(relayed_updates(&fx), vec![(None, two), (None, three)]);
    assert_eq!(reads(&fx), vec![LogRead::Since(3)]);
    assert_eq!(room.applied(), 3);
    assert_eq!(room.replica().text(), "abc");
}

#[test]
fn a_head_check_that_disagrees_reads_the_tail() {
    let mut room = room();
    let mut fx = Effects::new();
    room.on_tick(&mut fx);
    let tick: Vec<Effect> = fx.drain().collect();
    assert_eq!(reads(&tick), vec![LogRead::Head]);
    assert_eq!(
        reads(&fetched(
            &mut room,
            Fetched::Head(head(5, Some("gw-other")))
        )),
        vec![LogRead::Since(0)]
    );
    assert!(reads(&fetched(&mut room, Fetched::Failed)).is_empty());
    room.on_tick(&mut fx);
    fx.drain().for_each(drop);
    assert!(
        reads(&fetched(&mut room, Fetched::Head(head(0, None)))).is_empty(),
        "level: no read"
    );
}

#[test]
fn a_log_that_went_backwards_is_restored_from_the_replica() {
    let mut room = room();
    let edit = Writer::new(30).type_text("kept");
    remote(&mut room, "gw-other", Kind::Update { pos: 1 }, edit.clone());
    remote(
        &mut room,
        "gw-other",
        Kind::Update { pos: 2 },
        Writer::new(31).type_text("!"),
    );
    assert_eq!(room.applied(), 2);
    let mut fx = Effects::new();
    room.on_catch_up_requested(&mut fx);
    fx.drain().for_each(drop);
    // Redis restarted without its data: the log is empty.
    let fx = fetched(
        &mut room,
        Fetched::Tail {
            since: 2,
            tail: Tail::default(),
        },
    );
    let stored = appends(&fx);
    assert_eq!(stored.len(), 1, "the whole state goes back to the log");
    let fresh = crate::replica::Replica::new("monaco");
    fresh.apply(stored[0].1).expect("applies");
    assert_eq!(fresh.text(), room.replica().text());
    assert_eq!(reads(&fx), vec![LogRead::Since(0)]);
}

/// After a failover to a replica that missed this room's last entries, other gateways'
/// appends can fill the same positions again: the head check sees another writer at the
/// room's position and the room gives the log its whole state, though its own clients
/// are idle (no append of its own would notice).
#[test]
fn another_writer_at_the_rooms_position_restores_the_log_from_the_replica() {
    let mut room = room();
    let edit = Writer::new(30).type_text("lost in a failover");
    remote(&mut room, "gw-other", Kind::Update { pos: 1 }, edit);
    assert_eq!(room.applied(), 1);

    let mut fx = Effects::new();
    room.on_tick(&mut fx);
    fx.drain().for_each(drop);
    let level = fetched(&mut room, Fetched::Head(head(1, Some("gw-other"))));
    assert!(
        reads(&level).is_empty() && appends(&level).is_empty(),
        "level: nothing to do"
    );

    room.on_tick(&mut fx);
    fx.drain().for_each(drop);
    let rewritten = fetched(&mut room, Fetched::Head(head(1, Some("gw-third"))));
    let stored = appends(&rewritten);
    assert_eq!(stored.len(), 1, "the whole state goes back to the log");
    let fresh = crate::replica::Replica::new("monaco");
    fresh.apply(stored[0].1).expect("applies");
    assert_eq!(fresh.text(), "lost in a failover");
    assert_eq!(reads(&rewritten), vec![LogRead::Since(0)]);

    // The same seen in a tail read: another writer at the position the read started from.
    let mut room = self::room();
    remote(
        &mut room,
        "gw-other",
        Kind::Update { pos: 1 },
        Writer::new(31).type_text("x"),
    );
    room.on_catch_up_requested(&mut fx);
    fx.drain().for_each(drop);
    let tail = Tail {
        log_head: 2,
        entries: vec![entry(2, Writer::new(32).type_text("y"))],
        at_since: Some(EntryMark {
            origin: "gw-third".into(),
            digest: None,
        }),
        ..Tail::default()
    };
    let fx = fetched(&mut room, Fetched::Tail { since: 1, tail });
    assert_eq!(
        appends(&fx).len(),
        1,
        "the whole state goes back to the log"
    );
}

#[test]
fn a_member_downgraded_then_upgraded_follows_its_new_access_and_stays() {
    let mut room = room();
    join(&mut room, 1, user("ann", Access::ReadWrite));
    join(&mut room, 2, user("cyd", Access::ReadWrite));
    let writer = Writer::new(12);
    let before = writer.type_text("a");
    assert_eq!(
        relayed_updates(&client(&mut room, 2, update(before.clone()))),
        vec![(Some(2), before)]
    );

    // rw -> ro: the next edit is dropped with the read-only error, once.
    room.on_access_changed(2, Access::ReadOnly);
    let dropped = client(&mut room, 2, update(writer.type_text("b")));
    assert_eq!(
        errors_sent(&dropped, 2),
        vec![(close::FORBIDDEN, "read-only".into())]
    );
    assert!(relayed_updates(&dropped).is_empty() && appends(&dropped).is_empty());
    assert!(closes(&dropped).is_empty(), "a downgrade closes nothing");
    assert_eq!(room.replica().text(), "a");

    // ro -> rw: edits are relayed and appended again.
    room.on_access_changed(2, Access::ReadWrite);
    let fresh = Writer::new(13);
    let after = fresh.type_text("c");
    let fx = client(&mut room, 2, update(after.clone()));
    assert_eq!(relayed_updates(&fx), vec![(Some(2), after.clone())]);
    assert_eq!(
        appends(&fx),
        vec![(Some("cyd".to_owned()), after.as_slice())]
    );

    // Downgraded again, it is told again.
    room.on_access_changed(2, Access::ReadOnly);
    let again = client(&mut room, 2, update(fresh.type_text("d")));
    assert_eq!(
        errors_sent(&again, 2),
        vec![(close::FORBIDDEN, "read-only".into())]
    );
    // A connection that left is no member to change.
    room.on_access_changed(99, Access::ReadOnly);
}

#[test]
fn an_own_entry_lost_with_its_echo_is_told_from_the_next_append_there_by_content() {
    let append_whole_state =
        |effects: &[Effect]| appends(effects).iter().any(|(author, _)| author.is_none());
    // This gateway's edit was stored at 1; its echo never came.
    let lost = Writer::new(3).type_text("lost");
    let mut room = room();
    let mut fx = Effects::new();
    room.on_stored(1, crate::digest::of(&lost), &mut fx);
    assert!(!append_whole_state(&fx.drain().collect::<Vec<_>>()));
    // A failover lost it; this gateway's next edit lands at 1 too, under its own name.
    let again = Writer::new(3).type_text("again");
    let echo = remote(&mut room, GATEWAY, Kind::Update { pos: 1 }, again.clone());
    assert!(
        append_whole_state(&echo),
        "the echo at 1 is another entry than the one stored there: restore the log"
    );

    // The same by the appender's report, before any echo.
    let mut room = crate::test_support::room();
    room.on_stored(1, crate::digest::of(&lost), &mut fx);
    room.on_stored(1, crate::digest::of(&again), &mut fx);
    assert!(append_whole_state(&fx.drain().collect::<Vec<_>>()));

    // Its own echo, the same content, is no rewrite.
    let mut room = crate::test_support::room();
    room.on_stored(1, crate::digest::of(&lost), &mut fx);
    let echo = remote(&mut room, GATEWAY, Kind::Update { pos: 1 }, lost);
    assert!(!append_whole_state(&echo) && !append_whole_state(&fx.drain().collect::<Vec<_>>()));
    assert_eq!(room.applied(), 1);
}

/// Each item here has the earlier ones (concurrent text of other authors) between its
/// origins: a slow check each, whose work grows with the text between. The sender's budget
/// runs out and it is closed with 1008 before the room integrates the item; the others go on
/// typing.
#[test]
fn a_sender_past_its_slow_check_budget_is_closed_with_1008() {
    use crate::origin_order::tests::crafted;
    let mut room = room();
    join(&mut room, 1, Principal::anonymous());
    join(&mut room, 2, Principal::anonymous());
    let writer = Writer::new(1);
    client(&mut room, 1, update(writer.type_text("xy")));
    // Item n walks n runs between its origins and reads one block: about n^2 / 2 in all.
    let enough = 2 * (crate::slow_checks::BURST as f64).sqrt() as u64;
    let mut closed = Vec::new();
    for n in 0..enough {
        let fx = client(
            &mut room,
            2,
            update(crafted(100 + n, 0, (1, 0), (1, 1), "e")),
        );
        closed = closes(&fx);
        if !closed.is_empty() {
            assert!(n > enough / 4, "closed after only {n} items");
            let told = fx.iter().find_map(|e| match e {
                Effect::Close { reason, .. } => reason.error.clone(),
                _ => None,
            });
            let Some(Extension::Error { message, .. }) = told else {
                panic!("no error before the close: {fx:?}");
            };
            assert!(message.contains("slow origin checks"), "{message}");
            let text = room.replica().text();
            assert_eq!(
                text.matches('e').count() as u64,
                n,
                "the refused item is not in"
            );
            break;
        }
    }
    assert_eq!(closed, vec![(2, close::POLICY, "origin-check-budget")]);
    let edit = writer.type_text("z");
    assert_eq!(
        relayed_updates(&client(&mut room, 1, update(edit.clone()))),
        vec![(Some(1), edit)]
    );
    assert!(room.replica().text().ends_with('z'));
}
