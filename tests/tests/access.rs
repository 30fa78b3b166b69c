//! The access-control matrix under `--auth redis` (the default), on two gateways sharing
//! one Redis, with the identity records written straight into Redis as the platform does.
//!
//! | who                          | file            | read | write               | close            |
//! | ---------------------------- | --------------- | ---- | ------------------- | ---------------- |
//! | owner of sb1                 | sb1/main.rs     | yes  | yes                 | -                |
//! | `rw` member of sb1           | sb1/main.rs     | yes  | yes                 | -                |
//! | `ro` member of sb1           | sb1/main.rs     | yes  | no (one `read-only` error, stays open) | - |
//! | user of sb3, not a member    | sb1/main.rs     | no   | no                  | 4403 outside-sandbox |
//! | no token                     | sb1/main.rs     | no   | no                  | 4401 missing-token |
//! | unknown token                | sb1/main.rs     | no   | no                  | 4401 unknown-token |
//! | expired session (PEXPIRE)    | sb1/main.rs     | no   | no                  | 4401 unknown-token |
//! | owner of sb1, `..` encoded   | `sb1%2F..%2Fsb2/secret.rs` and the `%2e%2e` forms | no | no | 4400 invalid-file-id |
//! | owner of sb1, double-encoded | `sb1%252F..%252Fsb2/secret.rs` | no | no | 4403 outside-sandbox |
//! | owner of sb1, no sandbox     | `lonely.txt`    | no   | no                  | 4403 no-sandbox  |
//!
//! Encoded traversal: the router percent-decodes the path once, so `%2F..%2F` and
//! `/%2e%2e/` arrive as a `..` segment, which no file id may have (4400, before any
//! lookup). Encoded twice, the slash stays `%2F` inside the first segment: a sandbox named
//! `sb1%2F..%2Fsb2`, which nobody owns (4403). Either way sb2 is never reached, and no key
//! of a refused file id exists in Redis afterwards.

use std::time::Duration;

use collab_protocol::close::{FORBIDDEN, INVALID_REQUEST, UNAUTHENTICATED};
use collab_tests::admission::{admitted, refused};
use collab_tests::identity::new_token;
use collab_tests::{Client, DEADLINE, Gateway, Platform, RedisServer, eventually, prometheus};
use redis::AsyncCommands;

const SB1_FILE: &str = "sb1/main.rs";
const SB2_FILE: &str = "sb2/secret.rs";
const SB1_SEED: &str = "fn sb1() {}\n";
const SB2_SEED: &str = "const SB2_SECRET: u8 = 2;\n";
const SESSION_TTL: Duration = Duration::from_secs(600);

/// Two gateways under `--auth redis`, and a platform with five users: the owners of sb1
/// and sb2, an `rw` and an `ro` member of sb1, and a user of sb3 with no share.
struct World {
    redis: RedisServer,
    gw1: Gateway,
    gw2: Gateway,
    platform: Platform,
    owner1: String,
    owner2: String,
    writer: String,
    viewer: String,
    stranger: String,
}

async fn world() -> World {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw1 = Gateway::start(&redis.url(), &["--auth", "redis"])
        .await
        .expect("gateway 1");
    let gw2 = Gateway::start(&redis.url(), &["--auth", "redis"])
        .await
        .expect("gateway 2");
    let mut platform = Platform::connect(&redis).await.expect("platform");
    let users = [
        ("u-ann", "sb1", "10.0.0.41", "Ann", "#d1495b"),
        ("u-bob", "sb2", "10.0.0.42", "Bob", "#66a182"),
        ("u-cyd", "sb9", "10.0.0.43", "Cyd", "#2e4057"),
        ("u-dee", "sb8", "10.0.0.44", "Dee", "#edae49"),
        ("u-eve", "sb3", "10.0.0.45", "Eve", "#00798c"),
    ];
    let mut tokens = Vec::new();
    for (id, sandbox, ip, name, color) in users {
        platform
            .user(id, sandbox, ip, name, color)
            .await
            .expect("user record");
        tokens.push(platform.session(id, SESSION_TTL).await.expect("session"));
    }
    platform.member("sb1", "u-cyd", "rw").await.expect("share");
    platform.member("sb1", "u-dee", "ro").await.expect("share");
    let [owner1, owner2, writer, viewer, stranger] = tokens.try_into().expect("five tokens");
    World {
        redis,
        gw1,
        gw2,
        platform,
        owner1,
        owner2,
        writer,
        viewer,
        stranger,
    }
}

