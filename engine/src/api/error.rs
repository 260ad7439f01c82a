//! The one place an engine error becomes HTTP: its category's status code,
//! and Docker's `{"message": "..."}` body (none for 304).

use hyper::StatusCode;

use super::body::{json_status, status_only, Response};
use crate::errdefs::EngineError;

/// The status code of each category, as dockerd's `errdefs` maps them.
pub fn status(e: &EngineError) -> StatusCode {
    match e {
        EngineError::InvalidParameter(_) => StatusCode::BAD_REQUEST,
        EngineError::NotFound(_) => StatusCode::NOT_FOUND,
        EngineError::Forbidden(_) => StatusCode::FORBIDDEN,
        EngineError::Conflict(_) => StatusCode::CONFLICT,
        EngineError::NotModified => StatusCode::NOT_MODIFIED,
        EngineError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        EngineError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
        EngineError::System(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Docker's error body: `{"message": "..."}` with the mapped status. 304 has no body.
pub fn response(e: &EngineError) -> Response {
    if matches!(e, EngineError::NotModified) {
        return status_only(StatusCode::NOT_MODIFIED);
    }
    json_status(status(e), &serde_json::json!({ "message": e.to_string() }))
}
