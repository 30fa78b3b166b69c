//! The agent's HTTP errors: one enum, one status per variant, a JSON body `{"error": reason}`.
//!
//! Reasons name the relative path at most: never the token, the root's absolute location or
//! file contents, so they are safe to log on the gateway side and to show to an operator.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The path is not a clean relative path (`..`, absolute, NUL, backslash, empty segment).
    #[error("bad path: {0}")]
    BadPath(&'static str),
    /// The path resolves outside the root (through a symlink).
    #[error("path leaves the workspace: {0}")]
    Escapes(&'static str),
    #[error("no such file")]
    NotFound,
    /// A directory, or a parent that is a file.
    #[error("not a file: {0}")]
    NotAFile(&'static str),
    /// The conditional PUT's precondition failed; carries the current ETag hex, if any.
    #[error("precondition failed: the file is not that version")]
    Stale(Option<String>),
    #[error("a PUT needs If-Match: \"<etag>\" or If-None-Match: *")]
    PreconditionRequired,
    #[error("bad header: {0}")]
    BadHeader(&'static str),
    #[error("file is larger than --max-file-bytes ({0} bytes)")]
    TooLarge(usize),
    #[error("missing or wrong bearer token")]
    Unauthorized,
    /// An IO failure; the message is the error kind only (no absolute paths).
    #[error("io error: {0}")]
    Io(std::io::ErrorKind),
}

impl ApiError {
    /// Maps an IO error from a read or write of a resolved path.
    pub fn io(err: &std::io::Error) -> ApiError {
        match err.kind() {
            std::io::ErrorKind::NotFound => ApiError::NotFound,
            std::io::ErrorKind::NotADirectory => ApiError::NotAFile("a parent is not a directory"),
            std::io::ErrorKind::IsADirectory => ApiError::NotAFile("it is a directory"),
            kind => ApiError::Io(kind),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadPath(_) | ApiError::BadHeader(_) => StatusCode::BAD_REQUEST,
            ApiError::Escapes(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::NotAFile(_) => StatusCode::CONFLICT,
            ApiError::Stale(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.to_string() }).to_string();
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        match &self {
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Stale(Some(hex)) => {
                if let Ok(value) = HeaderValue::from_str(&crate::etag::quote(hex)) {
                    headers.insert(header::ETAG, value);
                }
            }
            _ => {}
        }
        response
    }
}
