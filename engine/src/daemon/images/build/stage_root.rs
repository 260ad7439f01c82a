//! The filesystem of an image (a finished build stage, or any local image)
//! for `COPY --from=`: its layers mounted read-only-in-effect as an overlay
//! (or copied where overlayfs is unavailable) in a private temp dir, which
//! is unmounted and removed when the value is dropped.

use std::path::{Path, PathBuf};

use crate::daemon::Daemon;
use crate::errdefs::EngineError;

pub struct ImageRoot {
    dir: Option<tempfile::TempDir>,
    merged: PathBuf,
}

impl ImageRoot {
    /// Mounts `image_id`'s layers. Blocking: call from a blocking task.
    pub fn mount(d: &Daemon, image_id: &str) -> Result<ImageRoot, EngineError> {
        let layers =
            crate::daemon::containers::init_layer::mountable(d.images.layer_dirs(image_id)?);
        let tmp = d.tmp_dir();
        std::fs::create_dir_all(&tmp)?;
        let dir = tempfile::Builder::new()
            .prefix("copy-from-")
            .tempdir_in(&tmp)?;
        let merged = shipshape_runtime::mount_rootfs(&layers, dir.path())
            .map_err(|e| EngineError::System(e.to_string()))?;
        Ok(ImageRoot {
            dir: Some(dir),
            merged,
        })
    }

    pub fn root(&self) -> &Path {
        &self.merged
    }
}

impl Drop for ImageRoot {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        if let Err(e) = shipshape_runtime::unmount_rootfs(dir.path()) {
            // Leave the directory in place rather than delete through a mount.
            tracing::warn!(dir = %dir.path().display(), error = %e, "unmounting a COPY --from root");
            let _ = dir.keep();
        }
    }
}
