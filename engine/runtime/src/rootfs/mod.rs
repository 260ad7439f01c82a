//! A container's root filesystem, mounted in the DAEMON's mount namespace (so
//! the daemon can read and write container files for cp/diff at any time).
//!
//! Layout under the container dir:
//! * `merged/` — the root the container sees;
//! * `upper/`, `work/` — overlayfs upper and work dirs (writes land in `upper/`);
//! * `empty/` — the lowerdir for an image without layers;
//! * `rootfs-kind` — "overlay" or "copy", recorded once so later mounts (daemon
//!   restart) keep using the same strategy and the daemon knows where changes are.

mod copy;
pub(crate) mod mountinfo;

use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use serde::{Deserialize, Serialize};

use crate::error::RuntimeError;

/// How a container's root was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RootfsKind {
    /// overlayfs: the container's changes are exactly `<dir>/upper`.
    Overlay,
    /// Layers copied into `<dir>/merged`; changes must be computed by comparison.
    Copy,
}

const KIND_FILE: &str = "rootfs-kind";
/// mount(2) data is limited to one page; stay clearly below it.
const MAX_MOUNT_DATA: usize = 3500;

/// The few syscalls rootfs needs, behind a trait so the fallback logic is
/// testable without privileges.
pub(crate) trait RootfsSys {
    fn mount_overlay(&self, data: &str, target: &Path) -> io::Result<()>;
    fn unmount(&self, target: &Path) -> io::Result<()>;
    fn is_mounted(&self, target: &Path) -> io::Result<bool>;
}

/// The real kernel.
pub(crate) struct Kernel;

impl RootfsSys for Kernel {
    fn mount_overlay(&self, data: &str, target: &Path) -> io::Result<()> {
        mount(
            Some("overlay"),
            target,
            Some("overlay"),
            MsFlags::empty(),
            Some(data),
        )
        .map_err(io::Error::from)
    }

    fn unmount(&self, target: &Path) -> io::Result<()> {
        // Lazy: a `docker cp` reading files, or a shell cd'ed into merged/, must
        // not make the container removal fail.
        umount2(target, MntFlags::MNT_DETACH).map_err(io::Error::from)
    }

    fn is_mounted(&self, target: &Path) -> io::Result<bool> {
        mountinfo::is_mount_point(target)
    }
}

fn io_err(what: &str, path: &Path, e: io::Error) -> RuntimeError {
    RuntimeError::Io(io::Error::new(
        e.kind(),
        format!("{what} {}: {e}", path.display()),
    ))
}

/// overlayfs option syntax: ':' separates lowerdirs, ',' options; both (and the
/// escape character itself) are backslash-escaped.
fn escape_option(p: &Path) -> String {
    let s = p.to_string_lossy();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ':' | ',') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn read_kind(dir: &Path) -> Option<RootfsKind> {
    match fs::read_to_string(dir.join(KIND_FILE)).ok()?.trim() {
        "overlay" => Some(RootfsKind::Overlay),
        "copy" => Some(RootfsKind::Copy),
        _ => None,
    }
}

fn write_kind(dir: &Path, kind: RootfsKind) -> Result<(), RuntimeError> {
    let text = match kind {
        RootfsKind::Overlay => "overlay\n",
        RootfsKind::Copy => "copy\n",
    };
    // Write-then-rename so a crash never leaves a half-written marker.
    let tmp = dir.join(format!("{KIND_FILE}.tmp"));
    fs::write(&tmp, text).map_err(|e| io_err("write", &tmp, e))?;
    fs::rename(&tmp, dir.join(KIND_FILE)).map_err(|e| io_err("rename", &tmp, e))
}

fn overlay_fallback_errno(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::ENODEV | libc::EPERM | libc::EOPNOTSUPP)
    )
}

/// Mount (or copy) `layers` (lowest first) as `<container_dir>/merged` and
/// return that path. Idempotent: an already mounted/copied root is returned as is.
pub fn mount_rootfs(
    layers_lowest_first: &[PathBuf],
    container_dir: &Path,
) -> Result<PathBuf, RuntimeError> {
    mount_rootfs_with(&Kernel, layers_lowest_first, container_dir, false)
}

