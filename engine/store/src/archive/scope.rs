//! Paths inside an extracted archive, resolved as a chroot would: nothing an
//! archive names (through `..` or symlinks) reaches outside its root.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use crate::StoreError;

/// Resolves `rel` inside `root` following symlinks the way a chroot would
/// (an absolute target or `..` never leaves `root`), like dockerd's
/// `FollowSymlinkInScope`. Used to read files of an extracted image archive.
pub fn resolve_in_scope(root: &Path, rel: &str) -> Result<PathBuf, StoreError> {
    let mut todo: Vec<String> = rel.split('/').rev().map(str::to_string).collect();
    let mut parts: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                parts.pop();
                continue;
            }
            _ => {}
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(parts.iter());
        candidate.push(&c);
        match fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() => {
                hops += 1;
                if hops > 255 {
                    return Err(StoreError::InvalidInput(format!(
                        "too many symlinks resolving {rel:?}"
                    )));
                }
                let target = fs::read_link(&candidate)?;
                let t = target.to_string_lossy().into_owned();
                if t.starts_with('/') {
                    parts.clear();
                }
                for p in t.split('/').rev() {
                    todo.push(p.to_string());
                }
            }
            _ => parts.push(c),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(parts.iter());
    Ok(out)
}

/// Opens a file inside an extracted archive (see `resolve_in_scope`).
/// A name that lexically climbs out of `root` is refused first, with
/// dockerd's wording (its `safePath`), rather than clamped.
pub fn open_in_scope(root: &Path, rel: &str) -> Result<File, StoreError> {
    let root_text = root.to_string_lossy();
    let joined = crate::gopath::join(&root_text, rel);
    if !crate::gopath::within(&crate::gopath::clean(&root_text), &joined) {
        return Err(StoreError::InvalidInput(format!(
            "evalSymlinksInScope: {joined} is not in {root_text}"
        )));
    }
    let p = resolve_in_scope(root, rel)?;
    File::open(&p).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            StoreError::InvalidInput(format!("open {}: no such file or directory", p.display()))
        } else {
            StoreError::io(p.display(), e)
        }
    })
}
