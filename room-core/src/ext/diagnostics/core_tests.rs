//! The room core's diagnostics, driven without IO: when checks are due, what reaches whom,
//! and how external posts are answered.

use std::time::{Duration, Instant};

use collab_protocol::Marker;
use collab_syntax::Language;

use crate::ext::diagnostics::message::Diagnostics;
use crate::ext::diagnostics::post::{PostAnswer, PostCheck};
use crate::ext::diagnostics::{CheckDone, SyntaxOutcome};
use crate::test_support::*;

const WATCHER: u64 = 1;
const STOCK: u64 = 2;

fn watching() -> OptIns {
    OptIns::parse("diagnostics")
}

/// A room of `sb/main.ts` with a watcher (conn 1) and a stock client (conn 2).
fn room_with_watcher() -> RoomCore {
    let mut room = room();
    let mut fx = Effects::new();
    room.on_join(WATCHER, user("ann", Access::ReadWrite), watching(), &mut fx);
    room.on_join(
        STOCK,
        user("bob", Access::ReadWrite),
        OptIns::default(),
        &mut fx,
    );
    room
}

/// A room of `sb/main.ts` with only a stock client (conn 2): nobody watches diagnostics.
fn room_without_watcher() -> RoomCore {
    let mut room = room();
    let mut fx = Effects::new();
    room.on_join(
        STOCK,
        user("bob", Access::ReadWrite),
        OptIns::default(),
        &mut fx,
    );
    room
}

/// Runs the check the timer asks for at `now` and returns its job's text and language.
fn start_check(room: &mut RoomCore, now: Instant) -> (String, Option<Language>) {
    let mut fx = Effects::new();
    room.on_diagnostics_due(now, &mut fx);
    let job = fx
        .drain()
        .find_map(|e| match e {
            Effect::Check(job) => Some(job),
            _ => None,
        })
        .expect("a check starts");
    (job.text, job.syntax.map(|(language, _)| language))
}

fn marker(line: u32) -> Marker {
    Marker {
        severity: 8,
        message: "syntax error".into(),
        start_line_number: line,
        start_column: 1,
        end_line_number: line,
        end_column: 2,
        code: None,
    }
}

fn finish(room: &mut RoomCore, version: &str, markers: Vec<Marker>) -> Vec<Effect> {
    let message = Diagnostics::new("syntax", version, markers);
    let done = CheckDone {
        version: Arc::from(version),
        checker: None,
        syntax: Some(SyntaxOutcome::Markers(message.frame)),
    };
    let mut fx = Effects::new();
    room.on_checked(Some(done), Instant::now(), &mut fx);
    fx.drain().collect()
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

#[test]
fn a_watched_room_checks_at_once_and_only_watchers_get_the_markers() {
    let mut room = room_with_watcher();
    let now = Instant::now();
    assert_eq!(
        room.diagnostics_due(now),
        Some(now),
        "a new room checks at once"
    );
    let (text, language) = start_check(&mut room, now);
    assert_eq!((text.as_str(), language), ("", Some(Language::TypeScript)));
    assert_eq!(room.diagnostics_due(now), None, "one check at a time");
    let effects = finish(&mut room, "v1", vec![marker(1)]);
    assert_eq!(sent_to(&effects), vec![WATCHER]);
    // The same markers again (this gateway's own publication coming back) are not resent.
    let json = Diagnostics::new("syntax", "v1", vec![marker(1)]).json;
    assert_eq!(
        sent_to(&remote(&mut room, "gw-x", Kind::Diagnostics, json)),
        Vec::<u64>::new()
    );
    // A later watcher gets them after the answer to its sync step 1, which brings the
    // text they belong to.
    let mut fx = Effects::new();
    room.on_join(3, user("cy", Access::ReadWrite), watching(), &mut fx);
    assert_eq!(sent_to(&fx.drain().collect::<Vec<_>>()), Vec::<u64>::new());
    let step1 = Message::Sync(SyncMessage::SyncStep1(Default::default()));
    let answered = client(&mut room, 3, step1.clone());
    let kinds: Vec<u8> = answered
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to: 3, frame } => frame.first().copied(),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, vec![0, 100], "the sync answer, then the markers");
    assert!(
        sent_to(&client(&mut room, 3, step1)).is_empty(),
        "once per connection"
    );
}

#[test]
fn edits_settle_before_a_check_and_typing_is_checked_every_interval() {
    let mut room = room_with_watcher();
    let t0 = Instant::now();
    start_check(&mut room, t0);
    finish(&mut room, "v0", Vec::new());
    assert_eq!(room.diagnostics_due(t0), None, "nothing changed");

    let writer = Writer::new(7);
    let debounce = Duration::from_millis(150);
    client(&mut room, WATCHER, update(writer.type_text("a")));
    assert_eq!(room.diagnostics_due(t0), Some(t0 + debounce));
    // Each keystroke moves the check back, up to a second after the first one.
    let mut now = t0;
    for i in 0..20 {
        now += Duration::from_millis(100);
        client(&mut room, WATCHER, update(writer.type_text(&i.to_string())));
        let due = room.diagnostics_due(now).expect("due");
        assert!(
            due <= t0 + Duration::from_secs(1),
            "keystroke {i}: due {:?} late",
            due - t0
        );
    }
    assert_eq!(room.diagnostics_due(now), Some(t0 + Duration::from_secs(1)));
    let (text, _) = start_check(&mut room, t0 + Duration::from_secs(1));
    assert!(
        text.starts_with("a0123"),
        "the check sees the text as it is: {text:?}"
    );
}

