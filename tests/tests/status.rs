//! The live status page (`/status`, `/status.json`): only with `--admin-token` (404
//! otherwise), the JSON only with the admin token as a bearer (401 otherwise); a client
//! in a room shows as that room with its person, its edits and its file's write-back
//! state; and neither the JSON nor the page ever holds a session token, a `sandbox_ip`,
//! the admin token or the user id of a person who has a name. Real redis-server and
//! gateway processes.

use std::time::Duration;

use collab_tests::admin_api::{ADMIN_TOKEN, SANDBOX_IP};
use collab_tests::{Client, DEADLINE, Gateway, HttpResponse, Platform, RedisCluster, RedisServer};
use serde_json::Value;

const FILE: &str = "sb-status/notes.md";

/// `GET path` with `authorization` as the Authorization header (none when `None`).
async fn get(gw: &Gateway, path: &str, authorization: Option<&str>) -> HttpResponse {
    let headers: Vec<(&str, &str)> = authorization
        .map(|value| ("Authorization", value))
        .into_iter()
        .collect();
    gw.http("GET", path, &headers, None)
        .await
        .unwrap_or_else(|| panic!("GET {path}: no answer"))
}

/// `/status.json` with the admin token.
async fn status(gw: &Gateway) -> Value {
    let answer = get(gw, "/status.json", Some(&format!("Bearer {ADMIN_TOKEN}"))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    answer.json()
}

/// The room of `file` in a status, if listed.
fn room<'a>(status: &'a Value, file: &str) -> Option<&'a Value> {
    status["rooms"]
        .as_array()?
        .iter()
        .find(|room| room["file"] == file)
}

