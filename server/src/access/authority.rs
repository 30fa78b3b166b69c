//! The one entry point of access control: [`Authority::authorize`], used by the session
//! after the upgrade and before it joins any room.
//!
//! The checks run cheapest first, so a refused connection costs as little as possible:
//! no token (4401) and a file id without a sandbox (4403) cost nothing; under
//! `--auth jwt` nothing costs a round trip; under `--auth redis` an unknown token costs
//! one lookup and a live one two.

use std::sync::Arc;

use collab_protocol::FileId;

use super::Principal;
use super::grant::{Forbidden, Grant, Refusal, Token, Unauthenticated};
use super::jwt::JwtAccess;
use super::redis::RedisAccess;
use super::sandbox::sandbox_of;
use crate::config::{AuthMode, Config};
use crate::engine::Directory;

/// How this gateway authorises connections (`--auth`).
pub enum Authority {
    /// `--auth none`: everyone is an anonymous writer of every file.
    Open,
    /// `--auth redis`: session tokens in the platform's records.
    Redis(RedisAccess),
    /// `--auth jwt`: signed tokens (boxed: the key and its validation rules are large).
    Jwt(Box<JwtAccess>),
}

impl Authority {
    /// The authority `config` asks for (reads the JWT key file under `--auth jwt`).
    pub fn from_config(
        config: &Config,
        directory: Arc<dyn Directory>,
    ) -> anyhow::Result<Authority> {
        if config.auth != AuthMode::Jwt && (config.jwt_key.is_some() || config.jwt_alg.is_some()) {
            anyhow::bail!("--jwt-key and --jwt-alg apply to --auth jwt only");
        }
        Ok(match config.auth {
            AuthMode::None => Authority::Open,
            AuthMode::Redis => Authority::Redis(RedisAccess::new(directory)),
            AuthMode::Jwt => {
                let Some(path) = &config.jwt_key else {
                    anyhow::bail!(
                        "--auth jwt needs --jwt-key FILE (an HS256 secret or a public key PEM)"
                    );
                };
                Authority::Jwt(Box::new(JwtAccess::load(path, config.jwt_alg)?))
            }
        })
    }

    /// What the holder of `token` may do with `file`.
    pub async fn authorize(&self, token: Option<&Token>, file: &FileId) -> Result<Grant, Refusal> {
        match self {
            Authority::Open => Ok(Grant {
                principal: Principal::anonymous(),
                expires: None,
            }),
            Authority::Redis(redis) => {
                let (token, sandbox) = precheck(token, file)?;
                redis.authorize(token, sandbox).await
            }
            Authority::Jwt(jwt) => {
                let (token, sandbox) = precheck(token, file)?;
                jwt.authorize(token, sandbox)
            }
        }
    }
}

/// The checks that need no lookup: a token is there and sane, and the file has a sandbox.
fn precheck<'a>(
    token: Option<&'a Token>,
    file: &'a FileId,
) -> Result<(&'a Token, &'a str), Refusal> {
    let token = token.ok_or(Refusal::Unauthenticated(Unauthenticated::MissingToken))?;
    if token.is_oversized() {
        return Err(Refusal::Unauthenticated(Unauthenticated::BadToken));
    }
    let sandbox = sandbox_of(file).ok_or(Refusal::Forbidden(Forbidden::NoSandbox))?;
    Ok((token, sandbox))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Access;
    use crate::access::grant::MAX_TOKEN_BYTES;
    use crate::engine::{EngineError, MemberRole, Standing};
    use futures_util::future::BoxFuture;
    use std::sync::Mutex;

    /// A directory with one session (`tok` -> `u1`, own sandbox `sb1`, `ro` in `sb2`) that
    /// counts its lookups.
    #[derive(Default)]
    struct OneUser {
        lookups: Mutex<Vec<&'static str>>,
    }

    impl Directory for OneUser {
        fn session_user<'a>(
            &'a self,
            token: &'a str,
        ) -> BoxFuture<'a, Result<Option<String>, EngineError>> {
            self.lookups
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push("session");
            let user = (token == "tok").then(|| "u1".to_owned());
            Box::pin(async move { Ok(user) })
        }

        fn standing<'a>(
            &'a self,
            user: &'a str,
            sandbox: &'a str,
        ) -> BoxFuture<'a, Result<Standing, EngineError>> {
            self.lookups
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push("standing");
            assert_eq!(user, "u1");
            let standing = Standing {
                own_sandbox: Some("sb1".to_owned()),
                name: Some("Ann".to_owned()),
                color: Some("#f00".to_owned()),
                role: (sandbox == "sb2").then_some(MemberRole::ReadOnly),
            };
            Box::pin(async move { Ok(standing) })
        }
    }

    fn file(id: &str) -> FileId {
        FileId::parse(id).expect("valid")
    }

    fn token(value: &str) -> Token {
        Token::new(value.to_owned()).expect("non-empty")
    }

    #[tokio::test]
    async fn redis_mode_checks_cheapest_first() {
        let directory = Arc::new(OneUser::default());
        let authority = Authority::Redis(RedisAccess::new(directory.clone()));
        let refused = |r: Result<Grant, Refusal>| r.expect_err("refused").reason();

        assert_eq!(
            refused(authority.authorize(None, &file("sb1/a")).await),
            "missing-token"
        );
        let long = token(&"x".repeat(MAX_TOKEN_BYTES + 1));
        assert_eq!(
            refused(authority.authorize(Some(&long), &file("sb1/a")).await),
            "bad-token"
        );
        let tok = token("tok");
        assert_eq!(
            refused(authority.authorize(Some(&tok), &file("lonely")).await),
            "no-sandbox"
        );
        assert!(
            directory
                .lookups
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty(),
            "no lookup so far"
        );

        let nope = token("nope");
        assert_eq!(
            refused(authority.authorize(Some(&nope), &file("sb1/a")).await),
            "unknown-token"
        );
        assert_eq!(
            *directory.lookups.lock().unwrap_or_else(|e| e.into_inner()),
            ["session"],
            "one lookup for a bad token"
        );

        let own = authority
            .authorize(Some(&tok), &file("sb1/a"))
            .await
            .expect("own sandbox");
        assert_eq!(own.principal.access, Access::ReadWrite);
        assert_eq!(own.principal.name.as_deref(), Some("Ann"));
        assert_eq!(own.principal.color.as_deref(), Some("#f00"));
        assert_eq!(own.expires, None);
        let shared = authority
            .authorize(Some(&tok), &file("sb2/a"))
            .await
            .expect("member");
        assert_eq!(shared.principal.access, Access::ReadOnly);
        assert_eq!(
            refused(authority.authorize(Some(&tok), &file("sb3/a")).await),
            "outside-sandbox"
        );
    }

    #[tokio::test]
    async fn open_mode_lets_everyone_write_everything() {
        let authority = Authority::Open;
        for id in ["lonely", "sb1/a"] {
            let grant = authority.authorize(None, &file(id)).await.expect("open");
            assert_eq!(grant.principal, Principal::anonymous());
        }
    }
}
