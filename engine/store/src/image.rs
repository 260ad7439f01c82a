//! Image records: what an image is as the API sees it, how its stored
//! config is parsed, and how a new image (commit, import, build, load) is
//! stored and tagged once its layers are registered.

use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::gotime::{format_go_time, parse_time, GO_ZERO_TIME, GO_ZERO_UNIX};
use crate::layer::LayerSource;
use crate::reference::{self, Reference};
use crate::resolve::{children_of, digest_hex, not_found_for, resolve};
use crate::store::{lock_poisoned, ImageMeta, Rec, State};
use crate::tag::check_tag_name;
use crate::{archive, atomic, ImageStore, StoreError};

/// An image as the API needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Image {
    /// `sha256:<64 hex>`, the sha256 of `config_bytes`.
    pub id: String,
    /// Familiar `name:tag` strings, sorted.
    pub repo_tags: Vec<String>,
    /// `name@sha256:<manifest digest>` strings from pulls and pushes, sorted.
    pub repo_digests: Vec<String>,
    /// The image config JSON exactly as stored.
    pub config: serde_json::Value,
    /// The config's `created`, formatted as Go's RFC3339Nano (as dockerd shows it).
    pub created: String,
    /// Sum of the layers' content sizes, counted as dockerd counts them.
    pub size: u64,
    /// The config's `rootfs.diff_ids`, lowest layer first.
    pub layers: Vec<String>,
    /// Parent image ID or "" (only images built/committed locally have one).
    pub parent: String,
    /// When a tag was last added with `tag()`, RFC3339Nano; Go's zero time if never.
    pub last_tag_time: String,
}

impl Image {
    /// `created` as unix seconds (Go's zero time if missing), for image lists.
    pub fn created_unix(&self) -> i64 {
        parse_time(&self.created)
            .map(|t| t.timestamp())
            .unwrap_or(GO_ZERO_UNIX)
    }

    /// `created` as (unix seconds, nanoseconds): what the list's `before`
    /// and `since` filters compare, as dockerd compares the full times
    /// (images made in one second are still ordered).
    pub fn created_precise(&self) -> (i64, u32) {
        parse_time(&self.created)
            .map(|t| (t.timestamp(), t.timestamp_subsec_nanos()))
            .unwrap_or((GO_ZERO_UNIX, 0))
    }

    /// `Config.Labels` of the image config, if any.
    pub fn labels(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.config.get("config")?.get("Labels")?.as_object()
    }
}

/// Parses a config and checks what we rely on: an object with `rootfs.diff_ids`.
pub(crate) fn parse_config(
    bytes: &[u8],
) -> Result<(serde_json::Value, Vec<String>, String), StoreError> {
    let config: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| StoreError::InvalidInput(format!("invalid image JSON: {e}")))?;
    let rootfs = config
        .get("rootfs")
        .filter(|r| r.is_object())
        .ok_or_else(|| StoreError::InvalidInput("invalid image JSON, no RootFS key".into()))?;
    let mut diff_ids = Vec::new();
    if let Some(list) = rootfs.get("diff_ids").and_then(|d| d.as_array()) {
        for d in list {
            let s = d.as_str().ok_or_else(|| {
                StoreError::InvalidInput("invalid image JSON: diff_ids must be strings".into())
            })?;
            digest_hex(s)?;
            diff_ids.push(s.to_string());
        }
    }
    let created = config
        .get("created")
        .and_then(|c| c.as_str())
        .and_then(parse_time)
        .map(|t| format_go_time(&t))
        .unwrap_or_else(|| GO_ZERO_TIME.to_string());
    Ok((config, diff_ids, created))
}

impl ImageStore {
    fn image_from(&self, s: &State, id: &str, rec: &Rec) -> Image {
        let repo_tags = s
            .tags
            .iter()
            .filter(|(_, v)| v.as_str() == id)
            .map(|(k, _)| k.clone())
            .collect();
        let size = rec
            .diff_ids
            .iter()
            .map(|d| {
                s.layer_sizes
                    .get(d.trim_start_matches("sha256:"))
                    .copied()
                    .unwrap_or(0)
            })
            .sum();
        Image {
            id: id.to_string(),
            repo_tags,
            repo_digests: crate::distribution::digests_of(s, id),
            config: rec.config.clone(),
            created: rec.created.clone(),
            size,
            layers: rec.diff_ids.clone(),
            parent: rec.meta.parent.clone(),
            last_tag_time: rec
                .meta
                .last_tag_time
                .clone()
                .unwrap_or_else(|| GO_ZERO_TIME.to_string()),
        }
    }

    /// All images, in no particular order.
    pub fn list(&self) -> Vec<Image> {
        let Ok(s) = self.state.read() else {
            return Vec::new();
        };
        s.images
            .iter()
            .map(|(id, rec)| self.image_from(&s, id, rec))
            .collect()
    }

    /// IDs of images whose parent is `id`.
    pub fn children(&self, id: &str) -> Vec<String> {
        let Ok(s) = self.state.read() else {
            return Vec::new();
        };
        children_of(&s, id)
    }

