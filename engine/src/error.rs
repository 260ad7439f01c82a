//! The engine's one error type, and the one place where an error becomes a
//! Docker status code. Handlers return `Result<_, ApiError>`; the router turns
//! an `ApiError` into `{"message": "..."}` with the status below.

use hyper::StatusCode;
use shipshape_runtime::RuntimeError;
use shipshape_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed input, or input Docker rejects (bad name, bad config).
    #[error("{0}")]
    BadRequest(String),
    /// 404: no such container/image/route.
    #[error("{0}")]
    NotFound(String),
    /// 403: an operation dockerd forbids outright (removing a predefined network).
    #[error("{0}")]
    Forbidden(String),
    /// 409: the object is in the wrong state, or the name is taken.
    #[error("{0}")]
    Conflict(String),
    /// 304: Docker's answer when the operation is already done (start twice,
    /// stop a stopped container). It has no body.
    #[error("not modified")]
    NotModified,
    /// 501: an endpoint we deliberately do not implement (listed in specs/).
    #[error("{0}")]
    NotImplemented(String),
    /// 500: anything else. The message is still shown to the client, as dockerd does.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::NotModified => StatusCode::NOT_MODIFIED,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let msg = e.to_string();
        match e.kind() {
            shipshape_store::ErrorKind::NotFound => ApiError::NotFound(msg),
            shipshape_store::ErrorKind::Conflict => ApiError::Conflict(msg),
            shipshape_store::ErrorKind::InvalidInput => ApiError::BadRequest(msg),
            shipshape_store::ErrorKind::Internal => ApiError::Internal(msg),
        }
    }
}

impl From<RuntimeError> for ApiError {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::NotRunning { .. } => ApiError::Conflict(e.to_string()),
            e if e.is_user_error() => ApiError::BadRequest(e.to_string()),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}
