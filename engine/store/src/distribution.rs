//! What the registry client needs from the store, kept apart from the rest:
//! a layer streamed in from a registry blob (checked against both its blob
//! digest and its diff ID before it becomes visible), a stored layer's tar
//! opened for a push, whether a layer is present, and the image's
//! repository digests (`name@sha256:...`, dockerd's RepoDigests), persisted
//! in `repodigests.json`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use crate::resolve::digest_hex;
use crate::store::{lock_poisoned, State};
use crate::{atomic, reference, ImageStore, LayerInfo, StoreError};

const DIGESTS_FILE: &str = "repodigests.json";

/// Loads `repodigests.json` into `state` (entries of missing images dropped).
pub(crate) fn load_digests(root: &Path, state: &mut State) {
    let Ok(b) = fs::read(root.join(DIGESTS_FILE)) else {
        return;
    };
    let map: BTreeMap<String, String> = serde_json::from_slice(&b).unwrap_or_default();
    state.digests = map
        .into_iter()
        .filter(|(_, id)| state.images.contains_key(id))
        .collect();
}

/// The repository digests of image `id`, sorted.
pub(crate) fn digests_of(s: &State, id: &str) -> Vec<String> {
    s.digests
        .iter()
        .filter(|(_, v)| v.as_str() == id)
        .map(|(k, _)| k.clone())
        .collect()
}

impl ImageStore {
    /// Whether the layer with this diff ID is in the store.
    pub fn has_layer(&self, diff_id: &str) -> bool {
        digest_hex(diff_id).is_ok_and(|h| self.layer_exists(h))
    }

    /// Registers a layer from a registry blob (gzip'd or plain), refusing
    /// it unless the raw bytes hash to `blob_digest` and the tar to
    /// `diff_id`; nothing is visible until both are checked.
    pub fn register_blob(
        &self,
        raw: impl Read + Send,
        diff_id: &str,
        index: usize,
        blob_digest: &str,
    ) -> Result<LayerInfo, StoreError> {
        self.register_layer_checked(raw, Some((diff_id, index)), Some(blob_digest))
    }

    /// Stores a pulled image's config (its sha256 is the ID), once all its
    /// layers are in, and points `tags` at it; returns the ID.
    pub fn commit_pulled(
        &self,
        config_bytes: &[u8],
        tags: &[String],
    ) -> Result<String, StoreError> {
        let refs = tags
            .iter()
            .map(|t| reference::parse_normalized_named(t).map(|r| r.with_default_tag()))
            .collect::<Result<Vec<_>, _>>()?;
        self.commit_image(config_bytes, None, &refs, &mut |_| {})
    }

    /// Records `name@sha256:...` as a repository digest of image `id`.
    pub fn add_repo_digest(&self, name_at_digest: &str, id: &str) -> Result<(), StoreError> {
        let mut s = self.state.write().map_err(|_| lock_poisoned())?;
        if !s.images.contains_key(id) {
            return Err(StoreError::NotFound(format!("No such image: {id}")));
        }
        s.digests.insert(name_at_digest.to_string(), id.to_string());
        atomic::write_json(&self.root.join(DIGESTS_FILE), &s.digests)?;
        Ok(())
    }
}

impl ImageStore {
    /// Drops the repository digests of image `id` (only those of
    /// repository `repo` when given); returns them, sorted, for the
    /// delete's `Untagged` records.
    pub(crate) fn drop_repo_digests(
        &self,
        s: &mut State,
        id: &str,
        repo: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let gone: Vec<String> = digests_of(s, id)
            .into_iter()
            .filter(|k| repo.is_none_or(|r| k.split_once('@').is_some_and(|(n, _)| n == r)))
            .collect();
        if gone.is_empty() {
            return Ok(gone);
        }
        for k in &gone {
            s.digests.remove(k);
        }
        atomic::write_json(&self.root.join(DIGESTS_FILE), &s.digests)?;
        Ok(gone)
    }
}

impl ImageStore {
    /// Removes one `name@digest` reference of image `id`; false if it is not one.
    pub(crate) fn remove_repo_digest(
        &self,
        s: &mut State,
        key: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        if s.digests.get(key).map(String::as_str) != Some(id) {
            return Ok(false);
        }
        s.digests.remove(key);
        atomic::write_json(&self.root.join(DIGESTS_FILE), &s.digests)?;
        Ok(true)
    }
}