/// Like [`mount_rootfs`], for a throwaway writable layer (a container that is
/// removed when it exits): the overlay is mounted `volatile`, so neither
/// fsync inside it nor its unmount syncs the upper filesystem. That unmount
/// sync (a journal commit) was the largest single cost of `docker run --rm`.
/// After a host crash such a layer may be incomplete, which does not matter
/// for a layer that is deleted anyway. Falls back to a normal mount on
/// kernels without the option (before 5.10).
pub fn mount_rootfs_volatile(
    layers_lowest_first: &[PathBuf],
    container_dir: &Path,
) -> Result<PathBuf, RuntimeError> {
    mount_rootfs_with(&Kernel, layers_lowest_first, container_dir, true)
}

pub(crate) fn mount_rootfs_with(
    sys: &dyn RootfsSys,
    layers: &[PathBuf],
    dir: &Path,
    volatile: bool,
) -> Result<PathBuf, RuntimeError> {
    let merged = dir.join("merged");
    for d in [dir, merged.as_path()] {
        fs::create_dir_all(d).map_err(|e| io_err("mkdir", d, e))?;
    }
    let mounted = sys
        .is_mounted(&merged)
        .map_err(|e| io_err("check mount", &merged, e))?;
    match read_kind(dir) {
        Some(RootfsKind::Copy) => return Ok(merged),
        Some(RootfsKind::Overlay) if mounted => return Ok(merged),
        Some(RootfsKind::Overlay) => {
            // upper/ holds the container's state: never silently switch to a copy.
            mount_overlay(sys, layers, dir, &merged, volatile)?;
            return Ok(merged);
        }
        None if mounted => {
            write_kind(dir, RootfsKind::Overlay)?;
            return Ok(merged);
        }
        None => {}
    }
    match mount_overlay(sys, layers, dir, &merged, volatile) {
        Ok(()) => {
            write_kind(dir, RootfsKind::Overlay)?;
            tracing::debug!(dir = %dir.display(), layers = layers.len(), "overlay rootfs mounted");
            Ok(merged)
        }
        Err(RuntimeError::Mount { source, .. }) if overlay_fallback_errno(&source) => {
            tracing::warn!(dir = %dir.display(), "overlay mount failed ({source}); copying layers instead");
            // A previous copy may have been interrupted (no marker yet): restart clean.
            for entry in fs::read_dir(&merged).map_err(|e| io_err("read", &merged, e))? {
                let p = entry.map_err(|e| io_err("read", &merged, e))?.path();
                let res = if p.is_dir() && !p.is_symlink() {
                    fs::remove_dir_all(&p)
                } else {
                    fs::remove_file(&p)
                };
                res.map_err(|e| io_err("remove", &p, e))?;
            }
            copy::copy_layers(layers, &merged).map_err(|e| io_err("copy into", &merged, e))?;
            write_kind(dir, RootfsKind::Copy)?;
            Ok(merged)
        }
        Err(e) => Err(e),
    }
}

fn mount_overlay(
    sys: &dyn RootfsSys,
    layers: &[PathBuf],
    dir: &Path,
    merged: &Path,
    volatile: bool,
) -> Result<(), RuntimeError> {
    let upper = dir.join("upper");
    let work = dir.join("work");
    let empty = dir.join("empty");
    for d in [&upper, &work] {
        fs::create_dir_all(d).map_err(|e| io_err("mkdir", d, e))?;
    }
    let mut lowers: Vec<PathBuf> = layers.iter().rev().cloned().collect(); // top-most first
    if lowers.is_empty() {
        // overlayfs needs at least one lowerdir.
        fs::create_dir_all(&empty).map_err(|e| io_err("mkdir", &empty, e))?;
        lowers.push(empty);
    }
    let build = |lowers: &[PathBuf]| {
        let lower: Vec<String> = lowers.iter().map(|p| escape_option(p)).collect();
        format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.join(":"),
            escape_option(&upper),
            escape_option(&work)
        )
    };
    let mut data = build(&lowers);
    // Too long for one page: name each layer by a short /proc/self/fd/N path
    // instead (the kernel resolves them at mount time). The files must stay open
    // until mount(2) returns.
    let mut _held = Vec::new();
    if data.len() > MAX_MOUNT_DATA {
        let mut short = Vec::with_capacity(lowers.len());
        for l in &lowers {
            let f = fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(l)
                .map_err(|e| io_err("open layer", l, e))?;
            short.push(PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd())));
            _held.push(f);
        }
        data = build(&short);
    }
    if volatile {
        // The kernel refuses to mount over a work dir that a volatile mount
        // used before (it marks work/incompat/volatile); for a throwaway
        // layer that refusal protects nothing, so the marker goes.
        let _ = fs::remove_dir_all(work.join("work").join("incompat"));
        match sys.mount_overlay(&format!("{data},volatile"), merged) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                tracing::debug!("overlay 'volatile' not supported; mounting without it");
            }
            res => {
                return res.map_err(|e| {
                    RuntimeError::mount(format!("overlay on {}", merged.display()), e)
                })
            }
        }
    }
    sys.mount_overlay(&data, merged)
        .map_err(|e| RuntimeError::mount(format!("overlay on {}", merged.display()), e))
}

