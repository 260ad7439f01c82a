//! `docker import`: a new single-layer image from a filesystem tarball, with
//! optional Dockerfile `changes` applied to its config. The image config has
//! the shape dockerd 20.10 writes for an import.

use std::path::Path;

use serde_json::{json, Value};
use shipshape_store::{reference, LayerSource};

use super::dockerfile::{self, Instruction};
use crate::daemon::containers::lifecycle::now_rfc3339;
use crate::daemon::Daemon;
use crate::errdefs::EngineError;

/// The architecture name Docker uses for this machine.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        other => other,
    }
}

/// Go's zero `container.Config` as dockerd serialises it into image configs.
pub fn zero_config() -> Value {
    json!({
        "Hostname": "", "Domainname": "", "User": "",
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": null, "Cmd": null, "Image": "", "Volumes": null,
        "WorkingDir": "", "Entrypoint": null, "OnBuild": null, "Labels": null
    })
}

/// The tag an import of `repo` (and `tag`) gets: normalized, `latest` by
/// default, in its familiar form; a bad reference is refused.
pub fn tag_for(repo: &str, tag: Option<&str>) -> Result<String, EngineError> {
    let mut r = reference::parse_normalized_named(repo)?;
    if let Some(t) = tag.filter(|t| !t.is_empty()) {
        r = r.with_tag(t)?;
    }
    Ok(r.with_default_tag().familiar())
}

/// What `POST /images/create?fromSrc=-` asks for.
pub struct ImportOptions {
    pub tags: Vec<String>,
    pub message: String,
    pub changes: Vec<Instruction>,
}

/// Imports the tar (plain or gzip) at `tar`. Blocking: call from a blocking task.
pub fn import(d: &Daemon, tar: &Path, opts: ImportOptions) -> Result<String, EngineError> {
    let mut config = zero_config();
    dockerfile::apply_changes(&mut config, &opts.changes)?;
    let now = now_rfc3339();
    let mut entry = json!({ "created": now });
    if !opts.message.is_empty() {
        entry["comment"] = json!(opts.message);
    }
    let mut image = json!({
        "architecture": go_arch(),
        "config": config,
        "container_config": zero_config(),
        "created": now,
        "docker_version": crate::version::ENGINE_VERSION,
        "history": [entry],
        "os": "linux",
    });
    if !opts.message.is_empty() {
        image["comment"] = json!(opts.message);
    }
    let file = std::fs::File::open(tar)?;
    let layer = LayerSource::Tar(Box::new(std::io::BufReader::new(file)));
    let img = d
        .images
        .create_image(image, vec![layer], None, &opts.tags)?;
    tracing::info!(id = %img.id, "imported image");
    Ok(img.id)
}
