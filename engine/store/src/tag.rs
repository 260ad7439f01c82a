//! Tagging (dockerd's `TagImage`) and the rule on which names may be tags.

use crate::gotime::now_go_time;
use crate::reference::{self, Reference};
use crate::resolve::resolve;
use crate::store::lock_poisoned;
use crate::{ImageStore, StoreError};

impl ImageStore {
    /// Tags `source` as `repo[:tag]` (dockerd's `TagImage`), moving the tag
    /// from any image that had it.
    pub fn tag(&self, source: &str, repo: &str, tag: Option<&str>) -> Result<(), StoreError> {
        let mut s = self.state.write().map_err(|_| lock_poisoned())?;
        let id = resolve(&s, source)?;
        // dockerd leaves these parse errors unclassified, so they are a 500.
        let unclassified = |e: StoreError| match e {
            StoreError::InvalidInput(m) => StoreError::Other(m),
            e => e,
        };
        let mut new = reference::parse_normalized_named(repo).map_err(unclassified)?;
        if let Some(t) = tag.filter(|t| !t.is_empty()) {
            new = new.with_tag(t).map_err(unclassified)?;
        }
        if new.digest.is_some() {
            return Err(StoreError::InvalidInput(
                "refusing to create a tag with a digest reference".into(),
            ));
        }
        let new = new.with_default_tag();
        check_tag_name(&new)?;
        let key = new.familiar();
        let old = s.tags.insert(key.clone(), id.clone());
        if let Err(e) = self.persist_tags(&s) {
            match old {
                Some(o) => s.tags.insert(key, o),
                None => s.tags.remove(&key),
            };
            return Err(e);
        }
        if let Some(rec) = s.images.get_mut(&id) {
            rec.meta.last_tag_time = Some(now_go_time());
            let meta = rec.meta.clone();
            self.persist_meta(&id, &meta)?;
        }
        Ok(())
    }
}

/// dockerd refuses names that would be confused with IDs.
pub(crate) fn check_tag_name(r: &Reference) -> Result<(), StoreError> {
    if r.familiar_name() == "sha256" {
        return Err(StoreError::InvalidInput(
            "refusing to create an ambiguous tag using digest algorithm as name".into(),
        ));
    }
    Ok(())
}
