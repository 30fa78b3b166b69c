//! The admin API's one credential: `Authorization: Bearer <admin token>`, compared in
//! constant time; missing or wrong is 401 before the request is looked at.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::AdminError;
use crate::secret::Secret;
use crate::state::AppState;

/// Shortest admin token the gateway accepts, in bytes.
pub const MIN_TOKEN_BYTES: usize = 16;

/// Refuses admin tokens too short to be secret (checked when the gateway starts).
pub fn check_token(token: &Secret) -> anyhow::Result<()> {
    if token.expose().len() < MIN_TOKEN_BYTES {
        anyhow::bail!(
            "--admin-token (COLLAB_ADMIN_TOKEN) must be at least {MIN_TOKEN_BYTES} bytes; \
             for example: head -c 32 /dev/urandom | base64"
        );
    }
    Ok(())
}

/// The credential of `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer(request: &Request) -> Option<&[u8]> {
    let value = request.headers().get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, token) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| token.trim_ascii())
}

/// Middleware of every admin route: passes the request on only with the admin token.
pub async fn require_admin(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let allowed = match (&state.config.admin_token, bearer(&request)) {
        (Some(secret), Some(presented)) => secret.matches(presented),
        _ => false,
    };
    if !allowed {
        crate::metrics::rejected("admin-unauthorized");
        let mut response =
            AdminError::new(StatusCode::UNAUTHORIZED, "missing or wrong admin token")
                .into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(authorization: Option<&str>) -> Request {
        let mut builder = Request::builder().uri("/admin/sessions");
        if let Some(value) = authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        builder
            .body(axum::body::Body::empty())
            .expect("a valid test value")
    }

    #[test]
    fn bearer_credentials_are_read_case_insensitively() {
        assert_eq!(bearer(&request(Some("Bearer abc"))), Some(&b"abc"[..]));
        assert_eq!(bearer(&request(Some("bearer  abc "))), Some(&b"abc"[..]));
        assert_eq!(bearer(&request(Some("Basic abc"))), None);
        assert_eq!(bearer(&request(Some("Bearer"))), None);
        assert_eq!(bearer(&request(None)), None);
    }

    #[test]
    fn short_admin_tokens_are_refused_at_start() {
        assert!(check_token(&"0123456789abcdef".parse().expect("a valid test value")).is_ok());
        let error = check_token(&"short".parse().expect("a valid test value")).unwrap_err();
        assert!(!error.to_string().contains("short"));
    }
}
