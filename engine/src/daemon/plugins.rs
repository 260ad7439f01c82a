//! Managed plugins. The engine installs none and cannot fetch one (it has
//! no registry client), so it is always a daemon with no plugin: the list
//! is empty, every name is unknown, and what would add one (pull, create,
//! upgrade of a plugin that exists) is not implemented. Inputs are still
//! checked first, in dockerd's order and words.

use serde_json::Value;
use shipshape_store::reference;

use crate::errdefs::EngineError;
use crate::filters;

/// The filter keys of `GET /plugins`.
const LIST_FILTERS: &[&str] = &["capability", "enabled"];

const NOT_SUPPORTED: &str =
    "plugins are not supported by this engine: it cannot install or run managed plugins";

/// The installed plugins that match `filters`: none, once the filters are valid.
pub fn list(raw_filters: Option<&str>) -> Result<Vec<Value>, EngineError> {
    filters::parse(raw_filters, LIST_FILTERS)?;
    Ok(Vec::new())
}

/// The plugin called `name`: there is none.
pub fn get(name: &str) -> Result<Value, EngineError> {
    Err(not_found(name))
}

fn not_found(name: &str) -> EngineError {
    EngineError::NotFound(format!("plugin \"{name}\" not found"))
}

/// A remote reference as dockerd parses it for pull, upgrade and
/// privileges; a malformed one is a 500 there, not a 400.
fn parse_remote(remote: &str) -> Result<reference::Reference, EngineError> {
    reference::parse_normalized_named(remote).map_err(|e| EngineError::System(e.to_string()))
}

/// `GET /plugins/privileges?remote=`: the reference is checked, then the
/// registry would be asked.
pub fn privileges(remote: &str) -> Result<Vec<Value>, EngineError> {
    parse_remote(remote)?;
    Err(EngineError::NotImplemented(NOT_SUPPORTED.into()))
}

/// `POST /plugins/pull?remote=` once the privileges body decoded.
pub fn pull(remote: &str) -> Result<(), EngineError> {
    parse_remote(remote)?;
    Err(EngineError::NotImplemented(NOT_SUPPORTED.into()))
}

/// `POST /plugins/{name}/upgrade`: the installed plugin is looked up by
/// its normalised name (`x` is `x:latest`), and there is none.
pub fn upgrade(name: &str, remote: &str) -> Result<(), EngineError> {
    parse_remote(remote)?;
    let shown = reference::parse_normalized_named(name)
        .map(|r| r.with_default_tag().familiar())
        .unwrap_or_else(|_| name.to_string());
    Err(not_found(&shown))
}

/// `POST /plugins/create?name=`: the name is checked, then the plugin's
/// rootfs would be unpacked.
pub fn create(name: &str) -> Result<(), EngineError> {
    reference::parse_normalized_named(name)
        .map_err(|e| EngineError::System(format!("failed to parse reference {name}: {e}")))?;
    Err(EngineError::NotImplemented(NOT_SUPPORTED.into()))
}
