//! Server-side undo and redo per user, on two gateways sharing one Redis.
//!
//! Users are named with `?user=` under `--auth none` (under `--auth redis` the session's
//! user). What a user sees is asserted: the text in every editor, and the `undo-state`
//! answers of the gateway. The only waits that are not conditions are the pauses longer
//! than the capture window, which is the behaviour under test.

use std::time::Duration;

use collab_protocol::{Extension, FileId, Keys, UndoOp};
use collab_tests::{Client, DEADLINE, Gateway, Platform, RedisServer, UndoState};
use redis::AsyncCommands;

/// A shorter capture window than the default keeps the pauses between items short, and
/// is still long enough for a round trip between gateways on a busy machine.
const CAPTURE_MS: u64 = 400;
/// Longer than the capture window: the next edit starts a new item.
const PAUSE: Duration = Duration::from_millis(CAPTURE_MS * 5 / 2);

fn args() -> Vec<String> {
    vec!["--undo-capture-ms".into(), CAPTURE_MS.to_string()]
}

async fn gateway(redis: &RedisServer, extra: &[&str]) -> Gateway {
    let mut all = args();
    all.extend(extra.iter().map(|s| s.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    Gateway::start(&redis.url(), &all)
        .await
        .expect("gateway starts")
}

/// The URL of `file` on `gw` for `user`, opted into undo messages.
fn url(gw: &Gateway, file: &str, user: &str) -> String {
    format!("{}?user={user}&ext=undo", gw.ws_url(file))
}

async fn join(gw: &Gateway, file: &str, user: &str) -> Client {
    Client::connect_synced(&url(gw, file, user), DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("{user} joins {file}: {e:#}"))
}

/// Sends an undo or redo and awaits its answer (the next `undo-state` carrying `op`).
async fn ask(client: &Client, op: UndoOp) -> UndoState {
    let answered = client
        .undo_states()
        .iter()
        .filter(|s| s.op.is_some())
        .count();
    client.send_extension(&match op {
        UndoOp::Undo => Extension::Undo,
        UndoOp::Redo => Extension::Redo,
    });
    client
        .wait_for(
            |c| c.undo_states().iter().filter(|s| s.op.is_some()).count() > answered,
            DEADLINE,
        )
        .await
        .unwrap_or_else(|e| panic!("an answer to {op:?}: {e:#}"));
    let answer = client
        .undo_states()
        .into_iter()
        .filter(|s| s.op.is_some())
        .nth(answered)
        .expect("the answer");
    assert_eq!(answer.op, Some(op));
    answer
}

/// Awaits every client showing `text`; `what` says what that proves.
async fn all_show(clients: &[&Client], text: &str, what: &str) {
    for client in clients {
        let want = text.to_owned();
        client
            .wait_for(|c| c.text() == want, DEADLINE)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{what}: {text:?} expected, {:?} shown: {e:#}",
                    client.text()
                )
            });
    }
}