/// Unmount `<container_dir>/merged`. Not mounted (or a copied root) -> Ok.
pub fn unmount_rootfs(container_dir: &Path) -> Result<(), RuntimeError> {
    unmount_rootfs_with(&Kernel, container_dir)
}

/// A container's root taken out of the mount table whose unmount is not
/// finished: it holds the last reference to the mount, and the kernel
/// completes the unmount when this is dropped. For an overlay that is when
/// the writable layer is synced to disk (a journal commit, about a
/// millisecond), which is why [`detach_rootfs`] exists: a caller drops this
/// off its critical path. Mount the same root again only after dropping it
/// (overlayfs refuses, or warns about, an upper dir still in use).
#[must_use = "dropping it finishes the unmount; drop it where its cost does not matter"]
pub struct DetachedRoot(Option<std::os::fd::OwnedFd>);

impl std::fmt::Debug for DetachedRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DetachedRoot")
            .field(&self.0.is_some())
            .finish()
    }
}

/// Like [`unmount_rootfs`], but leaves the end of the unmount to the drop of
/// the returned [`DetachedRoot`]. Nothing mounted (or a copied root) -> an
/// empty one.
pub fn detach_rootfs(container_dir: &Path) -> Result<DetachedRoot, RuntimeError> {
    let merged = container_dir.join("merged");
    if !Kernel
        .is_mounted(&merged)
        .map_err(|e| io_err("check mount", &merged, e))?
    {
        return Ok(DetachedRoot(None));
    }
    // Opened through the mount point, the fd refers to the mounted root and
    // keeps the mount alive after it leaves the table.
    let held = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&merged)
        .map_err(|e| io_err("open", &merged, e))?;
    unmount_rootfs_with(&Kernel, container_dir)?;
    Ok(DetachedRoot(Some(held.into())))
}

pub(crate) fn unmount_rootfs_with(sys: &dyn RootfsSys, dir: &Path) -> Result<(), RuntimeError> {
    let merged = dir.join("merged");
    // Loop: the same dir may have been mounted more than once (stacked mounts).
    for _ in 0..16 {
        if !sys
            .is_mounted(&merged)
            .map_err(|e| io_err("check mount", &merged, e))?
        {
            return Ok(());
        }
        match sys.unmount(&merged) {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOENT)) => {
                return Ok(())
            }
            Err(e) => {
                return Err(RuntimeError::mount(
                    format!("unmount {}", merged.display()),
                    e,
                ))
            }
        }
    }
    Ok(())
}

