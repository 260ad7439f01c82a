//! A container's writable layer as Docker exposes it: `changes` (docker diff)
//! and `commit` (a new image = the container's image + its layer).

use std::sync::Arc;

use serde_json::{json, Value};
use shipshape_runtime::RootfsKind;
use shipshape_store::diff::{self, Change};
use shipshape_store::LayerSource;

use crate::daemon::containers::lifecycle::now_rfc3339;
use crate::daemon::{Container, Daemon};
use crate::errdefs::EngineError;

fn copy_root_unsupported() -> EngineError {
    EngineError::NotImplemented(
        "this container has a copied root (overlayfs was unavailable); diff and commit need overlayfs"
            .into(),
    )
}

/// `GET /containers/{id}/changes`, sorted by path.
pub fn changes(d: &Daemon, c: &Container) -> Result<Vec<Change>, EngineError> {
    let fs_dir = c.fs_dir();
    if shipshape_runtime::rootfs_kind(&fs_dir) == RootfsKind::Copy {
        return Err(copy_root_unsupported());
    }
    let image_id = c.record().image_id.clone();
    let lowers = crate::daemon::containers::init_layer::root_layers(d, &image_id)?;
    Ok(diff::overlay_changes(&fs_dir.join("upper"), &lowers)?)
}

/// What `POST /commit` asks for.
#[derive(Debug, Default)]
pub struct CommitOptions {
    pub tag: Option<String>,
    pub comment: String,
    pub author: String,
    /// Container config fields to override in the new image (the request body).
    pub config: Option<Value>,
    /// Dockerfile instructions (`--change`) applied to the resulting config.
    pub changes: Vec<super::dockerfile::Instruction>,
}

/// Creates an image from the container: its image's layers plus one layer
/// with the container's changes, and the container's config (overridden by
/// `opts.config`). Blocking: call from a blocking task.
pub fn commit(d: &Arc<Daemon>, c: &Container, opts: CommitOptions) -> Result<String, EngineError> {
    let fs_dir = c.fs_dir();
    if shipshape_runtime::rootfs_kind(&fs_dir) == RootfsKind::Copy {
        return Err(copy_root_unsupported());
    }
    let rec = c.snapshot();
    let parent = d.images.get(&rec.image_id)?;

    // dockerd adds no layer for a container without changes (its diff is
    // the empty tar); the history entry says so with `empty_layer`.
    let upper = fs_dir.join("upper");
    let empty = !diff::upper_has_changes(&upper)?;

    // dockerd: the body's config if it has one, else the container's own;
    // then the changes; then what the body left out is taken from the
    // container (`merge`). The image's `ContainerConfig` is the container's
    // own config, untouched (its `Image` as the client named it).
    let own = serde_json::to_value(&rec.config).map_err(EngineError::system)?;
    let mut new_config = match body_config(opts.config.as_ref())? {
        Some(body) => body,
        None => own.clone(),
    };
    super::dockerfile::apply_changes(&mut new_config, &opts.changes)?;
    merge_container(&mut new_config, &own);
    let now = now_rfc3339();
    let mut history = parent
        .config
        .get("history")
        .cloned()
        .unwrap_or_else(|| json!([]));
    if let Value::Array(h) = &mut history {
        let mut entry = json!({"created": now, "created_by": command_line(&rec.path, &rec.args)});
        if empty {
            entry["empty_layer"] = json!(true);
        }
        if !opts.comment.is_empty() {
            entry["comment"] = json!(opts.comment);
        }
        if !opts.author.is_empty() {
            entry["author"] = json!(opts.author);
        }
        h.push(entry);
    }
    let mut config = parent.config.clone();
    let Value::Object(cfg) = &mut config else {
        return Err(EngineError::System("image config is not an object".into()));
    };
    cfg.insert("config".into(), new_config);
    cfg.insert("container".into(), json!(rec.id));
    cfg.insert("container_config".into(), own);
    cfg.insert("created".into(), json!(now));
    cfg.insert("history".into(), history);
    cfg.insert(
        "docker_version".into(),
        json!(crate::version::ENGINE_VERSION),
    );
    if !opts.author.is_empty() {
        cfg.insert("author".into(), json!(opts.author));
    }
    if !opts.comment.is_empty() {
        cfg.insert("comment".into(), json!(opts.comment));
    }

    let mut layers: Vec<LayerSource> = parent
        .layers
        .iter()
        .cloned()
        .map(LayerSource::Existing)
        .collect();
    if !empty {
        // Packed straight into the store, unpacked as it is written.
        layers.push(packed_upper(upper));
    }
    let tags: Vec<String> = opts.tag.into_iter().collect();
    let image = d
        .images
        .create_image(config, layers, Some(&parent.id), &tags)?;
    for t in &tags {
        crate::daemon::events::image(&image.id, &with_default_tag(t), "tag");
    }
    let a = crate::daemon::events::attrs([
        ("comment", opts.comment.clone()),
        ("imageID", image.id.clone()),
        (
            "imageRef",
            tags.first()
                .map(|t| with_default_tag(t))
                .unwrap_or_default(),
        ),
    ]);
    crate::daemon::events::container(c, "commit", a);
    Ok(image.id)
}

