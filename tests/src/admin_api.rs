//! The gateway's admin API as a test calls it: a gateway started with an admin token, a
//! caller with or without that token, and the Redis reads that check what a call wrote
//! (`tests/admin.rs`, `tests/admin_validation.rs`).

use std::collections::HashMap;

use redis::aio::MultiplexedConnection;
use serde_json::{Value, json};

use crate::{Gateway, HttpResponse, RedisServer};

/// The admin token the gateways of [`start`] accept.
pub const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789";
/// A `sandbox_ip` no answer or log line may ever hold.
pub const SANDBOX_IP: &str = "10.0.0.42";

/// Calls the admin API of one gateway, with the admin token or with some other credential.
pub struct Admin<'a> {
    pub gw: &'a Gateway,
}

impl Admin<'_> {
    /// One call with the admin token.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> HttpResponse {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        self.call_as(Some(&auth), method, path, body).await
    }

    /// One call with `authorization` as the Authorization header (none when `None`).
    pub async fn call_as(
        &self,
        authorization: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> HttpResponse {
        let headers: Vec<(&str, &str)> = authorization
            .map(|value| ("Authorization", value))
            .into_iter()
            .collect();
        let body = body.map(|b| b.to_string());
        self.gw
            .http(method, path, &headers, body.as_deref())
            .await
            .unwrap_or_else(|| panic!("{method} {path}: no answer"))
    }
}

/// A Redis and a gateway with `--admin-token ADMIN_TOKEN` on it.
pub async fn start() -> (RedisServer, Gateway) {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw = Gateway::start(&redis.url(), &["--admin-token", ADMIN_TOKEN])
        .await
        .expect("gateway starts");
    (redis, gw)
}

/// HGETALL `key`.
pub async fn hgetall(con: &mut MultiplexedConnection, key: &str) -> HashMap<String, String> {
    redis::cmd("HGETALL")
        .arg(key)
        .query_async(con)
        .await
        .expect("HGETALL")
}

/// TTL of `key` in seconds.
pub async fn ttl(con: &mut MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("TTL")
        .arg(key)
        .query_async(con)
        .await
        .expect("TTL")
}

/// Every identity key in Redis.
pub async fn identity_keys(con: &mut MultiplexedConnection) -> Vec<String> {
    let mut keys = Vec::new();
    for pattern in ["session:*", "user:*", "sandbox:*"] {
        let found: Vec<String> = redis::cmd("KEYS")
            .arg(pattern)
            .query_async(con)
            .await
            .expect("KEYS");
        keys.extend(found);
    }
    keys.sort();
    keys
}

/// One call per route, with a body each would accept.
pub fn every_route() -> Vec<(&'static str, &'static str, Option<Value>)> {
    vec![
        ("POST", "/admin/sessions", Some(json!({"user": "u1"}))),
        ("DELETE", "/admin/sessions/some-token", None),
        (
            "PUT",
            "/admin/users/u1",
            Some(json!({"sandbox_id": "sb1", "sandbox_ip": SANDBOX_IP})),
        ),
        (
            "PUT",
            "/admin/sandboxes/sb1/members/u2",
            Some(json!({"role": "ro"})),
        ),
        ("DELETE", "/admin/sandboxes/sb1/members/u2", None),
    ]
}
