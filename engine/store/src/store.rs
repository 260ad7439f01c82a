//! The `ImageStore` handle: its in-memory index of images, tags and layers,
//! the pins that keep layers of an unfinished load alive, and the records it
//! persists (each written atomically).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use serde::{Deserialize, Serialize};

use crate::resolve::digest_hex;
use crate::{atomic, StoreError};

/// `imagedb/metadata/sha256/<hex>.json`: what the config itself does not say.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ImageMeta {
    #[serde(default)]
    pub(crate) parent: String,
    #[serde(default)]
    pub(crate) last_tag_time: Option<String>,
}

/// One stored image, as kept in memory.
#[derive(Debug, Clone)]
pub(crate) struct Rec {
    pub(crate) config: serde_json::Value,
    pub(crate) diff_ids: Vec<String>,
    pub(crate) created: String,
    pub(crate) meta: ImageMeta,
}

/// Everything the store knows, behind one lock so that a delete sees tags,
/// images and layers consistently.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) images: HashMap<String, Rec>,
    /// familiar `name:tag` -> image ID
    pub(crate) tags: BTreeMap<String, String>,
    /// diff hex -> content size
    pub(crate) layer_sizes: HashMap<String, u64>,
    /// image ID -> diff IDs kept for containers after a forced delete
    pub(crate) retained: BTreeMap<String, Vec<String>>,
    /// `name@sha256:<manifest digest>` -> image ID (RepoDigests, from pulls and pushes)
    pub(crate) digests: BTreeMap<String, String>,
}

/// `repositories.json`.
#[derive(Serialize, Deserialize, Default)]
pub(crate) struct TagsFile {
    pub(crate) tags: BTreeMap<String, String>,
}

/// The image store at one root; shared by reference across request tasks.
pub struct ImageStore {
    pub(crate) root: PathBuf,
    pub(crate) state: RwLock<State>,
    /// Layers in use by an unfinished load/create: never garbage-collected.
    pub(crate) pins: Mutex<HashMap<String, usize>>,
}

/// Unpins a layer when dropped.
pub(crate) struct Pin<'a> {
    store: &'a ImageStore,
    hex: String,
}

impl Drop for Pin<'_> {
    fn drop(&mut self) {
        if let Ok(mut pins) = self.store.pins.lock() {
            if let Some(n) = pins.get_mut(&self.hex) {
                *n -= 1;
                if *n == 0 {
                    pins.remove(&self.hex);
                }
            }
        }
    }
}

pub(crate) fn lock_poisoned() -> StoreError {
    StoreError::Other("image store lock poisoned".into())
}

impl ImageStore {
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn layer_path(&self, hex: &str) -> PathBuf {
        self.root.join("layers").join(hex)
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub(crate) fn pin(&self, diff_id: &str) -> Result<Pin<'_>, StoreError> {
        let hex = digest_hex(diff_id)?.to_string();
        let mut pins = self.pins.lock().map_err(|_| lock_poisoned())?;
        *pins.entry(hex.clone()).or_insert(0) += 1;
        Ok(Pin { store: self, hex })
    }

    pub(crate) fn layer_exists(&self, hex: &str) -> bool {
        self.state
            .read()
            .map(|s| s.layer_sizes.contains_key(hex))
            .unwrap_or(false)
    }

    pub(crate) fn persist_tags(&self, s: &State) -> Result<(), StoreError> {
        atomic::write_json(
            &self.root.join("repositories.json"),
            &TagsFile {
                tags: s.tags.clone(),
            },
        )?;
        Ok(())
    }

    pub(crate) fn persist_meta(&self, id: &str, meta: &ImageMeta) -> Result<(), StoreError> {
        let hex = digest_hex(id)?;
        atomic::write_json(
            &self
                .root
                .join(format!("imagedb/metadata/sha256/{hex}.json")),
            meta,
        )?;
        Ok(())
    }

    pub(crate) fn persist_retained(&self, s: &State) -> Result<(), StoreError> {
        atomic::write_json(&self.root.join("retained.json"), &s.retained)?;
        Ok(())
    }
}
