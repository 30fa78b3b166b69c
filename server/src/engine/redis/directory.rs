//! The platform's identity records in Redis, read over the gateway's command connection.
//!
//! The names are fixed (the platform writes them; `--key-prefix` does not apply):
//! `session:{token}` (hash, field `user`; its TTL is the session's life), `user:{id}`
//! (hash: `sandbox_id`, `name`, `color`, and `sandbox_ip`, read only by
//! [`Directory::sandbox_address`] under `--files sandbox`, straight into a redacting
//! [`SandboxIp`]) and `sandbox:{sid}:members` (hash, user id -> `rw` | `ro`).
//!
//! A token costs one `HGET`; a known user one more round trip, pipelined: `HMGET` of the
//! three fields the gateway uses and `HGET` of the membership. While identity tracking is
//! on ([`super::tracking`]) each of those reads also asks the key's `PTTL` and its reply
//! is kept in the [`IdentityCache`]: a handshake whose records are cached costs no round
//! trip at all. An unknown token is never kept, so it costs its one lookup every time.
//! Revalidating many live grants ([`Directory::recheck`]) takes two round trips per
//! batch, always fresh from Redis: `HGET` of every distinct session, then `HMGET` of every
//! distinct user and `HGET` of every distinct membership (each with its `PTTL` while
//! tracking). Keys, and with them the token, never go into an error or a log line from
//! here.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, try_join_all};
use redis::Value;

use super::cache::IdentityCache;
use super::conn::Conn;
use crate::engine::directory::{Directory, MemberRole, Rechecked, SandboxAddress, Standing};
use crate::engine::error::EngineError;
use crate::sandbox_ip::SandboxIp;

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

/// One read of an identity record: the key, the field its reply is kept under in the
/// cache, the command, and whether a `nil` reply may be kept (an unknown token's may not:
/// a flood of them would only fill the cache).
struct Read {
    key: String,
    field: String,
    cmd: redis::Cmd,
    keep_nil: bool,
}

impl Read {
    fn session(token: &str) -> Read {
        let key = session_key(token);
        let mut cmd = redis::cmd("HGET");
        cmd.arg(&key).arg("user");
        Read {
            key,
            field: "user".into(),
            cmd,
            keep_nil: false,
        }
    }

    fn user(user: &str) -> Read {
        let key = user_key(user);
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(&key).arg(&USER_FIELDS[..]);
        Read {
            key,
            field: String::new(),
            cmd,
            keep_nil: true,
        }
    }

    fn role(user: &str, sandbox: &str) -> Read {
        let key = members_key(sandbox);
        let mut cmd = redis::cmd("HGET");
        cmd.arg(&key).arg(user);
        Read {
            key,
            field: user.to_owned(),
            cmd,
            keep_nil: true,
        }
    }
}

/// Whether a read may be answered from the cache.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A handshake: the cache when it holds the record, else Redis.
    Cached,
    /// A recheck: Redis, always (what it reads refreshes the cache).
    Fresh,
}

/// Identity reads over a shared multiplexed connection, through the tracked cache.
#[derive(Clone)]
pub struct RedisDirectory<C> {
    conn: C,
    cache: Arc<IdentityCache>,
}

impl<C: Conn> RedisDirectory<C> {
    /// `cache` serves only while [`super::tracking`] keeps it armed; until then (and
    /// without tracking at all) every read goes to Redis, as many commands as before.
    pub fn new(conn: C, cache: Arc<IdentityCache>) -> Self {
        RedisDirectory { conn, cache }
    }

    /// The replies to `reads`, in order: each from the cache when `source` allows and it
    /// holds it, the rest in one pipeline (one round trip), with the `PTTL` of each key
    /// when the cache may keep the reply.
    async fn read(
        &self,
        reads: Vec<Read>,
        source: Source,
        op: &'static str,
    ) -> Result<Vec<Value>, EngineError> {
        let mut replies: Vec<Option<Value>> = reads
            .iter()
            .map(|read| match source {
                Source::Cached => self.cache.get(&read.key, &read.field),
                Source::Fresh => None,
            })
            .collect();
        let hits = replies.iter().filter(|reply| reply.is_some()).count();
        crate::metrics::identity_cache(hits as u64, (reads.len() - hits) as u64);
        if hits == reads.len() {
            return Ok(replies.into_iter().flatten().collect());
        }
        let ticket = self.cache.ticket();
        // One pipeline, or under a cluster one per key (the keys of a pipeline must share
        // a slot), sent at once: still one round trip of latency.
        let mut pipes = Vec::new();
        let mut pipe = redis::pipe();
        for (read, reply) in reads.iter().zip(&replies) {
            if reply.is_none() {
                if C::ONE_SLOT_PIPELINES && !pipe.is_empty() {
                    pipes.push(std::mem::replace(&mut pipe, redis::pipe()));
                }
                pipe.add_command(read.cmd.clone());
                if ticket.caching() {
                    pipe.cmd("PTTL").arg(&read.key);
                }
            }
        }
        pipes.push(pipe);
        let started = Instant::now();
        let fetched: Vec<Vec<Value>> = try_join_all(pipes.iter().map(|pipe| {
            let mut conn = self.conn.clone();
            async move { pipe.query_async::<Vec<Value>>(&mut conn).await }
        }))
        .await
        .map_err(scrub)?;
        crate::metrics::redis_round_trip(op, started.elapsed());
        let fetched: Vec<Value> = fetched.into_iter().flatten().collect();
        let mut fetched = fetched.into_iter();
        for (read, reply) in reads.iter().zip(replies.iter_mut()) {
            if reply.is_some() {
                continue;
            }
            let value = fetched
                .next()
                .ok_or_else(|| EngineError::Reply("identity lookup: reply missing".into()))?;
            if ticket.caching() {
                let pttl: i64 = parse(fetched.next())?;
                if read.keep_nil || value != Value::Nil {
                    self.cache
                        .insert(ticket, &read.key, &read.field, value.clone(), pttl);
                }
            }
            *reply = Some(value);
        }
        Ok(replies.into_iter().flatten().collect())
    }

