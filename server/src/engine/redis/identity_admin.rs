//! [`IdentityAdmin`] on Redis (one server or a cluster: each transaction writes one key,
//! so one slot): the identity keys of README "Redis layout", written
//! with `MULTI`/`EXEC` so that no reader sees a record without its expiry.
//!
//! The names are fixed (`session:{token}`, `user:{id}`, `sandbox:{sid}:members`, with no
//! key prefix): the platform writes the same keys and the gateway's access control reads
//! them. Nothing here logs a token or a `sandbox_ip`.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::conn::Conn;

use crate::engine::error::EngineError;
use crate::engine::identity_admin::{IdentityAdmin, MemberRole, UserRecord, role_value};

fn session_key(token: &str) -> String {
    format!("session:{token}")
}

fn user_key(id: &str) -> String {
    format!("user:{id}")
}

fn members_key(sandbox: &str) -> String {
    format!("sandbox:{sandbox}:members")
}

/// `EXPIRE` takes whole seconds; a zero TTL would delete the key, so it is at least 1.
fn seconds(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX)
}

/// Identity writes over the gateway's shared command connection.
#[derive(Clone)]
pub struct RedisIdentityAdmin<C> {
    conn: C,
}

impl<C: Conn> RedisIdentityAdmin<C> {
    pub fn new(conn: C) -> Self {
        RedisIdentityAdmin { conn }
    }

    async fn timed<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        pipe: &redis::Pipeline,
    ) -> Result<T, EngineError> {
        let mut conn = self.conn.clone();
        let started = std::time::Instant::now();
        let result = pipe.query_async(&mut conn).await;
        crate::metrics::redis_round_trip(op, started.elapsed());
        Ok(result?)
    }
}

impl<C: Conn> IdentityAdmin for RedisIdentityAdmin<C> {
    fn create_session<'a>(
        &'a self,
        token: &'a str,
        user: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let key = session_key(token);
            let mut pipe = redis::pipe();
            pipe.atomic()
                .del(&key)
                .ignore()
                .hset(&key, "user", user)
                .ignore()
                .expire(&key, seconds(ttl))
                .ignore();
            self.timed::<()>("admin_session", &pipe).await
        })
    }

    fn revoke_session<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<bool, EngineError>> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.del(session_key(token));
            let (deleted,): (u64,) = self.timed("admin_session", &pipe).await?;
            Ok(deleted > 0)
        })
    }

    fn put_user<'a>(
        &'a self,
        id: &'a str,
        record: &'a UserRecord,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let key = user_key(id);
            let mut fields = vec![("sandbox_id", record.sandbox_id.as_str())];
            let optional = [
                ("sandbox_ip", &record.sandbox_ip),
                ("name", &record.name),
                ("color", &record.color),
            ];
            for (field, value) in optional {
                if let Some(value) = value {
                    fields.push((field, value.as_str()));
                }
            }
            let mut pipe = redis::pipe();
            pipe.atomic()
                .del(&key)
                .ignore()
                .hset_multiple(&key, &fields)
                .ignore()
                .expire(&key, seconds(ttl))
                .ignore();
            self.timed::<()>("admin_user", &pipe).await
        })
    }

    fn put_member<'a>(
        &'a self,
        sandbox: &'a str,
        user: &'a str,
        role: MemberRole,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.hset(members_key(sandbox), user, role_value(role))
                .ignore();
            self.timed::<()>("admin_member", &pipe).await
        })
    }

    fn remove_member<'a>(
        &'a self,
        sandbox: &'a str,
        user: &'a str,
    ) -> BoxFuture<'a, Result<bool, EngineError>> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.hdel(members_key(sandbox), user);
            let (removed,): (u64,) = self.timed("admin_member", &pipe).await?;
            Ok(removed > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_the_contract() {
        assert_eq!(session_key("abc"), "session:abc");
        assert_eq!(user_key("u1"), "user:u1");
        assert_eq!(members_key("sb1"), "sandbox:sb1:members");
    }

    #[test]
    fn ttls_are_whole_seconds_of_at_least_one() {
        assert_eq!(seconds(Duration::from_secs(3600)), 3600);
        assert_eq!(seconds(Duration::ZERO), 1);
        assert_eq!(seconds(Duration::from_millis(1500)), 1);
    }
}
