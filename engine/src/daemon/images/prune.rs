//! `docker image prune`: which images go, and the space that frees.

use std::collections::HashMap;

use serde_json::{json, Value};
use shipshape_store::{DeleteItem, ImageStore, StoreError};

use crate::daemon::Daemon;
use crate::errdefs::EngineError;
use crate::filters::time::until_filter;
use crate::filters::{label_filters_match, Filters};

/// The `filters` keys an image prune takes.
pub const FILTER_KEYS: &[&str] = &["dangling", "label", "label!", "until"];

/// `docker image prune`: removes dangling images (or, with `dangling=false`,
/// all images no container uses), skipping those still in use. `filters`
/// are the parsed `filters` parameter; the answer is dockerd's report.
pub fn prune(d: &Daemon, filters: &Filters, now_ns: i64) -> Result<Value, EngineError> {
    let dangling_only = match filters.get("dangling").and_then(|v| v.last()) {
        None => true,
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => true,
        Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => false,
        Some(v) => {
            return Err(EngineError::InvalidParameter(format!(
                "Invalid filter 'dangling={v}'"
            )))
        }
    };
    let until = match filters.get("until").and_then(|v| v.last()) {
        Some(v) => Some(until_filter(v, now_ns)?.div_euclid(1_000_000_000)),
        None => None,
    };
    let store = &d.images;
    // Layer sizes by chain ID, taken before anything goes, so the space a
    // deleted layer held can be counted.
    let mut chain_sizes: HashMap<String, u64> = HashMap::new();
    let all = store.list();
    for img in &all {
        let chains = ImageStore::chain_ids(&img.layers);
        for (chain, diff) in chains.into_iter().zip(&img.layers) {
            chain_sizes.insert(chain, store.layer_size(diff).unwrap_or(0));
        }
    }
    let mut candidates = Vec::new();
    for img in all {
        let children = store.children(&img.id);
        // An image a container uses is never pruned (not even untagged).
        if !d.containers_using_image(&img.id).is_empty() {
            continue;
        }
        // "Heads" only when pruning dangling images: images with children are
        // layers of others.
        if dangling_only && !children.is_empty() {
            continue;
        }
        if img.repo_tags.is_empty() && !children.is_empty() {
            continue;
        }
        if until.is_some_and(|u| img.created_unix() > u) {
            continue;
        }
        if !label_filters_match(filters, &img.labels()) {
            continue;
        }
        candidates.push(img);
    }
    let users = |id: &str| d.image_users(id);
    let mut deleted: Vec<DeleteItem> = Vec::new();
    for img in candidates {
        let result: Result<Vec<DeleteItem>, StoreError> = if !img.repo_tags.is_empty() {
            // Tagged images go only when not pruning dangling ones.
            if dangling_only {
                continue;
            }
            let mut items = Vec::new();
            let mut failed = None;
            for t in &img.repo_tags {
                match store.remove(t, false, false, &users) {
                    Ok(mut i) => items.append(&mut i),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match failed {
                Some(e) => Err(e),
                None => Ok(items),
            }
        } else {
            let hex = img.id.trim_start_matches("sha256:").to_string();
            store.remove(&hex, false, false, &users)
        };
        match result {
            Ok(mut items) => deleted.append(&mut items),
            // In use, or already gone with a parent: dockerd skips these quietly.
            Err(e) => tracing::debug!(image = %img.id, error = %e, "prune skipped image"),
        }
    }
    let mut reclaimed = 0u64;
    let mut items = Vec::new();
    for item in &deleted {
        match item {
            DeleteItem::Deleted(id) => {
                reclaimed += chain_sizes.get(id).copied().unwrap_or(0);
                items.push(json!({ "Deleted": id }));
            }
            DeleteItem::Untagged(t) => items.push(json!({ "Untagged": t })),
        }
    }
    Ok(json!({
        "ImagesDeleted": if items.is_empty() { Value::Null } else { Value::Array(items) },
        "SpaceReclaimed": reclaimed,
    }))
}
