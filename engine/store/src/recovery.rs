//! Opening the store: reloading what is on disk and removing what a crash
//! left behind (unfinished layers, orphaned layers and metadata, scratch).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;
use std::sync::{Mutex, RwLock};

use crate::atomic::random_suffix;
use crate::image::parse_config;
use crate::layer::LayerInfo;
use crate::store::{ImageMeta, Rec, State, TagsFile};
use crate::{archive, atomic, reference, ImageStore, StoreError};

impl ImageStore {
    /// Opens (creating if needed) the store at `root`, reloads persisted state
    /// and removes crash leftovers.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        let content = root.join("imagedb/content/sha256");
        let metadata = root.join("imagedb/metadata/sha256");
        let layers = root.join("layers");
        let tmp = root.join("tmp");
        for d in [&content, &metadata, &layers] {
            fs::create_dir_all(d).map_err(|e| StoreError::io(d.display(), e))?;
        }
        // Scratch space is never meaningful after a restart.
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| StoreError::io(tmp.display(), e))?;
        }
        fs::create_dir_all(&tmp)?;
        for d in [root, content.as_path(), metadata.as_path()] {
            atomic::clean_temp_files(d)?;
        }
        let mut state = State::default();

        // Layers: half-unpacked or half-deleted ones live under `.tmp-*`.
        for entry in fs::read_dir(&layers)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with(atomic::TEMP_PREFIX) {
                tracing::info!(path = %path.display(), "removing unfinished layer");
                let _ = fs::remove_dir_all(&path).or_else(|_| fs::remove_file(&path));
                continue;
            }
            if !reference::is_full_hex_id(&name) {
                continue;
            }
            match fs::read(path.join("meta.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<LayerInfo>(&b).ok())
            {
                Some(info) => {
                    state.layer_sizes.insert(name, info.size);
                }
                None => {
                    // Renamed into place only when complete, so this is damage, not a crash.
                    tracing::warn!(path = %path.display(), "layer without metadata; ignoring it");
                }
            }
        }

        // Layers any stored config names, even one ignored below: those are
        // damage, and their layers are kept for a human to look at.
        let mut referenced: HashSet<String> = HashSet::new();
        for entry in fs::read_dir(&content)? {
            let entry = entry?;
            let hex = entry.file_name().to_string_lossy().into_owned();
            if !reference::is_full_hex_id(&hex) {
                continue;
            }
            let bytes = fs::read(entry.path())?;
            if archive::sha256_digest(&bytes) != format!("sha256:{hex}") {
                tracing::warn!(id = %hex, "image config does not match its digest; ignoring it");
                continue;
            }
            let (config, diff_ids, created) = match parse_config(&bytes) {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(id = %hex, error = %e, "unreadable image config; ignoring it");
                    continue;
                }
            };
            referenced.extend(
                diff_ids
                    .iter()
                    .map(|d| d.trim_start_matches("sha256:").to_string()),
            );
            if let Some(missing) = diff_ids.iter().find(|d| {
                !state
                    .layer_sizes
                    .contains_key(d.trim_start_matches("sha256:"))
            }) {
                tracing::warn!(id = %hex, layer = %missing, "image layer missing; ignoring image");
                continue;
            }
            let meta: ImageMeta = fs::read(metadata.join(format!("{hex}.json")))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            state.images.insert(
                format!("sha256:{hex}"),
                Rec {
                    config,
                    diff_ids,
                    created,
                    meta,
                },
            );
        }

        if let Ok(b) = fs::read(root.join("repositories.json")) {
            let tf: TagsFile = serde_json::from_slice(&b)
                .map_err(|e| StoreError::Other(format!("corrupt repositories.json: {e}")))?;
            for (tag, id) in tf.tags {
                if state.images.contains_key(&id) {
                    state.tags.insert(tag, id);
                } else {
                    tracing::warn!(%tag, %id, "tag points to a missing image; dropping it");
                }
            }
        }
        crate::distribution::load_digests(root, &mut state);
        if let Ok(b) = fs::read(root.join("retained.json")) {
            state.retained = serde_json::from_slice(&b).unwrap_or_default();
        }
        referenced.extend(
            state
                .retained
                .values()
                .flatten()
                .map(|d| d.trim_start_matches("sha256:").to_string()),
        );
        drop_orphans(&layers, &metadata, &content, &referenced, &mut state)?;
        Ok(ImageStore {
            root: root.to_path_buf(),
            state: RwLock::new(state),
            pins: Mutex::new(HashMap::new()),
        })
    }
}

/// Removes what a crash can orphan: layers no image needs (a load, commit or
/// build cut before its image was stored, or an image delete cut before its
/// layers went; neither was acknowledged) and metadata whose image config
/// is gone. A layer is renamed out of the way before it is deleted, so a
/// crash mid-delete never leaves a partial layer under its real name.
fn drop_orphans(
    layers: &Path,
    metadata: &Path,
    content: &Path,
    referenced: &HashSet<String>,
    state: &mut State,
) -> Result<(), StoreError> {
    let orphans: Vec<String> = state
        .layer_sizes
        .keys()
        .filter(|hex| !referenced.contains(*hex))
        .cloned()
        .collect();
    for hex in orphans {
        tracing::info!(layer = %hex, "removing a layer no image uses");
        let doomed = layers.join(format!("{}del-{}", atomic::TEMP_PREFIX, random_suffix()));
        fs::rename(layers.join(&hex), &doomed)?;
        state.layer_sizes.remove(&hex);
        if let Err(e) = fs::remove_dir_all(&doomed) {
            tracing::warn!(path = %doomed.display(), error = %e, "could not remove layer; will retry on restart");
        }
    }
    for entry in fs::read_dir(metadata)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(hex) = name.strip_suffix(".json") else {
            continue;
        };
        if reference::is_full_hex_id(hex) && !content.join(hex).exists() {
            let _ = fs::remove_file(entry.path());
        }
    }
    Ok(())
}
