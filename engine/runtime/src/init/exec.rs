//! `exec_in`: join a running container's namespaces and start a process there.

use std::convert::Infallible;
use std::fs::File;

use nix::sched::{setns, CloneFlags};
use nix::unistd::{fork, ForkResult};

use super::{console, fail, process};
use crate::channel::{Channel, InitMessage};
use crate::error::RuntimeError;
use crate::spec::ExecSpec;

/// Joined in this order; mnt last, because after it /proc/<pid> paths of the
/// host are no longer reachable (all fds are opened up front anyway).
const NAMESPACES: &[(&str, CloneFlags)] = &[
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

pub(super) fn start(chan: &Channel, pid: i32, spec: &ExecSpec) -> Result<Infallible, RuntimeError> {
    // While /sys/fs/cgroup is still the host's (before setns(mnt)).
    crate::cgroups::join(&spec.cgroups)?;
    let mut files = Vec::with_capacity(NAMESPACES.len());
    for (name, flag) in NAMESPACES {
        let path = format!("/proc/{pid}/ns/{name}");
        let f = File::open(&path).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ESRCH) => RuntimeError::NotRunning { pid },
            _ => RuntimeError::Namespace(format!("open {path}: {e}")),
        })?;
        files.push((name, *flag, f));
    }
    for (name, flag, f) in &files {
        // Joining the namespace we are already in (net=host) is harmless.
        setns(f, *flag).map_err(|e| RuntimeError::Namespace(format!("setns {name}: {e}")))?;
    }
    drop(files);
    // setns(mnt) moved our root and cwd to the container's root (its
    // pivot_root'ed "/"), so no chroot is needed. The pid namespace applies to
    // children only: fork.
    // SAFETY: single-threaded process.
    match unsafe { fork() }.map_err(|e| RuntimeError::Namespace(format!("fork: {e}")))? {
        ForkResult::Parent { child } => {
            let _ = chan.send_message(&InitMessage::Pid(child.as_raw()));
            // SAFETY: immediate exit.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Child => {
            if spec.tty {
                if let Err(e) = console::setup(chan, std::path::Path::new("/dev"), false) {
                    fail(chan, e)
                }
            }
            let err = match process::finish(&process::Finish {
                args: &spec.args,
                env: &spec.env,
                cwd: if spec.cwd.is_empty() { "/" } else { &spec.cwd },
                user: &spec.user,
                group_add: &spec.group_add,
                tty: spec.tty,
                security: &spec.security,
            }) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            fail(chan, err)
        }
    }
}
