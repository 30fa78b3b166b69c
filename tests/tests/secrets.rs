//! Tokens and `sandbox_ip` never leave the gateway: not in any log line (text or JSON, at
//! debug level and at trace level), not in any frame a client receives (close reasons
//! included), not in `/metrics`; and user ids are no metric labels.
//!
//! Three gateways log everything they do while clients connect in every way the access
//! rules know (admitted owners and viewers, strangers, unknown, expired, oversized and
//! JWT tokens, traversal, plain HTTP and oversized request heads carrying the token);
//! then every line and every byte is scanned for each secret.

use std::time::Duration;

use collab_tests::admission::{admitted, refused};
use collab_tests::identity::new_token;
use collab_tests::jwt::{claims, hs256, now};
use collab_tests::{Client, DEADLINE, Gateway, Platform, RedisServer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &[u8] = b"secrets test: an hs256 secret of 32+ bytes";
const IPS: [&str; 3] = ["10.66.0.11", "10.66.0.12", "10.66.0.13"];
const USERS: [&str; 3] = ["u-sam", "u-val", "u-oz"];

/// Sends `head` as a raw HTTP request and returns the status line.
async fn raw_request(gw: &Gateway, head: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(gw.addr())
        .await
        .expect("connects");
    stream.write_all(head.as_bytes()).await.expect("writes");
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

fn find<'a>(haystack: &'a str, secrets: &[String]) -> Option<&'a str> {
    secrets
        .iter()
        .any(|s| haystack.contains(s.as_str()))
        .then_some(haystack)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_token_or_sandbox_ip_in_any_log_line_frame_or_metric() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let mut platform = Platform::connect(&redis).await.expect("platform");
    for ((user, sandbox), ip) in USERS.iter().zip(["sb1", "sb5", "sb6"]).zip(IPS) {
        platform
            .user(user, sandbox, ip, user, "#123456")
            .await
            .expect("user");
    }
    platform.member("sb1", "u-val", "ro").await.expect("share");
    let owner = platform
        .session("u-sam", Duration::from_secs(600))
        .await
        .expect("session");
    let viewer = platform
        .session("u-val", Duration::from_secs(600))
        .await
        .expect("session");
    let stranger = platform
        .session("u-oz", Duration::from_secs(600))
        .await
        .expect("session");
    let expired = platform
        .session("u-sam", Duration::from_millis(100))
        .await
        .expect("session");
    let gone = collab_tests::eventually(Duration::from_secs(5), || async {
        let mut platform = Platform::connect(&redis).await.expect("platform");
        !platform.session_exists(&expired).await.expect("EXISTS")
    })
    .await;
    assert!(gone, "the short session expired");
    let unknown = new_token();
    let oversized = "o".repeat(5000) + &new_token();

    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("secret");
    std::fs::write(&key, SECRET).expect("key");
    let key = key.to_str().expect("utf-8").to_owned();
    let debug = [("COLLAB_LOG", "debug")];
    let trace = [("COLLAB_LOG", "trace")];
    let text = Gateway::start_with_env(&redis.url(), &["--auth", "redis"], &debug)
        .await
        .expect("text gateway");
    let json_gw = Gateway::start_with_env(
        &redis.url(),
        &["--auth", "redis", "--log-format", "json"],
        &trace,
    )
    .await
    .expect("json gateway");
    let jwt_gw = Gateway::start_with_env(
        &redis.url(),
        &["--auth", "jwt", "--jwt-key", &key, "--log-format", "json"],
        &debug,
    )
    .await
    .expect("jwt gateway");

    let mut clients: Vec<Client> = Vec::new();
    for gw in [&text, &json_gw] {
        let ann = admitted(&gw.ws_url_with_token("sb1/a.rs", &owner))
            .await
            .expect("owner");
        ann.push("owner text\n").expect("types");
        ann.set_awareness(collab_tests::cursor_state("sam", "#123456"));
        let val = admitted(&gw.ws_url_with_token("sb1/a.rs", &viewer))
            .await
            .expect("viewer");
        val.push("viewer text").expect("types locally");
        val.wait_for(|c| !c.errors().is_empty(), DEADLINE)
            .await
            .expect("read-only");
        clients.push(ann);
        clients.push(val);
        for (url, code, reason) in [
            (
                gw.ws_url_with_token("sb1/a.rs", &stranger),
                4403,
                "outside-sandbox",
            ),
            (
                gw.ws_url_with_token("sb1/a.rs", &unknown),
                4401,
                "unknown-token",
            ),
            (
                gw.ws_url_with_token("sb1/a.rs", &expired),
                4401,
                "unknown-token",
            ),
            (
                gw.ws_url_with_token("sb1/a.rs", &oversized),
                4401,
                "bad-token",
            ),
            (
                gw.ws_url_with_token("sb1%2F..%2Fsb2/x", &owner),
                4400,
                "invalid-file-id",
            ),
            (gw.ws_url_with_token("lonely", &owner), 4403, "no-sandbox"),
        ] {
            clients.push(
                refused(&url, code, reason)
                    .await
                    .unwrap_or_else(|e| panic!("{e:#}")),
            );
        }
        // The token in requests that never become sessions.
        let plain = raw_request(
            gw,
            &format!(
                "GET /doc/sb1/a.rs?token={owner} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            ),
        )
        .await;
        assert!(plain.contains(" 426 "), "{plain}");
        let missing = raw_request(
            gw,
            &format!("GET /nothing?token={owner} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(missing.contains(" 404 "), "{missing}");
        let huge = raw_request(
            gw,
            &format!(
                "GET /doc/sb1/a.rs?token={owner} HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
                "p".repeat(20 << 10)
            ),
        )
        .await;
        assert!(huge.contains(" 431 ") || huge.is_empty(), "{huge}");
    }

    let jwt_rw = hs256(SECRET, &claims("u-jay", "sb1", None, 600));
    let jwt_ro = hs256(SECRET, &claims("u-kim", "sb1", Some("ro"), 600));
    let jwt_expired = hs256(SECRET, &claims("u-jay", "sb1", None, -30));
    let jwt_wrong = hs256(
        b"not the gateway's secret, 32 bytes",
        &claims("u-jay", "sb1", None, 600),
    );
    let jwt_short = hs256(
        SECRET,
        &json!({ "sub": "u-lee", "sandbox": "sb1", "exp": now() + 2 }),
    );
    let jay = admitted(&jwt_gw.ws_url_with_token("sb1/a.rs", &jwt_rw))
        .await
        .expect("jwt rw");
    jay.push("jwt text\n").expect("types");
    let kim = admitted(&jwt_gw.ws_url_with_token("sb1/a.rs", &jwt_ro))
        .await
        .expect("jwt ro");
    kim.push("kim").expect("types locally");
    let lee = admitted(&jwt_gw.ws_url_with_token("sb1/a.rs", &jwt_short))
        .await
        .expect("short");
    for (token, code, reason) in [
        (&jwt_expired, 4401, "token-expired"),
        (&jwt_wrong, 4401, "bad-token"),
    ] {
        clients.push(
            refused(&jwt_gw.ws_url_with_token("sb1/a.rs", token), code, reason)
                .await
                .unwrap_or_else(|e| panic!("{e:#}")),
        );
    }
    assert_eq!(
        lee.wait_closed(Duration::from_secs(10))
            .await
            .expect("at exp"),
        4401
    );
    clients.extend([jay, kim, lee]);

    let mut secrets: Vec<String> = vec![owner, viewer, stranger, expired, unknown, oversized];
    for jwt in [jwt_rw, jwt_ro, jwt_expired, jwt_wrong, jwt_short] {
        // The whole token, and its signature alone.
        secrets.push(jwt.rsplit('.').next().expect("a signature").to_owned());
        secrets.push(jwt);
    }
    secrets.extend(IPS.iter().map(|ip| ip.to_string()));
    secrets.push(String::from_utf8_lossy(SECRET).into_owned());

    let gateways = [("text", &text), ("json", &json_gw), ("jwt", &jwt_gw)];
    for (name, gw) in gateways {
        let lines = gw.all_output();
        let leaks: Vec<&str> = lines.iter().filter_map(|l| find(l, &secrets)).collect();
        assert!(
            leaks.is_empty(),
            "{name} gateway logged a secret: {leaks:#?}"
        );
        // The scan looked at real debug logs, refusals included.
        assert!(
            lines.iter().any(|l| l.contains("DEBUG")),
            "{name}: no debug lines"
        );
        assert!(
            lines.iter().any(|l| l.contains("refusing a client")),
            "{name}: no refusal logged"
        );
        let metrics = gw.metrics().await.expect("/metrics");
        assert!(
            find(&metrics, &secrets).is_none(),
            "{name}: a secret in /metrics"
        );
        for user in USERS.iter().chain(&["u-jay", "u-kim", "u-lee"]) {
            assert!(
                !metrics.contains(user),
                "{name}: user id {user} in /metrics"
            );
        }
    }
    assert!(
        json_gw.all_output().iter().any(|l| l.contains("TRACE")),
        "the json gateway logged at trace level"
    );
    for client in &clients {
        for frame in client.received_frames() {
            let frame = String::from_utf8_lossy(&frame);
            assert!(
                find(&frame, &secrets).is_none(),
                "a client received a secret: {frame:?}"
            );
        }
    }
    assert!(
        clients
            .iter()
            .map(|c| c.received_frames().len())
            .sum::<usize>()
            > clients.len(),
        "frames were recorded"
    );
}
