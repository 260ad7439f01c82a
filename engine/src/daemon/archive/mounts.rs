//! Mounting a container's volumes for a copy without following anything
//! the container controls: the destination is looked up inside the root by
//! the kernel (`openat2(RESOLVE_IN_ROOT)`) and pinned by a descriptor, and
//! the volume is attached to that descriptor with the new mount API
//! (`open_tree` + `mount_setattr` + `move_mount`), read-only before it is
//! attached when the volume is. A container swapping the path for a
//! symlink meanwhile changes nothing: no path is looked up twice.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

// From linux/mount.h (not all in the libc crate for glibc targets).
const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// `struct mount_attr` (linux/mount.h, MOUNT_ATTR_SIZE_VER0).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn cstring(s: &[u8]) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))
}

/// A descriptor the kernel just returned, or the error.
fn owned(fd: libc::c_long) -> io::Result<File> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor from the kernel, owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd as i32) })
}

/// Opens `path` (absolute, as in the container) inside `root`: every
/// symlink on the way, the last one included, resolves as if `root` were
/// `/`, in one atomic lookup. An `O_PATH` descriptor.
pub(super) fn open_in_root(root: &File, path: &str) -> io::Result<File> {
    let c = cstring(path.trim_start_matches('/').as_bytes())?;
    // SAFETY: zeroed is a valid open_how (all fields are integers).
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: valid fd, NUL-terminated path, a correctly sized open_how.
    owned(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    })
}

/// Mounts a recursive bind of `source` (a host path the engine chose) on
/// the directory or file `target` designates, read-only if asked.
pub(super) fn attach(source: &Path, target: &File, readonly: bool) -> io::Result<()> {
    let src = cstring(source.as_os_str().as_bytes())?;
    // SAFETY: valid path; the flags ask for a detached clone of the tree.
    let tree = owned(unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            src.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | AT_RECURSIVE,
        )
    })?;
    let empty = cstring(b"")?;
    if readonly {
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_RDONLY,
            attr_clr: 0,
            propagation: 0,
            userns_fd: 0,
        };
        // SAFETY: valid descriptor, empty path with AT_EMPTY_PATH, and a
        // mount_attr of the size passed.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                tree.as_raw_fd(),
                empty.as_ptr(),
                libc::AT_EMPTY_PATH as libc::c_uint | AT_RECURSIVE,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: two valid descriptors and empty paths, as the flags say.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            empty.as_ptr(),
            target.as_raw_fd(),
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
