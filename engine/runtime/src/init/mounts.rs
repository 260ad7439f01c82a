//! The container's mount namespace: system mounts (/proc, /dev, /sys), bind
//! mounts, pivot_root, and the read-only/masked paths.
//!
//! Every target inside the rootfs is resolved with
//! [`crate::path::resolve_in_root`] and mounted through an O_PATH fd
//! (`/proc/self/fd/N`), so a symlink in the image can never redirect a mount
//! onto the host.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{symlink, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{fchdir, pivot_root as sys_pivot_root};

use crate::error::RuntimeError;
use crate::path::resolve_in_root;
use crate::spec::{ProcessSpec, Shm};

/// Host device nodes bind-mounted into the container's /dev (mknod may be
/// forbidden, e.g. by a device cgroup or in a user namespace).
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Docker's default masked paths (hidden) and read-only paths: exactly
/// dockerd 20.10's lists, the oracle this engine is compared with, and what
/// `docker inspect` reports in HostConfig.MaskedPaths/ReadonlyPaths (see
/// api/containers/render.rs). Newer Docker releases also mask
/// /proc/interrupts and /sys/devices/virtual/powercap; adding them here
/// means adding them to inspect too.
pub const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];
pub const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

fn mount_err(what: impl Into<String>) -> impl FnOnce(nix::Error) -> RuntimeError {
    let what = what.into();
    move |e| RuntimeError::mount(what, e)
}

fn io_mount_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> RuntimeError {
    let what = what.into();
    move |e| RuntimeError::Mount { what, source: e }
}

/// What to create when a mount target is missing.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Dir,
    File,
}

/// Resolve `dest` inside `root`, create it if missing, and open it O_PATH so
/// the mount goes exactly there.
fn target(root: &Path, dest: &str, kind: Kind) -> Result<(File, PathBuf), RuntimeError> {
    let path = resolve_in_root(root, dest).map_err(io_mount_err(dest))?;
    match kind {
        Kind::Dir => fs::create_dir_all(&path).map_err(io_mount_err(dest))?,
        Kind::File => {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(io_mount_err(dest))?;
            }
            if fs::symlink_metadata(&path).is_err() {
                OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .mode(0o644)
                    .open(&path)
                    .map_err(io_mount_err(dest))?;
            }
        }
    }
    let fd = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(io_mount_err(dest))?;
    Ok((fd, path))
}

fn fd_path(f: &File) -> String {
    format!("/proc/self/fd/{}", f.as_raw_fd())
}

