//! `GET /changes` against a real agent process: writes made by anything else (in place,
//! rename-into-place, `sed -i`, `git checkout`-style replace, a new directory, a delete, a
//! directory moved away) are reported with the final content's ETag, a burst on one file is
//! reported once, the agent's own PUTs are not reported, and every subscriber hears it all.
//!
//! Absence is checked against a later sentinel event, never by sleeping: events are emitted
//! in the order files settle, so an event that was going to come comes before the sentinel's.

mod common;

use std::process::Command;

use common::{Agent, etag_of, write_in_place};
use serde_json::{Value, json};

/// Tests that assert a burst (temp file + rename, 50 writes) is one event give the agent a
/// longer quiet period, so that a stall of this shared machine mid-burst does not split it.
const SLOW_SETTLE: &str = "--settle-ms";

fn changed(path: &str, bytes: &[u8]) -> Value {
    json!({ "path": path, "etag": etag_of(bytes), "kind": "changed" })
}

fn deleted(path: &str) -> Value {
    json!({ "path": path, "etag": null, "kind": "deleted" })
}

#[tokio::test]
async fn outside_writes_are_reported_with_the_final_etag() {
    let agent = Agent::start(&[SLOW_SETTLE, "500"]).await;
    let root = agent.root();
    let mut feed = agent.feed().await;

    // A plain in-place write.
    write_in_place(&root.join("a.txt"), b"first");
    assert_eq!(
        feed.until_path("a.txt").await,
        vec![changed("a.txt", b"first")]
    );

    // Rename into place, as editors and git do: temp file, then rename over the target.
    std::fs::write(root.join(".a.txt.swp"), b"second\r\n").expect("write temp");
    std::fs::rename(root.join(".a.txt.swp"), root.join("a.txt")).expect("rename");
    let events = feed.until_path("a.txt").await;
    assert_eq!(events.last(), Some(&changed("a.txt", b"second\r\n")));
    assert!(
        !events.iter().any(|e| e["path"] == ".a.txt.swp"),
        "a temp file created and renamed away in one burst is no change: {events:?}"
    );

    // sed -i (its own temp file and rename).
    let status = Command::new("sed")
        .args(["-i", "s/second/third/"])
        .arg(root.join("a.txt"))
        .status()
        .expect("sed");
    assert!(status.success());
    let events = feed.until_path("a.txt").await;
    assert_eq!(events, vec![changed("a.txt", b"third\r\n")], "sed -i");

    // A new directory with a file in it, made at once (the file may predate the watch).
    std::fs::create_dir_all(root.join("new/deep")).expect("mkdir");
    write_in_place(
        &root.join("new/deep/b.ts"),
        "let x = '\u{1F600}';".as_bytes(),
    );
    let events = feed.until_path("new/deep/b.ts").await;
    assert_eq!(
        events.last(),
        Some(&changed("new/deep/b.ts", "let x = '\u{1F600}';".as_bytes()))
    );

    // A delete.
    std::fs::remove_file(root.join("a.txt")).expect("rm");
    assert_eq!(feed.until_path("a.txt").await, vec![deleted("a.txt")]);

    // A directory moved out of the root: its files are gone.
    std::fs::rename(root.join("new"), agent.outside().join("new")).expect("mv out");
    assert_eq!(
        feed.until_path("new/deep/b.ts").await,
        vec![deleted("new/deep/b.ts")]
    );

    // A directory moved in: its files appear.
    std::fs::create_dir(agent.outside().join("incoming")).expect("mkdir");
    std::fs::write(agent.outside().join("incoming/c.md"), b"# c").expect("write");
    std::fs::rename(agent.outside().join("incoming"), root.join("incoming")).expect("mv in");
    assert_eq!(
        feed.until_path("incoming/c.md").await,
        vec![changed("incoming/c.md", b"# c")]
    );
}

