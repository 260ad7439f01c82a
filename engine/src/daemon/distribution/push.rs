//! `docker push`.

use std::sync::Arc;

use super::progress::Progress;
use super::{Credentials, RegistryConfig};
use crate::daemon::Daemon;
use crate::errdefs::EngineError;

pub async fn push(
    _daemon: Arc<Daemon>,
    _cfg: &RegistryConfig,
    _name: &str,
    _tag: &str,
    _creds: Credentials,
    _progress: &Progress,
) -> Result<(), EngineError> {
    Err(EngineError::NotImplemented("push is not implemented yet".into()))
}