fn mount_at(
    root: &Path,
    dest: &str,
    kind: Kind,
    source: Option<&Path>,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<PathBuf, RuntimeError> {
    let (fd, path) = target(root, dest, kind)?;
    mount(source, fd_path(&fd).as_str(), fstype, flags, data).map_err(mount_err(dest))?;
    Ok(path)
}

/// Everything before pivot_root. Runs as pid 1 of the new namespaces.
pub(super) fn prepare_rootfs(spec: &ProcessSpec) -> Result<(), RuntimeError> {
    let root = spec.rootfs.as_path();
    // Nothing we do from here on may propagate back to the daemon's
    // namespace: "/" is rprivate unless a bind asks for more, and then the
    // mount under the rootfs is made private (see `propagation`).
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        super::propagation::root_flags(&spec.mounts),
        None::<&str>,
    )
    .map_err(mount_err("set the propagation of /"))?;
    super::propagation::make_rootfs_parent_private(root)?;
    // pivot_root needs the new root to be a mount point (a copied root is not).
    mount(
        Some(root),
        root,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(mount_err(format!("bind rootfs {}", root.display())))?;

    let nosuid_nodev_noexec = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount_at(
        root,
        "/proc",
        Kind::Dir,
        Some(Path::new("proc")),
        Some("proc"),
        nosuid_nodev_noexec,
        None,
    )?;
    mount_dev(root, &spec.namespaces.shm)?;
    super::devices::create_nodes(root, &spec.devices)?;
    // Best effort: sysfs may be refused (e.g. net=host without privileges).
    let sys = mount_at(
        root,
        "/sys",
        Kind::Dir,
        Some(Path::new("sysfs")),
        Some("sysfs"),
        nosuid_nodev_noexec | MsFlags::MS_RDONLY,
        None,
    );
    if sys.is_ok() {
        mount_cgroups(root, &spec.cgroups)?;
    }

    // Parents before children: /data before /data/sub.
    let mut binds: Vec<_> = spec.mounts.iter().collect();
    binds.sort_by_key(|m| Path::new(&m.destination).components().count());
    for m in binds {
        let meta = fs::metadata(&m.source)
            .map_err(io_mount_err(format!("bind source {}", m.source.display())))?;
        let kind = if meta.is_dir() { Kind::Dir } else { Kind::File };
        mount_at(
            root,
            &m.destination,
            kind,
            Some(&m.source),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )?;
        if m.readonly {
            remount_readonly(root, &m.destination, kind, MsFlags::empty())?;
        }
        // Re-opened: an fd opened before the bind points under it.
        let (fd, _) = target(root, &m.destination, kind)?;
        let flags = super::propagation::flags(m.propagation);
        mount(
            None::<&str>,
            fd_path(&fd).as_str(),
            None::<&str>,
            flags,
            None::<&str>,
        )
        .map_err(mount_err(format!(
            "set the propagation of {}",
            m.destination
        )))?;
    }
    for t in &spec.tmpfs {
        let (flags, data) = tmpfs_options(&t.options, t.readonly);
        mount_at(
            root,
            &t.destination,
            Kind::Dir,
            Some(Path::new("tmpfs")),
            Some("tmpfs"),
            flags,
            Some(data.as_str()),
        )?;
    }
    Ok(())
}

/// A bind mount only becomes read-only through a remount. Re-opens the
/// target: an fd opened before the bind points *under* the new mount.
fn remount_readonly(
    root: &Path,
    dest: &str,
    kind: Kind,
    extra: MsFlags,
) -> Result<(), RuntimeError> {
    let (fd, _) = target(root, dest, kind)?;
    mount(
        None::<&str>,
        fd_path(&fd).as_str(),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | extra,
        None::<&str>,
    )
    .map_err(mount_err(format!("remount {dest} read-only")))
}

/// The container's own cgroups, read-only under /sys/fs/cgroup, as runc
/// mounts them for dockerd (so a process can read its own limits): on v1 a
/// tmpfs with one directory per hierarchy showing the container's group,
/// on v2 the container's group itself.
fn mount_cgroups(root: &Path, dirs: &[PathBuf]) -> Result<(), RuntimeError> {
    const CGROUP_ROOT: &str = "/sys/fs/cgroup";
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let bind_readonly = |source: &Path, dest: &str| -> Result<(), RuntimeError> {
        mount_at(
            root,
            dest,
            Kind::Dir,
            Some(source),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )?;
        remount_readonly(root, dest, Kind::Dir, flags)
    };
    let Some(first) = dirs.first() else {
        return Ok(());
    };
    if crate::cgroups::detect(Path::new(CGROUP_ROOT)) == crate::cgroups::Version::V2 {
        return bind_readonly(first, CGROUP_ROOT);
    }
    mount_at(
        root,
        CGROUP_ROOT,
        Kind::Dir,
        Some(Path::new("tmpfs")),
        Some("tmpfs"),
        flags,
        Some("mode=755"),
    )?;
    for dir in dirs {
        // <root>/<hierarchy>/<the container's group>
        let Some(hierarchy) = dir
            .strip_prefix(CGROUP_ROOT)
            .ok()
            .and_then(|rel| rel.components().next())
        else {
            continue;
        };
        let dest = format!("{CGROUP_ROOT}/{}", hierarchy.as_os_str().to_string_lossy());
        bind_readonly(dir, &dest)?;
    }
    Ok(())
}

/// Splits mount(8)-style options into mount flags and tmpfs data.
fn tmpfs_options(options: &str, readonly: bool) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for o in options.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" => flags &= !MsFlags::MS_RDONLY,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "exec" => flags &= !MsFlags::MS_NOEXEC,
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "suid" => flags &= !MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "dev" => flags &= !MsFlags::MS_NODEV,
            other => data.push(other),
        }
    }
    if readonly {
        flags |= MsFlags::MS_RDONLY;
    }
    (flags, data.join(","))
}

