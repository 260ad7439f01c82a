//! Images: what the daemon does with the store on the API's behalf (list
//! with filters, tag, remove with the containers that use an image, load,
//! save), and the image operations built on it: history, prune, pull,
//! commit, import, the Dockerfile parser and the classic builder.

pub mod build;
pub mod commit;
pub mod dockerfile;
pub mod history;
pub mod import;
pub mod prune;
pub mod pull;

use std::path::{Path, PathBuf};

use shipshape_store::{reference, DeleteItem, Image, ImageUserView, SavePlan, StoreError};

use crate::daemon::{events, Daemon};
use crate::errdefs::EngineError;
use crate::filters::{labels_match, Filters};

/// The `filters` keys an image listing takes.
pub const LIST_FILTER_KEYS: &[&str] = &["dangling", "label", "before", "since", "reference"];

impl Daemon {
    /// The containers that use image `id`, as the store's remove needs them.
    pub fn image_users(&self, id: &str) -> Vec<ImageUserView> {
        self.containers_using_image(id)
            .into_iter()
            .map(|u| ImageUserView {
                container_id: u.container_id,
                running: u.running,
            })
            .collect()
    }

    /// The image `name` names, for inspect: dockerd wraps the lookup error
    /// as "no such image: <name>: <cause>".
    pub fn inspect_image(&self, name: &str) -> Result<Image, EngineError> {
        self.images.get(name).map_err(|e| {
            let msg = format!("no such image: {name}: {e}");
            match EngineError::from(e) {
                EngineError::NotFound(_) => EngineError::NotFound(msg),
                EngineError::InvalidParameter(_) => EngineError::InvalidParameter(msg),
                EngineError::Conflict(_) => EngineError::Conflict(msg),
                _ => EngineError::System(msg),
            }
        })
    }

    /// Where an image's layers live, bottom first.
    pub fn image_layer_dirs(&self, id: &str) -> Vec<PathBuf> {
        self.images.layer_dirs(id).unwrap_or_default()
    }

    /// Every image in the store.
    pub fn all_images(&self) -> Vec<Image> {
        self.images.list()
    }

    /// How many images the store holds.
    pub fn image_count(&self) -> usize {
        self.images.list().len()
    }

    /// `docker images`: the images `filters` keep, newest first, each with
    /// the tags to show (only those a `reference` filter matches). Untagged
    /// intermediate images (those with children) show only with `all`.
    pub fn list_images(
        &self,
        filters: &Filters,
        all: bool,
    ) -> Result<Vec<(Image, Vec<String>)>, EngineError> {
        let store = &self.images;
        let dangling = match filters.get("dangling").map(|v| v.as_slice()) {
            None => None,
            Some([one]) if one.eq_ignore_ascii_case("true") || one == "1" => Some(true),
            Some([one]) if one.eq_ignore_ascii_case("false") || one == "0" => Some(false),
            Some(vals) => {
                return Err(EngineError::InvalidParameter(format!(
                    "Invalid filter 'dangling=[{}]'",
                    vals.join(" ")
                )))
            }
        };
        // before/since name an image; an unknown one is dockerd's 404.
        let bound = |key: &str| -> Result<Option<(i64, u32)>, EngineError> {
            match filters.get(key).and_then(|v| v.last()) {
                None => Ok(None),
                Some(r) => Ok(Some(store.get(r)?.created_precise())),
            }
        };
        let before = bound("before")?;
        let since = bound("since")?;
        let patterns = filters.get("reference");
        let labels = filters.get("label");

        let mut images = store.list();
        images.sort_by_key(|i| std::cmp::Reverse(i.created_unix()));
        let mut out = Vec::new();
        for img in images {
            let created = img.created_precise();
            if before.is_some_and(|b| created >= b) || since.is_some_and(|s| created <= s) {
                continue;
            }
            if dangling.is_some_and(|d| d != img.repo_tags.is_empty()) {
                continue;
            }
            if labels.is_some_and(|l| !labels_match(&img.labels(), l)) {
                continue;
            }
            if !all && img.repo_tags.is_empty() && !store.children(&img.id).is_empty() {
                continue;
            }
            let mut tags = img.repo_tags.clone();
            if let Some(patterns) = patterns {
                // Only the tags that match stay; an image with none is left out.
                let mut kept = Vec::new();
                for t in &tags {
                    let name = t.rsplit_once(':').map(|(n, _)| n).unwrap_or(t);
                    for p in patterns {
                        if reference::glob_match(p, t)? || reference::glob_match(p, name)? {
                            kept.push(t.clone());
                            break;
                        }
                    }
                }
                if kept.is_empty() {
                    continue;
                }
                tags = kept;
            }
            out.push((img, tags));
        }
        Ok(out)
    }

    /// `docker tag`, with its event.
    pub fn tag_image(&self, name: &str, repo: &str, tag: Option<&str>) -> Result<(), EngineError> {
        self.images.tag(name, repo, tag)?;
        events::image_tagged(self, name, repo, tag);
        Ok(())
    }

    /// Tags a freshly built image, without an event (as the builder does).
    pub fn tag_built_image(&self, id: &str, tag: &str) -> Result<(), EngineError> {
        Ok(self.images.tag(id, tag, None)?)
    }

    /// `docker rmi`, refused while containers use the image (unless
    /// `force`), with its events. Blocking.
    pub fn remove_image(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
    ) -> Result<Vec<DeleteItem>, EngineError> {
        let users = |id: &str| self.image_users(id);
        let id = self.images.get(name).map(|i| i.id).ok();
        let items = self.images.remove(name, force, noprune, &users)?;
        if let Some(id) = id {
            events::image_removed(&id, &items);
        }
        Ok(items)
    }

    /// `docker load` of the archive spooled at `path` (emptied once
    /// extracted), reporting each step to
    /// `progress`; the IDs loaded, each with its event. Blocking.
    pub fn load_images(
        &self,
        path: &Path,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Vec<String>, EngineError> {
        // Read and write: the store empties the spool once it is extracted.
        let ids = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(StoreError::from)
            .and_then(|f| self.images.load_spooled(&f, progress))?;
        for id in &ids {
            events::image(id, id, "load");
        }
        Ok(ids)
    }

    /// Resolves what `docker save` of `names` writes, so a bad name is an
    /// error before any byte goes out.
    pub fn plan_save(&self, names: &[String]) -> Result<SavePlan, EngineError> {
        Ok(self.images.plan_save(names)?)
    }

    /// Writes a planned `docker save` archive. Blocking.
    pub fn write_save(&self, plan: &SavePlan, out: impl std::io::Write) -> Result<(), EngineError> {
        Ok(self.images.write_save(plan, out)?)
    }
}
