//! The platform's side of access control: writing the identity records a gateway reads
//! under `--auth redis`, by their contract names (`session:{token}`, `user:{id}`,
//! `sandbox:{sid}:members`; no key prefix), straight into the test's Redis, as the
//! platform does.
//!
//! [`Platform::user`] maps a user to its sandbox (with a `sandbox_ip` that must never
//! leave the gateway), [`Platform::session`] opens a session and returns its token,
//! [`Platform::member`] shares a sandbox; [`Platform::delete_session`],
//! [`Platform::expire_session`], [`Platform::move_user`] and [`Platform::unshare`] take
//! access away again, as the platform does behind the gateways' backs. Tokens are random,
//! so a test can look for them in everything a gateway printed or sent.

use std::time::Duration;

use anyhow::Result;
use redis::AsyncCommands;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;

use crate::{RedisCluster, RedisServer};

/// How long a user record lives (`EXPIRE user:{id} 3600`, the platform's habit).
pub const USER_TTL: Duration = Duration::from_secs(3600);

/// A connection to the test's Redis (or Redis Cluster) that writes identity records.
pub struct Platform<C = MultiplexedConnection> {
    conn: C,
}

/// A fresh random session token (32 hex digits).
pub fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl Platform {
    pub async fn connect(redis: &RedisServer) -> Result<Platform> {
        let mut conn = redis.connection().await?;
        // The test Redis fsyncs every write; on a busy machine one can take longer than
        // redis-rs's default 500 ms.
        conn.set_response_timeout(Duration::from_secs(10));
        Ok(Platform { conn })
    }
}

impl Platform<ClusterConnection> {
    /// Writes into `cluster`, each record on its key's slot.
    pub async fn connect_cluster(cluster: &RedisCluster) -> Result<Platform<ClusterConnection>> {
        Ok(Platform {
            conn: cluster.client_connection().await?,
        })
    }
}

impl<C: ConnectionLike + Send + Sync> Platform<C> {
    /// `HSET user:{id} sandbox_id SID sandbox_ip IP name NAME color COLOR` and
    /// `EXPIRE user:{id} 3600`.
    pub async fn user(
        &mut self,
        id: &str,
        sandbox: &str,
        sandbox_ip: &str,
        name: &str,
        color: &str,
    ) -> Result<()> {
        let key = format!("user:{id}");
        let _: () = self
            .conn
            .hset_multiple(
                &key,
                &[
                    ("sandbox_id", sandbox),
                    ("sandbox_ip", sandbox_ip),
                    ("name", name),
                    ("color", color),
                ],
            )
            .await?;
        let _: () = self.conn.expire(&key, USER_TTL.as_secs() as i64).await?;
        Ok(())
    }

    /// `HSET session:{token} user {id}` with a TTL; returns the new token.
    pub async fn session(&mut self, user: &str, ttl: Duration) -> Result<String> {
        let token = new_token();
        self.session_with_token(&token, user, ttl).await?;
        Ok(token)
    }

    /// `HSET session:{token} user {id}` and `PEXPIRE` it after `ttl`.
    pub async fn session_with_token(
        &mut self,
        token: &str,
        user: &str,
        ttl: Duration,
    ) -> Result<()> {
        let key = format!("session:{token}");
        let _: () = self.conn.hset(&key, "user", user).await?;
        let _: () = self.conn.pexpire(&key, ttl.as_millis() as i64).await?;
        Ok(())
    }

    /// `HSET sandbox:{sid}:members {user} {role}` (`rw` or `ro`).
    pub async fn member(&mut self, sandbox: &str, user: &str, role: &str) -> Result<()> {
        let _: () = self
            .conn
            .hset(format!("sandbox:{sandbox}:members"), user, role)
            .await?;
        Ok(())
    }

    /// `DEL session:{token}`: the platform revokes a session.
    pub async fn delete_session(&mut self, token: &str) -> Result<()> {
        let _: () = self.conn.del(format!("session:{token}")).await?;
        Ok(())
    }

    /// `PEXPIRE session:{token} {ttl}`: the session ends after `ttl`.
    pub async fn expire_session(&mut self, token: &str, ttl: Duration) -> Result<()> {
        let _: () = self
            .conn
            .pexpire(format!("session:{token}"), ttl.as_millis() as i64)
            .await?;
        Ok(())
    }

    /// `HSET user:{id} sandbox_id {sandbox}`: the user moves to another sandbox.
    pub async fn move_user(&mut self, id: &str, sandbox: &str) -> Result<()> {
        let _: () = self
            .conn
            .hset(format!("user:{id}"), "sandbox_id", sandbox)
            .await?;
        Ok(())
    }

    /// `HDEL sandbox:{sid}:members {user}`: the sandbox is no longer shared with the user.
    pub async fn unshare(&mut self, sandbox: &str, user: &str) -> Result<()> {
        let _: () = self
            .conn
            .hdel(format!("sandbox:{sandbox}:members"), user)
            .await?;
        Ok(())
    }

    /// Whether `session:{token}` still exists.
    pub async fn session_exists(&mut self, token: &str) -> Result<bool> {
        Ok(self.conn.exists(format!("session:{token}")).await?)
    }

    /// The keys matching `pattern` (`KEYS`: test Redis only).
    pub async fn keys(&mut self, pattern: &str) -> Result<Vec<String>> {
        Ok(self.conn.keys(pattern).await?)
    }
}
