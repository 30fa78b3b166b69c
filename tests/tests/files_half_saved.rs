//! An outside program that saves by truncating the file and then writing it (not through a
//! temporary file renamed into place), while a user types: the gateway may read the file
//! in between, and must not merge that half save ("everything deleted", then "everything
//! inserted again", which moves the typing). What users see: every typed piece where it was
//! typed, the outside change there once, in every editor and on disk.
//!
//! `--files sandbox`: the save is caught by the read that follows a 412, deterministically
//! (a relay in front of the agent tells the test when the agent read the half-saved file
//! for the gateway, and holds that answer until the save has finished). `--files dir`: the change feed announces the
//! truncation at once; the save finishes after a short pause, as a slow writer's would.
//! Real redis-server, gateways, and `collab-sandbox-agent` processes on loopback addresses.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use collab_tests::{
    Agent, AgentTap, Client, DEADLINE, Gateway, Platform, RedisServer, file_holds, prometheus,
};

const AGENT_TOKEN: &str = "agent-token-5e2a9c41d7b83f06";
/// Where the agent of sandbox `s1` listens.
const AGENT_IP: &str = "127.0.0.2";
/// The `sandbox_ip` of `s1`: the tap in front of the agent.
const S1_IP: &str = "127.0.0.4";
/// How long the `--files dir` writer leaves the file truncated before writing it.
const SAVE_PAUSE: Duration = Duration::from_millis(30);

/// Truncates `path` and keeps it open: the first half of a save into place.
fn truncate(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .expect("the outside program opens the file")
}

/// The second half of the save: the whole new text.
fn finish(mut save: std::fs::File, text: &str) {
    save.write_all(text.as_bytes()).expect("the outside write");
}

async fn conflicts(gw: &Gateway) -> f64 {
    let text = gw.metrics().await.expect("metrics");
    prometheus::count(
        &text,
        "collab_file_writes_total",
        &[("outcome", "conflict")],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_412_that_catches_a_save_half_done_merges_the_whole_save_once() {
    let redis = RedisServer::start().await.expect("redis starts");
    // The agent's feed reports an outside write only after 20 s of quiet: within a round,
    // the gateway learns of the save only from its own write's 412.
    let agent = Agent::start(
        AGENT_IP,
        0,
        AGENT_TOKEN,
        &["--settle-ms", "20000", "--settle-max-ms", "20000"],
    )
    .await
    .expect("agent starts");
    let tap = AgentTap::start(S1_IP, agent.port(), &agent.addr)
        .await
        .expect("tap starts");
    let mut platform = Platform::connect(&redis).await.expect("platform");
    platform
        .user("u1", "s1", S1_IP, "Ada", "#f00")
        .await
        .expect("user");
    let token = platform
        .session("u1", Duration::from_secs(600))
        .await
        .expect("session");
    let path = agent.write("torn.txt", b"one\ntwo\n");
    let env = [("COLLAB_SANDBOX_AGENT_TOKEN", AGENT_TOKEN)];
    let gw = collab_tests::agent::sandbox_gateway(&redis, agent.port(), &env)
        .await
        .expect("gateway starts");
    let client = Client::connect_synced(&gw.ws_url_with_token("s1/torn.txt", &token), DEADLINE)
        .await
        .expect("connects");
    // A write that landed: the room's first check of the file is over.
    client.push("three\n").expect("edit");
    let mut expected = String::from("one\ntwo\nthree\n");
    assert!(file_holds(&path, &expected).await, "written back");
    let mut last = String::from("three");
    for round in 0..3 {
        let before = conflicts(&gw).await;
        let reads = tap.reads();
        let line = format!("THREE{round}");
        let outside = expected.replace(&last, &line);
        // The outside program has truncated the file and not written it yet, while the
        // user types at the start: the gateway's write meets 412, and it reads the file.
        tap.hold_reads();
        let save = truncate(&path);
        client.insert(0, &format!("<{round}>")).expect("edit");
        tap.read_after(reads, DEADLINE)
            .await
            .expect("the gateway read the half-saved file");
        finish(save, &outside);
        tap.release_reads();
        expected = format!("<{round}>{outside}");
        let seen = client.wait_for(|c| c.text() == expected, DEADLINE).await;
        assert!(
            seen.is_ok(),
            "round {round}: the typing where it was typed, the save once: {:?}, want {expected:?}",
            client.text()
        );
        assert!(
            file_holds(&path, &expected).await,
            "round {round}: the file has both: {:?}",
            std::fs::read_to_string(&path)
        );
        assert!(
            conflicts(&gw).await > before,
            "round {round}: the gateway's write met a 412 (the race was exercised)"
        );
        last = line;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_that_truncates_then_writes_merges_once_with_typing_on_two_gateways() {
    let redis = RedisServer::start().await.expect("redis starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("s1/torn.txt");
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&path, "one\ntwo\nthree\n").expect("the file");
    let files_dir = dir.path().to_str().expect("a UTF-8 temp path");
    let flags = [
        "--files",
        "dir",
        "--files-dir",
        files_dir,
        "--write-back-ms",
        "100",
        "--write-back-max-ms",
        "400",
    ];
    let a = Gateway::start(&redis.url(), &flags).await.expect("starts");
    let b = Gateway::start(&redis.url(), &flags).await.expect("starts");
    let one = Client::connect_synced(&a.ws_url("s1/torn.txt"), DEADLINE)
        .await
        .expect("connects");
    let two = Client::connect_synced(&b.ws_url("s1/torn.txt"), DEADLINE)
        .await
        .expect("connects");
    let mut expected = String::from("one\ntwo\nthree\n");
    let mut last = String::from("three");
    for round in 0..5 {
        let line = format!("THREE{round}");
        let outside = expected.replace(&last, &line);
        // The outside program truncates the file; the users type at the start and at the
        // end (on two gateways); the save finishes a moment later.
        let save = truncate(&path);
        one.insert(0, &format!("<{round}>")).expect("edit");
        two.push(&format!("[{round}]")).expect("edit");
        tokio::time::sleep(SAVE_PAUSE).await;
        finish(save, &outside);
        expected = format!("<{round}>{outside}[{round}]");
        for client in [&one, &two] {
            let seen = client.wait_for(|c| c.text() == expected, DEADLINE).await;
            assert!(
                seen.is_ok(),
                "round {round}: the typing where it was typed, the save once: {:?}, want \
                 {expected:?}",
                client.text()
            );
        }
        assert!(
            file_holds(&path, &expected).await,
            "round {round}: the file has both: {:?}",
            std::fs::read_to_string(&path)
        );
        last = line;
    }
}
