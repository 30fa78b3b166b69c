//! The in-memory engine's identity records: sessions, users and sandbox members, read by
//! access control ([`Directory`]) and written by the admin API ([`IdentityAdmin`]), with
//! the Redis records' meaning (`session:{token}`, `user:{id}`, `sandbox:{sid}:members`).
//!
//! Every write, and every expiry of a session or user (swept by [`expire`]), is announced
//! on the change feed of every gateway connected to the server, as `CLIENT TRACKING`
//! invalidations announce them in Redis: revocation re-reads what changed at once.
//! Nothing here logs a token or a `sandbox_ip`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use super::shared::lock;
use crate::engine::changes::{ChangeFeed, Record};
use crate::engine::directory::{Directory, MemberRole, Standing};
use crate::engine::error::EngineError;
use crate::engine::identity_admin::{IdentityAdmin, UserRecord};

/// How often expired sessions and users are swept (and announced).
const SWEEP: Duration = Duration::from_millis(250);

/// A value with the instant it expires.
struct Expiring<T> {
    value: T,
    until: Instant,
}

impl<T> Expiring<T> {
    fn live(&self, now: Instant) -> Option<&T> {
        (self.until > now).then_some(&self.value)
    }
}

#[derive(Default)]
struct Records {
    sessions: HashMap<String, Expiring<String>>,
    users: HashMap<String, Expiring<UserRecord>>,
    members: HashMap<String, HashMap<String, MemberRole>>,
}

/// The records and the feeds that hear of their changes.
#[derive(Default)]
pub struct Identity {
    records: Mutex<Records>,
    feeds: Mutex<Vec<ChangeFeed>>,
}

impl Identity {
    /// `feed` hears every change from now on.
    pub fn subscribe(&self, feed: ChangeFeed) {
        lock(&self.feeds).push(feed);
    }

    fn announce(&self, record: Record) {
        for feed in lock(&self.feeds).iter() {
            feed.changed(record.clone());
        }
    }

    /// Removes expired sessions and users and announces them.
    fn sweep(&self, now: Instant) {
        let mut gone = Vec::new();
        {
            let mut records = lock(&self.records);
            records.sessions.retain(|token, session| {
                let live = session.until > now;
                if !live {
                    gone.push(Record::Session(token.clone()));
                }
                live
            });
            records.users.retain(|id, user| {
                let live = user.until > now;
                if !live {
                    gone.push(Record::User(id.clone()));
                }
                live
            });
        }
        for record in gone {
            self.announce(record);
        }
    }
}

/// Sweeps expired records every [`SWEEP`] (the engine aborts it when dropped).
pub async fn expire(identity: Arc<Identity>) {
    let mut tick = tokio::time::interval(SWEEP);
    loop {
        tick.tick().await;
        identity.sweep(Instant::now());
    }
}

/// Identity reads and writes of one gateway.
pub struct MemoryDirectory {
    identity: Arc<Identity>,
}

impl MemoryDirectory {
    pub fn new(identity: Arc<Identity>) -> Self {
        MemoryDirectory { identity }
    }

    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn session(&self, token: &str) -> Option<String> {
        let records = lock(&self.identity().records);
        let user = records.sessions.get(token)?.live(Instant::now())?;
        Some(user.clone()).filter(|user| !user.is_empty())
    }

    fn standing_now(&self, user: &str, sandbox: &str) -> Standing {
        let records = lock(&self.identity().records);
        let present = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        let mut standing = Standing::default();
        if let Some(record) = records.users.get(user).and_then(|u| u.live(Instant::now())) {
            standing.own_sandbox = Some(record.sandbox_id.clone()).filter(|s| !s.is_empty());
            standing.name = present(&record.name);
            standing.color = present(&record.color);
        }
        standing.role = records
            .members
            .get(sandbox)
            .and_then(|members| members.get(user))
            .copied();
        standing
    }

    /// Writes under the lock, then announces `record`.
    fn write<T>(&self, record: Record, change: impl FnOnce(&mut Records) -> T) -> T {
        let result = change(&mut lock(&self.identity().records));
        self.identity().announce(record);
        result
    }
}

impl Directory for MemoryDirectory {
    fn session_user<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, EngineError>> {
        let user = self.session(token);
        Box::pin(async move { Ok(user) })
    }

    fn standing<'a>(
        &'a self,
        user: &'a str,
        sandbox: &'a str,
    ) -> BoxFuture<'a, Result<Standing, EngineError>> {
        let standing = self.standing_now(user, sandbox);
        Box::pin(async move { Ok(standing) })
    }
}