#[tokio::test]
async fn the_agents_own_puts_are_not_reported() {
    let agent = Agent::start(&[]).await;
    let root = agent.root();
    let mut feed = agent.feed().await;

    let created = agent.create("src/app.ts", b"v1").await;
    assert_eq!(created.status, 201);
    let replaced = agent.replace("src/app.ts", &etag_of(b"v1"), b"v2").await;
    assert_eq!(replaced.status, 200);
    // The sentinel is written after the PUTs: an echo of them would come first.
    write_in_place(&root.join("sentinel-1"), b"s");
    assert_eq!(
        feed.until_path("sentinel-1").await,
        vec![changed("sentinel-1", b"s")],
        "the agent's own PUTs were reported"
    );

    // An outside write right after a PUT is reported, with its own bytes.
    let put = agent.replace("src/app.ts", &etag_of(b"v2"), b"v3").await;
    assert_eq!(put.status, 200);
    write_in_place(&root.join("src/app.ts"), b"v3 plus an outside edit");
    let events = feed.until_path("src/app.ts").await;
    assert_eq!(
        events,
        vec![changed("src/app.ts", b"v3 plus an outside edit")]
    );

    // An outside write that puts back exactly what the feed last reported is not news, but
    // one that restores an older version is.
    write_in_place(&root.join("src/app.ts"), b"v2");
    assert_eq!(
        feed.until_path("src/app.ts").await,
        vec![changed("src/app.ts", b"v2")]
    );
}

#[tokio::test]
async fn a_burst_on_one_file_is_reported_once() {
    let agent = Agent::start(&[SLOW_SETTLE, "500"]).await;
    let root = agent.root();
    let mut feed = agent.feed().await;
    let mut last = Vec::new();
    for i in 0..50 {
        last = format!("version {i}\n").into_bytes();
        write_in_place(&root.join("busy.txt"), &last);
    }
    assert_eq!(
        feed.until_path("busy.txt").await,
        vec![changed("busy.txt", &last)]
    );
    write_in_place(&root.join("sentinel"), b"s");
    let events = feed.until_path("sentinel").await;
    assert_eq!(
        events,
        vec![changed("sentinel", b"s")],
        "a second report of the burst"
    );
}

#[tokio::test]
async fn git_checkout_is_reported() {
    let agent = Agent::start(&[]).await;
    let root = agent.root();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(&root)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    std::fs::write(root.join("app.ts"), b"on main\n").expect("write");
    git(&["add", "app.ts"]);
    git(&["commit", "-qm", "one"]);
    git(&["checkout", "-qb", "other"]);
    std::fs::write(root.join("app.ts"), b"on other\n").expect("write");
    git(&["commit", "-qam", "two"]);
    let mut feed = agent.feed().await;
    git(&["checkout", "-q", "main"]);
    let events = feed.until_path("app.ts").await;
    assert_eq!(
        events.last(),
        Some(&changed("app.ts", b"on main\n")),
        "{events:?}"
    );
}

#[tokio::test]
async fn every_subscriber_hears_every_change() {
    let agent = Agent::start(&[]).await;
    let mut feeds = Vec::new();
    for _ in 0..3 {
        feeds.push(agent.feed().await);
    }
    write_in_place(&agent.root().join("shared.txt"), b"for all");
    for feed in &mut feeds {
        assert_eq!(
            feed.until_path("shared.txt").await,
            vec![changed("shared.txt", b"for all")]
        );
    }
    let head = &feeds[0].head;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
}

#[tokio::test]
async fn an_idle_feed_gets_keepalive_comments() {
    let agent = Agent::start(&[]).await;
    let feed = agent.feed().await;
    assert!(
        feed.wait_comment("ping", std::time::Duration::from_secs(20))
            .await,
        "no `: ping` within 20 s; comments: {:?}",
        feed.comments.lock().map(|c| c.clone()).unwrap_or_default()
    );
}

#[tokio::test]
async fn deleting_a_file_read_through_the_agent_is_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("root/src")).expect("root");
    std::fs::write(dir.path().join("root/src/old.ts"), b"from before the agent").expect("write");
    let agent = Agent::start_in(dir, &[], &[("COLLAB_AGENT_TOKEN", common::TOKEN)]).await;
    let mut feed = agent.feed().await;
    assert_eq!(agent.get("src/old.ts").await.status, 200);
    std::fs::remove_file(agent.root().join("src/old.ts")).expect("rm");
    assert_eq!(
        feed.until_path("src/old.ts").await,
        vec![deleted("src/old.ts")]
    );
}