async fn sees(client: &Client, text: &str) {
    let want = text.to_owned();
    client
        .wait_for(|c| c.text() == want, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("the editor shows {text:?}, has {:?}: {e:#}", client.text()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn undo_removes_only_the_users_change_and_redo_restores_it() {
    const FILE: &str = "undo/only-mine.txt";
    let redis = RedisServer::start().await.expect("redis-server starts");
    let (gw1, gw2) = (gateway(&redis, &[]).await, gateway(&redis, &[]).await);
    let ann = join(&gw1, FILE, "ann").await;
    // Bob connects like a stock client: no `?ext=`, so no extension message may reach it.
    let bob = Client::connect_synced(&format!("{}?user=bob", gw2.ws_url(FILE)), DEADLINE)
        .await
        .expect("bob joins");

    ann.insert(0, "hello ").expect("ann types");
    sees(&bob, "hello ").await;
    // Bob types inside Ann's words, and after them.
    bob.insert(2, "b").expect("bob types inside");
    bob.push("world").expect("bob types after");
    sees(&ann, "hebllo world").await;

    let undone = ask(&ann, UndoOp::Undo).await;
    assert_eq!(undone.applied, Some(true));
    assert_eq!((undone.undo, undone.redo), (0, 1));
    all_show(
        &[&ann, &bob],
        "bworld",
        "only Ann's letters are gone, everywhere",
    )
    .await;

    let redone = ask(&ann, UndoOp::Redo).await;
    assert_eq!(redone.applied, Some(true));
    assert_eq!((redone.undo, redone.redo), (1, 0));
    all_show(
        &[&ann, &bob],
        "hebllo world",
        "redo brings Ann's letters back where they were",
    )
    .await;

    assert!(
        bob.extensions().is_empty(),
        "a client without ?ext= gets no extension messages: {:?}",
        bob.extensions()
    );
    assert!(ann.protocol_errors().is_empty() && bob.protocol_errors().is_empty());
    // Bob's own edits are on his stack: his undo removes his letters and nothing else.
    let mine = Client::connect_synced(&url(&gw1, FILE, "bob"), DEADLINE)
        .await
        .expect("bob's second tab");
    assert_eq!(ask(&mine, UndoOp::Undo).await.applied, Some(true));
    all_show(
        &[&ann, &bob, &mine],
        "hello ",
        "Bob's undo took back his two edits (one item), Ann's stay",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn undo_works_from_another_gateway_after_reconnects_restarts_and_compaction() {
    const FILE: &str = "undo/everywhere.txt";
    let redis = RedisServer::start().await.expect("redis-server starts");
    let compact = ["--compact-after", "3"];
    let (mut gw1, mut gw2) = (
        gateway(&redis, &compact).await,
        gateway(&redis, &compact).await,
    );
    let mut ann = join(&gw1, FILE, "ann").await;
    let watcher = Client::connect_synced(&gw2.ws_url(FILE), DEADLINE)
        .await
        .expect("a watcher on gateway 2");

    ann.insert(0, "alpha beta").expect("ann types");
    tokio::time::sleep(PAUSE).await;
    ann.delete(6, 4).expect("ann deletes beta");
    tokio::time::sleep(PAUSE).await;
    ann.push(" gamma").expect("ann types again");
    sees(&watcher, "alpha  gamma").await;
    // Others' edits make the log long enough to be compacted.
    for i in 0..8 {
        watcher
            .insert(0, &format!("{i}"))
            .expect("the watcher types");
    }
    sees(&ann, "76543210alpha  gamma").await;
    sees(&watcher, "76543210alpha  gamma").await;
    ann.close().await.expect("ann leaves");

    // A fresh tab on the other gateway: its first undo-state tells three items.
    let ann2 = join(&gw2, FILE, "ann").await;
    ann2.wait_for(|c| !c.undo_states().is_empty(), DEADLINE)
        .await
        .expect("the joiner is told its counts");
    assert_eq!(ann2.undo_states()[0].undo, 3);
    assert_eq!(ask(&ann2, UndoOp::Undo).await.applied, Some(true));
    all_show(
        &[&ann2, &watcher],
        "76543210alpha ",
        "the last item undone from gateway 2",
    )
    .await;

    let snap = Keys::default().snap(&FileId::parse(FILE).expect("file id"));
    let mut redis_conn = redis.connection().await.expect("redis");
    let compacted: Option<u64> = redis_conn.hget(&snap, "pos").await.expect("HGET");
    assert!(
        compacted.is_some_and(|pos| pos > 0),
        "the log was compacted ({snap} pos {compacted:?})"
    );

    // Every gateway restarts; the document comes back from the snapshot and the log.
    drop(ann2);
    drop(watcher);
    gw1.restart().await.expect("gateway 1 restarts");
    gw2.restart().await.expect("gateway 2 restarts");
    ann = join(&gw1, FILE, "ann").await;
    sees(&ann, "76543210alpha ").await;
    let state = ask(&ann, UndoOp::Undo).await;
    assert_eq!(state.applied, Some(true));
    sees(&ann, "76543210alpha beta").await;
    let other = Client::connect_synced(&gw2.ws_url(FILE), DEADLINE)
        .await
        .expect("a fresh reader");
    sees(&other, "76543210alpha beta").await;
    assert_eq!(ask(&ann, UndoOp::Undo).await.applied, Some(true));
    all_show(
        &[&ann, &other],
        "76543210",
        "the first item undone after the restart",
    )
    .await;
    let empty = ask(&ann, UndoOp::Undo).await;
    assert_eq!((empty.applied, empty.undo, empty.redo), (Some(false), 0, 3));
    assert_eq!(ask(&ann, UndoOp::Redo).await.applied, Some(true));
    all_show(
        &[&ann, &other],
        "76543210alpha beta",
        "redo after the restart",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_gateways_undoing_the_same_user_at_once_undo_one_item() {
    const FILE: &str = "undo/race.txt";
    let redis = RedisServer::start().await.expect("redis-server starts");
    let (gw1, gw2) = (gateway(&redis, &[]).await, gateway(&redis, &[]).await);
    let tab1 = join(&gw1, FILE, "ann").await;
    let tab2 = join(&gw2, FILE, "ann").await;
    let bob = join(&gw2, FILE, "bob").await;
    bob.insert(0, "bob:").expect("bob types");
    sees(&tab1, "bob:").await;
    tab1.push("one").expect("ann types");
    sees(&tab2, "bob:one").await;

    let (a, b) = tokio::join!(ask(&tab1, UndoOp::Undo), ask(&tab2, UndoOp::Undo));
    let applied: Vec<Option<bool>> = vec![a.applied, b.applied];
    assert_eq!(
        applied.iter().filter(|x| **x == Some(true)).count(),
        1,
        "exactly one of the two requests undid the item: {a:?} {b:?}"
    );
    all_show(
        &[&tab1, &tab2, &bob],
        "bob:",
        "one item undone, Bob's text untouched",
    )
    .await;
    let redo = ask(&tab2, UndoOp::Redo).await;
    assert_eq!((redo.applied, redo.undo, redo.redo), (Some(true), 1, 0));
    all_show(
        &[&tab1, &tab2, &bob],
        "bob:one",
        "one redo restores it once",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fast_typing_is_one_item_a_pause_starts_another_and_an_edit_clears_redo() {
    const FILE: &str = "undo/capture.txt";
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = gateway(&redis, &[]).await;
    let ann = join(&gw, FILE, "ann").await;
    // Another tab of the same user on another gateway types within the same window.
    let gw2 = gateway(&redis, &[]).await;
    let tab = join(&gw2, FILE, "ann").await;

    for word in ["fn ", "main", "()"] {
        ann.push(word).expect("ann types fast");
    }
    sees(&ann, "fn main()").await;
    tokio::time::sleep(PAUSE).await;
    for (i, c) in ["{", "}"].iter().enumerate() {
        ann.push(c).expect("ann types again");
        if i == 0 {
            sees(&tab, "fn main(){").await;
            tab.push(" ")
                .expect("the other tab types inside the window");
            sees(&ann, "fn main(){ ").await;
        }
    }
    sees(&tab, "fn main(){ }").await;
    tokio::time::sleep(PAUSE).await;

    let state = ask(&ann, UndoOp::Undo).await;
    assert_eq!((state.applied, state.undo), (Some(true), 1));
    all_show(
        &[&ann, &tab],
        "fn main()",
        "the burst after the pause, from both tabs, was one item",
    )
    .await;
    let state = ask(&ann, UndoOp::Undo).await;
    assert_eq!((state.applied, state.undo, state.redo), (Some(true), 0, 2));
    all_show(&[&ann, &tab], "", "three fast edits were one item").await;

    assert_eq!(ask(&ann, UndoOp::Redo).await.applied, Some(true));
    sees(&ann, "fn main()").await;
    ann.push(";").expect("a new edit");
    // The new edit cleared the redo list: the user's other tab hears the count drop to 0.
    tab.wait_for(
        |c| {
            c.undo_states()
                .last()
                .is_some_and(|s| s.op.is_none() && (s.undo, s.redo) == (2, 0))
        },
        DEADLINE,
    )
    .await
    .expect("the other tab is told that nothing is left to redo");
    let state = ask(&ann, UndoOp::Redo).await;
    assert_eq!((state.applied, state.redo), (Some(false), 0));
    all_show(&[&ann, &tab], "fn main();", "nothing was redone").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_only_members_undo_is_refused() {
    const FILE: &str = "sb1/undo.rs";
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = gateway(&redis, &["--auth", "redis"]).await;
    let mut platform = Platform::connect(&redis).await.expect("platform");
    let ttl = Duration::from_secs(600);
    platform
        .user("owner", "sb1", "10.0.0.1", "Owner", "#111")
        .await
        .expect("owner");
    platform
        .user("viewer", "sb9", "10.0.0.9", "Viewer", "#999")
        .await
        .expect("viewer");
    platform.member("sb1", "viewer", "ro").await.expect("share");
    let owner_token = platform.session("owner", ttl).await.expect("session");
    let viewer_token = platform.session("viewer", ttl).await.expect("session");
    let with = |token: &str| format!("{}&ext=undo", gw.ws_url_with_token(FILE, token));

    let owner = Client::connect_synced(&with(&owner_token), DEADLINE)
        .await
        .expect("owner joins");
    owner.insert(0, "let x = 1;").expect("owner types");
    let viewer = Client::connect_synced(&with(&viewer_token), DEADLINE)
        .await
        .expect("viewer joins");
    sees(&viewer, "let x = 1;").await;

    viewer.send_extension(&Extension::Undo);
    viewer
        .wait_for(
            |c| c.errors().iter().any(|e| e.reason == "read-only"),
            DEADLINE,
        )
        .await
        .expect("the viewer's undo is answered with the read-only error");
    assert_eq!(viewer.errors()[0].code, 4403);
    assert_eq!(viewer.closed_with(), None, "the viewer stays connected");
    // The owner's stack is untouched: its undo still takes its text back.
    assert_eq!(ask(&owner, UndoOp::Undo).await.applied, Some(true));
    all_show(
        &[&owner, &viewer],
        "",
        "the owner's undo reaches the viewer",
    )
    .await;
}
