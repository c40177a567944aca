//! The server's errors: what went wrong inside, and what a client is told.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use wijkverkenner_core::sync::wire::ErrorBody;

/// A failure inside the server (storage, I/O). Never shown to clients in detail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("stored document: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Core(#[from] wijkverkenner_core::Error),
    /// A file of the data directory (photos' bytes).
    #[error("file: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
    /// A refusal meant for the client (bad input, forbidden, unknown).
    #[error("{0:?}")]
    Api(ApiError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An answer to a client that did something wrong, or that the server cannot serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    /// A sentence for a person; never contains record content.
    pub message: String,
    pub wipe: bool,
    /// Seconds to wait before trying again (`Retry-After`, with 429).
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), wipe: false, retry_after_s: None }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn revoked() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "device_revoked",
            message: "this device was removed from the team; delete its data".into(),
            wipe: true,
            retry_after_s: None,
        }
    }
    pub fn too_many(wait: std::time::Duration) -> Self {
        let secs = wait.as_secs().max(1);
        Self {
            retry_after_s: Some(secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many attempts; try again in {secs} seconds"),
            )
        }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: self.code.into(), message: self.message, wipe: self.wipe };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after_s {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, s.into());
        }
        resp
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Api(e) => e.into_response(),
            other => {
                // Internal details go to the log (no record content reaches an error), not the client.
                tracing::error!(error = %other, "request failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed; try again later")
                    .into_response()
            }
        }
    }
}