impl IdentityAdmin for MemoryDirectory {
    fn create_session<'a>(
        &'a self,
        token: &'a str,
        user: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        let until = Instant::now() + ttl.max(Duration::from_secs(1));
        self.write(Record::Session(token.to_owned()), |records| {
            let value = user.to_owned();
            records
                .sessions
                .insert(token.to_owned(), Expiring { value, until });
        });
        Box::pin(async { Ok(()) })
    }

    fn revoke_session<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<bool, EngineError>> {
        let now = Instant::now();
        let existed = self.write(Record::Session(token.to_owned()), |records| {
            records
                .sessions
                .remove(token)
                .is_some_and(|s| s.live(now).is_some())
        });
        Box::pin(async move { Ok(existed) })
    }

    fn put_user<'a>(
        &'a self,
        id: &'a str,
        record: &'a UserRecord,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        let until = Instant::now() + ttl.max(Duration::from_secs(1));
        self.write(Record::User(id.to_owned()), |records| {
            let value = record.clone();
            records
                .users
                .insert(id.to_owned(), Expiring { value, until });
        });
        Box::pin(async { Ok(()) })
    }

    fn put_member<'a>(
        &'a self,
        sandbox: &'a str,
        user: &'a str,
        role: MemberRole,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        self.write(Record::Members(sandbox.to_owned()), |records| {
            let members = records.members.entry(sandbox.to_owned()).or_default();
            members.insert(user.to_owned(), role);
        });
        Box::pin(async { Ok(()) })
    }

    fn remove_member<'a>(
        &'a self,
        sandbox: &'a str,
        user: &'a str,
    ) -> BoxFuture<'a, Result<bool, EngineError>> {
        let removed = self.write(Record::Members(sandbox.to_owned()), |records| {
            let Some(members) = records.members.get_mut(sandbox) else {
                return false;
            };
            let removed = members.remove(user).is_some();
            if members.is_empty() {
                records.members.remove(sandbox);
            }
            removed
        });
        Box::pin(async move { Ok(removed) })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::engine::changes::Change;

    fn user(sandbox: &str) -> UserRecord {
        UserRecord {
            sandbox_id: sandbox.into(),
            sandbox_ip: Some("10.1.2.3".into()),
            name: Some("Ann".into()),
            color: None,
        }
    }

    #[tokio::test]
    async fn writes_are_read_back_and_announced_to_every_feed() {
        let identity = Arc::new(Identity::default());
        let (one, two) = (ChangeFeed::new(), ChangeFeed::new());
        identity.subscribe(one.clone());
        identity.subscribe(two.clone());
        let dir = MemoryDirectory::new(identity);
        let hour = Duration::from_secs(3600);
        dir.create_session("tok", "ann", hour)
            .await
            .expect("session");
        dir.put_user("ann", &user("sb1"), hour).await.expect("user");
        dir.put_member("sb2", "ann", MemberRole::ReadOnly)
            .await
            .expect("member");
        assert_eq!(
            dir.session_user("tok").await.expect("read"),
            Some("ann".into())
        );
        let standing = dir.standing("ann", "sb2").await.expect("read");
        assert_eq!(standing.own_sandbox.as_deref(), Some("sb1"));
        assert_eq!(standing.name.as_deref(), Some("Ann"));
        assert_eq!(standing.role, Some(MemberRole::ReadOnly));
        let expected: HashSet<Record> = [
            Record::Session("tok".into()),
            Record::User("ann".into()),
            Record::Members("sb2".into()),
        ]
        .into();
        for feed in [one, two] {
            assert_eq!(feed.take(), Some(Change::Records(expected.clone())));
        }
        assert!(dir.remove_member("sb2", "ann").await.expect("remove"));
        assert!(!dir.remove_member("sb2", "ann").await.expect("remove"));
        assert!(dir.revoke_session("tok").await.expect("revoke"));
        assert_eq!(dir.session_user("tok").await.expect("read"), None);
    }

    #[tokio::test]
    async fn an_expired_session_reads_as_gone_and_its_sweep_is_announced() {
        let identity = Arc::new(Identity::default());
        let feed = ChangeFeed::new();
        identity.subscribe(feed.clone());
        let dir = MemoryDirectory::new(identity.clone());
        dir.create_session("tok", "ann", Duration::from_secs(1))
            .await
            .expect("session");
        feed.take();
        let later = Instant::now() + Duration::from_secs(2);
        identity.sweep(later);
        let gone: HashSet<Record> = [Record::Session("tok".into())].into();
        assert_eq!(feed.take(), Some(Change::Records(gone)));
        assert_eq!(dir.session_user("tok").await.expect("read"), None);
    }
}
