//! A container's writable layer, read as Docker reads it: the list of changes
//! (`docker diff`) and a layer tar (`docker commit`). The container's layer is
//! an overlayfs upper directory, so deletions are overlay whiteouts (a 0:0
//! character device) and replaced directories carry `trusted.overlay.opaque`;
//! in a layer tar they become Docker's `.wh.<name>` and `.wh..wh..opq` entries.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::archive::lgetxattr;

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const WHITEOUT_PREFIX: &str = ".wh.";
const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";

/// Docker's change kinds: `Kind` 0, 1, 2 in `GET /containers/{id}/changes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Absolute path inside the container ("/data/x").
    pub path: String,
    pub kind: ChangeKind,
}

/// Paths the engine itself creates in every container (mount points for
/// /proc, /dev, /sys and the files Docker bind-mounts). Docker keeps these in
/// a separate "init" layer, so they never show up in diff or commit.
fn is_engine_path(rel: &Path) -> bool {
    let mut comps = rel.components();
    let first = comps
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    let top_level_only = comps.next().is_none();
    match first.as_deref() {
        Some("dev" | "proc" | "sys" | ".dockerenv") => true,
        Some("etc") => matches!(
            rel.to_str(),
            Some("etc/hostname" | "etc/hosts" | "etc/resolv.conf")
        ),
        _ => {
            let _ = top_level_only;
            false
        }
    }
}

fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(path: &Path) -> bool {
    lgetxattr(path, OPAQUE_XATTR).is_ok_and(|v| v == b"y")
}

/// Whether `rel` exists in the image, seen through its layers (`lowers`,
/// lowest first): the top-most layer that mentions it decides.
fn exists_below(rel: &Path, lowers: &[PathBuf]) -> bool {
    for layer in lowers.iter().rev() {
        if let Ok(meta) = fs::symlink_metadata(layer.join(rel)) {
            return !is_whiteout(&meta);
        }
        // An opaque parent hides everything below it in lower layers.
        if rel
            .ancestors()
            .skip(1)
            .any(|a| !a.as_os_str().is_empty() && is_opaque(&layer.join(a)))
        {
            return false;
        }
    }
    false
}

/// Sorted entries of a directory (names only), so output is deterministic.
fn sorted_entries(dir: &Path) -> io::Result<Vec<std::ffi::OsString>> {
    let mut names: Vec<_> = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    Ok(names)
}

