//! Identity reads behind the seam: who a session token belongs to and where that user
//! stands in one sandbox, as the platform recorded it.
//!
//! The platform writes these records; the gateway only reads them, and reads nothing it
//! does not need: a user's `sandbox_ip` only under `--files sandbox`
//! ([`Directory::sandbox_address`]), into a [`SandboxIp`] that never prints. What an
//! engine returns here is raw
//! standing; turning it into a decision (read-write, read-only, refused) is
//! [`crate::access`]'s job.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::error::EngineError;
use crate::sandbox_ip::SandboxIp;

/// A user's role in a sandbox that lists them as a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRole {
    /// `rw`: may edit the sandbox's files.
    ReadWrite,
    /// `ro`: may read them and show a cursor.
    ReadOnly,
}

impl MemberRole {
    /// `rw` or `ro`; anything else is no role at all.
    pub fn parse(value: &str) -> Option<MemberRole> {
        match value {
            "rw" => Some(MemberRole::ReadWrite),
            "ro" => Some(MemberRole::ReadOnly),
            _ => None,
        }
    }
}

/// What the directory holds about one user, as seen from one sandbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    /// The user's own sandbox (`user:{id}` field `sandbox_id`), if recorded.
    pub own_sandbox: Option<String>,
    /// Display name, if recorded.
    pub name: Option<String>,
    /// Cursor colour, if recorded.
    pub color: Option<String>,
    /// The user's role in the sandbox asked about, if it lists them as a member with a
    /// known role.
    pub role: Option<MemberRole>,
}

/// Where a user's own sandbox is (`user:{id}` fields `sandbox_id`, `sandbox_ip`), for
/// reaching its file agent (`--files sandbox`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxAddress {
    pub sandbox: String,
    pub ip: SandboxIp,
    /// How long the record lives (`None`: no expiry set).
    pub ttl: Option<Duration>,
}

/// A grant re-read ([`Directory::recheck`]): the session's user and its standing in the
/// sandbox asked about, or `None` when the session is gone.
pub type Rechecked = Option<(String, Standing)>;

/// Reads of the platform's identity records.
pub trait Directory: Send + Sync + 'static {
    /// The user id of the live session `token`; `None` when no such session exists (never
    /// created, deleted or expired: the records cannot tell these apart).
    fn session_user<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, EngineError>>;

    /// `user`'s own record and its membership in `sandbox`, in one round trip.
    fn standing<'a>(
        &'a self,
        user: &'a str,
        sandbox: &'a str,
    ) -> BoxFuture<'a, Result<Standing, EngineError>>;

    /// `user`'s own sandbox and its address, fresh from the record (never cached: the
    /// address is read on an owner's admission only); `None` without a record, a sandbox
    /// or a usable address. The default engine has no addresses.
    fn sandbox_address<'a>(
        &'a self,
        user: &'a str,
    ) -> BoxFuture<'a, Result<Option<SandboxAddress>, EngineError>> {
        let _ = user;
        Box::pin(async { Ok(None) })
    }

    /// Entries of the directory's own tables (its cache), for the census
    /// ([`crate::census`]); none by default.
    fn tables(&self) -> Vec<(&'static str, usize)> {
        Vec::new()
    }

    /// Re-reads many grants at once (revocation, [`crate::access::revocation`]): for each
    /// `(token, sandbox)`, the session's user and its standing there, or `None` for a
    /// session that is gone. One error fails the whole batch. The default asks one at a
    /// time; an engine overrides it with a few round trips for the whole batch.
    fn recheck<'a>(
        &'a self,
        asks: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<Vec<Rechecked>, EngineError>> {
        Box::pin(async move {
            let mut answers = Vec::with_capacity(asks.len());
            for (token, sandbox) in asks {
                let answer = match self.session_user(token).await? {
                    Some(user) => {
                        let standing = self.standing(&user, sandbox).await?;
                        Some((user, standing))
                    }
                    None => None,
                };
                answers.push(answer);
            }
            Ok(answers)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rw_and_ro_are_roles() {
        assert_eq!(MemberRole::parse("rw"), Some(MemberRole::ReadWrite));
        assert_eq!(MemberRole::parse("ro"), Some(MemberRole::ReadOnly));
        for other in ["", "RW", "admin", "r", "rw "] {
            assert_eq!(MemberRole::parse(other), None, "{other:?}");
        }
    }
}
