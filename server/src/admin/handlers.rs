//! The admin routes' handlers: read and check the request ([`super::input`]), write
//! through [`IdentityAdmin`](crate::engine::IdentityAdmin), answer in JSON.
//!
//! Responses carry ids, names, colours, roles and TTLs. The one token a response ever
//! holds is the session token its own request created; no response holds a `sandbox_ip`.
//! Log lines name users and sandboxes, never tokens or addresses.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rand::TryRngCore;
use serde_json::json;

use super::error::AdminError;
use super::input::{self, Fields, IdKind};
use crate::engine::identity_admin::role_value;
use crate::engine::{MemberRole, UserRecord};
use crate::state::AppState;

type Shared = State<Arc<AppState>>;

/// A path whose segments are not UTF-8 (or missing) is refused without quoting it.
fn segments<T>(path: Result<Path<T>, PathRejection>) -> Result<T, AdminError> {
    path.map(|Path(value)| value)
        .map_err(|_| AdminError::bad("the path's ids must be UTF-8"))
}

/// A new session token: 32 bytes from the operating system's CSPRNG, base64url without
/// padding (43 characters, safe in a URL query).
fn new_token() -> Result<String, AdminError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).map_err(|_| {
        tracing::error!("admin: the operating system's random source failed");
        AdminError::new(StatusCode::INTERNAL_SERVER_ERROR, "no random source")
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// `POST /admin/sessions` `{"user":"u1","ttl_secs":3600}`: creates `session:{token}` for the
/// user, expiring after the TTL. 201 `{"token","user","expires_in"}`.
pub async fn create_session(State(state): Shared, body: Bytes) -> Result<Response, AdminError> {
    let mut fields = Fields::parse(&body)?;
    let user = input::id(IdKind::User, &fields.required_string("user")?)?;
    let ttl = fields.ttl()?;
    fields.finish(&["user", "ttl_secs"])?;
    let token = new_token()?;
    state
        .identity_admin
        .create_session(&token, &user, ttl)
        .await?;
    tracing::info!(user, ttl_secs = ttl.as_secs(), "admin: session created");
    let body = json!({ "token": token, "user": user, "expires_in": ttl.as_secs() });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `DELETE /admin/sessions/{token}`: 204, or 404 when there was no such session.
pub async fn revoke_session(
    State(state): Shared,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AdminError> {
    let token = input::id(IdKind::Token, &segments(path)?)?;
    if state.identity_admin.revoke_session(&token).await? {
        tracing::info!("admin: session revoked");
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(AdminError::new(StatusCode::NOT_FOUND, "no such session"))
    }
}

/// `PUT /admin/users/{id}` `{"sandbox_id","sandbox_ip","name","color","ttl_secs"}`:
/// replaces `user:{id}` (fields left out are removed), expiring after the TTL. 200 with
/// the record as stored, without `sandbox_ip`.
pub async fn put_user(
    State(state): Shared,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Response, AdminError> {
    let id = input::id(IdKind::User, &segments(path)?)?;
    let mut fields = Fields::parse(&body)?;
    let record = UserRecord {
        sandbox_id: input::id(IdKind::Sandbox, &fields.required_string("sandbox_id")?)?,
        sandbox_ip: fields
            .string("sandbox_ip")?
            .map(input::sandbox_ip)
            .transpose()?,
        name: fields.string("name")?.map(input::name).transpose()?,
        color: fields.string("color")?.map(input::color).transpose()?,
    };
    let ttl = fields.ttl()?;
    fields.finish(&["sandbox_id", "sandbox_ip", "name", "color", "ttl_secs"])?;
    state.identity_admin.put_user(&id, &record, ttl).await?;
    tracing::info!(
        user = id,
        sandbox = record.sandbox_id,
        ttl_secs = ttl.as_secs(),
        "admin: user mapped to a sandbox"
    );
    let body = json!({
        "id": id,
        "sandbox_id": record.sandbox_id,
        "name": record.name,
        "color": record.color,
        "expires_in": ttl.as_secs(),
    });
    Ok(Json(body).into_response())
}

/// `PUT /admin/sandboxes/{sid}/members/{user}` `{"role":"rw"|"ro"}`: 200
/// `{"sandbox_id","user","role"}`.
pub async fn put_member(
    State(state): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Bytes,
) -> Result<Response, AdminError> {
    let (sandbox, user) = segments(path)?;
    let sandbox = input::id(IdKind::Sandbox, &sandbox)?;
    let user = input::id(IdKind::User, &user)?;
    let mut fields = Fields::parse(&body)?;
    let role = fields.required_string("role")?;
    let role = MemberRole::parse(&role)
        .ok_or_else(|| AdminError::bad("`role` must be \"rw\" or \"ro\""))?;
    fields.finish(&["role"])?;
    state
        .identity_admin
        .put_member(&sandbox, &user, role)
        .await?;
    tracing::info!(
        sandbox,
        user,
        role = role_value(role),
        "admin: sandbox member set"
    );
    let body = json!({ "sandbox_id": sandbox, "user": user, "role": role_value(role) });
    Ok(Json(body).into_response())
}

/// `DELETE /admin/sandboxes/{sid}/members/{user}`: 204, or 404 when it was no member.
pub async fn remove_member(
    State(state): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, AdminError> {
    let (sandbox, user) = segments(path)?;
    let sandbox = input::id(IdKind::Sandbox, &sandbox)?;
    let user = input::id(IdKind::User, &user)?;
    if state.identity_admin.remove_member(&sandbox, &user).await? {
        tracing::info!(sandbox, user, "admin: sandbox member removed");
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(AdminError::new(
            StatusCode::NOT_FOUND,
            "not a member of this sandbox",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_and_differ() {
        let a = new_token().expect("a valid test value");
        let b = new_token().expect("a valid test value");
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }
}