/// How the root of the container in `container_dir` was built (Overlay when
/// nothing has been recorded yet).
pub fn rootfs_kind(container_dir: &Path) -> RootfsKind {
    read_kind(container_dir).unwrap_or(RootfsKind::Overlay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Overlay "fails" with a fixed errno; records what was attempted.
    struct FakeSys {
        errno: i32,
        data: RefCell<Vec<String>>,
    }

    impl RootfsSys for FakeSys {
        fn mount_overlay(&self, data: &str, _target: &Path) -> io::Result<()> {
            self.data.borrow_mut().push(data.to_string());
            Err(io::Error::from_raw_os_error(self.errno))
        }
        fn unmount(&self, _target: &Path) -> io::Result<()> {
            Ok(())
        }
        fn is_mounted(&self, _target: &Path) -> io::Result<bool> {
            Ok(false)
        }
    }

    #[test]
    fn falls_back_to_copy_and_stays_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let l1 = tmp.path().join("l1");
        let l2 = tmp.path().join("l,2");
        fs::create_dir_all(&l1).unwrap();
        fs::create_dir_all(&l2).unwrap();
        fs::write(l1.join("a"), "low").unwrap();
        fs::write(l2.join("a"), "high").unwrap();
        let dir = tmp.path().join("c1");
        let sys = FakeSys {
            errno: libc::EINVAL,
            data: RefCell::new(vec![]),
        };
        let merged = mount_rootfs_with(&sys, &[l1.clone(), l2.clone()], &dir, false).unwrap();
        assert_eq!(fs::read_to_string(merged.join("a")).unwrap(), "high");
        assert_eq!(rootfs_kind(&dir), RootfsKind::Copy);
        // top-most layer first, ',' escaped
        let data = sys.data.borrow()[0].clone();
        assert!(
            data.starts_with(&format!("lowerdir={}:{}", escape_option(&l2), l1.display())),
            "{data}"
        );
        assert!(data.contains("\\,2"));

        // Idempotent: the copy (and its changes) are kept, no new mount attempt.
        fs::write(merged.join("changed"), "x").unwrap();
        mount_rootfs_with(&sys, &[l1, l2], &dir, false).unwrap();
        assert!(merged.join("changed").exists());
        assert_eq!(sys.data.borrow().len(), 1);
        unmount_rootfs_with(&sys, &dir).unwrap();
    }

    #[test]
    fn other_errors_are_not_masked_and_long_options_use_fds() {
        let tmp = tempfile::tempdir().unwrap();
        let layers: Vec<PathBuf> = (0..80)
            .map(|i| {
                let p = tmp
                    .path()
                    .join(format!("a-rather-long-layer-directory-name-{i:03}"));
                fs::create_dir_all(&p).unwrap();
                p
            })
            .collect();
        let sys = FakeSys {
            errno: libc::EBUSY,
            data: RefCell::new(vec![]),
        };
        let err = mount_rootfs_with(&sys, &layers, &tmp.path().join("c"), false).unwrap_err();
        assert!(matches!(err, RuntimeError::Mount { .. }), "{err}");
        let data = sys.data.borrow()[0].clone();
        assert!(data.starts_with("lowerdir=/proc/self/fd/"), "{data}");
        assert!(data.len() < MAX_MOUNT_DATA);
    }

    #[test]
    fn zero_layers_use_an_empty_lowerdir() {
        let tmp = tempfile::tempdir().unwrap();
        let sys = FakeSys {
            errno: libc::ENODEV,
            data: RefCell::new(vec![]),
        };
        let dir = tmp.path().join("c");
        let merged = mount_rootfs_with(&sys, &[], &dir, false).unwrap();
        assert!(
            sys.data.borrow()[0].starts_with(&format!("lowerdir={}", dir.join("empty").display()))
        );
        assert_eq!(fs::read_dir(merged).unwrap().count(), 0);
    }

    #[test]
    fn volatile_is_asked_for_then_dropped_where_unsupported() {
        let tmp = tempfile::tempdir().unwrap();
        let sys = FakeSys {
            errno: libc::EINVAL,
            data: RefCell::new(vec![]),
        };
        let dir = tmp.path().join("c");
        let stale = dir.join("work/work/incompat/volatile");
        fs::create_dir_all(&stale).unwrap();
        // EINVAL twice: volatile refused, then overlay refused -> copy.
        mount_rootfs_with(&sys, &[], &dir, true).unwrap();
        let tried = sys.data.borrow();
        assert_eq!(tried.len(), 2, "{tried:?}");
        assert!(tried[0].ends_with(",volatile"), "{}", tried[0]);
        assert!(!tried[1].contains("volatile"), "{}", tried[1]);
        assert!(!stale.exists(), "the stale volatile marker is removed");
    }
}
