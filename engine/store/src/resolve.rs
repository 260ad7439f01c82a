//! Reference resolution: from what a client names (a tag, a full or short
//! ID, a digest) to an image ID, as dockerd's `GetImage` does, and the
//! reverse lookups (tags and children of an image).

use crate::reference::{self, AnyReference};
use crate::store::State;
use crate::StoreError;

/// `sha256:<hex>` -> `<hex>`, refusing anything that is not a sha256 digest
/// (these strings become file names).
pub(crate) fn digest_hex(d: &str) -> Result<&str, StoreError> {
    match d.strip_prefix("sha256:") {
        Some(h) if reference::is_full_hex_id(h) => Ok(h),
        _ => Err(StoreError::InvalidInput(format!(
            "invalid digest {d:?}: expected sha256:<64 hex>"
        ))),
    }
}

pub(crate) fn tags_of(s: &State, id: &str) -> Vec<String> {
    s.tags
        .iter()
        .filter(|(_, v)| v.as_str() == id)
        .map(|(k, _)| k.clone())
        .collect()
}

pub(crate) fn children_of(s: &State, id: &str) -> Vec<String> {
    s.images
        .iter()
        .filter(|(_, r)| r.meta.parent == id)
        .map(|(k, _)| k.clone())
        .collect()
}

/// dockerd's `isImageIDPrefix`.
pub(crate) fn is_id_prefix(id: &str, candidate: &str) -> bool {
    id.starts_with(candidate)
        || id
            .strip_prefix("sha256:")
            .is_some_and(|h| h.starts_with(candidate))
}

pub(crate) fn not_found_for(reference: &str) -> StoreError {
    match reference::parse_any(reference) {
        Ok(AnyReference::Named(r)) => StoreError::NotFound(format!(
            "No such image: {}",
            r.with_default_tag().familiar()
        )),
        Ok(AnyReference::Digest(d)) => StoreError::NotFound(format!("No such image: {d}")),
        Err(e) => e,
    }
}

/// dockerd's `GetImage` resolution, returning the image ID.
pub(crate) fn resolve(s: &State, reference: &str) -> Result<String, StoreError> {
    match reference::parse_any(reference).map_err(|e| match e {
        // An invalid reference is the client's fault here (400), even the
        // 64-hex case that is a 500 when tagging.
        StoreError::Other(m) => StoreError::InvalidInput(m),
        e => e,
    })? {
        AnyReference::Digest(d) => {
            if s.images.contains_key(&d) {
                return Ok(d);
            }
            Err(StoreError::NotFound(format!("No such image: {d}")))
        }
        AnyReference::Named(r) => {
            let r = r.with_default_tag();
            if r.digest.is_none() {
                if let Some(id) = s.tags.get(&r.familiar()) {
                    return Ok(id.clone());
                }
            } else if let Some(id) = r
                .digest
                .as_ref()
                .and_then(|d| s.digests.get(&format!("{}@{d}", r.familiar_name())))
                .filter(|id| s.images.contains_key(*id))
            {
                return Ok(id.clone());
            }
            if let Some(id) = search_prefix(s, reference) {
                return Ok(id);
            }
            Err(StoreError::NotFound(format!(
                "No such image: {}",
                r.familiar()
            )))
        }
    }
}

/// A unique ID prefix (`7ff0`, `sha256:7ff0`); ambiguous or none -> None.
pub(crate) fn search_prefix(s: &State, term: &str) -> Option<String> {
    let hex = match term.split_once(':') {
        Some(("sha256", h)) => h,
        Some(_) => return None,
        None => term,
    };
    if !reference::is_hex(hex) {
        return None;
    }
    let mut found = s.images.keys().filter(|id| id[7..].starts_with(hex));
    let first = found.next()?;
    if found.next().is_some() {
        return None;
    }
    Some(first.clone())
}
