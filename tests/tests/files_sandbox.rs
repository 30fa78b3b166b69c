//! `--files sandbox`: documents open from the sandbox's file agent, typing reaches the
//! sandbox, outside writes (and a write racing one) merge with typing, a wrong agent token
//! fails clearly without writing or logging a secret, two sandboxes stay apart, and a
//! member's edits land in the owner's sandbox. Real redis-server, gateways (`--auth redis`)
//! and `collab-sandbox-agent` processes on 127.0.0.2 and 127.0.0.3, the `sandbox_ip`s of the
//! sandboxes `s1` and `s2`.

use std::path::Path;
use std::time::Duration;

use collab_protocol::{Extension, FileSyncState};
use collab_tests::{
    Agent, Client, DEADLINE, Gateway, Platform, RedisServer, eventually, file_holds, prometheus,
};

const AGENT_TOKEN: &str = "agent-token-3f9c1d7be2a04e55";
const S1_IP: &str = "127.0.0.2";
const S2_IP: &str = "127.0.0.3";
const SESSION: Duration = Duration::from_secs(600);

/// A gateway reaching agents on `port` with `token`, logging at debug, every line kept.
async fn gateway(redis: &RedisServer, port: u16, token: &str) -> Gateway {
    let env = [
        ("COLLAB_SANDBOX_AGENT_TOKEN", token),
        ("COLLAB_LOG", "debug"),
    ];
    collab_tests::agent::sandbox_gateway(redis, port, &env)
        .await
        .expect("gateway starts")
}

/// Redis, an agent for s1 on 127.0.0.2, and a platform with owner `u1` of s1 there.
async fn world(agent_flags: &[&str]) -> (RedisServer, Agent, Platform, String) {
    let redis = RedisServer::start().await.expect("redis starts");
    let agent = Agent::start(S1_IP, 0, AGENT_TOKEN, agent_flags)
        .await
        .expect("agent starts");
    let mut platform = Platform::connect(&redis).await.expect("platform");
    platform
        .user("u1", "s1", S1_IP, "Ada", "#f00")
        .await
        .expect("user");
    let token = platform.session("u1", SESSION).await.expect("session");
    (redis, agent, platform, token)
}

