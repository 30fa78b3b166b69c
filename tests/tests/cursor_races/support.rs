//! What the cursor race tests share: two gateways under `--auth redis` on one redis with
//! writer W, observer O (writers of sandbox `sbx`) and reader R (a read-only member of
//! `sbx` from another sandbox), and the raw frames R sends.

use std::collections::HashMap;
use std::time::Duration;

use collab_protocol::message::encode_awareness;
use collab_tests::{Gateway, Platform, RedisServer};
use yrs::ClientID;
use yrs::sync::AwarenessUpdate;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::updates::encoder::Encode;

pub struct Cluster {
    pub a: Gateway,
    pub b: Gateway,
    /// Tokens of W, O and R.
    pub w: String,
    pub o: String,
    pub r: String,
    _redis: RedisServer,
}

impl Cluster {
    pub async fn start() -> Cluster {
        let redis = RedisServer::start().await.expect("redis-server starts");
        let args = ["--auth", "redis"];
        let a = Gateway::start(&redis.url(), &args)
            .await
            .expect("gateway A");
        let b = Gateway::start(&redis.url(), &args)
            .await
            .expect("gateway B");
        let mut platform = Platform::connect(&redis).await.expect("platform");
        let ttl = Duration::from_secs(600);
        for (id, sandbox, ip, name) in [
            ("u-w", "sbx", "10.9.1.1", "Writer"),
            ("u-o", "sbx", "10.9.1.2", "Observer"),
            ("u-r", "sbx-r", "10.9.1.3", "Reader"),
        ] {
            platform
                .user(id, sandbox, ip, name, "#123456")
                .await
                .expect("user");
        }
        platform
            .member("sbx", "u-r", "ro")
            .await
            .expect("R reads sbx");
        Cluster {
            w: platform.session("u-w", ttl).await.expect("W's session"),
            o: platform.session("u-o", ttl).await.expect("O's session"),
            r: platform.session("u-r", ttl).await.expect("R's session"),
            a,
            b,
            _redis: redis,
        }
    }
}

/// An awareness frame setting client `id`'s state at `clock`.
pub fn state_frame(id: u64, clock: u32, state: &serde_json::Value) -> Vec<u8> {
    let entry = AwarenessUpdateEntry {
        clock,
        json: state.to_string().into(),
    };
    let clients: HashMap<ClientID, AwarenessUpdateEntry> = [(ClientID::new(id), entry)].into();
    encode_awareness(&AwarenessUpdate { clients }.encode_v1())
}

/// The `user.id` of an awareness state's JSON, if it has one.
pub fn user_id(json: &str) -> Option<String> {
    let state: serde_json::Value = serde_json::from_str(json).ok()?;
    state.get("user")?.get("id")?.as_str().map(str::to_owned)
}

/// A WebSocket upgrade request for `file` with `token` and, in the same bytes, one masked
/// binary frame carrying `payload` (a client may send right after its request).
pub fn upgrade_with_frame(addr: &str, file: &str, token: &str, payload: &[u8]) -> Vec<u8> {
    let head = format!(
        "GET /doc/{file}?token={token} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    let mut out = head.into_bytes();
    out.push(0x82);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}
