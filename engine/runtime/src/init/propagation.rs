//! Bind mount propagation, as runc does it for dockerd: a bind asking for
//! `shared`/`rshared` needs its source on a shared mount of the host, one
//! asking for `slave`/`rslave` on a shared or slave one (checked before the
//! container's mount namespace is made, with dockerd's words); the root of
//! the container's namespace then propagates as the strongest bind asks
//! (rshared, else rslave, else rprivate), the mount under the rootfs is
//! made private so nothing of the container's own setup reaches the host,
//! and each bind gets its own mode.

use std::path::Path;

use nix::mount::MsFlags;

use crate::error::RuntimeError;
use crate::rootfs::mountinfo::containing_mount;
use crate::spec::{BindMount, Propagation};

/// The mount flags of a mode.
pub(super) fn flags(p: Propagation) -> MsFlags {
    match p {
        Propagation::Rprivate => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        Propagation::Private => MsFlags::MS_PRIVATE,
        Propagation::Rshared => MsFlags::MS_SHARED | MsFlags::MS_REC,
        Propagation::Shared => MsFlags::MS_SHARED,
        Propagation::Rslave => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        Propagation::Slave => MsFlags::MS_SLAVE,
    }
}

fn is_shared(p: Propagation) -> bool {
    matches!(p, Propagation::Shared | Propagation::Rshared)
}

fn is_slave(p: Propagation) -> bool {
    matches!(p, Propagation::Slave | Propagation::Rslave)
}

/// How "/" of the container's namespace propagates (moby's
/// `RootfsPropagation`).
pub(super) fn root_flags(mounts: &[BindMount]) -> MsFlags {
    if mounts.iter().any(|m| is_shared(m.propagation)) {
        flags(Propagation::Rshared)
    } else if mounts.iter().any(|m| is_slave(m.propagation)) {
        flags(Propagation::Rslave)
    } else {
        flags(Propagation::Rprivate)
    }
}

/// dockerd's check of each bind's source against the host's mount table
/// (`mountinfo`: this process's, still the daemon's namespace).
pub(super) fn check_sources(mounts: &[BindMount], mountinfo: &str) -> Result<(), RuntimeError> {
    for m in mounts {
        let (shared, slave) = (is_shared(m.propagation), is_slave(m.propagation));
        if !shared && !slave {
            continue;
        }
        let source = std::fs::canonicalize(&m.source).unwrap_or_else(|_| m.source.clone());
        let Some((point, optional)) = containing_mount(mountinfo, &source) else {
            continue;
        };
        let has = |tag: &str| optional.iter().any(|f| f.starts_with(tag));
        let ok = has("shared:") || (slave && has("master:"));
        if !ok {
            return Err(RuntimeError::Other(format!(
                "path {} is mounted on {} but it is not a shared{} mount",
                m.source.display(),
                point.display(),
                if slave { " or slave" } else { "" }
            )));
        }
    }
    Ok(())
}

/// runc's `rootfsParentMountPrivate`: the mount the rootfs lies on stops
/// propagating, so the mounts made under it stay in the container.
pub(super) fn make_rootfs_parent_private(rootfs: &Path) -> Result<(), RuntimeError> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| RuntimeError::mount("read mountinfo", e))?;
    let Some((point, optional)) = containing_mount(&text, rootfs) else {
        return Ok(());
    };
    if !optional.iter().any(|f| f.starts_with("shared:")) {
        return Ok(());
    }
    nix::mount::mount(
        None::<&str>,
        &point,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| RuntimeError::mount(format!("make {} private", point.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn bind(source: &str, p: Propagation) -> BindMount {
        BindMount {
            source: PathBuf::from(source),
            destination: "/x".into(),
            readonly: false,
            propagation: p,
        }
    }

    #[test]
    fn sources_are_checked_as_dockerd() {
        let text = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
                    30 22 0:5 / /nonexistent-s rw shared:4 - tmpfs tmpfs rw\n\
                    31 22 0:6 / /nonexistent-m rw master:4 - tmpfs tmpfs rw\n";
        let check = |s: &str, p| {
            check_sources(&[bind(s, p)], text)
                .map_err(|e| e.to_string())
                .err()
        };
        assert_eq!(
            check("/nonexistent-x/a", Propagation::Rshared).as_deref(),
            Some("path /nonexistent-x/a is mounted on / but it is not a shared mount")
        );
        assert_eq!(
            check("/nonexistent-m/a", Propagation::Shared).as_deref(),
            Some("path /nonexistent-m/a is mounted on /nonexistent-m but it is not a shared mount")
        );
        assert_eq!(
            check("/nonexistent-x", Propagation::Slave).as_deref(),
            Some("path /nonexistent-x is mounted on / but it is not a shared or slave mount")
        );
        assert_eq!(check("/nonexistent-m/a", Propagation::Rslave), None);
        assert_eq!(check("/nonexistent-s/a", Propagation::Rshared), None);
        assert_eq!(check("/nonexistent-x", Propagation::Rprivate), None);
    }

    #[test]
    fn the_root_follows_the_strongest_bind() {
        let root = |ps: &[Propagation]| {
            let b: Vec<_> = ps.iter().map(|p| bind("/a", *p)).collect();
            root_flags(&b)
        };
        assert_eq!(root(&[]), MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert_eq!(
            root(&[Propagation::Slave, Propagation::Private]),
            MsFlags::MS_SLAVE | MsFlags::MS_REC
        );
        assert_eq!(
            root(&[Propagation::Slave, Propagation::Shared]),
            MsFlags::MS_SHARED | MsFlags::MS_REC
        );
    }
}
