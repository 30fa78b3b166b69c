//! `--files dir`, what happens to changes made outside beyond the merge itself: a file
//! deleted outside is announced to opted-in editors and written again by the next edit,
//! and a user's undo takes back only that user's typing, never the merged outside change
//! (it is authored by `sandbox`, on nobody's undo list). Real redis-server and gateways.

use std::path::Path;

use collab_protocol::{Extension, FileSyncState, UndoOp};
use collab_tests::{Client, DEADLINE, Gateway, RedisServer, file_holds};

async fn gateway(redis: &RedisServer, dir: &Path) -> Gateway {
    let dir = dir.to_str().expect("a UTF-8 temp path");
    Gateway::start(
        &redis.url(),
        &[
            "--files",
            "dir",
            "--files-dir",
            dir,
            "--write-back-ms",
            "100",
            "--write-back-max-ms",
            "400",
            "--undo-capture-ms",
            "50",
        ],
    )
    .await
    .expect("gateway starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_deleted_outside_is_announced_and_the_next_edit_writes_it_again() {
    let redis = RedisServer::start().await.expect("redis starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("s1/gone.txt");
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&path, "kept\n").expect("the file");
    let gw = gateway(&redis, dir.path()).await;
    let editor = Client::connect_synced(&gw.ws_url("s1/gone.txt?ext=files"), DEADLINE)
        .await
        .expect("connects");
    assert_eq!(editor.text(), "kept\n");
    std::fs::remove_file(&path).expect("deleted outside");
    let told = editor
        .wait_for(
            |c| {
                c.extensions().iter().any(|e| {
                    matches!(
                        e,
                        Extension::FileState {
                            state: FileSyncState::Deleted,
                            ..
                        }
                    )
                })
            },
            DEADLINE,
        )
        .await;
    assert!(
        told.is_ok(),
        "the editor is told: {:?}",
        editor.extensions()
    );
    assert_eq!(editor.text(), "kept\n", "the document keeps its text");
    editor.push("again\n").expect("an edit");
    assert!(
        file_holds(&path, "kept\nagain\n").await,
        "the next edit writes the file again: {:?}",
        std::fs::read_to_string(&path)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_undo_never_removes_an_outside_change() {
    let redis = RedisServer::start().await.expect("redis starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("s1/undo.txt");
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&path, "one\ntwo\n").expect("the file");
    let gw = gateway(&redis, dir.path()).await;
    let ann = Client::connect_synced(
        &format!("{}?user=ann&ext=undo", gw.ws_url("s1/undo.txt")),
        DEADLINE,
    )
    .await
    .expect("connects");
    ann.insert(0, "ANN ").expect("Ann types");
    assert!(
        file_holds(&path, "ANN one\ntwo\n").await,
        "Ann's typing is on disk"
    );
    // A formatter in the sandbox rewrites the second line.
    std::fs::write(&path, "ANN one\nTWO\n").expect("outside write");
    let merged = ann
        .wait_for(|c| c.text() == "ANN one\nTWO\n", DEADLINE)
        .await;
    assert!(
        merged.is_ok(),
        "the outside change merges: {:?}",
        ann.text()
    );
    let answered = ann.undo_states().iter().filter(|s| s.op.is_some()).count();
    ann.send_extension(&Extension::Undo);
    let answer = ann
        .wait_for(
            |c| c.undo_states().iter().filter(|s| s.op.is_some()).count() > answered,
            DEADLINE,
        )
        .await;
    assert!(answer.is_ok(), "Ann's undo is answered");
    let undo = ann
        .undo_states()
        .into_iter()
        .filter(|s| s.op.is_some())
        .nth(answered);
    assert_eq!(undo.and_then(|s| s.op), Some(UndoOp::Undo));
    let undone = ann.wait_for(|c| c.text() == "one\nTWO\n", DEADLINE).await;
    assert!(undone.is_ok(), "only Ann's typing went: {:?}", ann.text());
    assert!(
        file_holds(&path, "one\nTWO\n").await,
        "the file keeps the outside change: {:?}",
        std::fs::read_to_string(&path)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_changed_while_nobody_had_it_open_opens_up_to_date() {
    let redis = RedisServer::start().await.expect("redis starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("s1/later.txt");
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&path, "alpha\nbeta\n").expect("the file");
    let mut gw = gateway(&redis, dir.path()).await;
    let ann = Client::connect_synced(&gw.ws_url("s1/later.txt"), DEADLINE)
        .await
        .expect("connects");
    ann.push("gamma\n").expect("Ann types");
    assert!(
        file_holds(&path, "alpha\nbeta\ngamma\n").await,
        "Ann's typing is on disk"
    );
    drop(ann);
    gw.terminate().await.expect("the gateway stops");
    // Nobody has the file open: a git checkout rewrites it. Redis still holds the document.
    std::fs::write(&path, "ALPHA\nbeta\ngamma\n").expect("outside write");
    let gw = gateway(&redis, dir.path()).await;
    let bob = Client::connect_synced(&gw.ws_url("s1/later.txt"), DEADLINE)
        .await
        .expect("connects");
    let fresh = bob
        .wait_for(|c| c.text() == "ALPHA\nbeta\ngamma\n", DEADLINE)
        .await;
    assert!(
        fresh.is_ok(),
        "the document opens up to date: {:?}",
        bob.text()
    );
}
