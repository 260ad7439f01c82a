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

    // The layer goes through a temp file: it can be large, and the store
    // hashes it while unpacking.
    let tmp = tempfile::NamedTempFile::new_in(d.tmp_dir())?;
    // Written sparse: a sparse file in the changes is all zeros in the tar.
    let mut w = shipshape_store::sparse::HoleWriter::new(tmp.as_file())?;
    diff::pack_overlay_upper(&fs_dir.join("upper"), &mut w)?;
    w.finish()?;
    // dockerd adds no layer for a container without changes (its diff is
    // the empty tar); the history entry says so with `empty_layer`.
    let empty = tar::Archive::new(std::fs::File::open(tmp.path())?)
        .entries()?
        .next()
        .is_none();

    let mut container_config = serde_json::to_value(&rec.config).map_err(EngineError::system)?;
    let own = container_config.clone();
    if let (Some(Value::Object(over)), Value::Object(base)) = (&opts.config, &mut container_config)
    {
        for (k, v) in over {
            if !v.is_null() {
                base.insert(k.clone(), v.clone());
            }
        }
    }
    super::dockerfile::apply_changes(&mut container_config, &opts.changes)?;
    if opts.config.is_some() {
        merge_container(&mut container_config, &own);
    }
    if let Value::Object(m) = &mut container_config {
        // dockerd keeps a commit body's `Image` as given.
        let given = opts
            .config
            .as_ref()
            .and_then(|c| c.get("Image"))
            .and_then(Value::as_str)
            .is_some_and(|i| !i.is_empty());
        if !given {
            m.insert("Image".into(), json!(parent.id));
        }
    }
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
    cfg.insert("config".into(), container_config.clone());
    cfg.insert("container".into(), json!(rec.id));
    cfg.insert("container_config".into(), container_config);
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
        // The store takes the temp file over (no second copy of the layer).
        layers.push(LayerSource::TarFile(tmp.path().to_path_buf()));
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

/// What dockerd 20.10.24 keeps of the container's own config under a
/// commit's body (after the changes): the container's `Env` variables the
/// body lacks (appended, by name), and its `Labels`, `ExposedPorts` and
/// `Volumes` entries the body lacks.
fn merge_container(cfg: &mut Value, own: &Value) {
    let Value::Object(cfg) = cfg else {
        return;
    };
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
