//! `--device`: host device nodes made in the container, as runc makes them
//! (mknod with the host node's numbers, permissions and owner; whether the
//! container may open it is the device cgroup's decision).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::RuntimeError;
use crate::path::resolve_in_root;
use crate::spec::Device;

fn node_err(path: &str, e: io::Error) -> RuntimeError {
    RuntimeError::Mount {
        what: format!("device {path}"),
        source: e,
    }
}

/// Runs after the container's /dev is mounted, before pivot_root: paths
/// resolve inside `root` (a symlink in the image cannot lead out).
pub(super) fn create_nodes(root: &Path, devices: &[Device]) -> Result<(), RuntimeError> {
    for d in devices {
        let path = resolve_in_root(root, &d.path).map_err(|e| node_err(&d.path, e))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| node_err(&d.path, e))?;
        }
        // A file the image has there gives way to the node, as with runc.
        if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_dir()) {
            std::fs::remove_file(&path).map_err(|e| node_err(&d.path, e))?;
        }
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| RuntimeError::InvalidSpec("device path contains a NUL byte".into()))?;
        let kind = if d.kind == 'b' {
            libc::S_IFBLK
        } else {
            libc::S_IFCHR
        };
        // SAFETY: a valid NUL-terminated path and plain integers.
        let rc = unsafe {
            libc::mknod(
                c_path.as_ptr(),
                kind | (d.mode & 0o7777),
                libc::makedev(d.major, d.minor),
            )
        };
        if rc != 0 {
            return Err(node_err(&d.path, io::Error::last_os_error()));
        }
        // mknod's mode went through the umask; the owner is root: both as
        // on the host.
        // SAFETY: as above.
        if unsafe { libc::chmod(c_path.as_ptr(), d.mode & 0o7777) } != 0
            || unsafe { libc::chown(c_path.as_ptr(), d.uid, d.gid) } != 0
        {
            return Err(node_err(&d.path, io::Error::last_os_error()));
        }
    }
    Ok(())
}