    async fn lookup_session(&self, token: &str) -> Result<Option<String>, EngineError> {
        let replies = self
            .read(vec![Read::session(token)], Source::Cached, "session")
            .await?;
        let user: Option<String> = parse(replies.into_iter().next())?;
        Ok(user.filter(|user| !user.is_empty()))
    }

    async fn lookup_standing(&self, user: &str, sandbox: &str) -> Result<Standing, EngineError> {
        let reads = vec![Read::user(user), Read::role(user, sandbox)];
        let mut replies = self
            .read(reads, Source::Cached, "identity")
            .await?
            .into_iter();
        let fields = parse::<UserFields>(replies.next())?;
        let role = parse::<Option<String>>(replies.next())?;
        Ok(standing_of(fields, role, sandbox))
    }

    /// `HMGET user:{id} sandbox_id sandbox_ip` and its `PTTL`, in one round trip, never
    /// from the cache (the cache keeps the fields handshakes read, not the address).
    async fn lookup_address(&self, user: &str) -> Result<Option<SandboxAddress>, EngineError> {
        let key = user_key(user);
        let mut pipe = redis::pipe();
        pipe.cmd("HMGET")
            .arg(&key)
            .arg("sandbox_id")
            .arg("sandbox_ip")
            .cmd("PTTL")
            .arg(&key);
        let mut conn = self.conn.clone();
        let started = Instant::now();
        let ((sandbox, ip), pttl): ((Option<String>, Option<String>), i64) =
            pipe.query_async(&mut conn).await.map_err(scrub)?;
        crate::metrics::redis_round_trip("address", started.elapsed());
        let Some(sandbox) = sandbox.filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let Some(ip) = ip.as_deref().and_then(SandboxIp::parse) else {
            if ip.is_some_and(|ip| !ip.is_empty()) {
                tracing::warn!(%sandbox, "a user record's sandbox_ip is not an IP address");
            }
            return Ok(None);
        };
        // -1: no expiry; -2: the record went away between the two reads.
        let ttl = match pttl {
            -2 => return Ok(None),
            ms if ms >= 0 => Some(Duration::from_millis(ms as u64)),
            _ => None,
        };
        Ok(Some(SandboxAddress { sandbox, ip, ttl }))
    }

    /// Every `(token, sandbox)` of `asks` in two round trips, whatever their number, fresh
    /// from Redis: the distinct sessions in one pipeline, then the distinct users' records
    /// and memberships in another.
    async fn recheck_all(&self, asks: &[(String, String)]) -> Result<Vec<Rechecked>, EngineError> {
        if asks.is_empty() {
            return Ok(Vec::new());
        }
        let tokens: BTreeSet<&str> = asks.iter().map(|(token, _)| token.as_str()).collect();
        let reads = tokens.iter().map(|token| Read::session(token)).collect();
        let users = self.read(reads, Source::Fresh, "revalidate").await?;
        let mut user_of: HashMap<&str, String> = HashMap::new();
        for (token, user) in tokens.iter().zip(users) {
            let user: Option<String> = parse(Some(user))?;
            if let Some(user) = user.filter(|u| !u.is_empty()) {
                user_of.insert(*token, user);
            }
        }
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
            let reads = people
                .iter()
                .map(|user| Read::user(user))
                .chain(
                    pairs
                        .iter()
                        .map(|(user, sandbox)| Read::role(user, sandbox)),
                )
                .collect();
            let mut replies = self
                .read(reads, Source::Fresh, "revalidate")
                .await?
                .into_iter();
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
fn parse<T: redis::FromRedisValue>(reply: Option<Value>) -> Result<T, EngineError> {
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

impl<C: Conn> Directory for RedisDirectory<C> {
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

    fn sandbox_address<'a>(
        &'a self,
        user: &'a str,
    ) -> BoxFuture<'a, Result<Option<SandboxAddress>, EngineError>> {
        Box::pin(self.lookup_address(user))
    }

    fn tables(&self) -> Vec<(&'static str, usize)> {
        let (keys, recent) = self.cache.sizes();
        vec![
            ("identity_cache_keys", keys),
            ("identity_cache_recent", recent),
        ]
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