#[test]
fn with_nobody_watching_a_text_is_versioned_when_it_settles_not_while_typing() {
    let mut room = room_without_watcher();
    let t0 = Instant::now();
    start_check(&mut room, t0);
    finish(&mut room, "v0", Vec::new());
    let writer = Writer::new(7);
    let debounce = Duration::from_millis(150);
    let mut now = t0;
    for i in 0..30 {
        now += Duration::from_millis(100);
        client(&mut room, STOCK, update(writer.type_text(&i.to_string())));
        assert_eq!(
            room.diagnostics_due(now),
            Some(now + debounce),
            "keystroke {i} (3 s of typing): the text is versioned once it settles"
        );
    }
    // A post waiting for its version brings back the check every interval.
    let started = now;
    assert!(post(&mut room, 1, Some("v-typed")).is_empty());
    now += Duration::from_millis(100);
    client(&mut room, STOCK, update(writer.type_text("x")));
    assert!(
        room.diagnostics_due(now)
            .is_some_and(|due| due <= started + Duration::from_secs(1)),
        "a waiting post is answered from a check within the interval"
    );
}

#[test]
fn syntax_markers_of_another_version_wait_until_the_text_is_that_version() {
    let mut room = room_with_watcher();
    let now = Instant::now();
    start_check(&mut room, now);
    finish(&mut room, "v1", Vec::new());
    // Another gateway's result for a text this replica has not reached yet.
    let json = Diagnostics::new("syntax", "v2", vec![marker(2)]).json;
    assert!(sent_to(&remote(&mut room, "gw-x", Kind::Diagnostics, json)).is_empty());
    // The text becomes v2 here; the look-up finds that gateway at it: the heard markers show.
    client(&mut room, WATCHER, update(Writer::new(7).type_text("x")));
    room.diagnostics_due(now);
    let later = now + Duration::from_secs(2);
    start_check(&mut room, later);
    let done = CheckDone {
        version: Arc::from("v2"),
        checker: None,
        syntax: Some(SyntaxOutcome::Elsewhere),
    };
    let mut fx = Effects::new();
    room.on_checked(Some(done), Instant::now(), &mut fx);
    assert_eq!(sent_to(&fx.drain().collect::<Vec<_>>()), vec![WATCHER]);
    // External sources are shown as they come, whatever the version.
    let lint = Diagnostics::new("eslint", "v0", vec![marker(3)]).json;
    assert_eq!(
        sent_to(&remote(&mut room, "gw-x", Kind::Diagnostics, lint)),
        vec![WATCHER]
    );
}

#[test]
fn a_room_nobody_watches_versions_its_text_but_never_asks_for_syntax() {
    let mut room = room_without_watcher();
    let now = Instant::now();
    let (_, language) = start_check(&mut room, now);
    assert_eq!(language, None, "no syntax check without a watcher");
}

/// Posts for `version` as request `id`; returns the answers the room gave at once.
fn post(room: &mut RoomCore, id: u64, version: Option<&str>) -> Vec<(u64, PostAnswer)> {
    let mut fx = Effects::new();
    let version = version.map(str::to_owned);
    room.on_post(PostCheck { id, version }, Instant::now(), &mut fx);
    answers(fx.drain().collect())
}

/// The answers to posts among `effects`.
fn answers(effects: Vec<Effect>) -> Vec<(u64, PostAnswer)> {
    effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::AnswerPost { id, answer } => Some((id, answer)),
            _ => None,
        })
        .collect()
}

#[test]
fn posts_name_the_current_or_a_recent_version_or_wait_then_are_refused() {
    let mut room = room_with_watcher();
    let now = Instant::now();
    // Before the first check the room does not know its version: the post waits.
    assert!(post(&mut room, 1, Some("v1")).is_empty());
    start_check(&mut room, now);
    let current = Arc::<str>::from("v1");
    assert_eq!(
        answers(finish(&mut room, "v1", Vec::new())),
        vec![(1, PostAnswer::Accepted { current })]
    );
    client(&mut room, WATCHER, update(Writer::new(7).type_text("x")));
    room.diagnostics_due(now);
    start_check(&mut room, now + Duration::from_secs(1));
    assert!(answers(finish(&mut room, "v2", Vec::new())).is_empty());
    // A recent version is still fine; a removal names none.
    let v2 = Arc::<str>::from("v2");
    let accepted = PostAnswer::Accepted {
        current: v2.clone(),
    };
    assert_eq!(post(&mut room, 2, Some("v1")), vec![(2, accepted.clone())]);
    assert_eq!(post(&mut room, 3, None), vec![(3, accepted)]);
    // An unknown version waits (the text may be about to become it), then is refused.
    assert!(post(&mut room, 4, Some("v9")).is_empty());
    assert!(room.posts_waiting(), "the room stays open for it");
    let expiry = room
        .diagnostics_due(Instant::now())
        .expect("a timer for the post");
    let mut fx = Effects::new();
    room.on_diagnostics_due(expiry, &mut fx);
    assert_eq!(
        answers(fx.drain().collect()),
        vec![(4, PostAnswer::Stale { current: v2 })]
    );
    assert!(!room.posts_waiting());
}
