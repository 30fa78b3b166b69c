//! The platform's identity records in Redis, read over the gateway's command connection.
//!
//! The names are fixed (the platform writes them; `--key-prefix` does not apply):
//! `session:{token}` (hash, field `user`; its TTL is the session's life), `user:{id}`
//! (hash: `sandbox_id`, `name`, `color`, and `sandbox_ip`, which is never read here) and
//! `sandbox:{sid}:members` (hash, user id -> `rw` | `ro`).
//!
//! A token costs one `HGET`; a known user one more round trip, pipelined: `HMGET` of the
//! three fields the gateway uses and `HGET` of the membership. Revalidating many live
//! grants ([`Directory::recheck`]) takes two round trips per batch: `HGET` of every
//! distinct session, then `HMGET` of every distinct user and `HGET` of every distinct
//! membership. Keys, and with them the
//! token, never go into an error or a log line from here.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use futures_util::future::BoxFuture;
use redis::aio::ConnectionManager;

use crate::engine::directory::{Directory, MemberRole, Rechecked, Standing};
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
type StandingReply = (UserFields, Option<String>);

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
        let (fields, role): StandingReply = redis::pipe()
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
        Ok(standing_of(fields, role, sandbox))
    }

    /// Every `(token, sandbox)` of `asks` in two round trips, whatever their number: the
    /// distinct sessions in one pipeline, then the distinct users' records and memberships
    /// in another.
    async fn recheck_all(&self, asks: &[(String, String)]) -> Result<Vec<Rechecked>, EngineError> {
        if asks.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let started = Instant::now();
        let tokens: BTreeSet<&str> = asks.iter().map(|(token, _)| token.as_str()).collect();
        let mut sessions = redis::pipe();
        for token in &tokens {
            sessions.cmd("HGET").arg(session_key(token)).arg("user");
        }
        let users: Vec<Option<String>> = sessions.query_async(&mut conn).await.map_err(scrub)?;
        crate::metrics::redis_round_trip("revalidate", started.elapsed());
        let user_of: HashMap<&str, String> = tokens
            .iter()
            .zip(users)
            .filter_map(|(token, user)| Some((*token, user.filter(|u| !u.is_empty())?)))
            .collect();
        let pairs: BTreeSet<(&str, &str)> = asks
            .iter()
            .filter_map(|(token, sandbox)| {
                Some((user_of.get(token.as_str())?.as_str(), sandbox.as_str()))
            })
            .collect();
        let people: BTreeSet<&str> = pairs.iter().map(|(user, _)| *user).collect();
        let mut records = HashMap::new();
        let mut roles = HashMap::new();
        if !pairs.is_empty() {
            let mut reads = redis::pipe();
            for user in &people {
                reads.cmd("HMGET").arg(user_key(user)).arg(&USER_FIELDS[..]);
            }
            for (user, sandbox) in &pairs {
                reads.cmd("HGET").arg(members_key(sandbox)).arg(*user);
            }
            let started = Instant::now();
            let replies: Vec<redis::Value> = reads.query_async(&mut conn).await.map_err(scrub)?;
            crate::metrics::redis_round_trip("revalidate", started.elapsed());
            let mut replies = replies.into_iter();
            for user in &people {
                records.insert(*user, parse::<UserFields>(replies.next())?);
            }
            for pair in &pairs {
                roles.insert(*pair, parse::<Option<String>>(replies.next())?);
            }
        }
        Ok(asks
            .iter()
            .map(|(token, sandbox)| {
                let user = user_of.get(token.as_str())?;
                let record = records.get(user.as_str())?.clone();
                let role = roles.get(&(user.as_str(), sandbox.as_str()))?.clone();
                Some((user.clone(), standing_of(record, role, sandbox)))
            })
            .collect())
    }
}

/// `HMGET user:{id} sandbox_id name color`.
type UserFields = (Option<String>, Option<String>, Option<String>);

/// One reply of a pipeline, typed; a missing or misshapen one is a reply error (which
/// never quotes the reply).
fn parse<T: redis::FromRedisValue>(reply: Option<redis::Value>) -> Result<T, EngineError> {
    let reply = reply.ok_or_else(|| EngineError::Reply("identity lookup: reply missing".into()))?;
    redis::from_redis_value(reply)
        .map_err(|_| EngineError::Reply("identity lookup: unexpected reply shape".into()))
}

/// A standing from the user's fields and its membership entry in `sandbox` (empty values
/// count as absent; a role other than `rw` / `ro` as none).
fn standing_of(fields: UserFields, role: Option<String>, sandbox: &str) -> Standing {
    let (own_sandbox, name, color) = fields;
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
    Standing {
        own_sandbox: present(own_sandbox),
        name: present(name),
        color: present(color),
        role,
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

    fn recheck<'a>(
        &'a self,
        asks: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<Vec<Rechecked>, EngineError>> {
        Box::pin(self.recheck_all(asks))
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
