//! Bearer-token check for every route but `/healthz`.
//!
//! The agent keeps only the SHA-256 of its token, and compares digests in constant time
//! (the length of the token is not leaked either, as digests are all 32 bytes). Neither the
//! token nor the header is ever logged.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::error::ApiError;

/// The SHA-256 of the token the agent accepts.
#[derive(Clone)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    pub fn of(token: &str) -> TokenDigest {
        TokenDigest(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether `offered` is the token, in time independent of where they differ.
    pub fn accepts(&self, offered: &str) -> bool {
        let offered: [u8; 32] = Sha256::digest(offered.as_bytes()).into();
        let diff = self
            .0
            .iter()
            .zip(offered.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenDigest(..)")
    }
}

/// Middleware: 401 unless `Authorization: Bearer <token>` carries the token.
pub async fn require(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let offered = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    match offered {
        Some(token) if app.token.accepts(token) => next.run(request).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_tokens() {
        let digest = TokenDigest::of("s3cret-token");
        assert!(digest.accepts("s3cret-token"));
        assert!(!digest.accepts("s3cret-tokem"));
        assert!(!digest.accepts(""));
        assert_eq!(format!("{digest:?}"), "TokenDigest(..)");
    }
}
