//! A refused admin request: a status and a message, answered as `{"error": "..."}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::engine::EngineError;

/// A refused admin request: a status and a message for `{"error": ...}`.
#[derive(Debug)]
pub struct AdminError {
    pub status: StatusCode,
    pub message: String,
}

impl AdminError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        AdminError {
            status,
            message: message.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad(message: impl Into<String>) -> Self {
        AdminError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<EngineError> for AdminError {
    fn from(error: EngineError) -> Self {
        // The kind only: a Redis error could carry a command's arguments (a token).
        let kind = match &error {
            EngineError::Redis(e) => format!("redis {:?}", e.kind()),
            EngineError::Reply(_) => "unexpected reply".to_owned(),
            EngineError::Corrupt(_) => "corrupt".to_owned(),
            EngineError::Stopped => "stopped".to_owned(),
        };
        tracing::warn!(kind, "admin: identity write failed");
        AdminError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the identity store is unavailable; try again",
        )
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = axum::Json(serde_json::json!({ "error": self.message }));
        (self.status, body).into_response()
    }
}
