//! Removal with dockerd's `ImageDelete` semantics: untagging, the conflicts
//! that refuse a delete (children, containers, other tags), pruning of
//! parents, and releasing layers no image, retained set or running load
//! still needs.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io;

use serde::{Deserialize, Serialize};

use crate::atomic::random_suffix;
use crate::layer::chain_ids;
use crate::resolve::{children_of, digest_hex, is_id_prefix, resolve, tags_of};
use crate::store::{lock_poisoned, State};
use crate::{atomic, reference, ImageStore, StoreError};

/// A container that uses an image, as `remove` needs to know it.
#[derive(Debug, Clone)]
pub struct ImageUserView {
    pub container_id: String,
    pub running: bool,
}

/// One line of `DELETE /images/{name}`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeleteItem {
    Untagged(String),
    Deleted(String),
}

fn short_id(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.chars().take(12).collect()
}

impl ImageStore {
    /// Removes an image or a tag with dockerd's `ImageDelete` semantics.
    /// `users(id)` lists the containers created from image `id`.
    pub fn remove(
        &self,
        reference: &str,
        force: bool,
        noprune: bool,
        users: &dyn Fn(&str) -> Vec<ImageUserView>,
    ) -> Result<Vec<DeleteItem>, StoreError> {
        let mut s = self.state.write().map_err(|_| lock_poisoned())?;
        let id = resolve(&s, reference)?;
        let mut records = Vec::new();
        let mut refs = tags_of(&s, &id);
        let mut removed_repository_ref = false;
        if !is_id_prefix(&id, reference) {
            // By name: remove that tag first.
            if !force && refs.len() == 1 {
                if let Some(c) = users(&id).first() {
                    return Err(StoreError::Conflict(format!(
                        "conflict: unable to remove repository reference {:?} (must force) - container {} is using its referenced image {}",
                        reference,
                        short_id(&c.container_id),
                        short_id(&id)
                    )));
                }
            }
            let named = reference::parse_normalized_named(reference)?.with_default_tag();
            if let Some(d) = &named.digest {
                // A repository digest (`name@sha256:...`) from a pull or push.
                let key = format!("{}@{d}", named.familiar_name());
                if !self.remove_repo_digest(&mut s, &key, &id)? {
                    return Err(StoreError::NotFound(format!("No such image: {key}")));
                }
                records.push(DeleteItem::Untagged(key));
            } else {
                let key = named.familiar();
                if s.tags.get(&key) != Some(&id) {
                    return Err(StoreError::NotFound(format!("No such image: {key}")));
                }
                s.tags.remove(&key);
                self.persist_tags(&s)?;
                records.push(DeleteItem::Untagged(key));
                // dockerd: with no tag of that repository left, its digest
                // references go too.
                let name = named.familiar_name();
                let prefix = format!("{name}:");
                if !tags_of(&s, &id).iter().any(|t| t.starts_with(&prefix)) {
                    for k in self.drop_repo_digests(&mut s, &id, Some(&name))? {
                        records.push(DeleteItem::Untagged(k));
                    }
                }
            }
            refs = tags_of(&s, &id);
            refs.extend(crate::distribution::digests_of(&s, &id));
            if !refs.is_empty() {
                return Ok(records);
            }
            removed_repository_ref = true;
        } else if refs.len() == 1 {
            // By ID with a single tag: it goes with the image.
            let mask = Conflicts {
                hard: true,
                soft: !force,
                active_reference: false,
            };
            if let Some(c) = check_conflict(&s, &id, mask, users) {
                return Err(c.into_error());
            }
            for r in &refs {
                s.tags.remove(r);
                records.push(DeleteItem::Untagged(r.clone()));
            }
            self.persist_tags(&s)?;
        }
        self.delete_helper(
            &mut s,
            &id,
            &mut records,
            force,
            !noprune,
            removed_repository_ref,
            users,
        )?;
        Ok(records)
    }

    #[allow(clippy::too_many_arguments)]
    fn delete_helper(
        &self,
        s: &mut State,
        id: &str,
        records: &mut Vec<DeleteItem>,
        force: bool,
        prune: bool,
        quiet: bool,
        users: &dyn Fn(&str) -> Vec<ImageUserView>,
    ) -> Result<(), StoreError> {
        let mask = Conflicts {
            hard: true,
            soft: !force,
            active_reference: !force,
        };
        if let Some(c) = check_conflict(s, id, mask, users) {
            let dangling = tags_of(s, id).is_empty() && children_of(s, id).is_empty();
            if quiet && (!dangling || c.used) {
                // The tag went; the image stays because something still needs it.
                return Ok(());
            }
            return Err(c.into_error());
        }
        let Some(rec) = s.images.get(id).cloned() else {
            return Ok(());
        };
        let parent = rec.meta.parent.clone();
        let tags = tags_of(s, id);
        if !tags.is_empty() {
            for t in &tags {
                s.tags.remove(t);
                records.push(DeleteItem::Untagged(t.clone()));
            }
            self.persist_tags(s)?;
        }
        let used = !users(id).is_empty();
        if used {
            // A (stopped) container still runs on these layers: keep them,
            // and remember why, so a later delete of another image sharing
            // them does not pull them away either.
            s.retained.insert(id.to_string(), rec.diff_ids.clone());
            self.persist_retained(s)?;
        }
        // Forget the image: metadata first, then the content that makes it exist.
        for k in self.drop_repo_digests(s, id, None)? {
            records.push(DeleteItem::Untagged(k));
        }
        let hex = digest_hex(id)?.to_string();
        s.images.remove(id);
        let content = self.root.join("imagedb/content/sha256").join(&hex);
        fs::remove_file(&content).or_else(ignore_not_found)?;
        fs::remove_file(
            self.root
                .join(format!("imagedb/metadata/sha256/{hex}.json")),
        )
        .or_else(ignore_not_found)?;
        if let Ok(d) = File::open(content.parent().unwrap_or(&self.root)) {
            let _ = d.sync_all();
        }
        records.push(DeleteItem::Deleted(id.to_string()));
        if !used {
            for chain in self.release_layers(s, &rec.diff_ids)? {
                records.push(DeleteItem::Deleted(chain));
            }
        }
        if !prune || parent.is_empty() || !s.images.contains_key(&parent) {
            return Ok(());
        }
        // Prune the now-unneeded parent, quietly and never by force.
        self.delete_helper(s, &parent, records, false, true, true, users)
    }

