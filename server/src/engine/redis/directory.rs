//! The platform's identity records in Redis, read over the gateway's command connection.
//!
//! The names are fixed (the platform writes them; `--key-prefix` does not apply):
//! `session:{token}` (hash, field `user`; its TTL is the session's life), `user:{id}`
//! (hash: `sandbox_id`, `name`, `color`, and `sandbox_ip`, which is never read here) and
//! `sandbox:{sid}:members` (hash, user id -> `rw` | `ro`).
//!
//! A token costs one `HGET`; a known user one more round trip, pipelined: `HMGET` of the
//! three fields the gateway uses and `HGET` of the membership. Keys, and with them the
//! token, never go into an error or a log line from here.

use std::time::Instant;

use futures_util::future::BoxFuture;
use redis::aio::ConnectionManager;

use crate::engine::directory::{Directory, MemberRole, Standing};
use crate::engine::error::EngineError;

/// `session:{token}`.
fn session_key(token: &str) -> String {
    format!("session:{token}")
}

/// `user:{id}`.
fn user_key(user: &str) -> String {
    format!("user:{user}")
}

/// `sandbox:{sid}:members`.
fn members_key(sandbox: &str) -> String {
    format!("sandbox:{sandbox}:members")
}

/// The `user:{id}` fields the gateway reads, in `HMGET` order. `sandbox_ip` is not one.
const USER_FIELDS: [&str; 3] = ["sandbox_id", "name", "color"];

/// The reply of `HMGET user:{id} sandbox_id name color` and `HGET sandbox:{sid}:members {id}`.
type StandingReply = (
    (Option<String>, Option<String>, Option<String>),
    Option<String>,
);

/// Identity reads over a shared multiplexed connection.
#[derive(Clone)]
pub struct RedisDirectory {
    conn: ConnectionManager,
}

impl RedisDirectory {
    pub fn new(conn: ConnectionManager) -> Self {
        RedisDirectory { conn }
    }

    async fn lookup_session(&self, token: &str) -> Result<Option<String>, EngineError> {
        let mut conn = self.conn.clone();
        let started = Instant::now();
        let user: Option<String> = redis::cmd("HGET")
            .arg(session_key(token))
            .arg("user")
            .query_async(&mut conn)
            .await
            .map_err(scrub)?;
        crate::metrics::redis_round_trip("session", started.elapsed());
        Ok(user.filter(|user| !user.is_empty()))
    }

    async fn lookup_standing(&self, user: &str, sandbox: &str) -> Result<Standing, EngineError> {
        let mut conn = self.conn.clone();
        let started = Instant::now();
        let ((own_sandbox, name, color), role): StandingReply = redis::pipe()
            .cmd("HMGET")
            .arg(user_key(user))
            .arg(&USER_FIELDS[..])
            .cmd("HGET")
            .arg(members_key(sandbox))
            .arg(user)
            .query_async(&mut conn)
            .await
            .map_err(scrub)?;
        crate::metrics::redis_round_trip("identity", started.elapsed());
        let role = role.as_deref().and_then(|value| {
            let parsed = MemberRole::parse(value);
            if parsed.is_none() {
                tracing::warn!(
                    sandbox,
                    "a member entry holds neither 'rw' nor 'ro'; ignored"
                );
            }
            parsed
        });
        let present = |value: Option<String>| value.filter(|v| !v.is_empty());
        Ok(Standing {
            own_sandbox: present(own_sandbox),
            name: present(name),
            color: present(color),
            role,
        })
    }
}

/// Keeps only what kind of failure it was: a reply-shape error may quote the reply, and
/// an identity reply is nobody's business in a log.
fn scrub(error: redis::RedisError) -> EngineError {
    if error.is_io_error() || error.is_timeout() || error.is_connection_dropped() {
        EngineError::Redis(error)
    } else {
        EngineError::Reply(format!("identity lookup failed ({:?})", error.kind()))
    }
}

impl Directory for RedisDirectory {
    fn session_user<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, EngineError>> {
        Box::pin(self.lookup_session(token))
    }

    fn standing<'a>(
        &'a self,
        user: &'a str,
        sandbox: &'a str,
    ) -> BoxFuture<'a, Result<Standing, EngineError>> {
        Box::pin(self.lookup_standing(user, sandbox))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_platform_contract() {
        assert_eq!(session_key("t0k"), "session:t0k");
        assert_eq!(user_key("123"), "user:123");
        assert_eq!(members_key("lxc-abc123"), "sandbox:lxc-abc123:members");
        assert!(!USER_FIELDS.contains(&"sandbox_ip"));
    }
}
