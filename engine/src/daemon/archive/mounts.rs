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

/// Opens `path` inside `root` as [`open_in_root`] does, first making what
/// is missing of it as dockerd does for a volume's mount point before a
/// copy: the parents as directories (0755), the last component as a
/// directory, or an empty file when `dir` is false. Each new entry is made
/// by name in a parent resolved inside the root, so nothing outside it is
/// ever created.
pub(super) fn create_in_root(root: &File, path: &str, dir: bool) -> io::Result<File> {
    match open_in_root(root, path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let mut so_far = String::new();
    for (i, part) in parts.iter().enumerate() {
        let parent = if so_far.is_empty() {
            root.try_clone()?
        } else {
            open_in_root(root, &so_far)?
        };
        so_far.push('/');
        so_far.push_str(part);
        match open_in_root(root, &so_far) {
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let name = cstring(part.as_bytes())?;
        let last = i + 1 == parts.len();
        // SAFETY: a valid directory descriptor and a NUL-terminated single
        // path component.
        let rc = unsafe {
            if last && !dir {
                let fd = libc::openat(
                    parent.as_raw_fd(),
                    name.as_ptr(),
                    libc::O_CREAT
                        | libc::O_EXCL
                        | libc::O_WRONLY
                        | libc::O_CLOEXEC
                        | libc::O_NOFOLLOW,
                    0o644,
                );
                if fd >= 0 {
                    libc::close(fd);
                }
                fd.min(0)
            } else {
                libc::mkdirat(parent.as_raw_fd(), name.as_ptr(), 0o755)
            }
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::AlreadyExists {
                return Err(e);
            }
        }
    }
    open_in_root(root, path)
}
