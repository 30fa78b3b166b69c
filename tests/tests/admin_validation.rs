//! The admin API refuses bad input: bad ids and bodies get 400 with a message that says
//! what is wrong, and nothing is written to Redis.

use collab_tests::admin_api::{ADMIN_TOKEN, Admin, identity_keys, start};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ids_and_bodies_get_400_with_a_clear_message_and_write_nothing() {
    let (redis, gw) = start().await;
    let admin = Admin { gw: &gw };
    let long = "x".repeat(257);
    let user_ok = json!({"sandbox_id": "sb1"});
    let cases: Vec<(&str, String, Option<Value>, &str)> = vec![
        (
            "POST",
            "/admin/sessions".into(),
            Some(json!({})),
            "`user` is required",
        ),
        (
            "POST",
            "/admin/sessions".into(),
            Some(json!({"user": ""})),
            "user id must be 1 to 256 bytes",
        ),
        (
            "POST",
            "/admin/sessions".into(),
            Some(json!({"user": long})),
            "user id must be 1 to 256 bytes",
        ),
        (
            "POST",
            "/admin/sessions".into(),
            Some(json!({"user": "a/b"})),
            "user id contains '/'",
        ),
        (
            "POST",
            "/admin/sessions".into(),
            Some(json!({"user": "a\nb"})),
            "user id contains a control character",
        ),
        (
            "POST",
            "/admin/sessions".into(),
            Some(json!({"user": 7})),
            "`user` must be a string",
        ),
        (
            "POST",
            "/admin/sessions".into(),
            Some(json!({"user": "u1", "ttl_secs": 0})),
            "`ttl_secs` must be a whole number",
        ),
        (
            "POST",
            "/admin/sessions".into(),
            Some(json!({"user": "u1", "ttl": 60})),
            "unknown field `ttl`",
        ),
        (
            "POST",
            "/admin/sessions".into(),
            Some(json!(["u1"])),
            "the body must be a JSON object",
        ),
        (
            "PUT",
            "/admin/users/u%0A1".into(),
            Some(user_ok.clone()),
            "user id contains a control character",
        ),
        (
            "PUT",
            format!("/admin/users/{long}"),
            Some(user_ok.clone()),
            "user id must be 1 to 256 bytes",
        ),
        (
            "PUT",
            "/admin/users/u%2F1".into(),
            Some(user_ok.clone()),
            "user id contains '/'",
        ),
        (
            "PUT",
            "/admin/users/u1".into(),
            Some(json!({})),
            "`sandbox_id` is required",
        ),
        (
            "PUT",
            "/admin/users/u1".into(),
            Some(json!({"sandbox_id": "a/b"})),
            "sandbox id contains '/'",
        ),
        (
            "PUT",
            "/admin/users/u1".into(),
            Some(json!({"sandbox_id": ".."})),
            "sandbox id may not be",
        ),
        (
            "PUT",
            "/admin/users/u1".into(),
            Some(json!({"sandbox_id": "sb1", "sandbox_ip": "10.0.0.420"})),
            "`sandbox_ip` must be an IPv4 or IPv6 address",
        ),
        (
            "PUT",
            "/admin/users/u1".into(),
            Some(json!({"sandbox_id": "sb1", "color": "red"})),
            "`color` must be",
        ),
        (
            "PUT",
            "/admin/users/u1".into(),
            Some(json!({"sandbox_id": "sb1", "name": ""})),
            "`name` must be 1 to 256 bytes",
        ),
        (
            "PUT",
            "/admin/sandboxes/sb1/members/u2".into(),
            Some(json!({"role": "admin"})),
            "`role` must be \"rw\" or \"ro\"",
        ),
        (
            "PUT",
            "/admin/sandboxes/sb1/members/u2".into(),
            Some(json!({})),
            "`role` is required",
        ),
        (
            "PUT",
            "/admin/sandboxes/%2E%2E/members/u2".into(),
            Some(json!({"role": "ro"})),
            "sandbox id may not be",
        ),
        (
            "PUT",
            "/admin/sandboxes/s%2Fb/members/u2".into(),
            Some(json!({"role": "ro"})),
            "sandbox id contains '/'",
        ),
        (
            "DELETE",
            "/admin/sandboxes/sb1/members/u%7F".into(),
            None,
            "user id contains a control character",
        ),
        (
            "DELETE",
            "/admin/sessions/t%2Fx".into(),
            None,
            "token contains '/'",
        ),
    ];
    for (method, path, body, wanted) in cases {
        let answer = admin.call(method, &path, body.clone()).await;
        assert_eq!(
            answer.status, 400,
            "{method} {path} {body:?}: {}",
            answer.body
        );
        let message = answer.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            message.starts_with(wanted),
            "{method} {path} {body:?}: {message:?} should start with {wanted:?}"
        );
    }
    // Not JSON at all: a position, not the text.
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let broken = gw
        .http(
            "PUT",
            "/admin/users/u1",
            &[("Authorization", &auth)],
            Some(r#"{"sandbox_id":"sb1","sandbox_ip":10.0.0.42"#),
        )
        .await
        .expect("an answer");
    assert_eq!(broken.status, 400);
    let message = broken.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("invalid JSON at line 1"), "{message}");
    assert!(!message.contains("10.0"), "{message}");

    let mut con = redis.connection().await.expect("redis connection");
    assert_eq!(identity_keys(&mut con).await, Vec::<String>::new());
}
