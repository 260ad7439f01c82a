//! The store's error type. Messages are worded exactly as dockerd words them,
//! because the API layer passes them to the client unchanged.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    InvalidInput,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidInput(String),
    /// An error dockerd does not classify (so it answers 500), e.g. a bad
    /// repository name given to `POST /images/{name}/tag`.
    #[error("{0}")]
    Other(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::NotFound(_) => ErrorKind::NotFound,
            StoreError::Conflict(_) => ErrorKind::Conflict,
            StoreError::InvalidInput(_) => ErrorKind::InvalidInput,
            StoreError::Other(_) | StoreError::Io(_) => ErrorKind::Internal,
        }
    }

    /// Wraps an I/O error with what we were doing, keeping it `Internal`.
    pub(crate) fn io(context: impl std::fmt::Display, e: std::io::Error) -> Self {
        StoreError::Io(std::io::Error::new(e.kind(), format!("{context}: {e}")))
    }
}