/// Awaits the agent's file holding exactly `expected`.
fn file_states(client: &Client) -> Vec<(FileSyncState, Option<String>)> {
    client
        .extensions()
        .into_iter()
        .filter_map(|e| match e {
            Extension::FileState { state, reason, .. } => Some((state, reason)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_file_opens_exactly_and_typing_on_two_gateways_reaches_the_sandbox() {
    let (redis, agent, _platform, token) = world(&[]).await;
    let original = "\u{feff}fn main() {\r\n    // 🦀 三\r\n}\r\n";
    let path = agent.write("src/main.rs", original.as_bytes());
    let (a, b) = (
        gateway(&redis, agent.port(), AGENT_TOKEN).await,
        gateway(&redis, agent.port(), AGENT_TOKEN).await,
    );
    let one = Client::connect_synced(&a.ws_url_with_token("s1/src/main.rs", &token), DEADLINE)
        .await
        .expect("connects");
    assert_eq!(
        one.text().as_bytes(),
        original.as_bytes(),
        "the exact bytes"
    );
    let two = Client::connect_synced(&b.ws_url_with_token("s1/src/main.rs", &token), DEADLINE)
        .await
        .expect("connects");
    assert_eq!(two.text(), original);
    one.push("// from a\r\n").expect("edit");
    two.insert(0, "// from b\r\n").expect("edit");
    let both = |c: &Client| c.text().contains("// from a") && c.text().contains("// from b");
    one.wait_for(both, DEADLINE).await.expect("one converges");
    two.wait_for(both, DEADLINE).await.expect("two converges");
    let text = one.text();
    assert!(
        file_holds(&path, &text).await,
        "the sandbox's file is the document: {:?} vs {text:?}",
        std::fs::read_to_string(&path)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outside_write_in_the_sandbox_merges_with_typing_on_both_gateways() {
    let (redis, agent, _platform, token) = world(&[]).await;
    let path = agent.write("a.txt", "head\nmiddle 🦀\ntail 三\n".as_bytes());
    let (a, b) = (
        gateway(&redis, agent.port(), AGENT_TOKEN).await,
        gateway(&redis, agent.port(), AGENT_TOKEN).await,
    );
    let url = |gw: &Gateway| format!("{}&ext=files", gw.ws_url_with_token("s1/a.txt", &token));
    let one = Client::connect_synced(&url(&a), DEADLINE)
        .await
        .expect("connects");
    let two = Client::connect_synced(&url(&b), DEADLINE)
        .await
        .expect("connects");
    one.insert(0, "A").expect("edit");
    two.push("Z").expect("edit");
    std::fs::write(&path, "head\nMIDDLE CHANGED 🎉\ntail 三\n").expect("outside write");
    one.insert(0, "B").expect("edit");
    let expected = "BAhead\nMIDDLE CHANGED 🎉\ntail 三\nZ";
    for client in [&one, &two] {
        let got = client.wait_for(|c| c.text() == expected, DEADLINE).await;
        assert!(got.is_ok(), "every editor has both: {:?}", client.text());
    }
    assert!(
        file_holds(&path, expected).await,
        "the sandbox's file has both: {:?}",
        std::fs::read_to_string(&path)
    );
    let merged = |c: &Client| {
        file_states(c)
            .iter()
            .any(|(s, _)| *s == FileSyncState::Merged)
    };
    assert!(
        eventually(DEADLINE, || async { merged(&one) || merged(&two) }).await,
        "an opted-in client is told: {:?} {:?}",
        one.extensions(),
        two.extensions()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_racing_an_outside_write_gets_412_and_loses_nothing() {
    // The agent reports an outside write only after 2.5 s of quiet, so the gateway's write
    // (100 ms after the typing) still carries the ETag it read: the agent answers 412.
    let (redis, agent, _platform, token) =
        world(&["--settle-ms", "2500", "--settle-max-ms", "5000"]).await;
    let path = agent.write("race.txt", b"one\ntwo\nthree\n");
    let gw = gateway(&redis, agent.port(), AGENT_TOKEN).await;
    let client = Client::connect_synced(&gw.ws_url_with_token("s1/race.txt", &token), DEADLINE)
        .await
        .expect("connects");
    let mut expected = String::from("one\ntwo\nthree\n");
    for round in 0..5 {
        let conflicts = |text: &str| {
            prometheus::count(text, "collab_file_writes_total", &[("outcome", "conflict")])
        };
        let before = conflicts(&gw.metrics().await.expect("metrics"));
        // The outside program rewrites the last line; the user types at the start.
        let outside = expected.replace("three", &format!("THREE{round}"));
        // Saved as editors save, by rename; a save that truncates then writes, caught
        // half done by the read after a 412, is `files_half_saved`'s.
        replace_atomically(&path, &outside);
        client.insert(0, &format!("<{round}>")).expect("edit");
        expected = format!("<{round}>{outside}");
        let got = client.wait_for(|c| c.text() == expected, DEADLINE).await;
        assert!(got.is_ok(), "round {round}: both kept: {:?}", client.text());
        assert!(
            file_holds(&path, &expected).await,
            "round {round}: the file has both: {:?}",
            std::fs::read_to_string(&path)
        );
        let after = conflicts(&gw.metrics().await.expect("metrics"));
        if after > before {
            return;
        }
        expected = expected.replace(&format!("THREE{round}"), "three");
        replace_atomically(&path, &expected);
        assert!(
            client
                .wait_for(|c| c.text() == expected, DEADLINE)
                .await
                .is_ok(),
            "round {round}: reset merged: {:?}",
            client.text()
        );
    }
    panic!("no write met a 412 in 5 rounds: the race was never exercised");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_agent_token_fails_clearly_writes_nothing_and_no_secret_is_logged() {
    let (redis, agent, _platform, token) = world(&[]).await;
    let path = agent.write("kept.txt", b"kept as it is\n");
    const WRONG: &str = "wrong-token-9b1e44c7d0a2f6";
    let gw = gateway(&redis, agent.port(), WRONG).await;
    let url = format!("{}&ext=files", gw.ws_url_with_token("s1/kept.txt", &token));
    let client = Client::connect_synced(&url, DEADLINE)
        .await
        .expect("admitted");
    let failed = |c: &Client| {
        file_states(c).iter().any(|(state, reason)| {
            *state == FileSyncState::Failed
                && reason.as_deref().is_some_and(|r| r.contains("token"))
        })
    };
    client
        .wait_for(failed, DEADLINE)
        .await
        .unwrap_or_else(|_| panic!("told the file failed: {:?}", client.extensions()));
    assert_eq!(client.text(), "", "opened from Redis, which holds nothing");
    client.push("typed\n").expect("edit");
    let tried = eventually(DEADLINE, || async {
        let text = gw.metrics().await.unwrap_or_default();
        prometheus::count(&text, "collab_file_writes_total", &[("outcome", "failed")]) >= 1.0
    })
    .await;
    assert!(tried, "a write was tried and failed");
    assert_eq!(std::fs::read(&path).expect("reads"), b"kept as it is\n");
    assert_eq!(agent.files(), ["kept.txt"], "nothing else written");
    let logs = gw.all_output().join("\n");
    assert!(logs.contains("DEBUG"), "the gateway logged at debug");
    for secret in [S1_IP, AGENT_TOKEN, WRONG, token.as_str()] {
        assert!(
            !logs.contains(secret),
            "the gateway's output holds {secret:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sandboxes_keep_their_files_apart() {
    let (redis, one_agent, mut platform, t1) = world(&[]).await;
    let two_agent = Agent::start(S2_IP, one_agent.port(), AGENT_TOKEN, &[])
        .await
        .expect("second agent starts");
    platform
        .user("u2", "s2", S2_IP, "Bo", "#0f0")
        .await
        .expect("user");
    let t2 = platform.session("u2", SESSION).await.expect("session");
    let p1 = one_agent.write("notes.txt", b"sandbox one\n");
    let p2 = two_agent.write("notes.txt", b"sandbox two\n");
    let gw = gateway(&redis, one_agent.port(), AGENT_TOKEN).await;
    let c1 = Client::connect_synced(&gw.ws_url_with_token("s1/notes.txt", &t1), DEADLINE)
        .await
        .expect("connects");
    let c2 = Client::connect_synced(&gw.ws_url_with_token("s2/notes.txt", &t2), DEADLINE)
        .await
        .expect("connects");
    assert_eq!(c1.text(), "sandbox one\n");
    assert_eq!(c2.text(), "sandbox two\n");
    c1.push("typed in one\n").expect("edit");
    c2.push("typed in two\n").expect("edit");
    assert!(
        file_holds(&p1, "sandbox one\ntyped in one\n").await,
        "s1's file"
    );
    assert!(
        file_holds(&p2, "sandbox two\ntyped in two\n").await,
        "s2's file"
    );
    // A user of s1 never reaches s2's files.
    let other = Client::connect(&gw.ws_url_with_token("s2/notes.txt", &t1))
        .await
        .expect("upgrades");
    assert_eq!(other.wait_closed(DEADLINE).await.expect("closed"), 4403);
    assert_eq!(one_agent.files(), ["notes.txt"]);
    assert_eq!(two_agent.files(), ["notes.txt"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_edits_land_in_the_owners_sandbox() {
    let (redis, s1_agent, mut platform, owner) = world(&[]).await;
    // The member's own sandbox s3 is elsewhere (127.0.0.3, its own agent).
    let s3_agent = Agent::start(S2_IP, s1_agent.port(), AGENT_TOKEN, &[])
        .await
        .expect("second agent starts");
    platform
        .user("u3", "s3", S2_IP, "Cy", "#00f")
        .await
        .expect("user");
    platform.member("s1", "u3", "rw").await.expect("member");
    let member = platform.session("u3", SESSION).await.expect("session");
    let path = s1_agent.write("shared.txt", b"shared\n");
    let (a, b) = (
        gateway(&redis, s1_agent.port(), AGENT_TOKEN).await,
        gateway(&redis, s1_agent.port(), AGENT_TOKEN).await,
    );
    // The member alone on gateway b: no owner taught b where s1 is.
    let url = format!(
        "{}&ext=files",
        b.ws_url_with_token("s1/shared.txt", &member)
    );
    let alone = Client::connect_synced(&url, DEADLINE)
        .await
        .expect("admitted");
    let told = alone
        .wait_for(
            |c| {
                file_states(c).iter().any(|(state, reason)| {
                    *state == FileSyncState::Failed
                        && reason.as_deref().is_some_and(|r| r.contains("owner"))
                })
            },
            DEADLINE,
        )
        .await;
    assert!(told.is_ok(), "told why: {:?}", alone.extensions());
    drop(alone);
    // The owner connected on gateway a, the member on gateway b: the member's typing
    // reaches s1's agent (through the gateway that knows the address).
    let owner_client =
        Client::connect_synced(&a.ws_url_with_token("s1/shared.txt", &owner), DEADLINE)
            .await
            .expect("connects");
    let member_client =
        Client::connect_synced(&b.ws_url_with_token("s1/shared.txt", &member), DEADLINE)
            .await
            .expect("connects");
    member_client.push("from the member\n").expect("edit");
    let expected = "shared\nfrom the member\n";
    owner_client
        .wait_for(|c| c.text() == expected, DEADLINE)
        .await
        .expect("the owner sees it");
    assert!(
        file_holds(&path, expected).await,
        "in s1's agent: {:?}",
        std::fs::read_to_string(&path)
    );
    assert!(
        s3_agent.files().is_empty(),
        "nothing in the member's own sandbox"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_opened_before_its_owner_connects_is_merged_not_overwritten_once_they_do() {
    let (redis, agent, mut platform, owner) = world(&[]).await;
    platform
        .user("u3", "s3", S2_IP, "Cy", "#00f")
        .await
        .expect("user");
    platform.member("s1", "u3", "rw").await.expect("member");
    let member = platform.session("u3", SESSION).await.expect("session");
    let path = agent.write("early.txt", b"in the sandbox\n");
    let gw = gateway(&redis, agent.port(), AGENT_TOKEN).await;
    let url = format!(
        "{}&ext=files",
        gw.ws_url_with_token("s1/early.txt", &member)
    );
    let early = Client::connect_synced(&url, DEADLINE)
        .await
        .expect("admitted");
    let told = early
        .wait_for(
            |c| {
                file_states(c)
                    .iter()
                    .any(|(state, _)| *state == FileSyncState::Failed)
            },
            DEADLINE,
        )
        .await;
    assert!(told.is_ok(), "told it failed: {:?}", early.extensions());
    assert_eq!(early.text(), "", "opened from Redis, which holds nothing");
    early.push("typed early\n").expect("edit");
    // The owner connects: the gateway learns where s1 is, reads the file and merges it
    // with what was typed; the file is never written over with the typing alone.
    let _owner = Client::connect_synced(&gw.ws_url_with_token("s1/early.txt", &owner), DEADLINE)
        .await
        .expect("connects");
    let both =
        |c: &Client| c.text().contains("typed early\n") && c.text().contains("in the sandbox\n");
    early
        .wait_for(both, DEADLINE)
        .await
        .unwrap_or_else(|_| panic!("both kept: {:?}", early.text()));
    let text = early.text();
    assert_eq!(
        text.len(),
        "typed early\nin the sandbox\n".len(),
        "nothing doubled: {text:?}"
    );
    assert!(
        file_holds(&path, &text).await,
        "the file is the merged document: {:?} vs {text:?}",
        std::fs::read_to_string(&path)
    );
    let recovered = early
        .wait_for(
            |c| {
                matches!(
                    file_states(c).last(),
                    Some((FileSyncState::Saved | FileSyncState::Merged, _))
                )
            },
            DEADLINE,
        )
        .await;
    assert!(
        recovered.is_ok(),
        "no longer failed: {:?}",
        early.extensions()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_while_the_agent_was_down_is_merged_after_the_feed_reconnects() {
    let (redis, mut agent, _platform, token) = world(&[]).await;
    let path = agent.write("down.txt", b"before\n");
    let gw = gateway(&redis, agent.port(), AGENT_TOKEN).await;
    let url = format!("{}&ext=files", gw.ws_url_with_token("s1/down.txt", &token));
    let client = Client::connect_synced(&url, DEADLINE)
        .await
        .expect("connects");
    assert_eq!(client.text(), "before\n");
    // A write that landed: the room's first check of the file is over.
    let told = file_states(&client).len();
    client.push("typed\n").expect("edit");
    assert!(file_holds(&path, "before\ntyped\n").await, "written back");
    // ...and that the gateway knows landed: killed between writing the file and answering,
    // the agent would leave the gateway unsure of it, and the outside change below would
    // then be merged with "typed" as typing not yet saved.
    let saved = client
        .wait_for(
            |c| {
                let states = file_states(c);
                let after = &states[told.min(states.len())..];
                after
                    .iter()
                    .position(|(s, _)| *s == FileSyncState::Saving)
                    .is_some_and(|at| after[at..].iter().any(|(s, _)| *s == FileSyncState::Saved))
            },
            DEADLINE,
        )
        .await;
    assert!(saved.is_ok(), "saved: {:?}", file_states(&client));
    agent.kill().await.expect("the agent stops");
    // Nobody types meanwhile: only the feed's re-check after it reconnects can see this.
    std::fs::write(&path, "changed while the agent was down\n").expect("outside write");
    agent.restart().await.expect("the agent starts again");
    client
        .wait_for(
            |c| c.text() == "changed while the agent was down\n",
            DEADLINE,
        )
        .await
        .unwrap_or_else(|_| panic!("merged after the reconnect: {:?}", client.text()));
    client.push("and typed after\n").expect("edit");
    assert!(
        file_holds(&path, "changed while the agent was down\nand typed after\n").await,
        "written to the restarted agent: {:?}",
        std::fs::read_to_string(&path)
    );
}

/// Writes `text` to `path` through a temporary file renamed into place.
fn replace_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp-outside");
    std::fs::write(&tmp, text).expect("outside write");
    std::fs::rename(&tmp, path).expect("outside rename");
}
