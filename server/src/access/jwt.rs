//! `--auth jwt`: for deployments with their own identity provider. The token is a JWT
//! signed with one configured key and one algorithm, carrying:
//!
//! - `sub`: the user id (the author of the connection's edits);
//! - `sandbox`: the one sandbox the token opens;
//! - `role` (optional): `rw` (the default) or `ro`;
//! - `exp` (required): seconds since the epoch; the connection is closed at that instant.
//!
//! A token with a wrong signature, another algorithm than the configured one, a missing or
//! malformed claim, or an `nbf` in the future is `bad-token`; a well-signed one past its
//! `exp` is `token-expired` (no leeway: the gateway's clock decides); a file outside the
//! token's sandbox is `outside-sandbox`. No name or colour: cursors show the id.
//!
//! The key (`--jwt-key FILE`): an HS256 secret (the file's bytes, one trailing line break
//! ignored), or a PEM public key, EC P-256 for ES256 or RSA for RS256. Without `--jwt-alg`
//! the algorithm follows from the key: an EC PEM is ES256, an RSA PEM RS256, anything that
//! is not a PEM an HS256 secret.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::grant::{Forbidden, Grant, Refusal, Token, Unauthenticated};
use super::{Access, Principal};
use crate::config::JwtAlg;

/// HS256 secrets shorter than this are accepted with a warning (RFC 7518 3.2 asks for at
/// least the hash size).
const MIN_SECRET_BYTES: usize = 32;

/// Checks JWTs with one key and one algorithm.
pub struct JwtAccess {
    key: DecodingKey,
    validation: Validation,
    algorithm: JwtAlg,
}

/// The claims read from a token; others are ignored.
#[derive(serde::Deserialize)]
struct Claims {
    sub: String,
    sandbox: String,
    #[serde(default)]
    role: Option<String>,
    exp: u64,
}

impl JwtAccess {
    /// Reads the key file and sets the algorithm (`alg`, else from the key).
    pub fn load(path: &Path, alg: Option<JwtAlg>) -> anyhow::Result<JwtAccess> {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading --jwt-key {}", path.display()))?;
        JwtAccess::from_key(&bytes, alg).with_context(|| format!("--jwt-key {}", path.display()))
    }

    /// A checker for the key `bytes` (see the module docs).
    pub fn from_key(bytes: &[u8], alg: Option<JwtAlg>) -> anyhow::Result<JwtAccess> {
        let is_pem = bytes.trim_ascii_start().starts_with(b"-----BEGIN");
        if is_pem && bytes.windows(7).any(|w| w == b"PRIVATE") {
            bail!("a private key: give the gateway the public key only");
        }
        let (algorithm, key) = match alg {
            Some(JwtAlg::Hs256) => (JwtAlg::Hs256, secret(bytes)?),
            Some(JwtAlg::Es256) => (JwtAlg::Es256, ec_key(bytes)?),
            Some(JwtAlg::Rs256) => (JwtAlg::Rs256, rsa_key(bytes)?),
            None if is_pem => match ec_key(bytes) {
                Ok(key) => (JwtAlg::Es256, key),
                Err(_) => (
                    JwtAlg::Rs256,
                    rsa_key(bytes).context("a PEM that is neither an EC nor an RSA public key")?,
                ),
            },
            None => (JwtAlg::Hs256, secret(bytes)?),
        };
        let mut validation = Validation::new(match algorithm {
            JwtAlg::Hs256 => Algorithm::HS256,
            JwtAlg::Es256 => Algorithm::ES256,
            JwtAlg::Rs256 => Algorithm::RS256,
        });
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(JwtAccess {
            key,
            validation,
            algorithm,
        })
    }

    /// The algorithm tokens must be signed with.
    pub fn algorithm(&self) -> JwtAlg {
        self.algorithm
    }

    /// The grant of `token` for a file of `sandbox`.
    pub fn authorize(&self, token: &Token, sandbox: &str) -> Result<Grant, Refusal> {
        let bad = Refusal::Unauthenticated(Unauthenticated::BadToken);
        let claims = jsonwebtoken::decode::<Claims>(token.expose(), &self.key, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => {
                    Refusal::Unauthenticated(Unauthenticated::TokenExpired)
                }
                _ => bad,
            })?
            .claims;
        let access = match claims.role.as_deref() {
            None | Some("rw") => Access::ReadWrite,
            Some("ro") => Access::ReadOnly,
            Some(_) => return Err(bad),
        };
        if claims.sub.is_empty() || claims.sandbox.is_empty() {
            return Err(bad);
        }
        if claims.sandbox != sandbox {
            return Err(Refusal::Forbidden(Forbidden::OutsideSandbox));
        }
        let expires = UNIX_EPOCH
            .checked_add(Duration::from_secs(claims.exp))
            .unwrap_or_else(SystemTime::now);
        Ok(Grant {
            principal: Principal {
                verified: true,
                user: Arc::from(claims.sub),
                name: None,
                color: None,
                access,
            },
            expires: Some(expires),
        })
    }
}

fn secret(bytes: &[u8]) -> anyhow::Result<DecodingKey> {
    let secret = bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(bytes);
    if secret.is_empty() {
        bail!("the HS256 secret is empty");
    }
    if secret.len() < MIN_SECRET_BYTES {
        tracing::warn!(
            bytes = secret.len(),
            "the HS256 secret is shorter than {MIN_SECRET_BYTES} bytes: easy to guess"
        );
    }
    Ok(DecodingKey::from_secret(secret)?)
}

fn ec_key(bytes: &[u8]) -> anyhow::Result<DecodingKey> {
    DecodingKey::from_ec_pem(bytes).context("not an EC public key in PEM (ES256)")
}

fn rsa_key(bytes: &[u8]) -> anyhow::Result<DecodingKey> {
    DecodingKey::from_rsa_pem(bytes).context("not an RSA public key in PEM (RS256)")
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