/// Polls `/status.json` until `check` holds for it (returned), or fails with the last one.
async fn status_until(gw: &Gateway, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let last = status(gw).await;
        if check(&last) {
            return last;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status never showed {what}: {last:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_routes_need_an_admin_token_and_the_json_needs_it_as_a_bearer() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let plain = Gateway::start(&redis.url(), &[]).await.expect("gateway");
    for path in ["/status", "/status.json"] {
        assert_eq!(get(&plain, path, None).await.status, 404, "{path}");
        let bearer = format!("Bearer {ADMIN_TOKEN}");
        assert_eq!(get(&plain, path, Some(&bearer)).await.status, 404, "{path}");
    }

    let gw = Gateway::start(&redis.url(), &["--admin-token", ADMIN_TOKEN])
        .await
        .expect("gateway");
    let wrong = format!("Bearer {}", "x".repeat(ADMIN_TOKEN.len()));
    let basic = format!("Basic {ADMIN_TOKEN}");
    for credential in [
        None,
        Some(wrong.as_str()),
        Some(basic.as_str()),
        Some("Bearer"),
    ] {
        let answer = get(&gw, "/status.json", credential).await;
        assert_eq!(answer.status, 401, "{credential:?}: {}", answer.body);
        assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
        assert!(
            !answer.body.contains("rooms"),
            "no status without the token"
        );
    }
    let answer = gw
        .http("POST", "/status.json", &[], Some("{}"))
        .await
        .expect("an answer");
    assert_eq!(answer.status, 401, "a wrong method shows nothing either");

    // The page itself holds no data: a browser cannot send a bearer when it navigates.
    let page = get(&gw, "/status", None).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let policy = page.header("content-security-policy").expect("a CSP");
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'sha256-"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(page.body.contains("id=\"token-form\""));

    let status = status(&gw).await;
    assert_eq!(status["gateway"]["draining"], false);
    assert_eq!(status["redis"]["ready"], true, "{status:#}");
    assert_eq!(status["rooms"], Value::Array(vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_in_a_room_shows_by_name_and_no_secret_or_hidden_user_id_ever_does() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let mut platform = Platform::connect(&redis).await.expect("platform");
    let (ann, val) = ("u-ann-5f1c9e", "u-val-77ab02");
    platform
        .user(ann, "sb-status", SANDBOX_IP, "Ann Author", "#e91e63")
        .await
        .expect("user");
    platform
        .user(val, "sb-other", "10.0.0.43", "Val Viewer", "#2196f3")
        .await
        .expect("user");
    platform
        .member("sb-status", val, "ro")
        .await
        .expect("member");
    let ann_token = platform
        .session(ann, Duration::from_secs(600))
        .await
        .expect("session");
    let val_token = platform
        .session(val, Duration::from_secs(600))
        .await
        .expect("session");
    let gw = Gateway::start(
        &redis.url(),
        &["--auth", "redis", "--admin-token", ADMIN_TOKEN],
    )
    .await
    .expect("gateway");
    // The first request starts the samples the edit rate comes from.
    assert_eq!(status(&gw).await["rooms"], Value::Array(vec![]));

    let writer = Client::connect_synced(&gw.ws_url_with_token(FILE, &ann_token), DEADLINE)
        .await
        .expect("the writer connects");
    let _viewer = Client::connect_synced(&gw.ws_url_with_token(FILE, &val_token), DEADLINE)
        .await
        .expect("the viewer connects");
    let shown = status_until(&gw, "the room with both people", |s| {
        room(s, FILE).is_some_and(|r| r["connections"] == 2)
    })
    .await;
    let listed = room(&shown, FILE).expect("the room");
    let people: Vec<(&str, &str, bool)> = listed["people"]
        .as_array()
        .expect("people")
        .iter()
        .map(|p| {
            let name = p["name"].as_str().expect("a name");
            let color = p["color"].as_str().expect("a colour");
            (name, color, p["read_only"].as_bool().expect("read_only"))
        })
        .collect();
    assert_eq!(
        people,
        [
            ("Ann Author", "#e91e63", false),
            ("Val Viewer", "#2196f3", true)
        ]
    );

    // Typing shows as edits, and as a rate while it goes on.
    let typing = status_until(&gw, "a room with an edit rate", |s| {
        writer.push("x").expect("an edit");
        room(s, FILE).is_some_and(|r| r["edits_per_sec"].as_f64().unwrap_or(0.0) > 0.0)
    })
    .await;
    assert!(room(&typing, FILE).expect("the room")["edits"].as_u64() >= Some(1));
    assert!(
        typing["series"]["points"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    );

    let json = get(&gw, "/status.json", Some(&format!("Bearer {ADMIN_TOKEN}"))).await;
    let page = get(&gw, "/status", None).await;
    for (what, body) in [("status.json", &json.body), ("the page", &page.body)] {
        for secret in [
            ann_token.as_str(),
            val_token.as_str(),
            SANDBOX_IP,
            "10.0.0.43",
            ADMIN_TOKEN,
            ann,
            val,
        ] {
            assert!(!body.contains(secret), "{what} holds {secret:?}: {body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rooms_file_shows_its_write_back_state() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let files_dir = dir.path().to_str().expect("a UTF-8 temp path");
    let gw = Gateway::start(
        &redis.url(),
        &[
            "--admin-token",
            ADMIN_TOKEN,
            "--files",
            "dir",
            "--files-dir",
            files_dir,
            "--write-back-ms",
            "100",
        ],
    )
    .await
    .expect("gateway");
    let client = Client::connect_synced(&gw.ws_url("s1/todo.txt"), DEADLINE)
        .await
        .expect("connects");
    client.push("written back").expect("an edit");
    let saved = status_until(&gw, "the file saved", |s| {
        room(s, "s1/todo.txt").is_some_and(|r| {
            r["file_state"]["state"] == "saved" && r["file_state"]["last_write_secs_ago"].is_f64()
        })
    })
    .await;
    assert_eq!(saved["files"], "dir");
    assert_eq!(
        room(&saved, "s1/todo.txt").expect("room")["file_state"]["writer"],
        true
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("s1/todo.txt")).expect("the file"),
        "written back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_cluster_each_master_shows_with_its_probe_slots_and_files() {
    let cluster = RedisCluster::start().await.expect("the cluster starts");
    let gw = Gateway::start_on_cluster(&cluster, &["--admin-token", ADMIN_TOKEN])
        .await
        .expect("gateway");
    let _client = Client::connect_synced(&gw.ws_url("s1/cluster.txt"), DEADLINE)
        .await
        .expect("connects");
    let shown = status_until(&gw, "three masters, one holding the file", |s| {
        let nodes = s["redis"]["nodes"].as_array().cloned().unwrap_or_default();
        let files: u64 = nodes
            .iter()
            .filter_map(|n| n["file_channels"].as_u64())
            .sum();
        nodes.len() == 3 && files == 1
    })
    .await;
    assert_eq!(shown["redis"]["ready"], true, "{shown:#}");
    let nodes = shown["redis"]["nodes"].as_array().expect("nodes");
    let slots: u64 = nodes.iter().filter_map(|n| n["slots"].as_u64()).sum();
    assert_eq!(slots, 16384, "{shown:#}");
    for node in nodes {
        assert_eq!(node["up"], true, "{node}");
        assert!(node["probe_ms"].as_f64().is_some(), "{node}");
        assert!(
            node["node"]
                .as_str()
                .is_some_and(|n| n.starts_with("127.0.0.1:"))
        );
    }
}
