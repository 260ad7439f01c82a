//! The docker CLI's configuration directory and context store, read as the
//! CLI reads them: `$DOCKER_CONFIG` (else `~/.docker`), its `config.json`'s
//! `currentContext`, and `contexts/meta/<sha256 of name>/meta.json` with
//! the TLS material in `contexts/tls/<sha256 of name>/docker/`.

use super::tls::TlsSettings;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The CLI's name for "no context": DOCKER_HOST or the built-in default.
pub const DEFAULT_CONTEXT: &str = "default";

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("reading {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("{path} is not valid JSON: {error}")]
    Parse {
        path: String,
        error: serde_json::Error,
    },
    #[error("context {name:?} not found: no {path} (see `docker context ls`)")]
    NotFound { name: String, path: String },
    #[error("context {name:?} has no docker endpoint in {path}")]
    NoEndpoint { name: String, path: String },
}

/// `$DOCKER_CONFIG`, else `$HOME/.docker`.
pub fn config_dir() -> PathBuf {
    match std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/root"))
            .join(".docker"),
    }
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(rename = "currentContext", default)]
    current_context: Option<String>,
}

/// `currentContext` of `config.json` in `dir`; a missing file is no context.
pub fn current_context(dir: &Path) -> Result<Option<String>, ContextError> {
    let path = dir.join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(ContextError::Read {
                path: path.display().to_string(),
                error,
            })
        }
    };
    let c: ConfigFile = serde_json::from_str(&text).map_err(|error| ContextError::Parse {
        path: path.display().to_string(),
        error,
    })?;
    Ok(c.current_context.filter(|c| !c.is_empty()))
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "Endpoints", default)]
    endpoints: std::collections::BTreeMap<String, EndpointMeta>,
}

#[derive(Deserialize)]
struct EndpointMeta {
    #[serde(rename = "Host", default)]
    host: Option<String>,
    #[serde(rename = "SkipTLSVerify", default)]
    skip_tls_verify: bool,
}

/// A context's docker endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEndpoint {
    pub name: String,
    pub host: String,
    /// Set when the context holds TLS material (`docker context create
    /// --docker host=...,ca=...,cert=...,key=...`).
    pub tls: Option<TlsSettings>,
}

/// Loads context `name` from the store under `dir`.
pub fn load(dir: &Path, name: &str) -> Result<ContextEndpoint, ContextError> {
    let id = hex::encode(Sha256::digest(name.as_bytes()));
    let meta_path = dir.join("contexts/meta").join(&id).join("meta.json");
    let text = std::fs::read_to_string(&meta_path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            ContextError::NotFound {
                name: name.to_string(),
                path: meta_path.display().to_string(),
            }
        } else {
            ContextError::Read {
                path: meta_path.display().to_string(),
                error,
            }
        }
    })?;
    let meta: Meta = serde_json::from_str(&text).map_err(|error| ContextError::Parse {
        path: meta_path.display().to_string(),
        error,
    })?;
    let no_endpoint = || ContextError::NoEndpoint {
        name: name.to_string(),
        path: meta_path.display().to_string(),
    };
    let ep = meta.endpoints.get("docker").ok_or_else(no_endpoint)?;
    let host = ep
        .host
        .clone()
        .filter(|h| !h.is_empty())
        .ok_or_else(no_endpoint)?;
    let tls_dir = dir.join("contexts/tls").join(&id).join("docker");
    let file = |n: &str| Some(tls_dir.join(n)).filter(|p| p.is_file());
    let (ca, cert, key) = (file("ca.pem"), file("cert.pem"), file("key.pem"));
    // As the CLI: TLS material in the store means TLS; SkipTLSVerify turns
    // the server check off.
    let tls = (ca.is_some() || cert.is_some() || ep.skip_tls_verify).then_some(TlsSettings {
        verify: !ep.skip_tls_verify,
        ca,
        cert,
        key,
    });
    Ok(ContextEndpoint {
        name: name.to_string(),
        host,
        tls,
    })
}
