//! Writing the identity records the gateway's access control reads: sessions, users and
//! sandbox members (README, "Admin API"; the keys are in "Redis layout").
//!
//! The platform normally writes these keys itself; the admin API ([`crate::admin`]) lets a
//! deployment without such a platform (or the demo, or a test) write them through the
//! gateway. Handlers see only this interface, never Redis. Ids arrive validated: an
//! engine writes what it is given.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::error::EngineError;

pub use super::directory::MemberRole;

/// The value of a role in `sandbox:{sid}:members`.
pub fn role_value(role: MemberRole) -> &'static str {
    match role {
        MemberRole::ReadWrite => "rw",
        MemberRole::ReadOnly => "ro",
    }
}

/// The fields of `user:{id}`.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The user's own sandbox (read-write).
    pub sandbox_id: String,
    /// Internal address of that sandbox: stored, never returned, never logged.
    pub sandbox_ip: Option<String>,
    /// Display name stamped on the user's cursor.
    pub name: Option<String>,
    /// Cursor colour (CSS hex).
    pub color: Option<String>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("sandbox_id", &self.sandbox_id)
            .field("sandbox_ip", &self.sandbox_ip.as_ref().map(|_| "***"))
            .field("name", &self.name)
            .field("color", &self.color)
            .finish()
    }
}

/// Writes sessions, users and memberships. Every write is atomic: a reader sees the old
/// record or the new one, never a record without its expiry.
pub trait IdentityAdmin: Send + Sync + 'static {
    /// `session:{token}` = `{user}`, expiring after `ttl`.
    fn create_session<'a>(
        &'a self,
        token: &'a str,
        user: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), EngineError>>;

    /// Deletes `session:{token}`; false when there was none.
    fn revoke_session<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<bool, EngineError>>;

    /// Replaces `user:{id}` with `record` (fields it lacks are removed), expiring after `ttl`.
    fn put_user<'a>(
        &'a self,
        id: &'a str,
        record: &'a UserRecord,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), EngineError>>;

    /// Sets `user`'s role in `sandbox:{sandbox}:members`.
    fn put_member<'a>(
        &'a self,
        sandbox: &'a str,
        user: &'a str,
        role: MemberRole,
    ) -> BoxFuture<'a, Result<(), EngineError>>;

    /// Removes `user` from `sandbox:{sandbox}:members`; false when it was not a member.
    fn remove_member<'a>(
        &'a self,
        sandbox: &'a str,
        user: &'a str,
    ) -> BoxFuture<'a, Result<bool, EngineError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_nothing_else_parses() {
        for role in [MemberRole::ReadWrite, MemberRole::ReadOnly] {
            assert_eq!(MemberRole::parse(role_value(role)), Some(role));
        }
        for other in ["", "RW", "rwx", "admin", " ro"] {
            assert_eq!(MemberRole::parse(other), None);
        }
    }

    #[test]
    fn debug_of_a_user_hides_the_sandbox_ip() {
        let record = UserRecord {
            sandbox_id: "sb1".into(),
            sandbox_ip: Some("10.0.0.42".into()),
            name: Some("Ann".into()),
            color: None,
        };
        let shown = format!("{record:?}");
        assert!(!shown.contains("10.0.0.42"), "{shown}");
        assert!(shown.contains("sb1"));
    }
}