/// The changes an overlay upper directory makes over the image's layers,
/// sorted by path as dockerd lists them.
pub fn overlay_changes(upper: &Path, lowers: &[PathBuf]) -> io::Result<Vec<Change>> {
    let mut out = Vec::new();
    if upper.exists() {
        walk_changes(upper, Path::new(""), lowers, &mut out)?;
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk_changes(
    upper: &Path,
    rel: &Path,
    lowers: &[PathBuf],
    out: &mut Vec<Change>,
) -> io::Result<()> {
    for name in sorted_entries(&upper.join(rel))? {
        let child = rel.join(&name);
        if is_engine_path(&child) {
            continue;
        }
        let full = upper.join(&child);
        let meta = fs::symlink_metadata(&full)?;
        let path = format!("/{}", child.display());
        if is_whiteout(&meta) {
            out.push(Change {
                path,
                kind: ChangeKind::Deleted,
            });
            continue;
        }
        let kind = if exists_below(&child, lowers) {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        out.push(Change { path, kind });
        if meta.is_dir() {
            walk_changes(upper, &child, lowers, out)?;
        }
    }
    Ok(())
}

/// Writes the upper directory as a Docker layer tar (uncompressed), turning
/// overlay whiteouts into `.wh.` entries. Symlinks are stored, never followed.
/// No sparse entries: dockerd's layers have none (Go's tar writer cannot
/// write them) and neither the unpacker nor the split reads them; a sparse
/// file is stored with its zeros, which [`crate::sparse::HoleWriter`] keeps
/// off the disk.
pub fn pack_overlay_upper(upper: &Path, out: impl Write) -> io::Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    b.sparse(false);
    if upper.exists() {
        walk_pack(upper, Path::new(""), &mut b)?;
    }
    b.into_inner()?.flush()
}

/// Whether [`pack_overlay_upper`] would write any entry: the upper
/// directory has something at its top other than the engine's own paths.
pub fn upper_has_changes(upper: &Path) -> io::Result<bool> {
    if !upper.exists() {
        return Ok(false);
    }
    for e in fs::read_dir(upper)? {
        if !is_engine_path(Path::new(&e?.file_name())) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn empty_file_header(mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(0);
    h.set_mode(0o644);
    h.set_mtime(mtime);
    h
}

fn walk_pack<W: Write>(upper: &Path, rel: &Path, b: &mut tar::Builder<W>) -> io::Result<()> {
    for name in sorted_entries(&upper.join(rel))? {
        let child = rel.join(&name);
        if is_engine_path(&child) {
            continue;
        }
        let full = upper.join(&child);
        let meta = fs::symlink_metadata(&full)?;
        if is_whiteout(&meta) {
            let marker = rel.join(format!("{WHITEOUT_PREFIX}{}", name.to_string_lossy()));
            let mut h = empty_file_header(meta.mtime().max(0) as u64);
            b.append_data(&mut h, marker, io::empty())?;
            continue;
        }
        b.append_path_with_name(&full, &child)?;
        if meta.is_dir() {
            if is_opaque(&full) {
                let mut h = empty_file_header(meta.mtime().max(0) as u64);
                b.append_data(&mut h, child.join(WHITEOUT_OPAQUE), io::empty())?;
            }
            walk_pack(upper, &child, b)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whiteout(p: &Path) {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: valid C string; makedev is pure.
        let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, libc::makedev(0, 0)) };
        assert_eq!(rc, 0, "mknod needs root");
    }

    #[test]
    fn changes_and_layer_tar_from_an_upper_dir() {
        let t = tempfile::tempdir().unwrap();
        let lower = t.path().join("lower");
        let upper = t.path().join("upper");
        fs::create_dir_all(lower.join("data")).unwrap();
        fs::write(lower.join("data/keep"), "k").unwrap();
        fs::write(lower.join("data/gone"), "g").unwrap();
        fs::write(lower.join("data/edit"), "e").unwrap();
        fs::create_dir_all(upper.join("data")).unwrap();
        fs::create_dir_all(upper.join("proc")).unwrap();
        fs::write(upper.join("data/edit"), "edited").unwrap();
        fs::write(upper.join("data/new"), "n").unwrap();
        whiteout(&upper.join("data/gone"));

        let changes = overlay_changes(&upper, std::slice::from_ref(&lower)).unwrap();
        let got: Vec<(String, ChangeKind)> =
            changes.into_iter().map(|c| (c.path, c.kind)).collect();
        assert_eq!(
            got,
            vec![
                ("/data".into(), ChangeKind::Modified),
                ("/data/edit".into(), ChangeKind::Modified),
                ("/data/gone".into(), ChangeKind::Deleted),
                ("/data/new".into(), ChangeKind::Added),
            ]
        );

        let mut tar_bytes = Vec::new();
        pack_overlay_upper(&upper, &mut tar_bytes).unwrap();
        let mut names: Vec<String> = tar::Archive::new(&tar_bytes[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec!["data", "data/.wh.gone", "data/edit", "data/new"]
        );
        assert!(upper_has_changes(&upper).unwrap());
    }

    #[test]
    fn an_upper_with_only_engine_paths_has_no_changes() {
        let t = tempfile::tempdir().unwrap();
        let upper = t.path().join("upper");
        assert!(!upper_has_changes(&upper).unwrap());
        fs::create_dir_all(upper.join("proc")).unwrap();
        fs::write(upper.join(".dockerenv"), "").unwrap();
        assert!(!upper_has_changes(&upper).unwrap());
        let mut tar_bytes = Vec::new();
        pack_overlay_upper(&upper, &mut tar_bytes).unwrap();
        assert_eq!(
            tar::Archive::new(&tar_bytes[..]).entries().unwrap().count(),
            0
        );
        // /etc/hostname alone is the engine's, but /etc itself is packed.
        fs::create_dir_all(upper.join("etc")).unwrap();
        fs::write(upper.join("etc/hostname"), "h").unwrap();
        assert!(upper_has_changes(&upper).unwrap());
    }
}
