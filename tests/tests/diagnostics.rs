//! Syntax diagnostics on the server: computed once per version of a file's text, cached in
//! `collab:{F}:diag`, and shown to every opted-in editor on every gateway; external sources
//! posting markers over HTTP. Real redis-server, real gateway processes.
//!
//! What a user would see is asserted: the markers each editor receives for the text it
//! shows (the message's `version` is the SHA-256 of that text), computed here
//! independently of the gateway.

use std::time::Duration;

use collab_protocol::{FileId, Keys, Marker};
use collab_tests::{Client, DEADLINE, Gateway, Platform, RedisServer, eventually, prometheus};
use redis::AsyncCommands;
use sha2::{Digest, Sha256};

const ADMIN: &str = "diagnostics-test-admin-token-0123456789";

fn version_of(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn gateway(redis: &RedisServer, extra: &[&str]) -> Gateway {
    Gateway::start(&redis.url(), extra)
        .await
        .expect("gateway starts")
}

/// Joins `file` on `gw`, opted into diagnostics, and waits for sync.
async fn watcher(gw: &Gateway, file: &str) -> Client {
    let url = format!("{}?ext=diagnostics", gw.ws_url(file));
    Client::connect_synced(&url, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("joining {file}: {e:#}"))
}

/// Awaits `client` showing `source`'s markers for the text it holds now, and returns them.
async fn markers_for_text(client: &Client, source: &str) -> Vec<Marker> {
    let seen = client
        .wait_for(
            |c| {
                let want = version_of(&c.text());
                c.diagnostics(source).is_some_and(|(v, _)| v == want)
            },
            DEADLINE,
        )
        .await;
    if let Err(error) = seen {
        panic!(
            "no {source} markers for the text {:?} (last: {:?}): {error:#}",
            client.text(),
            client.diagnostics(source)
        );
    }
    client.diagnostics(source).expect("markers").1
}

/// Syntax parses a gateway ran, by its `/metrics`.
async fn parses(gw: &Gateway) -> f64 {
    let text = gw.metrics().await.expect("metrics");
    prometheus::count(&text, "collab_diagnostics_parses_total", &[])
}

#[tokio::test]
async fn each_version_is_parsed_once_and_every_watcher_sees_the_same_markers() {
    let redis = RedisServer::start().await.expect("redis");
    let a = gateway(&redis, &[]).await;
    let b = gateway(&redis, &[]).await;
    let file = "sb1/src/main.ts";
    let ann = watcher(&a, file).await;
    let bob = watcher(&b, file).await;
    // The empty file has no errors; both are told so.
    assert_eq!(markers_for_text(&ann, "syntax").await, vec![]);
    assert_eq!(markers_for_text(&bob, "syntax").await, vec![]);
    let before = parses(&a).await + parses(&b).await;

    ann.push("const a = 1;\nfunction f( {\n").expect("edit");
    bob.wait_for(|c| c.text().contains("f( {"), DEADLINE)
        .await
        .expect("Bob sees Ann's text");
    let for_ann = markers_for_text(&ann, "syntax").await;
    let for_bob = markers_for_text(&bob, "syntax").await;
    assert!(
        !for_ann.is_empty(),
        "an unclosed parameter list is an error"
    );
    assert_eq!(for_ann, for_bob, "both gateways show the same markers");
    assert!(
        for_ann
            .iter()
            .all(|m| m.severity == 8 && m.start_line_number == 2),
        "the error is on line 2: {for_ann:?}"
    );
    // Both gateways held the version; one parsed it, the other took the result.
    let after = parses(&a).await + parses(&b).await;
    assert_eq!(
        after - before,
        1.0,
        "one parse for one version on two gateways"
    );

    // Fixed: the markers go, everywhere.
    let end = ann.len();
    ann.delete(0, end).expect("clear");
    ann.push("const a = 1;\nfunction f() {}\n").expect("fix");
    bob.wait_for(|c| c.text().contains("f() {}"), DEADLINE)
        .await
        .expect("Bob sees the fix");
    assert_eq!(markers_for_text(&bob, "syntax").await, vec![]);
    assert_eq!(markers_for_text(&ann, "syntax").await, vec![]);
}

#[tokio::test]
async fn a_joiner_gets_the_markers_without_any_edit_and_from_the_cache_later() {
    let redis = RedisServer::start().await.expect("redis");
    let a = gateway(&redis, &["--room-grace-ms", "200"]).await;
    let b = gateway(&redis, &["--room-grace-ms", "200"]).await;
    let file = "sb1/app.py";
    let mut ann = watcher(&a, file).await;
    ann.push("def f(:\n    return 1\n").expect("edit");
    let shown = markers_for_text(&ann, "syntax").await;
    assert!(!shown.is_empty(), "`def f(:` is a syntax error");

    // A joiner on the other gateway gets them at once, with no edit from anyone.
    let mut carol = watcher(&b, file).await;
    assert_eq!(markers_for_text(&carol, "syntax").await, shown);

    // Everyone leaves; the rooms close. A new joiner's room finds them in the cache.
    ann.close().await.expect("close");
    carol.close().await.expect("close");
    let rooms_closed = eventually(DEADLINE, || async {
        let (ma, mb) = (a.metrics().await, b.metrics().await);
        [ma, mb].iter().all(|m| {
            m.as_ref()
                .is_ok_and(|m| prometheus::value(m, "collab_rooms", &[]) == Some(0.0))
        })
    })
    .await;
    assert!(rooms_closed, "both rooms retire once empty");
    let before = parses(&a).await + parses(&b).await;
    let dave = watcher(&a, file).await;
    assert_eq!(markers_for_text(&dave, "syntax").await, shown);
    let after = parses(&a).await + parses(&b).await;
    assert_eq!(after, before, "a cached version is not parsed again");
}

#[tokio::test]
async fn markers_go_only_to_connections_that_asked_and_unknown_files_get_none() {
    let redis = RedisServer::start().await.expect("redis");
    let a = gateway(&redis, &[]).await;
    let file = "sb1/lib.rs";
    let stock = Client::connect_synced(&a.ws_url(file), DEADLINE)
        .await
        .expect("a stock client joins");
    let ann = watcher(&a, file).await;
    stock.push("fn main() {\n").expect("edit");
    ann.wait_for(|c| c.text().contains("main"), DEADLINE)
        .await
        .expect("Ann sees the edit");
    assert!(!markers_for_text(&ann, "syntax").await.is_empty());
    assert_eq!(
        stock.diagnostics_received(),
        0,
        "a client without ?ext=diagnostics gets no diagnostics"
    );

    // A file whose extension has no grammar: no syntax markers at all.
    let notes = watcher(&a, "sb1/notes.txt").await;
    notes.push("(((( not code").expect("edit");
    let other = watcher(&a, "sb1/notes.txt").await;
    other
        .wait_for(|c| c.text().contains("not code"), DEADLINE)
        .await
        .expect("synced");
    // The .rs room above answered within this time; this one never will.
    ann.push("}\n").expect("fix");
    assert_eq!(markers_for_text(&ann, "syntax").await, vec![]);
    assert_eq!(notes.diagnostics("syntax"), None);
    assert_eq!(other.diagnostics("syntax"), None);
}

#[tokio::test]
async fn cached_markers_expire_with_the_hash() {
    let redis = RedisServer::start().await.expect("redis");
    let a = gateway(&redis, &["--diagnostics-ttl", "1"]).await;
    let file = "sb1/data.json";
    let ann = watcher(&a, file).await;
    ann.push("{\"a\": 1,}\n").expect("edit");
    assert!(
        !markers_for_text(&ann, "syntax").await.is_empty(),
        "a trailing comma"
    );
    let key = Keys::default().diag(&FileId::parse(file).expect("file id"));
    let mut conn = redis.connection().await.expect("redis connection");
    let ttl: i64 = conn.pttl(&key).await.expect("PTTL");
    assert!(
        (1..=1000).contains(&ttl),
        "the hash expires within the configured second: {ttl}"
    );
    let gone = eventually(DEADLINE, || {
        let mut conn = conn.clone();
        let key = key.clone();
        async move { !conn.exists::<_, bool>(&key).await.unwrap_or(true) }
    })
    .await;
    assert!(gone, "the diagnostics hash expired");
}

/// `POST /files/{F}/diagnostics` on `gw` with `token` as the bearer.
async fn post(gw: &Gateway, file: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    let path = format!("/files/{file}/diagnostics");
    let response = gw
        .http("POST", &path, &headers, Some(body))
        .await
        .expect("the gateway answers");
    (response.status, response.body)
}

fn lint_body(version: &str, message: &str) -> String {
    serde_json::json!({
        "source": "eslint",
        "version": version,
        "markers": [{
            "severity": 4, "message": message,
            "startLineNumber": 1, "startColumn": 7, "endLineNumber": 1, "endColumn": 8,
            "code": "no-unused-vars"
        }],
    })
    .to_string()
}

#[tokio::test]
async fn external_sources_post_for_the_current_text_and_are_refused_otherwise() {
    let redis = RedisServer::start().await.expect("redis");
    let mut platform = Platform::connect(&redis).await.expect("platform");
    platform
        .user("ann", "sb1", "10.0.0.1", "Ann", "#f00")
        .await
        .expect("ann");
    platform
        .user("eve", "sb2", "10.0.0.2", "Eve", "#0f0")
        .await
        .expect("eve");
    platform
        .user("olga", "sb3", "10.0.0.3", "Olga", "#00f")
        .await
        .expect("olga");
    platform
        .member("sb1", "olga", "ro")
        .await
        .expect("olga reads sb1");
    let hour = Duration::from_secs(3600);
    let ann_token = platform.session("ann", hour).await.expect("session");
    let eve_token = platform.session("eve", hour).await.expect("session");
    let olga_token = platform.session("olga", hour).await.expect("session");
    let args = ["--auth", "redis", "--admin-token", ADMIN];
    let a = gateway(&redis, &args).await;
    let b = gateway(&redis, &args).await;
    let file = "sb1/src/util.js";
    let url = format!("{}&ext=diagnostics", a.ws_url_with_token(file, &ann_token));
    let ann = Client::connect_synced(&url, DEADLINE)
        .await
        .expect("Ann joins");
    ann.push("let x = 1;\n").expect("edit");
    let text = "let x = 1;\n";
    let version = version_of(text);

    // Posted on B, which holds no client of the file: its room opens to check the version.
    let (status, body) = post(&b, file, Some(ADMIN), &lint_body(&version, "x is unused")).await;
    assert_eq!(status, 200, "{body}");
    let got = markers_for_text(&ann, "eslint").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message, "x is unused");
    assert_eq!(got[0].code.as_deref(), Some("no-unused-vars"));
    let key = Keys::default().diag(&FileId::parse(file).expect("file id"));
    let mut conn = redis.connection().await.expect("redis");
    let cached: Option<String> = conn
        .hget(&key, format!("eslint:{version}"))
        .await
        .expect("HGET");
    assert!(
        cached.is_some_and(|json| json.contains("x is unused")),
        "cached"
    );

    // Ann's own session may post too (she writes the file); others may not.
    let (status, body) = post(
        &a,
        file,
        Some(&ann_token),
        &lint_body(&version, "still unused"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    ann.wait_for(
        |c| {
            c.diagnostics("eslint")
                .is_some_and(|(_, m)| m[0].message == "still unused")
        },
        DEADLINE,
    )
    .await
    .expect("the newer post replaces the older");
    assert_eq!(
        post(&a, file, Some(&eve_token), &lint_body(&version, "x"))
            .await
            .0,
        403
    );
    assert_eq!(
        post(&a, file, Some(&olga_token), &lint_body(&version, "x"))
            .await
            .0,
        403
    );
    assert_eq!(post(&a, file, None, &lint_body(&version, "x")).await.0, 401);
    assert_eq!(
        post(&a, file, Some("not-a-session"), &lint_body(&version, "x"))
            .await
            .0,
        401
    );

    // A version that is not the file's text: 409, nothing broadcast.
    let stale = version_of("let x = 2;\n");
    let (status, body) = post(&b, file, Some(ADMIN), &lint_body(&stale, "stale")).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains(&version),
        "the answer names the current version: {body}"
    );
    // Bad bodies: 400 with what is wrong.
    let (status, body) = post(
        &a,
        file,
        Some(ADMIN),
        r#"{"source":"syntax","version":"x","markers":[]}"#,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = post(&a, file, Some(ADMIN), "not json").await;
    assert_eq!(status, 400);

    // Cleared: every watcher's eslint markers go.
    let response = a
        .http(
            "DELETE",
            &format!("/files/{file}/diagnostics?source=eslint"),
            &[("Authorization", &format!("Bearer {ADMIN}"))],
            None,
        )
        .await
        .expect("answer");
    assert_eq!(response.status, 204, "{}", response.body);
    ann.wait_for(
        |c| c.diagnostics("eslint").is_some_and(|(_, m)| m.is_empty()),
        DEADLINE,
    )
    .await
    .expect("an empty list clears the source");
    let fields: Vec<String> = conn.hkeys(&key).await.expect("HKEYS");
    assert!(
        fields
            .iter()
            .all(|f| !f.starts_with("eslint") && f != "order:eslint"),
        "nothing of eslint is left: {fields:?}"
    );
    assert_eq!(ann.closed_with(), None, "Ann stayed connected throughout");
    for gw in [&a, &b] {
        assert!(
            !gw.stderr_tail().contains(&ann_token),
            "tokens never reach logs"
        );
    }
}

#[tokio::test]
async fn a_huge_or_pathological_file_never_stalls_relaying() {
    let redis = RedisServer::start().await.expect("redis");
    let a = gateway(&redis, &["--diagnostics-parse-timeout-ms", "50"]).await;
    // A 5 MB file: over the size bound, never parsed; its markers are an empty list.
    let big = "sb1/big.ts";
    let ann = watcher(&a, big).await;
    let line = "const value = [1, 2, 3].map((x) => x * 2);\n";
    ann.push(&line.repeat(5_000_000 / line.len()))
        .expect("upload");
    assert_eq!(markers_for_text(&ann, "syntax").await, vec![]);

    // Deeply nested brackets under the size bound: the parse runs out of time.
    let nested = "sb1/nested.js";
    let bob = watcher(&a, nested).await;
    let carol = watcher(&a, nested).await;
    bob.push(&"[".repeat(1_500_000)).expect("upload");
    // Relaying goes on while the pool works: Carol sees each of Bob's keystrokes.
    for i in 0..20 {
        let len = bob.len();
        bob.insert(len, &format!("{i},")).expect("type");
        let want = format!("{i},");
        carol
            .wait_for(|c| c.text().ends_with(&want), DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("keystroke {i} reached Carol: {e:#}"));
    }
    markers_for_text(&carol, "syntax").await;
    let metrics = a.metrics().await.expect("metrics");
    let skipped = prometheus::count(
        &metrics,
        "collab_diagnostics_parses_total",
        &[("outcome", "too-big")],
    ) + prometheus::count(
        &metrics,
        "collab_diagnostics_parses_total",
        &[("outcome", "timed-out")],
    );
    assert!(
        skipped >= 2.0,
        "both files were skipped by a bound: {skipped}"
    );
    assert!(a.readyz().await == Some(200), "the gateway is still ready");
}

#[tokio::test]
async fn on_a_redis_cluster_each_version_is_parsed_once_too() {
    let cluster = collab_tests::RedisCluster::start()
        .await
        .expect("the cluster starts");
    let a = Gateway::start_on_cluster(&cluster, &[])
        .await
        .expect("gateway A on the cluster");
    let b = Gateway::start_on_cluster(&cluster, &[])
        .await
        .expect("gateway B on the cluster");
    let file = "sb1/cluster.ts";
    let ann = watcher(&a, file).await;
    let bob = watcher(&b, file).await;
    assert_eq!(markers_for_text(&ann, "syntax").await, vec![]);
    assert_eq!(markers_for_text(&bob, "syntax").await, vec![]);
    let before = parses(&a).await + parses(&b).await;
    ann.push("class A {\n  m( {\n}\n").expect("edit");
    bob.wait_for(|c| c.text().contains("m( {"), DEADLINE)
        .await
        .expect("Bob sees Ann's text");
    // The markers reached Bob's gateway through the cache or the file's sharded channel.
    let for_bob = markers_for_text(&bob, "syntax").await;
    assert!(!for_bob.is_empty());
    assert_eq!(markers_for_text(&ann, "syntax").await, for_bob);
    assert_eq!(parses(&a).await + parses(&b).await - before, 1.0);
}
