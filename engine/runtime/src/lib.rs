//! Shipshape's container runtime: root filesystems, namespaces, processes and
//! their supervision. Knows nothing about HTTP, images or Docker's JSON.
//!
//! Modules follow a container's life (after youki's libcontainer):
//! * [`rootfs`] — overlay (or copied) root, mounted in the daemon's namespace;
//! * `process` — daemon side of [`spawn`]/[`exec_in`]: stdio, the init process
//!   (fresh, or warm: [`keep_warm_init`]), report;
//! * `init` — the re-exec'd single-threaded init: namespaces, mounts,
//!   pivot_root, user, execve ([`init_main`]);
//! * [`cgroups`] — one group per container: limits, devices, freezer, stats;
//!   `cgroups/v1.rs` and `cgroups/v2.rs` behind one [`cgroups::Cgroup`];
//! * [`supervisor`] — the one reaper thread for all containers;
//! * `signal`, `tty` — [`kill`], [`parse_signal`], [`resize_tty`].
//!
//! # Daemon obligations
//! * `main` calls [`init_main`] first thing when `argv[1] == INIT_ARG`
//!   (or just calls [`init_if_requested`]).
//! * [`supervisor::Supervisor::start`] before the first [`spawn`]; afterwards
//!   never `wait` on child processes yourself (use
//!   [`supervisor::Supervisor::spawn_command`] + `wait`/`watch`).

pub mod cgroups;
mod channel;
pub mod error;
mod init;
pub mod netlink;
mod path;
mod process;
pub mod rootfs;
pub mod seccomp;
mod signal;
mod spec;
pub mod supervisor;
mod tty;

pub use error::RuntimeError;
pub use init::caps::{all_capabilities, capability_number, DOCKER_DEFAULT_CAPS};
pub use init::init_main;
/// Docker's default masked and read-only paths, which inspect shows too.
pub use init::mounts::{MASKED as DEFAULT_MASKED_PATHS, READONLY as DEFAULT_READONLY_PATHS};
pub use process::{exec_in, init_program, keep_warm_init, set_init_program, spawn, Spawned};
pub use rootfs::{
    detach_rootfs, mount_rootfs, rootfs_kind, unmount_rootfs, DetachedRoot, RootfsKind,
};
pub use signal::{kill, parse_signal};
pub use spec::{
    BindMount, Device, ExecSpec, Namespace, Namespaces, Network, ProcessSpec, Propagation, Rlimit,
    Security, Shm, TmpfsMount, Veth, Veth6,
};
pub use supervisor::{ExitStatus, Supervisor};
pub use tty::resize_tty;

/// `argv[1]` that makes a binary act as the runtime's init.
pub const INIT_ARG: &str = "__shipshape-init";

/// Call [`init_main`] (never returning) if this process was started as the
/// runtime's init; otherwise return. Put it first in `main`.
pub fn init_if_requested() {
    if std::env::args_os().nth(1).is_some_and(|a| a == INIT_ARG) {
        init_main()
    }
}
