//! The admin API (`--admin-token`): sessions, users and sandbox members written through the
//! gateway, read back from Redis with the redis crate. Only the admin token opens it (401
//! otherwise, nothing written); without the flag its paths do not exist (404); bad ids and
//! bodies are 400 with a message (`admin_validation.rs`); TTLs are set; and no response body or log line ever holds
//! a `sandbox_ip`, nor a token other than the one a response just created.

use std::collections::HashMap;

use collab_tests::admin_api::{
    ADMIN_TOKEN, Admin, SANDBOX_IP, every_route, hgetall, identity_keys, start, ttl,
};
use collab_tests::{DEADLINE, Gateway, RedisServer, eventually};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_token_the_routes_do_not_exist_and_a_short_one_is_refused() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(&redis.url(), &[])
        .await
        .expect("gateway starts");
    let admin = Admin { gw: &gw };
    for (method, path, body) in every_route() {
        let answer = admin.call(method, path, body).await;
        assert_eq!(answer.status, 404, "{method} {path}: {}", answer.body);
    }
    let mut con = redis.connection().await.expect("redis connection");
    assert_eq!(identity_keys(&mut con).await, Vec::<String>::new());

    let short = "only-15-bytes!!";
    let refused = Gateway::start(&redis.url(), &["--admin-token", short]).await;
    let error = format!(
        "{:#}",
        refused.err().expect("a short admin token is refused")
    );
    assert!(error.contains("at least 16 bytes"), "{error}");
    assert!(
        !error.contains(short),
        "the refusal quotes the token: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_admin_token_gets_401_and_writes_nothing() {
    let (redis, gw) = start().await;
    let admin = Admin { gw: &gw };
    let same_length_wrong = format!("Bearer {}", "x".repeat(ADMIN_TOKEN.len()));
    let prefix = format!("Bearer {}", &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1]);
    let longer = format!("Bearer {ADMIN_TOKEN}x");
    let basic = format!("Basic {ADMIN_TOKEN}");
    let bare = ADMIN_TOKEN.to_owned();
    let credentials = [
        None,
        Some("Bearer"),
        Some(same_length_wrong.as_str()),
        Some(prefix.as_str()),
        Some(longer.as_str()),
        Some(basic.as_str()),
        Some(bare.as_str()),
    ];
    for (method, path, body) in every_route() {
        for credential in credentials {
            let answer = admin.call_as(credential, method, path, body.clone()).await;
            assert_eq!(
                answer.status, 401,
                "{method} {path} with {credential:?}: {}",
                answer.body
            );
            assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
            assert_eq!(answer.json()["error"], "missing or wrong admin token");
        }
    }
    // Nothing under /admin/ shows without the token (wrong method, unknown path); paths
    // outside it are not guarded.
    for (method, path, with_token) in [
        ("GET", "/admin/sessions", 405),
        ("GET", "/admin/nothing", 404),
        ("POST", "/admin/users/u1", 405),
    ] {
        let answer = admin.call_as(None, method, path, None).await;
        assert_eq!(answer.status, 401, "{method} {path}");
        assert_eq!(
            admin.call(method, path, None).await.status,
            with_token,
            "{method} {path}"
        );
    }
    assert_eq!(
        admin.call_as(None, "GET", "/healthz", None).await.status,
        200
    );
    assert_eq!(
        admin.call_as(None, "GET", "/nothing", None).await.status,
        404
    );
    assert_eq!(
        admin
            .call_as(None, "GET", "/administrator", None)
            .await
            .status,
        404
    );
    let mut con = redis.connection().await.expect("redis connection");
    assert_eq!(identity_keys(&mut con).await, Vec::<String>::new());

    // The scheme's case does not matter; the token's does.
    let lower = format!("bearer {ADMIN_TOKEN}");
    let answer = admin
        .call_as(
            Some(&lower),
            "POST",
            "/admin/sessions",
            Some(json!({"user": "u1"})),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let upper = format!("Bearer {}", ADMIN_TOKEN.to_uppercase());
    let answer = admin
        .call_as(
            Some(&upper),
            "POST",
            "/admin/sessions",
            Some(json!({"user": "u1"})),
        )
        .await;
    assert_eq!(answer.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_created_with_its_ttl_and_revoked() {
    let (redis, gw) = start().await;
    let admin = Admin { gw: &gw };
    let mut con = redis.connection().await.expect("redis connection");

    let answer = admin
        .call(
            "POST",
            "/admin/sessions",
            Some(json!({"user": "u1", "ttl_secs": 3600})),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let body = answer.json();
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["user"], "u1");
    let token = body["token"].as_str().expect("a token").to_owned();
    assert_eq!(token.len(), 43, "32 random bytes, base64url: {token}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "url-safe: {token}"
    );
    let key = format!("session:{token}");
    assert_eq!(
        hgetall(&mut con, &key).await,
        HashMap::from([("user".to_owned(), "u1".to_owned())])
    );
    let left = ttl(&mut con, &key).await;
    assert!((3590..=3600).contains(&left), "TTL {left}");

    // Without ttl_secs: an hour. Each session has a token of its own.
    let answer = admin
        .call("POST", "/admin/sessions", Some(json!({"user": "u1"})))
        .await;
    assert_eq!(answer.status, 201);
    let other = answer.json()["token"].as_str().unwrap().to_owned();
    assert_ne!(other, token);
    assert!(ttl(&mut con, &format!("session:{other}")).await > 3590);
    let short = admin
        .call(
            "POST",
            "/admin/sessions",
            Some(json!({"user": "u2", "ttl_secs": 5})),
        )
        .await;
    let short = short.json()["token"].as_str().unwrap().to_owned();
    assert!((1..=5).contains(&ttl(&mut con, &format!("session:{short}")).await));

    let path = format!("/admin/sessions/{token}");
    let answer = admin.call("DELETE", &path, None).await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    assert!(hgetall(&mut con, &key).await.is_empty(), "revoked");
    assert!(
        !hgetall(&mut con, &format!("session:{other}"))
            .await
            .is_empty(),
        "only that session"
    );
    let again = admin.call("DELETE", &path, None).await;
    assert_eq!(again.status, 404);
    assert_eq!(again.json()["error"], "no such session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_record_is_replaced_with_its_ttl_and_its_sandbox_ip_never_returned() {
    let (redis, gw) = start().await;
    let admin = Admin { gw: &gw };
    let mut con = redis.connection().await.expect("redis connection");

    let answer = admin
        .call(
            "PUT",
            "/admin/users/u1",
            Some(json!({
                "sandbox_id": "sb1", "sandbox_ip": SANDBOX_IP, "name": "Ann",
                "color": "#e91e63", "ttl_secs": 3600,
            })),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(!answer.body.contains(SANDBOX_IP), "{}", answer.body);
    assert!(!answer.body.contains("sandbox_ip"), "{}", answer.body);
    assert_eq!(
        answer.json(),
        json!({"id": "u1", "sandbox_id": "sb1", "name": "Ann", "color": "#e91e63", "expires_in": 3600})
    );
    let fields = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        hgetall(&mut con, "user:u1").await,
        fields(&[
            ("sandbox_id", "sb1"),
            ("sandbox_ip", SANDBOX_IP),
            ("name", "Ann"),
            ("color", "#e91e63"),
        ])
    );
    let left = ttl(&mut con, "user:u1").await;
    assert!((3590..=3600).contains(&left), "TTL {left}");

    // PUT replaces: the user moved to another sandbox, fields left out are gone.
    let answer = admin
        .call(
            "PUT",
            "/admin/users/u1",
            Some(json!({"sandbox_id": "sb2", "ttl_secs": 60})),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.json(),
        json!({"id": "u1", "sandbox_id": "sb2", "name": null, "color": null, "expires_in": 60})
    );
    assert_eq!(
        hgetall(&mut con, "user:u1").await,
        fields(&[("sandbox_id", "sb2")])
    );
    assert!((1..=60).contains(&ttl(&mut con, "user:u1").await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_members_are_set_changed_and_removed() {
    let (redis, gw) = start().await;
    let admin = Admin { gw: &gw };
    let mut con = redis.connection().await.expect("redis connection");

    for (user, role) in [("u2", "ro"), ("u3", "rw")] {
        let path = format!("/admin/sandboxes/sb1/members/{user}");
        let answer = admin.call("PUT", &path, Some(json!({"role": role}))).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(
            answer.json(),
            json!({"sandbox_id": "sb1", "user": user, "role": role})
        );
    }
    let members = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        hgetall(&mut con, "sandbox:sb1:members").await,
        members(&[("u2", "ro"), ("u3", "rw")])
    );
    // Upgraded, then removed.
    let u2 = "/admin/sandboxes/sb1/members/u2";
    let answer = admin.call("PUT", u2, Some(json!({"role": "rw"}))).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        hgetall(&mut con, "sandbox:sb1:members").await,
        members(&[("u2", "rw"), ("u3", "rw")])
    );
    let answer = admin.call("DELETE", u2, None).await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    assert_eq!(
        hgetall(&mut con, "sandbox:sb1:members").await,
        members(&[("u3", "rw")])
    );
    let again = admin.call("DELETE", u2, None).await;
    assert_eq!(again.status, 404);
    assert_eq!(again.json()["error"], "not a member of this sandbox");
    // Memberships do not expire.
    assert_eq!(ttl(&mut con, "sandbox:sb1:members").await, -1);
}

/// With debug logs in both formats: every response and every log line of a run through all
/// routes, with errors, lacks the `sandbox_ip` and the admin token; a session token shows
/// only in the response that created it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_response_or_log_line_holds_a_sandbox_ip_or_a_token_it_should_not() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    for format in ["text", "json"] {
        let gw = Gateway::start_with_env(
            &redis.url(),
            &["--admin-token", ADMIN_TOKEN, "--log-format", format],
            &[("COLLAB_LOG", "debug")],
        )
        .await
        .expect("gateway starts");
        let admin = Admin { gw: &gw };
        let mut answers = Vec::new();
        let created = admin
            .call(
                "POST",
                "/admin/sessions",
                Some(json!({"user": "u1", "ttl_secs": 600})),
            )
            .await;
        assert_eq!(created.status, 201);
        let token = created.json()["token"].as_str().unwrap().to_owned();
        let user = json!({"sandbox_id": "sb1", "sandbox_ip": SANDBOX_IP, "name": "Ann"});
        answers.push(admin.call("PUT", "/admin/users/u1", Some(user)).await);
        let bad_user = json!({"sandbox_id": "sb1", "sandbox_ip": "10.0.0.4200"});
        answers.push(admin.call("PUT", "/admin/users/u1", Some(bad_user)).await);
        let stray = json!({"sandbox_id": "sb1", "sandbox_ip": SANDBOX_IP, "x": SANDBOX_IP});
        answers.push(admin.call("PUT", "/admin/users/u1", Some(stray)).await);
        let member = json!({"role": "ro"});
        answers.push(
            admin
                .call("PUT", "/admin/sandboxes/sb1/members/u2", Some(member))
                .await,
        );
        answers.push(
            admin
                .call("DELETE", "/admin/sandboxes/sb1/members/u2", None)
                .await,
        );
        let path = format!("/admin/sessions/{token}");
        answers.push(admin.call("DELETE", &path, None).await);
        answers.push(admin.call("DELETE", &path, None).await);
        let wrong = format!("Bearer {token}");
        answers.push(
            admin
                .call_as(Some(&wrong), "POST", "/admin/sessions", None)
                .await,
        );
        let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
        assert_eq!(
            statuses,
            [200, 400, 400, 200, 204, 204, 404, 401],
            "{format}"
        );

        for answer in answers.iter().chain([&created]) {
            for secret in [SANDBOX_IP, "10.0.0.4200", ADMIN_TOKEN] {
                assert!(
                    !answer.body.contains(secret),
                    "{format}: a response holds {secret}: {}",
                    answer.body
                );
            }
        }
        for answer in &answers {
            assert!(!answer.body.contains(&token), "{}", answer.body);
        }
        // Each line was logged before its response; wait until the pipe has delivered them.
        let delivered = eventually(DEADLINE, || async {
            gw.stderr_tail().contains("admin: session revoked")
        })
        .await;
        let logs = gw.stderr_tail();
        assert!(delivered, "{format} logs:\n{logs}");
        // The tail still starts at the gateway's start: no line of the run was dropped.
        assert!(
            logs.contains("connected to redis"),
            "{format} logs:\n{logs}"
        );
        for secret in [SANDBOX_IP, "10.0.0.4200", ADMIN_TOKEN, token.as_str()] {
            assert!(
                !logs.contains(secret),
                "{format}: the logs hold {secret}:\n{logs}"
            );
        }
    }
}
