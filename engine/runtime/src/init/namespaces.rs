//! Which namespaces a container's pid 1 gets: its own (unshared), the
//! daemon's (`--pid host`, `--ipc host`, `--uts host`: nothing to do), or
//! another container's (`--pid container:X`, `--ipc container:X`,
//! `--network container:X`: setns to that container's process's). Joins happen before the unshare and the
//! fork, so the pid namespace joined is the child's.

use std::fs::File;

use nix::sched::{setns, CloneFlags};

use crate::error::RuntimeError;
use crate::spec::{Namespace, Namespaces, Network};

/// The namespaces `unshare` makes: mount always; pid, ipc and uts when
/// private; net without the host's network; cgroup when asked for.
pub(super) fn unshare_flags(ns: &Namespaces, network: Network) -> CloneFlags {
    let mut flags = CloneFlags::CLONE_NEWNS;
    for (kind, flag) in [
        (ns.pid, CloneFlags::CLONE_NEWPID),
        (ns.ipc, CloneFlags::CLONE_NEWIPC),
        (ns.uts, CloneFlags::CLONE_NEWUTS),
    ] {
        if kind == Namespace::Private {
            flags |= flag;
        }
    }
    if network == Network::None {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    if ns.cgroup_private {
        flags |= CloneFlags::CLONE_NEWCGROUP;
    }
    flags
}

/// setns into every namespace to join (all opened first, then joined).
pub(super) fn join(ns: &Namespaces, network: Network) -> Result<(), RuntimeError> {
    let net = match network {
        Network::Join(pid) => Namespace::Join(pid),
        _ => Namespace::Private,
    };
    let mut files = Vec::new();
    for (name, kind, flag) in [
        ("ipc", ns.ipc, CloneFlags::CLONE_NEWIPC),
        ("pid", ns.pid, CloneFlags::CLONE_NEWPID),
        ("net", net, CloneFlags::CLONE_NEWNET),
    ] {
        if let Namespace::Join(pid) = kind {
            let path = format!("/proc/{pid}/ns/{name}");
            let f = File::open(&path).map_err(|e| match e.raw_os_error() {
                Some(libc::ENOENT) | Some(libc::ESRCH) => RuntimeError::NotRunning { pid },
                _ => RuntimeError::Namespace(format!("open {path}: {e}")),
            })?;
            files.push((name, flag, f));
        }
    }
    for (name, flag, f) in &files {
        setns(f, *flag).map_err(|e| RuntimeError::Namespace(format!("setns {name}: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_joined_namespaces_are_not_unshared() {
        let private = unshare_flags(&Namespaces::default(), Network::None);
        assert!(private.contains(
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS
        ));
        assert!(!private.contains(CloneFlags::CLONE_NEWCGROUP));
        let shared = Namespaces {
            pid: Namespace::Host,
            ipc: Namespace::Join(1),
            uts: Namespace::Host,
            cgroup_private: true,
            ..Default::default()
        };
        let flags = unshare_flags(&shared, Network::Host);
        assert_eq!(flags, CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWCGROUP);
        // A joined network namespace is not a new one either.
        let joined = unshare_flags(&shared, Network::Join(1));
        assert!(!joined.contains(CloneFlags::CLONE_NEWNET));
    }
}
