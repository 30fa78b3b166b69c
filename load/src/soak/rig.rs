//! The processes of a soak: one bare redis-server (no persistence) and two gateways
//! under `--auth redis` with a short room grace, through collab-harness; the platform's
//! identity records for the soak's users, written into that Redis as the platform would.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use collab_harness::Gateway;
use collab_harness::process::Proc;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

use super::args::Args;
use crate::target::{FileUrl, Reach, Target, Token};

/// How long the soak's users and sessions live: longer than any soak.
const IDENTITY_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

pub(super) struct Rig {
    _redis: Proc,
    pub redis_port: u16,
    pub redis: MultiplexedConnection,
    pub gateways: [Gateway; 2],
    /// Session token of user `i` (random, never printed).
    tokens: Vec<Token>,
}

impl Rig {
    pub async fn start(args: &Args, log_dir: &Path) -> anyhow::Result<Rig> {
        let (program, log) = (args.redis_server.clone(), log_dir.join("redis.log"));
        let (proc, port) = tokio::task::spawn_blocking(move || {
            collab_harness::redis::start_bare(&program, &log, Duration::from_secs(10))
        })
        .await??;
        let url = format!("redis://127.0.0.1:{port}");
        let mut redis = redis::Client::open(url.as_str())?
            .get_multiplexed_async_connection()
            .await
            .context("connecting to the soak's redis-server")?;
        let mut tokens = Vec::new();
        for user in 0..args.users {
            tokens.push(identity(&mut redis, user).await?);
        }
        let grace = args.room_grace_ms.to_string();
        let mut flags = vec!["--auth", "redis", "--room-grace-ms", &grace];
        flags.extend(args.gateway_args.iter().map(String::as_str));
        let env = args.env();
        let first = Gateway::start_with_env(&url, &flags, &env).await?;
        let second = Gateway::start_with_env(&url, &flags, &env).await?;
        Ok(Rig {
            _redis: proc,
            redis_port: port,
            redis,
            gateways: [first, second],
            tokens,
        })
    }

    /// The URL of `file` on gateway `gateway` for `user`, with the user's token.
    pub fn url(&self, gateway: usize, user: u64, file: &str) -> anyhow::Result<FileUrl> {
        let base = format!("ws://{}/doc", self.gateways[gateway].addr());
        let token = self.tokens[user as usize].clone();
        Ok(Target::parse(&base, Reach::Loopback)?
            .with_token(Some(token))
            .file_url(file))
    }
}

/// The sandbox of user `user`: its files are `{sandbox}/{path}`.
pub(super) fn sandbox(user: u64) -> String {
    format!("soak-sb{user}")
}

/// Writes `user:{id}` (own sandbox) and a session; returns the session's token.
async fn identity(redis: &mut MultiplexedConnection, user: u64) -> anyhow::Result<Token> {
    let id = format!("soak-u{user}");
    let key = format!("user:{id}");
    let sandbox = sandbox(user);
    let name = format!("Soak {user}");
    let fields = [
        ("sandbox_id", sandbox.as_str()),
        ("name", name.as_str()),
        ("color", "#30bced"),
    ];
    let ttl = IDENTITY_TTL.as_secs() as i64;
    let _: () = redis.hset_multiple(&key, &fields).await?;
    let _: () = redis.expire(&key, ttl).await?;
    let token = format!("{:032x}", rand::random::<u128>());
    let session = format!("session:{token}");
    let _: () = redis.hset(&session, "user", &id).await?;
    let _: () = redis.expire(&session, ttl).await?;
    Token::new(token).context("an empty token")
}