    /// Deletes layers of `diff_ids` no image (or retained set, or running load)
    /// still needs. Returns the released chain IDs, top first (dockerd's order).
    fn release_layers(
        &self,
        s: &mut State,
        diff_ids: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let chains = chain_ids(diff_ids);
        let mut used_chains: HashSet<String> = HashSet::new();
        let mut used_diffs: HashSet<String> = HashSet::new();
        for rec in s.images.values() {
            used_chains.extend(chain_ids(&rec.diff_ids));
            used_diffs.extend(rec.diff_ids.iter().cloned());
        }
        for list in s.retained.values() {
            used_chains.extend(chain_ids(list));
            used_diffs.extend(list.iter().cloned());
        }
        let pins = self.pins.lock().map_err(|_| lock_poisoned())?;
        let mut released = Vec::new();
        for (i, chain) in chains.iter().enumerate().rev() {
            if used_chains.contains(chain) {
                // Everything below is used by the same chain.
                break;
            }
            released.push(chain.clone());
            let diff = &diff_ids[i];
            let hex = digest_hex(diff)?.to_string();
            if used_diffs.contains(diff) || pins.contains_key(&hex) {
                continue;
            }
            self.delete_layer_dir(&hex)?;
            s.layer_sizes.remove(&hex);
            // The same diff may appear twice in one image.
            used_diffs.insert(diff.clone());
        }
        Ok(released)
    }

    fn delete_layer_dir(&self, hex: &str) -> Result<(), StoreError> {
        let path = self.layer_path(hex);
        // Rename out of the way first so a crash never leaves a half-deleted
        // layer under its real name; `open` removes the leftover.
        let doomed = self.root.join("layers").join(format!(
            "{}del-{}",
            atomic::TEMP_PREFIX,
            random_suffix()
        ));
        match fs::rename(&path, &doomed) {
            Ok(()) => {
                if let Err(e) = fs::remove_dir_all(&doomed) {
                    tracing::warn!(path = %doomed.display(), error = %e, "could not remove layer; will retry on restart");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(path.display(), e)),
        }
        Ok(())
    }

    /// Releases the layers kept for containers of a force-deleted image, once
    /// the daemon has removed the last such container.
    pub fn release_retained(&self, image_id: &str) -> Result<(), StoreError> {
        let mut s = self.state.write().map_err(|_| lock_poisoned())?;
        let Some(diffs) = s.retained.remove(image_id) else {
            return Ok(());
        };
        self.persist_retained(&s)?;
        self.release_layers(&mut s, &diffs)?;
        Ok(())
    }
}

fn ignore_not_found(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

#[derive(Clone, Copy)]
struct Conflicts {
    /// dependent children, running containers
    hard: bool,
    /// stopped containers
    soft: bool,
    /// other tags
    active_reference: bool,
}

struct Conflict {
    id: String,
    hard: bool,
    used: bool,
    message: String,
}

impl Conflict {
    fn into_error(self) -> StoreError {
        let force = if self.hard {
            "cannot be forced"
        } else {
            "must be forced"
        };
        StoreError::Conflict(format!(
            "conflict: unable to delete {} ({force}) - {}",
            short_id(&self.id),
            self.message
        ))
    }
}

/// dockerd's `checkImageDeleteConflict`, in its order.
fn check_conflict(
    s: &State,
    id: &str,
    mask: Conflicts,
    users: &dyn Fn(&str) -> Vec<ImageUserView>,
) -> Option<Conflict> {
    let conflict = |hard, used, message: String| Conflict {
        id: id.to_string(),
        hard,
        used,
        message,
    };
    if mask.hard && !children_of(s, id).is_empty() {
        return Some(conflict(
            true,
            false,
            "image has dependent child images".into(),
        ));
    }
    let us = users(id);
    if mask.hard {
        if let Some(c) = us.iter().find(|c| c.running) {
            return Some(conflict(
                true,
                true,
                format!(
                    "image is being used by running container {}",
                    short_id(&c.container_id)
                ),
            ));
        }
    }
    if mask.active_reference && !tags_of(s, id).is_empty() {
        return Some(conflict(
            false,
            false,
            "image is referenced in multiple repositories".into(),
        ));
    }
    if mask.soft {
        if let Some(c) = us.iter().find(|c| !c.running) {
            return Some(conflict(
                false,
                true,
                format!(
                    "image is being used by stopped container {}",
                    short_id(&c.container_id)
                ),
            ));
        }
    }
    None
}