fn mount_dev(root: &Path, shm: &Shm) -> Result<(), RuntimeError> {
    let dev = mount_at(
        root,
        "/dev",
        Kind::Dir,
        Some(Path::new("tmpfs")),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )?;
    // From here on /dev is our own fresh tmpfs: plain paths under `dev` are safe.
    for name in DEVICES {
        let host = Path::new("/dev").join(name);
        if !host.exists() {
            continue;
        }
        let node = dev.join(name);
        File::create(&node).map_err(io_mount_err(format!("/dev/{name}")))?;
        mount(
            Some(&host),
            &node,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(mount_err(format!("/dev/{name}")))?;
    }
    let pts = dev.join("pts");
    fs::create_dir(&pts).map_err(io_mount_err("/dev/pts"))?;
    mount(
        Some("devpts"),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
    )
    .map_err(mount_err("/dev/pts"))?;
    mount_shm(&dev.join("shm"), shm)?;
    let mqueue = dev.join("mqueue");
    if fs::create_dir(&mqueue).is_ok() {
        // Best effort: POSIX message queues are rarely needed.
        let _ = mount(
            Some("mqueue"),
            &mqueue,
            Some("mqueue"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        );
    }
    for (link, to) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(to, dev.join(link)).map_err(io_mount_err(format!("/dev/{link}")))?;
    }
    // As runc: /dev/core only where the kernel has /proc/kcore (the host's
    // /proc is still the one mounted at /proc before pivot_root).
    if Path::new("/proc/kcore").exists() {
        symlink("/proc/kcore", dev.join("core")).map_err(io_mount_err("/dev/core"))?;
    }
    // With a tty, /dev/console is bound in `init::console`.
    Ok(())
}

/// /dev/shm: a tmpfs of `--shm-size` bytes, the host's or the donor
/// container's (`--ipc host`, `--ipc container:X`), or none (`--ipc none`).
fn mount_shm(path: &Path, shm: &Shm) -> Result<(), RuntimeError> {
    let data;
    let (source, fstype, flags, data) = match shm {
        Shm::Absent => return Ok(()),
        Shm::Size(bytes) => {
            data = format!("mode=1777,size={bytes}");
            (
                Path::new("shm"),
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                Some(data.as_str()),
            )
        }
        Shm::Bind(host) => (
            host.as_path(),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        ),
    };
    fs::create_dir(path).map_err(io_mount_err("/dev/shm"))?;
    mount(Some(source), path, fstype, flags, data).map_err(mount_err("/dev/shm"))
}

/// Make `rootfs` the root and detach the old one (runc's `pivot_root(".", ".")`
/// trick: no put_old directory has to be created in the image, which would
/// otherwise show up as a change of the container).
pub(super) fn pivot_root(rootfs: &Path) -> Result<(), RuntimeError> {
    let open_dir = |p: &Path| {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(p)
            .map_err(io_mount_err(format!("open {}", p.display())))
    };
    let old_root = open_dir(Path::new("/"))?;
    let new_root = open_dir(rootfs)?;
    fchdir(new_root.as_raw_fd()).map_err(|e| RuntimeError::sys("chdir to rootfs", e))?;
    sys_pivot_root(".", ".").map_err(mount_err("pivot_root"))?;
    // The old root is now stacked on "/"; go to it and detach it.
    fchdir(old_root.as_raw_fd()).map_err(|e| RuntimeError::sys("chdir to old root", e))?;
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(mount_err("make old root slave"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(mount_err("detach old root"))?;
    nix::unistd::chdir("/").map_err(|e| RuntimeError::sys("chdir /", e))?;
    Ok(())
}

/// Hide sensitive /proc and /sys entries like Docker does. Best effort: the
/// entries differ between kernels.
pub(super) fn mask_paths() {
    for p in MASKED {
        match fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => {
                let _ = mount(
                    Some("tmpfs"),
                    *p,
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY,
                    None::<&str>,
                );
            }
            Ok(_) => {
                let _ = mount(
                    Some("/dev/null"),
                    *p,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                );
            }
            Err(_) => {}
        }
    }
    for p in READONLY {
        if fs::symlink_metadata(p).is_ok()
            && mount(
                Some(*p),
                *p,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .is_ok()
        {
            let _ = mount(
                Some(*p),
                *p,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None::<&str>,
            );
        }
    }
}

pub(super) fn remount_root_readonly() -> Result<(), RuntimeError> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .map_err(mount_err("remount / read-only"))
}