/// Seeds `file` through `gw` with the owner's `token` and waits until it is stored.
async fn seed(gw: &Gateway, file: &str, token: &str, text: &str) -> Client {
    let owner = admitted(&gw.ws_url_with_token(file, token))
        .await
        .expect("the owner joins");
    owner.push(text).expect("types");
    owner
}

async fn text_is(client: &Client, want: &str) {
    client
        .wait_for(|c| c.text() == want, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("wanted {want:?}, have {:?}: {e:#}", client.text()));
}

/// Everything the file's log and snapshot hold, as bytes (yrs stores text as UTF-8).
async fn stored_bytes(redis: &RedisServer, file: &str) -> Vec<u8> {
    let mut conn = redis.connection().await.expect("redis");
    conn.set_response_timeout(Duration::from_secs(10));
    let entries: redis::Value = redis::cmd("XRANGE")
        .arg(format!("collab:{{{file}}}:log"))
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .expect("XRANGE");
    let snap: Vec<Vec<u8>> = conn
        .hvals(format!("collab:{{{file}}}:snap"))
        .await
        .expect("HVALS");
    let mut bytes = Vec::new();
    collect_bytes(&entries, &mut bytes);
    for value in snap {
        bytes.extend(value);
    }
    bytes
}

fn collect_bytes(value: &redis::Value, out: &mut Vec<u8>) {
    match value {
        redis::Value::BulkString(bytes) => out.extend(bytes),
        redis::Value::Array(items) => items.iter().for_each(|v| collect_bytes(v, out)),
        redis::Value::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            collect_bytes(k, out);
            collect_bytes(v, out);
        }),
        _ => {}
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn owners_and_members_read_and_write_by_role_and_nothing_crosses_sandboxes() {
    let mut w = world().await;
    let ann = seed(&w.gw1, SB1_FILE, &w.owner1, SB1_SEED).await;
    let bob = seed(&w.gw2, SB2_FILE, &w.owner2, SB2_SEED).await;
    text_is(&ann, SB1_SEED).await;
    text_is(&bob, SB2_SEED).await;

    // The owner on the other gateway: reads, writes.
    let ann2 = admitted(&w.gw2.ws_url_with_token(SB1_FILE, &w.owner1))
        .await
        .expect("owner on gateway 2");
    text_is(&ann2, SB1_SEED).await;
    ann2.push("// ann on gw2\n").expect("types");
    let after_owner = format!("{SB1_SEED}// ann on gw2\n");
    text_is(&ann, &after_owner).await;

    // The rw member: reads, writes, on either gateway.
    let cyd = admitted(&w.gw2.ws_url_with_token(SB1_FILE, &w.writer))
        .await
        .expect("rw member");
    text_is(&cyd, &after_owner).await;
    cyd.push("// cyd\n").expect("types");
    let after_writer = format!("{after_owner}// cyd\n");
    text_is(&ann, &after_writer).await;
    text_is(&ann2, &after_writer).await;

    // The ro member: syncs and sees edits as they come...
    let dee = admitted(&w.gw2.ws_url_with_token(SB1_FILE, &w.viewer))
        .await
        .expect("ro member");
    text_is(&dee, &after_writer).await;
    ann.push("// ann again\n").expect("types");
    let after_again = format!("{after_writer}// ann again\n");
    text_is(&dee, &after_again).await;
    // ...but its edits reach no one: dropped, answered once with read-only.
    dee.push("RO-EDIT-ONE").expect("types locally");
    dee.wait_for(|c| !c.errors().is_empty(), DEADLINE)
        .await
        .expect("the ro member is told");
    dee.push("RO-EDIT-TWO").expect("types locally");
    // A later edit of the owner's passes everyone; by then the ro edits were handled.
    ann.push("// marker\n").expect("types");
    let settled = format!("{after_again}// marker\n");
    for peer in [&ann, &ann2, &cyd] {
        text_is(peer, &settled).await;
    }
    dee.wait_for(|c| c.text().contains("// marker"), DEADLINE)
        .await
        .expect("the ro member still sees edits");
    let notices: Vec<(u16, String)> = dee
        .errors()
        .into_iter()
        .map(|e| (e.code, e.reason))
        .collect();
    assert_eq!(
        notices,
        vec![(FORBIDDEN, "read-only".to_owned())],
        "one read-only error for two edits"
    );
    assert_eq!(dee.closed_with(), None, "the ro member stays connected");
    // No later joiner, on either gateway, and nothing stored, holds the ro edits.
    for gw in [&w.gw1, &w.gw2] {
        let late = admitted(&gw.ws_url_with_token(SB1_FILE, &w.writer))
            .await
            .expect("late joiner");
        text_is(&late, &settled).await;
    }
    let stored = stored_bytes(&w.redis, SB1_FILE).await;
    assert!(contains(&stored, "// marker"), "the log is where we look");
    assert!(!contains(&stored, "RO-EDIT"), "an ro edit was stored");

    // Nothing crossed sandboxes: sb2 holds exactly its owner's text, and no one but its
    // owner's connection ever saw it.
    let bob_again = admitted(&w.gw1.ws_url_with_token(SB2_FILE, &w.owner2))
        .await
        .expect("sb2's owner");
    text_is(&bob_again, SB2_SEED).await;
    let stored = stored_bytes(&w.redis, SB2_FILE).await;
    assert!(!contains(&stored, "sb1") && !contains(&stored, "RO-EDIT"));
    for client in [&ann, &ann2, &cyd, &dee] {
        let seen = client.received_frames().concat();
        assert!(!contains(&seen, "SB2_SECRET"), "an sb1 client saw sb2");
    }
    let files: Vec<String> = w.platform.keys("collab:{*").await.expect("KEYS");
    for key in &files {
        assert!(
            key.starts_with("collab:{sb1/main.rs}") || key.starts_with("collab:{sb2/secret.rs}"),
            "a key of a file nobody legitimately opened: {key}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn strangers_missing_unknown_and_expired_tokens_and_escapes_are_refused() {
    let mut w = world().await;
    let bob = seed(&w.gw2, SB2_FILE, &w.owner2, SB2_SEED).await;
    text_is(&bob, SB2_SEED).await;
    let _ann = seed(&w.gw1, SB1_FILE, &w.owner1, SB1_SEED).await;

    let expired = new_token();
    w.platform
        .session_with_token(&expired, "u-ann", Duration::from_millis(150))
        .await
        .expect("a short session");
    let gone = eventually(Duration::from_secs(5), || async {
        !Platform::connect(&w.redis)
            .await
            .expect("platform")
            .session_exists(&expired)
            .await
            .expect("EXISTS")
    })
    .await;
    assert!(gone, "the session key expired");

    let unknown = new_token();
    let escapes = [
        "sb1%2F..%2Fsb2/secret.rs",
        "sb1/%2e%2e/sb2/secret.rs",
        "sb1/%2E%2E/sb2/secret.rs",
        "%2e%2e/sb2/secret.rs",
        "sb1/..%2Fsb2/secret.rs",
        "sb1/../sb2/secret.rs",
    ];
    for gw in [&w.gw1, &w.gw2] {
        let mut rows: Vec<(String, u16, &str)> = vec![
            (
                gw.ws_url_with_token(SB1_FILE, &w.stranger),
                FORBIDDEN,
                "outside-sandbox",
            ),
            (
                gw.ws_url_with_token(SB2_FILE, &w.owner1),
                FORBIDDEN,
                "outside-sandbox",
            ),
            (
                gw.ws_url_with_token(SB2_FILE, &w.viewer),
                FORBIDDEN,
                "outside-sandbox",
            ),
            (gw.ws_url(SB1_FILE), UNAUTHENTICATED, "missing-token"),
            (
                format!("{}?token=", gw.ws_url(SB1_FILE)),
                UNAUTHENTICATED,
                "missing-token",
            ),
            (
                gw.ws_url_with_token(SB1_FILE, &unknown),
                UNAUTHENTICATED,
                "unknown-token",
            ),
            (
                gw.ws_url_with_token(SB1_FILE, &expired),
                UNAUTHENTICATED,
                "unknown-token",
            ),
            (
                gw.ws_url_with_token("sb1%252F..%252Fsb2/secret.rs", &w.owner1),
                FORBIDDEN,
                "outside-sandbox",
            ),
            (
                gw.ws_url_with_token("lonely.txt", &w.owner1),
                FORBIDDEN,
                "no-sandbox",
            ),
            (
                gw.ws_url_with_token("%2Fsb1/x", &w.owner1),
                FORBIDDEN,
                "no-sandbox",
            ),
        ];
        for escape in escapes {
            rows.push((
                gw.ws_url_with_token(escape, &w.owner1),
                INVALID_REQUEST,
                "invalid-file-id",
            ));
        }
        for (url, code, reason) in rows {
            let client = refused(&url, code, reason)
                .await
                .unwrap_or_else(|e| panic!("{e:#}"));
            let seen = client.received_frames().concat();
            assert!(!contains(&seen, "SB2_SECRET") && !contains(&seen, "sb1()"));
        }
    }

    // sb2 is untouched and no refused file id left a key behind.
    let bob_again = admitted(&w.gw1.ws_url_with_token(SB2_FILE, &w.owner2))
        .await
        .expect("sb2's owner");
    text_is(&bob_again, SB2_SEED).await;
    let keys: Vec<String> = w.platform.keys("collab:{*").await.expect("KEYS");
    for key in &keys {
        assert!(
            key.starts_with("collab:{sb1/main.rs}") || key.starts_with("collab:{sb2/secret.rs}"),
            "a refused file id has a key: {key}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_connection_costs_at_most_one_lookup_and_opens_no_room() {
    let w = world().await;
    let gw = &w.gw1;
    let lookups =
        |text: &str, op: &str| prometheus::count(text, "collab_redis_seconds_count", &[("op", op)]);
    let before = gw.metrics().await.expect("/metrics");
    let unknown = 6;
    for _ in 0..unknown {
        refused(
            &gw.ws_url_with_token(SB1_FILE, &new_token()),
            UNAUTHENTICATED,
            "unknown-token",
        )
        .await
        .expect("unknown token");
    }
    for _ in 0..3 {
        refused(&gw.ws_url(SB1_FILE), UNAUTHENTICATED, "missing-token")
            .await
            .expect("no token");
        refused(
            &gw.ws_url_with_token("lonely.txt", &w.owner1),
            FORBIDDEN,
            "no-sandbox",
        )
        .await
        .expect("no sandbox");
        refused(
            &gw.ws_url_with_token("sb1%2F..%2Fsb2/x", &w.owner1),
            INVALID_REQUEST,
            "invalid-file-id",
        )
        .await
        .expect("traversal");
    }
    let after = gw.metrics().await.expect("/metrics");
    assert_eq!(
        lookups(&after, "session") - lookups(&before, "session"),
        unknown as f64,
        "one session lookup per unknown token, none for the others:\n{after}"
    );
    assert_eq!(
        lookups(&after, "identity"),
        lookups(&before, "identity"),
        "no user lookup for a token that is no session"
    );
    assert_eq!(
        prometheus::count(&after, "collab_rooms", &[]),
        0.0,
        "{after}"
    );
    for (reason, n) in [
        ("unknown-token", unknown),
        ("missing-token", 3),
        ("no-sandbox", 3),
        ("invalid-file-id", 3),
    ] {
        assert_eq!(
            prometheus::count(&after, "collab_rejected_total", &[("reason", reason)]),
            n as f64,
            "{reason}"
        );
    }
    // A stranger with a live session costs two round trips, and still no room.
    refused(
        &gw.ws_url_with_token(SB1_FILE, &w.stranger),
        FORBIDDEN,
        "outside-sandbox",
    )
    .await
    .expect("stranger");
    let last = gw.metrics().await.expect("/metrics");
    assert_eq!(lookups(&last, "session") - lookups(&after, "session"), 1.0);
    assert_eq!(
        lookups(&last, "identity") - lookups(&after, "identity"),
        1.0
    );
    assert_eq!(prometheus::count(&last, "collab_rooms", &[]), 0.0);
}
