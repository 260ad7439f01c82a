//! Images to and from registries (the distribution API v2): pull, push,
//! login (`POST /auth`), `GET /distribution/{name}/json` and search.
//!
//! - `client`: the HTTP client, TLS/insecure rules and auth challenges;
//! - `pull`, `push`: the transfers and their dockerd-shaped progress;
//! - `progress`: dockerd's JSON progress messages and bars;
//! - `auth`: `X-Registry-Auth` decoding and the login check;
//! - `info`: distribution inspect and search.
//!
//! Nothing here is built until a request needs it: an idle engine holds no
//! client, connection or TLS configuration.

pub mod auth;
pub mod client;
pub mod info;
pub mod metadata;
pub mod progress;
pub mod pull;
pub mod push;
pub mod redirect;

use std::path::PathBuf;

use serde::Deserialize;
use shipshape_store::reference::{self, Reference};

use crate::errdefs::EngineError;

/// Registry settings, from the command line (dockerd's flags of the same names).
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// `--insecure-registry`: `HOST[:PORT]` or CIDR; plain HTTP allowed.
    pub insecure_registries: Vec<String>,
    /// `--max-concurrent-downloads` (3, as dockerd).
    pub max_concurrent_downloads: usize,
    /// `--max-concurrent-uploads` (5, as dockerd).
    pub max_concurrent_uploads: usize,
    /// Where `HOST:PORT/ca.crt` are looked for (dockerd: /etc/docker/certs.d).
    pub certs_dir: PathBuf,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            insecure_registries: Vec::new(),
            max_concurrent_downloads: 3,
            max_concurrent_uploads: 5,
            certs_dir: PathBuf::from("/etc/docker/certs.d"),
        }
    }
}

/// The credentials a client sends (`X-Registry-Auth`, `POST /auth`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Credentials {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default, rename = "serveraddress")]
    pub server_address: String,
    #[serde(default, rename = "identitytoken")]
    pub identity_token: String,
    #[serde(default, rename = "registrytoken")]
    pub registry_token: String,
}

/// The registry host a reference's domain is fetched from. Docker Hub is
/// never contacted by this engine (no network beyond loopback here).
pub fn registry_host(r: &Reference) -> Result<String, EngineError> {
    if r.domain == "docker.io" {
        return Err(EngineError::System(
            "Get \"https://registry-1.docker.io/v2/\": this engine does not pull from Docker Hub; use a registry of your own (HOST:PORT/name)"
                .into(),
        ));
    }
    Ok(r.domain.clone())
}

/// `fromImage` + `tag` as dockerd combines them: a tag, a digest
/// (`tag=sha256:...`), or `latest` when neither is given.
pub fn pull_reference(image: &str, tag: &str) -> Result<Reference, EngineError> {
    let mut r = reference::parse_normalized_named(image)?;
    if !tag.is_empty() {
        r = if tag.contains(':') {
            let d = reference::parse_digest(tag)?;
            let mut named = reference::parse_normalized_named(&r.familiar_name())?;
            named.digest = Some(d);
            named
        } else {
            r.with_tag(tag)?
        };
    }
    Ok(r.with_default_tag())
}

pub const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const MEDIA_DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// What a manifest GET accepts, dockerd's list.
pub const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";
