//! `--auth redis`: the token is a session the platform recorded; the user reaches its own
//! sandbox (read-write) and the sandboxes that list it as a member (`rw` or `ro`).
//!
//! The lookups go through the engine's [`Directory`] (this module knows no Redis command):
//! one for the session, and, only for a live session, one more round trip for the user's
//! record and its membership in the file's sandbox. An unknown token costs one lookup.

use std::sync::Arc;

use super::grant::{Forbidden, Grant, Refusal, Token, Unauthenticated};
use super::{Access, Principal};
use crate::engine::{Directory, MemberRole, Standing};

/// Resolves session tokens through the platform's records.
pub struct RedisAccess {
    directory: Arc<dyn Directory>,
}

impl RedisAccess {
    pub fn new(directory: Arc<dyn Directory>) -> Self {
        RedisAccess { directory }
    }

    /// The grant of the session `token` for a file of `sandbox`.
    pub async fn authorize(&self, token: &Token, sandbox: &str) -> Result<Grant, Refusal> {
        let user = self
            .directory
            .session_user(token.expose())
            .await
            .map_err(unavailable)?
            .ok_or(Refusal::Unauthenticated(Unauthenticated::UnknownToken))?;
        let standing = self
            .directory
            .standing(&user, sandbox)
            .await
            .map_err(unavailable)?;
        let access = decide(&standing, sandbox)?;
        Ok(Grant {
            principal: Principal {
                verified: true,
                user: Arc::from(user),
                name: standing.name.map(Arc::from),
                color: standing.color.map(Arc::from),
                access,
            },
            expires: None,
        })
    }
}

fn unavailable(error: crate::engine::EngineError) -> Refusal {
    tracing::warn!(%error, "identity lookup failed");
    Refusal::Unavailable
}

/// What a user with `standing` may do in `sandbox`: its own sandbox read-write, else its
/// member role there, else nothing.
pub fn decide(standing: &Standing, sandbox: &str) -> Result<Access, Refusal> {
    if standing.own_sandbox.as_deref() == Some(sandbox) {
        return Ok(Access::ReadWrite);
    }
    match standing.role {
        Some(MemberRole::ReadWrite) => Ok(Access::ReadWrite),
        Some(MemberRole::ReadOnly) => Ok(Access::ReadOnly),
        None => Err(Refusal::Forbidden(Forbidden::OutsideSandbox)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(own: Option<&str>, role: Option<MemberRole>) -> Standing {
        Standing {
            own_sandbox: own.map(str::to_owned),
            name: None,
            color: None,
            role,
        }
    }

    #[test]
    fn own_sandbox_then_membership_then_nothing() {
        let forbidden = Err(Refusal::Forbidden(Forbidden::OutsideSandbox));
        assert_eq!(
            decide(&standing(Some("sb1"), None), "sb1"),
            Ok(Access::ReadWrite)
        );
        // The own sandbox wins over a stale `ro` entry in its own members list.
        assert_eq!(
            decide(&standing(Some("sb1"), Some(MemberRole::ReadOnly)), "sb1"),
            Ok(Access::ReadWrite)
        );
        assert_eq!(
            decide(&standing(Some("sb1"), Some(MemberRole::ReadOnly)), "sb2"),
            Ok(Access::ReadOnly)
        );
        assert_eq!(
            decide(&standing(None, Some(MemberRole::ReadWrite)), "sb2"),
            Ok(Access::ReadWrite)
        );
        assert_eq!(decide(&standing(Some("sb1"), None), "sb2"), forbidden);
        // A user whose record expired reaches only what lists it as a member.
        assert_eq!(decide(&standing(None, None), "sb1"), forbidden);
        // Sandbox ids compare exactly.
        assert_eq!(decide(&standing(Some("sb1"), None), "SB1"), forbidden);
        assert_eq!(decide(&standing(Some("sb1"), None), "sb1 "), forbidden);
    }
}