    /// Resolves a reference as dockerd's `GetImage` does: a tag first, then a
    /// full ID (`sha256:<hex>` or bare hex), then a unique ID prefix.
    pub fn get(&self, reference: &str) -> Result<Image, StoreError> {
        let s = self.state.read().map_err(|_| lock_poisoned())?;
        let id = resolve(&s, reference)?;
        let rec = s.images.get(&id).ok_or_else(|| not_found_for(reference))?;
        Ok(self.image_from(&s, &id, rec))
    }

    /// The image config exactly as stored (its sha256 is the ID).
    pub fn config_bytes(&self, image_id: &str) -> Result<Vec<u8>, StoreError> {
        let id = self.get(image_id)?.id;
        let hex = digest_hex(&id)?;
        Ok(fs::read(
            self.root.join("imagedb/content/sha256").join(hex),
        )?)
    }

    /// Unpacked layer directories of an image, lowest first (overlayfs wants
    /// `lowerdir=` highest first: reverse this).
    pub fn layer_dirs(&self, image_id: &str) -> Result<Vec<PathBuf>, StoreError> {
        let img = self.get(image_id)?;
        img.layers
            .iter()
            .map(|d| Ok(self.layer_path(digest_hex(d)?).join("diff")))
            .collect()
    }

    /// Stores a config whose layers are all registered, and tags it.
    /// Returns progress lines (tag moves) through `progress`.
    pub(crate) fn commit_image(
        &self,
        config_bytes: &[u8],
        parent: Option<&str>,
        tags: &[Reference],
        progress: &mut dyn FnMut(&str),
    ) -> Result<String, StoreError> {
        let (config, diff_ids, created) = parse_config(config_bytes)?;
        let id = archive::sha256_digest(config_bytes);
        let hex = digest_hex(&id)?.to_string();
        let mut s = self.state.write().map_err(|_| lock_poisoned())?;
        for d in &diff_ids {
            if !s.layer_sizes.contains_key(digest_hex(d)?) {
                return Err(StoreError::Other(format!("layer {d} is not in the store")));
            }
        }
        if !s.images.contains_key(&id) {
            let mut meta = ImageMeta::default();
            if let Some(p) = parent {
                meta.parent = p.to_string();
            }
            self.persist_meta(&id, &meta)?;
            atomic::write_file(
                &self.root.join("imagedb/content/sha256").join(&hex),
                config_bytes,
            )?;
            s.images.insert(
                id.clone(),
                Rec {
                    config,
                    diff_ids,
                    created,
                    meta,
                },
            );
        } else if let Some(p) = parent {
            if let Some(rec) = s.images.get_mut(&id) {
                rec.meta.parent = p.to_string();
                let meta = rec.meta.clone();
                self.persist_meta(&id, &meta)?;
            }
        }
        if !tags.is_empty() {
            for t in tags {
                let key = t.familiar();
                if let Some(prev) = s.tags.get(&key) {
                    if *prev != id {
                        progress(&format!(
                            "The image {key} already exists, renaming the old one with ID {prev} to empty string"
                        ));
                    }
                }
                s.tags.insert(key, id.clone());
            }
            self.persist_tags(&s)?;
        }
        Ok(id)
    }

    /// Creates an image from `config` and `layers` (for commit/import/build):
    /// registers tar layers, sets `rootfs` to the resulting diff IDs, stores the
    /// config (serialised compactly; its sha256 becomes the ID) and applies `tags`.
    pub fn create_image(
        &self,
        mut config: serde_json::Value,
        layers: Vec<LayerSource>,
        parent: Option<&str>,
        tags: &[String],
    ) -> Result<Image, StoreError> {
        let refs = tags
            .iter()
            .map(|t| {
                let r = reference::parse_normalized_named(t)?.with_default_tag();
                check_tag_name(&r)?;
                if r.digest.is_some() {
                    return Err(StoreError::InvalidInput(
                        "refusing to create a tag with a digest reference".into(),
                    ));
                }
                Ok(r)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(p) = parent {
            self.get(p)?;
        }
        let mut pins = Vec::new();
        let mut diff_ids = Vec::new();
        for l in layers {
            let d = match l {
                LayerSource::Existing(d) => {
                    let hex = digest_hex(&d)?;
                    if !self.layer_exists(hex) {
                        return Err(StoreError::NotFound(format!(
                            "layer {d} is not in the store"
                        )));
                    }
                    d
                }
                LayerSource::Tar(r) => self.register_layer(r)?.diff_id,
                LayerSource::TarFile(path) => {
                    let file = std::fs::File::open(&path)
                        .map_err(|e| StoreError::io(path.display(), e))?;
                    self.register_layer_file(file, &path, None, None)?.diff_id
                }
                LayerSource::Packed(pack) => self.register_packed(&*pack)?.diff_id,
            };
            pins.push(self.pin(&d)?);
            diff_ids.push(d);
        }
        let obj = config
            .as_object_mut()
            .ok_or_else(|| StoreError::InvalidInput("image config must be a JSON object".into()))?;
        obj.insert(
            "rootfs".into(),
            serde_json::json!({"type": "layers", "diff_ids": diff_ids}),
        );
        let bytes = serde_json::to_vec(&config).map_err(|e| StoreError::Other(e.to_string()))?;
        let id = self.commit_image(&bytes, parent, &refs, &mut |_| {})?;
        drop(pins);
        self.get(&id)
    }
}
