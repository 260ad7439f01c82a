//! The engine's one error type, by category as moby's `errdefs`: what went
//! wrong, not how HTTP says it. The daemon returns these; `api::error` is the
//! one place a category becomes a status code. The store's and runtime's
//! errors are sorted into categories here, once.

use shipshape_runtime::RuntimeError;
use shipshape_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Malformed input, or input Docker rejects (bad name, bad config).
    #[error("{0}")]
    InvalidParameter(String),
    /// No such container, image, volume, network or route.
    #[error("{0}")]
    NotFound(String),
    /// An operation Docker forbids outright (removing a predefined network).
    #[error("{0}")]
    Forbidden(String),
    /// The object is in the wrong state, or the name is taken.
    #[error("{0}")]
    Conflict(String),
    /// The operation is already done (start twice, stop a stopped
    /// container). Docker says so without a message.
    #[error("not modified")]
    NotModified,
    /// The service is not available in the daemon's current state (swarm
    /// routes on a node outside a swarm).
    #[error("{0}")]
    Unavailable(String),
    /// Something we deliberately do not implement (listed in specs/).
    #[error("{0}")]
    NotImplemented(String),
    /// Anything else. The message is still shown to the client, as dockerd does.
    #[error("{0}")]
    System(String),
}

impl EngineError {
    pub fn system(e: impl std::fmt::Display) -> Self {
        EngineError::System(e.to_string())
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        let msg = e.to_string();
        match e.kind() {
            shipshape_store::ErrorKind::NotFound => EngineError::NotFound(msg),
            shipshape_store::ErrorKind::Conflict => EngineError::Conflict(msg),
            shipshape_store::ErrorKind::InvalidInput => EngineError::InvalidParameter(msg),
            shipshape_store::ErrorKind::Internal => EngineError::System(msg),
        }
    }
}

impl From<RuntimeError> for EngineError {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::NotRunning { .. } => EngineError::Conflict(e.to_string()),
            e if e.is_user_error() => EngineError::InvalidParameter(e.to_string()),
            e => EngineError::System(e.to_string()),
        }
    }
}

impl From<std::io::Error> for EngineError {
    fn from(e: std::io::Error) -> Self {
        EngineError::System(e.to_string())
    }
}