/// The container's changes as a layer the store packs while it unpacks them.
pub fn packed_upper(upper: std::path::PathBuf) -> LayerSource {
    LayerSource::Packed(Box::new(move |w| diff::pack_overlay_upper(&upper, w)))
}

/// Docker's `created_by` for a commit: the container's command line.
fn command_line(path: &str, args: &[String]) -> String {
    std::iter::once(path)
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `repo` → `repo:latest`, as dockerd names a tag in its events (a colon
/// followed by a path is a registry port, not a tag).
pub fn with_default_tag(r: &str) -> String {
    match r.rfind(':') {
        Some(i) if !r[i + 1..].contains('/') => r.to_string(),
        _ => format!("{r}:latest"),
    }
}

/// The fields of Docker's container `Config`, as its JSON names them.
const CONFIG_FIELDS: &[&str] = &[
    "Hostname",
    "Domainname",
    "User",
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "ExposedPorts",
    "Tty",
    "OpenStdin",
    "StdinOnce",
    "Env",
    "Cmd",
    "Healthcheck",
    "ArgsEscaped",
    "Image",
    "Volumes",
    "WorkingDir",
    "Entrypoint",
    "NetworkDisabled",
    "MacAddress",
    "OnBuild",
    "Labels",
    "StopSignal",
    "StopTimeout",
    "Shell",
];

/// A commit body's container config as dockerd's decoder reads it: the
/// config is embedded in the body, so there is one only when the body
/// names one of its fields (matched case-insensitively, as Go's JSON
/// does). `{}`, or a body of `HostConfig` alone, is no config: the
/// container's own is committed (dockerd 20.10.24: `Image` and `Hostname`
/// kept with `{}`, empty with `{"Env": [...]}`).
fn body_config(body: Option<&Value>) -> Result<Option<Value>, EngineError> {
    let Some(Value::Object(body)) = body else {
        return Ok(None);
    };
    let mut cfg = serde_json::to_value(crate::daemon::containers::record::Config::default())
        .map_err(EngineError::system)?;
    let mut named = false;
    for (k, v) in body {
        let Some(name) = CONFIG_FIELDS.iter().find(|n| n.eq_ignore_ascii_case(k)) else {
            continue;
        };
        named = true;
        // Go's strslice: a lone string is a one-element list.
        let v = match (*name, v) {
            ("Cmd" | "Entrypoint" | "Shell", Value::String(s)) => json!([s]),
            _ => v.clone(),
        };
        cfg[*name] = v;
    }
    Ok(named.then_some(cfg))
}

/// Whether a config value counts as unset for dockerd's `merge` (Go's
/// zero value: null, "", 0, an empty list).
fn unset(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

/// dockerd 20.10.24's `merge` of the container's own config into the new
/// image's (after the changes): `User`, `WorkingDir` and `StopSignal`
/// where unset; the `Env` variables it lacks (appended, by name); the
/// `Labels`, `ExposedPorts` and `Volumes` entries it lacks; `Cmd` (and a
/// null `Entrypoint`) when it has no `Entrypoint` and no `Cmd`; the
/// `Healthcheck`, or each of its unset fields.
fn merge_container(cfg: &mut Value, own: &Value) {
    let Value::Object(cfg) = cfg else {
        return;
    };
    for field in ["User", "WorkingDir", "StopSignal"] {
        if unset(cfg.get(field)) && !unset(own.get(field)) {
            cfg.insert(field.into(), own[field].clone());
        }
    }
    if unset(cfg.get("Entrypoint")) {
        if unset(cfg.get("Cmd")) {
            cfg.insert("Cmd".into(), own["Cmd"].clone());
        }
        if cfg.get("Entrypoint").is_none_or(Value::is_null) {
            cfg.insert("Entrypoint".into(), own["Entrypoint"].clone());
        }
    }
    if let Some(Value::Object(own_hc)) = own.get("Healthcheck") {
        match cfg.get_mut("Healthcheck") {
            Some(Value::Object(hc)) => {
                for (k, v) in own_hc {
                    if unset(hc.get(k)) {
                        hc.insert(k.clone(), v.clone());
                    }
                }
            }
            _ => {
                cfg.insert("Healthcheck".into(), Value::Object(own_hc.clone()));
            }
        }
    }
    if !cfg.get("Labels").is_some_and(Value::is_object) {
        cfg.insert("Labels".into(), json!({}));
    }
    let key = |kv: &str| kv.split('=').next().unwrap_or("").to_string();
    if let Some(own_env) = own.get("Env").and_then(Value::as_array) {
        let mut env = cfg
            .get("Env")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let names: Vec<String> = env.iter().filter_map(Value::as_str).map(key).collect();
        for v in own_env {
            if v.as_str().is_some_and(|kv| !names.contains(&key(kv))) {
                env.push(v.clone());
            }
        }
        cfg.insert("Env".into(), Value::Array(env));
    }
    for field in ["Labels", "ExposedPorts", "Volumes"] {
        let Some(own_map) = own.get(field).and_then(Value::as_object) else {
            continue;
        };
        let entry = cfg.entry(field).or_insert_with(|| json!({}));
        if !entry.is_object() {
            *entry = json!({});
        }
        if let Some(m) = entry.as_object_mut() {
            for (k, v) in own_map {
                m.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
}
