//! An image's history as `docker history` shows it: one entry per history
//! record, newest first, named where the store has the image.

use serde_json::{json, Value};
use shipshape_store::{Image, ImageStore};

use crate::daemon::Daemon;
use crate::errdefs::EngineError;

/// `docker history`: one entry per history record, newest first.
/// Entries of images that are in the store carry the image ID and its tags;
/// the rest are `<missing>` (layers that came from elsewhere), as dockerd.
pub fn history(d: &Daemon, name: &str) -> Result<Vec<Value>, EngineError> {
    let store = &d.images;
    let img = store.get(name)?;
    let mut items = history_items(store, &img)?;
    // Walk the parent chain to name the entries we have images for.
    let mut cur = Some(img);
    for item in items.iter_mut() {
        let Some(i) = cur.take() else { break };
        item["Id"] = json!(i.id);
        item["Tags"] = if i.repo_tags.is_empty() {
            Value::Null
        } else {
            json!(i.repo_tags)
        };
        if !i.parent.is_empty() {
            cur = store.get(&i.parent).ok();
        }
    }
    Ok(items)
}

fn history_items(store: &ImageStore, img: &Image) -> Result<Vec<Value>, EngineError> {
    let entries = img
        .config
        .get("history")
        .and_then(|h| h.as_array())
        .cloned()
        .unwrap_or_default();
    let mut layer = 0usize;
    let mut out = Vec::with_capacity(entries.len());
    for h in &entries {
        let empty = h
            .get("empty_layer")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let mut size = 0u64;
        if !empty {
            let Some(diff) = img.layers.get(layer) else {
                return Err(EngineError::System(
                    "too many non-empty layers in History section".into(),
                ));
            };
            size = store.layer_size(diff).unwrap_or(0);
            layer += 1;
        }
        let text = |k: &str| h.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let created = shipshape_store::parse_time_unix(&text("created"));
        out.push(json!({
            "Comment": text("comment"),
            "Created": created,
            "CreatedBy": text("created_by"),
            "Id": "<missing>",
            "Size": size,
            "Tags": null,
        }));
    }
    out.reverse();
    Ok(out)
}
