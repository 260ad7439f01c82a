//! Removed containers' directories, waiting to be deleted.
//!
//! `DELETE /containers/{id}` renames the container's directory into
//! `<data-root>/trash/` (one atomic step: the container is gone, even if the
//! daemon dies right after) and deletes it in the background. Whatever a
//! crash leaves here is deleted when the daemon starts ([`sweep`]).

use std::io;
use std::path::{Path, PathBuf};

const TRASH: &str = "trash";

/// Moves `dir` into the trash of `data_root`; returns its new path.
pub fn move_in(data_root: &Path, dir: &Path) -> io::Result<PathBuf> {
    let trash = data_root.join(TRASH);
    std::fs::create_dir_all(&trash)?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Unique even if a container of the same ID is removed twice before
    // the first deletion ends (IDs are random, but be safe).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let to = trash.join(format!("{name}.{nanos}"));
    std::fs::rename(dir, &to)?;
    Ok(to)
}

/// Deletes one trashed directory on a blocking thread.
pub fn empty_in_background(path: PathBuf) {
    tokio::task::spawn_blocking(move || delete(&path));
}

/// Deletes everything in the trash (at daemon start, before anything else
/// can be moved in).
pub fn sweep(data_root: &Path) {
    let Ok(entries) = std::fs::read_dir(data_root.join(TRASH)) else {
        return;
    };
    for entry in entries.flatten() {
        delete(&entry.path());
    }
}

fn delete(path: &Path) {
    super::namespaces::release_shm(path);
    // The container's root may still be mounted at fs/merged: unmount it
    // first, and never delete through a mount (that would write whiteouts
    // into a layer, or worse, into a bind-mounted host path).
    if let Err(e) = shipshape_runtime::rootfs::unmount_rootfs(&path.join("fs")) {
        tracing::warn!(path = %path.display(), error = %e, "cannot unmount a removed container's root; leaving it for the next start");
        return;
    }
    if let Err(e) = std::fs::remove_dir_all(path) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "cannot delete a removed container's files");
        }
    }
}
